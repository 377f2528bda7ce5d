"""A ``LOGGING`` preset: every log line to stdout, plain text or one JSON object per line.

App Service and container hosts collect a process's stdout; one handler there, with every
server's loggers propagating to it, gives each event exactly one line.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("plain", "json")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Loggers that servers (and runserver) give their own handlers with propagate=False. Naming
# them here removes those handlers and lets their records reach the one stdout handler; their
# levels are left alone, so gunicorn's and uvicorn's --log-level keep working, but for the
# access loggers (see logging_config()).
SERVER_LOGGERS = (
    "django.server",
    "gunicorn.error",
    "gunicorn.access",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)

_SERVER_ACCESS_LOGGERS = ("gunicorn.access", "uvicorn.access")
# The Azure SDKs log every HTTP request they make (headers included) and every telemetry
# export at INFO: several lines per blob upload and per export.
_AZURE_LOGGER = "azure"


def logging_config(
    *,
    level: str = "INFO",
    json: bool = False,
    django_level: str | None = None,
    db_level: str | None = None,
    server_access_log: bool = False,
) -> dict[str, Any]:
    """Return a ``LOGGING`` dict (``logging.config.dictConfig`` schema, version 1).

    ``level`` applies to the root logger, ``django_level`` (default: ``level``) to the
    ``django`` logger, ``db_level`` (default ``WARNING``, so SQL is not logged by a stray
    ``DEBUG``) to ``django.db.backends``. ``json`` switches to one JSON object per line.
    The servers' access logs (uvicorn writes one whatever gunicorn's ``accesslog`` says) are
    dropped unless ``server_access_log``: ``RequestIdMiddleware`` logs each request already.
    """
    level = _level("level", level)
    django_level = _level("django_level", django_level or level)
    db_level = _level("db_level", db_level or "WARNING")
    loggers: dict[str, Any] = {
        # handlers=[] drops Django's default console and mail_admins handlers.
        "django": {"level": django_level, "handlers": [], "propagate": True},
        "django.db.backends": {"level": db_level, "handlers": [], "propagate": True},
    }
    for name in SERVER_LOGGERS:
        loggers[name] = {"handlers": [], "propagate": True}
    for name in _SERVER_ACCESS_LOGGERS:
        loggers[name]["level"] = "INFO" if server_access_log else "WARNING"
    loggers[_AZURE_LOGGER] = {"level": "WARNING", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "django_prodkit.log.RequestIdFilter"}},
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": "django_prodkit.log.JsonFormatter"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json" if json else "plain",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": loggers,
    }


def logging_from_env(env: Env | None = None) -> dict[str, Any]:
    """Return ``logging_config()`` for ``DJANGO_LOG_LEVEL`` (default ``INFO``),
    ``PRODKIT_LOG_FORMAT`` (``plain`` or ``json``, default ``plain``) and
    ``DJANGO_DB_LOG_LEVEL`` (default ``WARNING``) and ``PRODKIT_SERVER_ACCESS_LOG`` (default
    false).
    """
    env = Env() if env is None else env
    return logging_config(
        level=_env_level(env, "DJANGO_LOG_LEVEL", "INFO"),
        json=env.str("PRODKIT_LOG_FORMAT", default="plain", choices=FORMATS) == "json",
        db_level=_env_level(env, "DJANGO_DB_LOG_LEVEL", "WARNING"),
        server_access_log=env.bool("PRODKIT_SERVER_ACCESS_LOG", default=False),
    )


def _env_level(env: Env, name: str, default: str) -> str:
    value = env.str(name, default=default)
    if value.strip().upper() not in LEVELS:
        full = env.name(name)
        raise ImproperlyConfigured(
            f"{full} must be one of {', '.join(LEVELS)}, got {env.shown(full, value)}."
        )
    return value.strip().upper()


def _level(argument: str, value: str) -> str:
    if not isinstance(value, str) or value.strip().upper() not in LEVELS:
        raise ImproperlyConfigured(
            f"logging_config() {argument} must be one of {', '.join(LEVELS)}, got {value!r}."
        )
    return value.strip().upper()


__all__ = [
    "FORMATS",
    "LEVELS",
    "PLAIN_FORMAT",
    "SERVER_LOGGERS",
    "logging_config",
    "logging_from_env",
]
