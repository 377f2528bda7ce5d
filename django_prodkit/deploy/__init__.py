"""Deployment files rendered from the project's settings: ``manage.py deployconfig KIND``.

Each kind is a module of this package (``django_prodkit.deploy.nginx``...) with one function,
``render(context: DeployContext) -> dict[str, str]``: file names to their text. The context
(``django_prodkit.deploy.context``) is read from the settings and the environment once; the
server sizing comes from ``django_prodkit.settings.server``, the one place the gunicorn config
reads too. No rendered file ever holds a secret value: secrets travel by name (a Key Vault
reference, a Kubernetes Secret, an environment variable).
"""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from django_prodkit.deploy.context import DeployContext

# The kinds, in the order the docs and --help list them.
KINDS = ("nginx", "apache", "uwsgi", "gunicorn", "docker", "kubernetes", "appservice")


class _Renderer(Protocol):
    def __call__(self, context: DeployContext) -> dict[str, str]: ...


def render(kind: str, context: DeployContext) -> dict[str, str]:
    """Return the files of ``kind`` for ``context``: name -> text."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    renderer: _Renderer = import_module(f"django_prodkit.deploy.{kind}").render
    return renderer(context)


__all__ = ["KINDS", "DeployContext", "render"]
