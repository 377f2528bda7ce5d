"""Settings of the health endpoints (``/healthz``, ``/readyz``) from the environment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

HEALTH_CHECK_KINDS = ("database", "cache", "storage")

# App Service's health check gives up on a ping after a minute; a probe timeout far below
# that keeps one slow dependency from looking like a dead instance.
MAX_HEALTH_TIMEOUT = 30.0


def health_settings(
    *,
    timeout: float = 2.0,
    cache_seconds: float = 1.0,
    token: str | None = None,
    checks: Sequence[str] = HEALTH_CHECK_KINDS,
) -> dict[str, Any]:
    """Return the ``PRODKIT_HEALTH_*`` settings.

    ``checks`` names what ``/readyz`` probes: ``database``, ``cache``, ``storage``, each
    optionally with an alias (``cache:sessions``). ``token`` unlocks per-check details for
    requests carrying ``Authorization: Bearer <token>``.
    """
    if not 0 < timeout <= MAX_HEALTH_TIMEOUT:
        raise ImproperlyConfigured(
            f"PRODKIT_HEALTH_TIMEOUT must be a number of seconds above 0 and at most "
            f"{MAX_HEALTH_TIMEOUT:g}, got {timeout!r}."
        )
    if cache_seconds < 0:
        raise ImproperlyConfigured(
            f"PRODKIT_HEALTH_CACHE_SECONDS must be 0 or more, got {cache_seconds!r}."
        )
    return {
        "PRODKIT_HEALTH_TIMEOUT": timeout,
        "PRODKIT_HEALTH_CACHE_SECONDS": cache_seconds,
        "PRODKIT_HEALTH_TOKEN": token,
        "PRODKIT_HEALTH_CHECKS": validate_checks(checks),
    }


def health_from_env(env: Env | None = None) -> dict[str, Any]:
    """Return ``health_settings`` from ``PRODKIT_HEALTH_TIMEOUT``,
    ``PRODKIT_HEALTH_CACHE_SECONDS``, ``PRODKIT_HEALTH_TOKEN`` (or ``PRODKIT_HEALTH_TOKEN_FILE``)
    and ``PRODKIT_HEALTH_CHECKS``."""
    env = env or Env()
    return health_settings(
        timeout=env.float("PRODKIT_HEALTH_TIMEOUT", default=2.0, min=0.01, max=MAX_HEALTH_TIMEOUT),
        cache_seconds=env.float("PRODKIT_HEALTH_CACHE_SECONDS", default=1.0, min=0),
        token=env.secret("PRODKIT_HEALTH_TOKEN", default=None),
        checks=env.list("PRODKIT_HEALTH_CHECKS", default=HEALTH_CHECK_KINDS),
    )


def validate_checks(checks: Sequence[str]) -> list[str]:
    """Return ``checks`` stripped, or raise naming ``PRODKIT_HEALTH_CHECKS`` for an unknown kind."""
    result = []
    for check in checks:
        name = str(check).strip()
        kind, _, alias = name.partition(":")
        if kind not in HEALTH_CHECK_KINDS or (":" in name and not alias):
            raise ImproperlyConfigured(
                f"PRODKIT_HEALTH_CHECKS entry {name!r} is not a check prodkit knows. Expected "
                f"{', '.join(HEALTH_CHECK_KINDS)}, each optionally with an alias "
                "(cache:sessions)."
            )
        result.append(name)
    return result


__all__ = ["HEALTH_CHECK_KINDS", "health_from_env", "health_settings", "validate_checks"]
