"""gunicorn configuration: ``gunicorn -c python:django_prodkit.gunicorn_conf APP``.

Every value can be overridden from the environment (or on gunicorn's command line, which
wins over this module).
"""

from __future__ import annotations

from pathlib import Path

from django_prodkit.env import Env
from django_prodkit.settings.proxies import trusted_proxies_from_env
from django_prodkit.settings.server import DEFAULT_WORKER_CLASS, server_timeout, server_workers

env = Env()

# App Service passes the port in PORT (or WEBSITES_PORT for custom containers).
_port = env.int("WEBSITES_PORT", default=None, min=1, max=65535) or env.int(
    "PORT", default=8000, min=1, max=65535
)
bind = [env.str("PRODKIT_BIND", default=f"0.0.0.0:{_port}")]

# uvicorn workers serve ASGI; set PRODKIT_WORKER_CLASS=gthread with the WSGI entrypoint.
worker_class = env.str("PRODKIT_WORKER_CLASS", default=DEFAULT_WORKER_CLASS)
workers = server_workers(env)
threads = env.int("PRODKIT_THREADS", default=1, min=1)

# App Service's front end drops a request after 230 s; answer (or fail) before it does.
timeout = server_timeout(env)
graceful_timeout = env.int("PRODKIT_GRACEFUL_TIMEOUT", default=30, min=1)
keepalive = env.int("PRODKIT_KEEPALIVE", default=5, min=0)

# Recycle workers now and then so a slow leak never takes an instance down; the jitter keeps
# them from restarting all at once.
max_requests = env.int("PRODKIT_MAX_REQUESTS", default=1000, min=0)
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0

# The proxies whose X-Forwarded-For (and -Proto) the server believes: the same list
# TrustedProxyMiddleware reads (PRODKIT_TRUSTED_PROXIES, App Service's front ends added
# there), so gunicorn, its uvicorn worker (which rewrites the client address, and so the
# access log, from it) and Django agree. gunicorn's own FORWARDED_ALLOW_IPS still wins.
# Nothing listed means nothing believed, not gunicorn's default of 127.0.0.1. uvicorn has
# no hop count: with PRODKIT_PROXY_HOPS it would pick another client than Django, so then
# it believes nothing and the middleware alone finds the client.
_proxies = trusted_proxies_from_env(env)
forwarded_allow_ips = env.str("FORWARDED_ALLOW_IPS", default=None) or (
    "" if _proxies["PRODKIT_PROXY_HOPS"] else ",".join(_proxies["PRODKIT_TRUSTED_PROXIES"])
)

accesslog = "-"
errorlog = "-"
loglevel = env.str("PRODKIT_SERVER_LOG_LEVEL", default="info")

# The heartbeat file is written every few seconds; keep it off a slow network disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn only keeps its heartbeat file here
worker_tmp_dir = _SHM if Path(_SHM).is_dir() else None
