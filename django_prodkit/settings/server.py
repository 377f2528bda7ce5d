"""Server sizing shared by the gunicorn config, the checks and the deploy recipes.

One place decides worker counts and timeouts, from the environment, before Django is set up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from django_prodkit.env import Env

# App Service's front end drops a request after 230 s (it answers 504 itself).
APP_SERVICE_REQUEST_TIMEOUT = 230
# Answer (or fail) before the front end gives up, so the error is ours and logged.
DEFAULT_TIMEOUT = 220
# ASGI by default: uvicorn workers under gunicorn (PRODKIT_WORKER_CLASS=gthread for WSGI).
DEFAULT_WORKER_CLASS = "uvicorn_worker.UvicornWorker"


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


def server_timeout(env: Env | None = None) -> int:
    """Return the seconds a worker may spend on one request: ``PRODKIT_TIMEOUT``, or 220."""
    return (env or Env()).int("PRODKIT_TIMEOUT", default=DEFAULT_TIMEOUT, min=1)
