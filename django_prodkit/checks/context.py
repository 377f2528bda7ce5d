"""What the checks know about where and how the project will run.

Many findings depend on it: a locmem cache is fine for one process and wrong for five; files on
local disk are fine on one instance and lost behind a load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from django_prodkit.conf import conf
from django_prodkit.env import Env
from django_prodkit.server import worker_class
from django_prodkit.settings.platform import Platform, detect_platform
from django_prodkit.settings.server import is_asgi_worker, server_workers

# Platforms built to scale out: assume several instances unless PRODKIT_INSTANCES says not.
_SCALING_PLATFORMS = frozenset({"appservice", "kubernetes"})


@dataclass(frozen=True)
class Deployment:
    """The platform, the number of instances and worker processes per instance, and whether
    a TLS-terminating proxy that sets ``X-Forwarded-Proto`` is in front."""

    platform: Platform
    instances: int
    workers: int
    tls_proxy: bool

    @property
    def several_instances(self) -> bool:
        """True when more than one machine/container serves the site (no shared local disk)."""
        return self.instances > 1

    @property
    def several_processes(self) -> bool:
        """True when more than one process serves the site (no shared process memory)."""
        return self.instances * self.workers > 1

    def describe(self) -> str:
        """Say, for a message, how many instances and workers the checks assume."""
        where = "" if self.platform.kind == "local" else f" on {self.platform.kind}"
        return f"{self.instances} instance(s) x {self.workers} worker(s){where}"


def deployment(env: Env | None = None) -> Deployment:
    """Return the deployment the current settings and environment describe.

    Instances: ``PRODKIT_INSTANCES``, else 2 ("several") on App Service and Kubernetes, which
    scale out, else 1. Workers: ``PRODKIT_WORKERS``, else the gunicorn config's count
    (``WEB_CONCURRENCY`` or 2 x cores + 1). TLS proxy: ``PRODKIT_BEHIND_TLS_PROXY`` when set,
    else what the platform is known to have (App Service's front ends).
    """
    env = env or Env()
    platform = detect_platform(env)
    instances = conf.PRODKIT_INSTANCES
    if instances is None:
        instances = 2 if platform.kind in _SCALING_PLATFORMS else 1
    workers = conf.PRODKIT_WORKERS
    if workers is None:
        workers = server_workers(env)
    tls_proxy = env.bool("PRODKIT_BEHIND_TLS_PROXY", default=None)
    return Deployment(
        platform=platform,
        instances=instances,
        workers=workers,
        tls_proxy=platform.tls_proxy if tls_proxy is None else tls_proxy,
    )


def serves_https() -> bool:
    """True when the settings or the platform say the site is served over HTTPS."""
    return bool(
        getattr(settings, "SECURE_SSL_REDIRECT", False)
        or getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
        or int(getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0) > 0
        or getattr(settings, "SESSION_COOKIE_SECURE", False)
        or deployment().tls_proxy
    )


def asgi_server() -> str | None:
    """Say why the site is taken to be served over ASGI, or None when it is WSGI.

    ``ASGI_APPLICATION`` set, or prodkit's gunicorn config running a uvicorn worker: the one
    ``PRODKIT_WORKER_CLASS`` names, or the one it chooses for an application that needs ASGI.
    """
    if getattr(settings, "ASGI_APPLICATION", None):
        return "ASGI_APPLICATION is set"
    worker, reason = worker_class()
    return f"gunicorn runs {worker}: {reason}" if is_asgi_worker(worker) else None
