"""What the deployment files are rendered from: the project's settings and environment, once.

``DeployContext.from_settings()`` reads them (Django must be set up); the renderers of
``django_prodkit.deploy`` only read the context, so a test builds one by hand with
``dataclasses.replace()``. Values of secrets never enter the context: ``variables`` holds the
names of the variables the project is configured with, each marked secret or not.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.template import Context, Engine
from django.utils.module_loading import import_string

from django_prodkit.conf import conf
from django_prodkit.env import Env
from django_prodkit.health import LIVENESS_PATH, READINESS_PATH
from django_prodkit.protected import protected_mode, protected_url
from django_prodkit.redact import is_secret_name
from django_prodkit.server import worker_class
from django_prodkit.settings.server import (
    entrypoint_for,
    is_asgi_worker,
    server_bind,
    server_graceful_timeout,
    server_keepalive,
    server_max_requests,
    server_threads,
    server_timeout,
    server_workers,
)

# Variables a project configured by prodkit reads, by prefix or name; the deployment files
# list the ones set here (names only) so they are set on the target too.
_VARIABLE_PREFIXES = ("DJANGO_", "PRODKIT_", "AZURE_", "APPLICATIONINSIGHTS_")
_VARIABLE_NAMES = frozenset(
    {"DATABASE_URL", "CACHE_URL", "EMAIL_URL", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}
)
# Set by the platform or the shell, never by the deployment.
_NOT_CONFIGURATION = frozenset({"DJANGO_SETTINGS_MODULE", "DJANGO_COLORS"})
# Headroom over the largest upload Django accepts, for the multipart framing around it.
_BODY_MARGIN = 1024 * 1024
_TEMPLATES = Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=False)


@dataclass(frozen=True)
class Variable:
    """An environment variable the project is configured with; never its value."""

    name: str
    secret: bool


@dataclass(frozen=True)
class DeployContext:
    """Everything a deployment file needs to know about the project."""

    settings_module: str
    project_dir: Path
    python_version: str
    # The server: prodkit's gunicorn config decides the same values at start.
    worker_class: str
    worker_reason: str
    asgi: bool
    entrypoint: str
    port: int
    workers: int
    threads: int
    timeout: int
    graceful_timeout: int
    keepalive: int
    max_requests: int
    # The site.
    server_names: tuple[str, ...]
    static_url: str
    static_root: Path | None  # None: static files are not on this machine's disk
    media_url: str
    media_root: Path | None  # None: uploads live elsewhere (blob storage)
    protected_url: str
    protected_mode: str
    max_body_bytes: int
    trusted_proxies: tuple[str, ...]
    proxy_hops: int
    https: bool
    liveness_path: str = LIVENESS_PATH
    readiness_path: str = READINESS_PATH
    variables: tuple[Variable, ...] = ()

    @classmethod
    def from_settings(cls, env: Env | None = None) -> DeployContext:
        """Read the context from Django's settings and the environment."""
        env = env or Env()
        worker, reason = worker_class(env)
        base_dir = getattr(settings, "BASE_DIR", None)
        bind = server_bind(env)
        port = int(bind.rpartition(":")[2]) if bind.rpartition(":")[2].isdigit() else 8000
        storages = getattr(settings, "STORAGES", {})
        upload = max(
            int(getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or 0),
            int(getattr(settings, "PRODKIT_MEDIA_MAX_BYTES", None) or 0),
            int(getattr(settings, "FILE_UPLOAD_MAX_MEMORY_SIZE", None) or 0),
        )
        return cls(
            settings_module=env.str("DJANGO_SETTINGS_MODULE", default=None)
            or str(getattr(settings, "SETTINGS_MODULE", "")),
            project_dir=Path(base_dir) if base_dir else Path.cwd(),
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            worker_class=worker,
            worker_reason=reason,
            asgi=is_asgi_worker(worker),
            entrypoint=entrypoint_for(worker),
            port=port,
            workers=server_workers(env),
            threads=server_threads(env),
            timeout=server_timeout(env),
            graceful_timeout=server_graceful_timeout(env),
            keepalive=server_keepalive(env),
            max_requests=server_max_requests(env),
            server_names=tuple(
                host for host in settings.ALLOWED_HOSTS if host and host not in {"*", "."}
            ),
            static_url=str(settings.STATIC_URL or "/static/"),
            static_root=_local_root(storages.get("staticfiles"), settings.STATIC_ROOT),
            media_url=str(settings.MEDIA_URL or "/media/"),
            media_root=_local_root(storages.get("default"), settings.MEDIA_ROOT),
            protected_url=protected_url(),
            protected_mode=protected_mode(),
            max_body_bytes=upload + _BODY_MARGIN,
            trusted_proxies=tuple(conf.PRODKIT_TRUSTED_PROXIES),
            proxy_hops=conf.PRODKIT_PROXY_HOPS,
            https=bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
            or bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            variables=configured_variables(env.environ),
        )

    def as_template_context(self) -> dict[str, Any]:
        """The fields as a plain dict, for a template."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _local_root(storage: dict[str, Any] | None, root: Any) -> Path | None:
    """The folder a file-system storage keeps files in, or None for any other storage."""
    if not storage or not root:
        return None
    try:
        local = issubclass(import_string(str(storage.get("BACKEND", ""))), FileSystemStorage)
    except ImportError:
        return None
    location = (storage.get("OPTIONS") or {}).get("location") or root
    return Path(location) if local else None


def configured_variables(environ: Any = None) -> tuple[Variable, ...]:
    """The variables of ``environ`` (default ``os.environ``) a prodkit project reads, sorted,
    each marked secret when its name looks like one or its value carries credentials
    (``scheme://user:password@host``)."""
    environ = os.environ if environ is None else environ
    found = []
    for name, value in environ.items():
        if name in _NOT_CONFIGURATION or not (
            name.startswith(_VARIABLE_PREFIXES) or name in _VARIABLE_NAMES
        ):
            continue
        credentials = "://" in value and "@" in value.partition("://")[2].partition("/")[0]
        found.append(Variable(name, secret=is_secret_name(name) or credentials))
    return tuple(sorted(found, key=lambda variable: variable.name))


def render_template(name: str, context: DeployContext, **extra: Any) -> str:
    """Render ``django_prodkit/deploy/templates/NAME`` (Django's template language, no
    autoescaping) with the context's fields and ``extra``."""
    values = {**context.as_template_context(), **extra}
    return _TEMPLATES.get_template(name).render(Context(values, autoescape=False))


__all__ = ["DeployContext", "Variable", "configured_variables", "render_template"]
