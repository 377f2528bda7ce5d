"""What the ASGI and WSGI entrypoints share: the settings module and the start-up guard."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.checks.run import deploy_errors, dropped_ids, run_checks
from django_prodkit.conf import conf
from django_prodkit.env import Env


def settings_module(env: Env | None = None) -> str:
    """Return ``DJANGO_SETTINGS_MODULE``, or raise an error that says how to set it."""
    name = (env or Env()).str("DJANGO_SETTINGS_MODULE", default=None)
    if not name:
        raise ImproperlyConfigured(
            "DJANGO_SETTINGS_MODULE is not set. Set it to your settings module before starting "
            "the server, e.g. DJANGO_SETTINGS_MODULE=mysite.settings."
        )
    return name


def startup_checks() -> None:
    """With ``PRODKIT_STARTUP_CHECKS`` on, refuse to start on ERROR-level check findings.

    Django runs its checks for management commands only, never under gunicorn or uvicorn; this
    runs the same checks as ``prodcheck`` (without probes) once per process, at import of the
    entrypoint. Silenced IDs stay silenced.
    """
    if not conf.PRODKIT_STARTUP_CHECKS:
        return
    errors = deploy_errors(run_checks(dropped=dropped_ids()))
    if errors:
        found = "\n".join(f"  {error}" for error in errors)
        raise ImproperlyConfigured(
            f"PRODKIT_STARTUP_CHECKS is on and the checks found {len(errors)} error(s), so the "
            f"server does not start:\n{found}\nFix them (manage.py prodcheck explains each), "
            "silence an accepted one in SILENCED_SYSTEM_CHECKS, or turn PRODKIT_STARTUP_CHECKS "
            "off."
        )
