"""Detect where the app runs (Azure App Service, Kubernetes, a container, a plain host).

From that follow the host names Django must accept, the origins CSRF must trust and whether a
TLS-terminating proxy is known to set ``X-Forwarded-Proto``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

PlatformKind = Literal["appservice", "kubernetes", "container", "local"]

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# Files a container runtime leaves in the root file system (Docker, Podman/CRI-O).
_CONTAINER_MARKERS = (".dockerenv", "run/.containerenv")

# The header App Service's front ends set after terminating TLS; Django's META spelling.
FORWARDED_PROTO_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


@dataclass(frozen=True)
class Platform:
    """Where the app runs, as far as the environment tells."""

    kind: PlatformKind
    hostnames: tuple[str, ...] = ()
    """Host names the platform itself routes to this app (App Service's default domain)."""
    tls_proxy: bool = False
    """True when a TLS-terminating proxy that always sets ``X-Forwarded-Proto`` is in front."""
    port: int | None = None
    site_name: str | None = None
    instance_id: str | None = None


def detect_platform(env: Env | None = None, *, root: str | Path = "/") -> Platform:
    """Return the ``Platform`` the environment describes.

    App Service sets ``WEBSITE_SITE_NAME``/``WEBSITE_HOSTNAME``; Kubernetes sets
    ``KUBERNETES_SERVICE_HOST``; container runtimes leave a marker file under ``root``.
    """
    env = env or Env()
    port = env.int("WEBSITES_PORT", default=None, min=1, max=65535) or env.int(
        "PORT", default=None, min=1, max=65535
    )
    if env.is_set("WEBSITE_SITE_NAME") or env.is_set("WEBSITE_HOSTNAME"):
        hostname = env.str("WEBSITE_HOSTNAME", default=None)
        return Platform(
            kind="appservice",
            hostnames=(hostname.lower(),) if hostname else (),
            # App Service's front ends terminate TLS and always set X-Forwarded-Proto.
            tls_proxy=True,
            port=port,
            site_name=env.str("WEBSITE_SITE_NAME", default=None),
            instance_id=env.str("WEBSITE_INSTANCE_ID", default=None),
        )
    if env.is_set("KUBERNETES_SERVICE_HOST"):
        return Platform(kind="kubernetes", port=port, instance_id=env.str("HOSTNAME", default=None))
    base = Path(root)
    if env.is_set("container") or any((base / marker).exists() for marker in _CONTAINER_MARKERS):
        return Platform(kind="container", port=port, instance_id=env.str("HOSTNAME", default=None))
    return Platform(kind="local", port=port)


def host_settings(
    platform: Platform,
    *,
    allowed_hosts: Sequence[str] = (),
    csrf_trusted_origins: Sequence[str] = (),
    behind_tls_proxy: bool | None = None,
    debug: bool = False,
) -> dict[str, Any]:
    """Return ``ALLOWED_HOSTS``, ``CSRF_TRUSTED_ORIGINS`` and ``SECURE_PROXY_SSL_HEADER``.

    ``allowed_hosts`` adds custom domains to what the platform routes here. With none at all,
    DEBUG falls back to the local names and production is an error. ``behind_tls_proxy``
    overrides detection: ``SECURE_PROXY_SSL_HEADER`` is set only when a proxy that always
    sets ``X-Forwarded-Proto`` is known, since on a bare host any client could send it.
    """
    hosts = _unique([*platform.hostnames, *(h.strip().lower() for h in allowed_hosts)])
    if not hosts:
        if not debug:
            raise ImproperlyConfigured(
                "DJANGO_ALLOWED_HOSTS is not set. Set it to the host names this site answers "
                "on, comma-separated, e.g. DJANGO_ALLOWED_HOSTS=www.example.com,example.com."
            )
        hosts = list(LOCAL_HOSTS)
    for origin in csrf_trusted_origins:
        if "://" not in origin:
            raise ImproperlyConfigured(
                f"DJANGO_CSRF_TRUSTED_ORIGINS entry {origin!r} has no scheme. "
                "Write it as https://www.example.com."
            )
    origins = _unique(
        [
            *(_https_origin(host) for host in hosts if host != "*"),
            *csrf_trusted_origins,
        ]
    )
    tls_proxy = platform.tls_proxy if behind_tls_proxy is None else behind_tls_proxy
    return {
        "ALLOWED_HOSTS": hosts,
        "CSRF_TRUSTED_ORIGINS": origins,
        "SECURE_PROXY_SSL_HEADER": FORWARDED_PROTO_HEADER if tls_proxy else None,
    }


def host_settings_from_env(
    env: Env | None = None, *, platform: Platform | None = None, debug: bool = False
) -> dict[str, Any]:
    """Return ``host_settings`` for the detected platform and ``DJANGO_ALLOWED_HOSTS``,
    ``DJANGO_CSRF_TRUSTED_ORIGINS`` and ``PRODKIT_BEHIND_TLS_PROXY``."""
    env = env or Env()
    return host_settings(
        platform or detect_platform(env),
        allowed_hosts=env.list("DJANGO_ALLOWED_HOSTS", default=()),
        csrf_trusted_origins=env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=()),
        behind_tls_proxy=env.bool("PRODKIT_BEHIND_TLS_PROXY", default=None),
        debug=debug,
    )


def _https_origin(host: str) -> str:
    # ALLOWED_HOSTS spells a subdomain wildcard ".example.com"; CSRF origins "*.example.com".
    return f"https://*{host}" if host.startswith(".") else f"https://{host}"


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))
