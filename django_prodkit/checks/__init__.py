"""prodkit's production checklist: one module per area, all registered on import.

``ProdkitConfig.ready()`` imports this package; Django's check framework, ``prodcheck`` and the
docs then see every check. The registry is in ``django_prodkit.checks.registry``.
"""

from __future__ import annotations

from django_prodkit.checks import (
    auth,
    caches,
    database,
    https,
    media,
    secrets,
    server,
    staticfiles,
    tasks,
    telemetry,
)

__all__ = [
    "auth",
    "caches",
    "database",
    "https",
    "media",
    "secrets",
    "server",
    "staticfiles",
    "tasks",
    "telemetry",
]
