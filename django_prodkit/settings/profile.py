"""One call that composes every settings helper from the environment."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django_prodkit.env import Env
from django_prodkit.settings.caches import caches_from_env, session_engine_for, session_settings
from django_prodkit.settings.checks import checks_from_env
from django_prodkit.settings.database import database_from_env
from django_prodkit.settings.email import email_from_env
from django_prodkit.settings.health import health_from_env
from django_prodkit.settings.logging import logging_from_env
from django_prodkit.settings.platform import detect_platform, host_settings_from_env
from django_prodkit.settings.proxies import trusted_proxies_from_env
from django_prodkit.settings.security import security_from_env
from django_prodkit.settings.storages import storages_from_env
from django_prodkit.settings.telemetry import browser_telemetry_origin, telemetry_from_env


def production_settings(
    env: Env | None = None, *, base_dir: str | Path, default_database: str | None = None
) -> dict[str, Any]:
    """Return every setting prodkit manages, read from the environment.

    Use it as ``globals().update(production_settings(env, base_dir=BASE_DIR))`` in
    ``settings.py``, then define ``INSTALLED_APPS``, ``MIDDLEWARE`` and the rest as usual.
    ``default_database`` is the URL used when no database variable is set (e.g. a SQLite
    file for development); without it a missing ``DATABASE_URL`` is an error.
    """
    env = env or Env()
    debug = env.bool("DJANGO_DEBUG", default=False)
    platform = detect_platform(env)
    caches = caches_from_env(env)
    telemetry = telemetry_from_env(env, platform=platform)
    return {
        "DEBUG": debug,
        "SECRET_KEY": _secret_key(env, debug=debug, base_dir=Path(base_dir)),
        "SECRET_KEY_FALLBACKS": env.list("DJANGO_SECRET_KEY_FALLBACKS", default=()),
        **host_settings_from_env(env, platform=platform, debug=debug),
        **trusted_proxies_from_env(env, platform=platform),
        **security_from_env(
            env, debug=debug, csp_telemetry_origin=browser_telemetry_origin(telemetry)
        ),
        "DATABASES": {"default": database_from_env(env, default=default_database)},
        # CACHE_URL (or Azure's variables), locmem:// without: "default" and "pages".
        "CACHES": caches,
        # Sessions in the database, read through the default cache when every process
        # shares it (Redis, memcached); straight from the database otherwise.
        **session_settings(engine=session_engine_for(caches["default"])),
        **storages_from_env(env, base_dir=base_dir),
        **health_from_env(env),
        "LOGGING": logging_from_env(env),
        "PRODKIT_ACCESS_LOG": env.bool("PRODKIT_ACCESS_LOG", default=True),
        **telemetry,
        **email_from_env(env),
        **checks_from_env(env),
    }


def _secret_key(env: Env, *, debug: bool, base_dir: Path) -> str:
    if debug and not (env.is_set("DJANGO_SECRET_KEY") or env.is_set("DJANGO_SECRET_KEY_FILE")):
        # Stable per checkout, so sessions survive a restart of the development server.
        digest = hashlib.sha256(str(base_dir.resolve()).encode()).hexdigest()
        return f"django-insecure-development-only-{digest}"
    return env.secret("DJANGO_SECRET_KEY")
