"""Server sizing shared by the gunicorn config, the checks and the deploy recipes.

One place decides worker counts and timeouts, from the environment, before Django is set up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

# App Service's front end drops a request after 230 s (it answers 504 itself).
APP_SERVICE_REQUEST_TIMEOUT = 230
# Answer (or fail) before the front end gives up, so the error is ours and logged.
DEFAULT_TIMEOUT = 220

ASGI_ENTRYPOINT = "django_prodkit.asgi:application"
WSGI_ENTRYPOINT = "django_prodkit.wsgi:application"
# The short names PRODKIT_WORKER_CLASS takes besides "auto" and a dotted class path; "asgi" is
# gunicorn's own ASGI worker (gunicorn >= 25).
WORKER_CLASSES = {
    "uvicorn": "uvicorn_worker.UvicornWorker",
    "gthread": "gthread",
    "sync": "sync",
    "asgi": "asgi",
}
AUTO = "auto"
DEFAULT_THREADS = 2
# Worker recycling: a new worker costs a Django start-up (~0.5 s of CPU), so recycling every
# 1,000 requests cost a third of a busy worker's throughput; 10,000 costs a few per cent.
DEFAULT_MAX_REQUESTS = 10_000
DEFAULT_GRACEFUL_TIMEOUT = 30
DEFAULT_KEEPALIVE = 5
# gunicorn workers that run an ASGI application; every other class runs WSGI.
_ASGI_WORKER_PREFIXES = ("uvicorn_worker.", "uvicorn.workers.", "gunicorn.workers.gasgi.")


def _cgroup_cpus(root: Path) -> float | None:
    """The CPU quota of this process's cgroup in cores (v2 ``cpu.max``, v1 CFS), or None."""
    try:
        quota, _, period = (root / "cpu.max").read_text().partition(" ")
        if quota.strip() != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cpu_cores(cgroup_root: str | Path = "/sys/fs/cgroup") -> int:
    """Return the CPU cores this process may use: its affinity mask, capped by the
    container's CPU quota (rounded up), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - macOS and Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus(Path(cgroup_root))
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(cores, 1)


def default_workers() -> int:
    """Return gunicorn's recommended worker count for this machine: 2 x cores + 1, counting
    the cores this process may use (``cpu_cores()``), not every core of the host."""
    return cpu_cores() * 2 + 1


def server_workers(env: Env | None = None) -> int:
    """Return the number of worker processes: ``WEB_CONCURRENCY``, or ``default_workers()``."""
    return (env or Env()).int("WEB_CONCURRENCY", default=default_workers(), min=1)


def worker_class_setting(env: Env | None = None) -> str | None:
    """Return the worker class ``PRODKIT_WORKER_CLASS`` names, or None for ``auto`` (unset).

    ``uvicorn``, ``gthread`` and ``sync`` are short names; anything with a dot is taken as
    a class path for gunicorn. ``auto`` leaves the choice to what the application is
    (``django_prodkit.server.application_interface()``).
    """
    env = env or Env()
    value = (env.str("PRODKIT_WORKER_CLASS", default=AUTO) or AUTO).strip()
    if value.lower() == AUTO:
        return None
    if value.lower() in WORKER_CLASSES:
        return WORKER_CLASSES[value.lower()]
    if "." not in value:
        name = env.name("PRODKIT_WORKER_CLASS")
        raise ImproperlyConfigured(
            f"{name} must be auto, {', '.join(WORKER_CLASSES)} or a worker class path "
            f"such as uvicorn_worker.UvicornWorker, got {value!r}."
        )
    return value


@dataclass(frozen=True)
class Interface:
    """``asgi`` or ``wsgi``, and why, in words for the server's start-up log."""

    name: str
    reason: str


def choose_worker_class(env: Env, detect: Callable[[], Interface]) -> tuple[str, str]:
    """Return the gunicorn worker class and why: ``PRODKIT_WORKER_CLASS`` when set, else
    uvicorn workers when ``detect()`` finds the application needs ASGI, gthread when not."""
    chosen = worker_class_setting(env)
    if chosen is not None:
        return chosen, f"{env.name('PRODKIT_WORKER_CLASS')} is set"
    interface = detect()
    return WORKER_CLASSES["uvicorn" if interface.name == "asgi" else "gthread"], interface.reason


def is_asgi_worker(worker_class: str) -> bool:
    """Return True when gunicorn's ``worker_class`` serves ASGI (uvicorn's, gunicorn's own)."""
    return worker_class == "asgi" or worker_class.startswith(_ASGI_WORKER_PREFIXES)


def entrypoint_for(worker_class: str) -> str:
    """Return prodkit's entrypoint that ``worker_class`` can serve: ASGI or WSGI."""
    return ASGI_ENTRYPOINT if is_asgi_worker(worker_class) else WSGI_ENTRYPOINT


def server_bind(env: Env | None = None) -> str:
    """Return the address to listen on: ``PRODKIT_BIND``, else ``0.0.0.0`` on App Service's
    port (``WEBSITES_PORT``, then ``PORT``), else ``0.0.0.0:8000``."""
    env = env or Env()
    port = env.int("WEBSITES_PORT", default=None, min=1, max=65535) or env.int(
        "PORT", default=8000, min=1, max=65535
    )
    return env.str("PRODKIT_BIND", default=f"0.0.0.0:{port}")


def server_threads(env: Env | None = None) -> int:
    """Return the threads per worker (gthread): ``PRODKIT_THREADS``, or 2.

    Measured on the example project (benchmarks/server.py): two threads were never slower than
    one and halved p99 on the database-backed page (a thread waits on the database while the
    other runs); four added nothing.
    """
    return (env or Env()).int("PRODKIT_THREADS", default=DEFAULT_THREADS, min=1)


def server_graceful_timeout(env: Env | None = None) -> int:
    """Return the seconds a stopping worker may finish its requests in:
    ``PRODKIT_GRACEFUL_TIMEOUT``, or 30."""
    return (env or Env()).int("PRODKIT_GRACEFUL_TIMEOUT", default=DEFAULT_GRACEFUL_TIMEOUT, min=1)


def server_keepalive(env: Env | None = None) -> int:
    """Return the seconds an idle kept-alive connection stays open: ``PRODKIT_KEEPALIVE``, or
    5 (0: none)."""
    return (env or Env()).int("PRODKIT_KEEPALIVE", default=DEFAULT_KEEPALIVE, min=0)


def server_max_requests(env: Env | None = None) -> int:
    """Return the requests after which a worker is replaced: ``PRODKIT_MAX_REQUESTS``, or
    10,000 (0: never)."""
    return (env or Env()).int("PRODKIT_MAX_REQUESTS", default=DEFAULT_MAX_REQUESTS, min=0)


def server_timeout(env: Env | None = None) -> int:
    """Return the seconds a worker may spend on one request: ``PRODKIT_TIMEOUT``, or 220."""
    return (env or Env()).int("PRODKIT_TIMEOUT", default=DEFAULT_TIMEOUT, min=1)
