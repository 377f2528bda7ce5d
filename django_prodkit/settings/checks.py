"""Settings of prodkit's checklist (``manage.py prodcheck``) from the environment."""

from __future__ import annotations

from typing import Any

from django_prodkit.env import Env

# Longer than any health probe, short enough that a dead service fails a CI job quickly.
DEFAULT_PROBE_TIMEOUT = 5.0


def checks_from_env(env: Env | None = None) -> dict[str, Any]:
    """Return ``PRODKIT_INSTANCES``, ``PRODKIT_STARTUP_CHECKS`` and ``PRODKIT_PROBE_TIMEOUT``.

    ``PRODKIT_INSTANCES`` tells the checks how many instances serve the site (unset: 2 on App
    Service and Kubernetes, which scale out, else 1); ``PRODKIT_STARTUP_CHECKS=true`` makes the
    entrypoints refuse to start on ERROR-level findings.
    """
    env = env or Env()
    return {
        "PRODKIT_INSTANCES": env.int("PRODKIT_INSTANCES", default=None, min=1),
        "PRODKIT_STARTUP_CHECKS": env.bool("PRODKIT_STARTUP_CHECKS", default=False),
        "PRODKIT_PROBE_TIMEOUT": env.float(
            "PRODKIT_PROBE_TIMEOUT", default=DEFAULT_PROBE_TIMEOUT, min=0.1, max=300
        ),
    }
