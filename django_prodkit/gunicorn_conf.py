"""gunicorn configuration: ``gunicorn -c python:django_prodkit.gunicorn_conf``.

With no application argument it serves ``DJANGO_SETTINGS_MODULE``'s project through prodkit's
entrypoint that matches the worker class. Every value can be overridden from the environment
(or on gunicorn's command line, which wins over this module).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django_prodkit.env import Env
from django_prodkit.settings.proxies import trusted_proxies_from_env
from django_prodkit.settings.server import (
    WORKER_CLASSES,
    Interface,
    choose_worker_class,
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

env = Env()


def _detected_interface() -> Interface:
    """Ask a child Python what the project is (``python -m django_prodkit.server``).

    Not in this process: gunicorn's master must not load the project, or every worker forked
    from it would keep the code of the master's start, reloads included.
    """
    from django_prodkit.redact import redact_text

    if not env.str("DJANGO_SETTINGS_MODULE", default=None):
        raise SystemExit(
            "DJANGO_SETTINGS_MODULE is not set: prodkit needs it to serve the project and to "
            "choose the worker class. Set it to your settings module, e.g. "
            "DJANGO_SETTINGS_MODULE=mysite.settings."
        )
    # gunicorn puts its working directory on sys.path; the child needs it too.
    path = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "django_prodkit.server"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(redact_text(result.stderr).strip().splitlines()[-15:])
        raise SystemExit(
            "prodkit could not load the project to choose the worker class "
            f"(PRODKIT_WORKER_CLASS=auto):\n{tail}\nFix the error above, or set "
            "PRODKIT_WORKER_CLASS to uvicorn or gthread."
        )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return Interface(answer["interface"], answer["reason"])


worker_class, _reason = choose_worker_class(env, _detected_interface)
# The workers' settings read it: under ASGI database connections are not kept (no pile-up).
os.environ["PRODKIT_WORKER_CLASS"] = worker_class
# The application, when none is given on the command line: the entrypoint the class serves.
wsgi_app = entrypoint_for(worker_class)

# App Service passes the port in PORT (or WEBSITES_PORT for custom containers).
bind = [server_bind(env)]
workers = server_workers(env)
# gunicorn turns a sync worker with more than one thread into gthread: sync means one.
threads = 1 if worker_class == WORKER_CLASSES["sync"] else server_threads(env)

# App Service's front end drops a request after 230 s; answer (or fail) before it does.
timeout = server_timeout(env)
graceful_timeout = server_graceful_timeout(env)
keepalive = server_keepalive(env)

# Recycle workers now and then so a slow leak never takes an instance down; the jitter keeps
# them from restarting all at once.
max_requests = server_max_requests(env)
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

# The application logs each request (RequestIdMiddleware: request id, client, duration), so
# the server's own access log, which has neither under uvicorn, is off unless asked for.
accesslog = "-" if env.bool("PRODKIT_SERVER_ACCESS_LOG", default=False) else None
errorlog = "-"
loglevel = env.str("PRODKIT_SERVER_LOG_LEVEL", default="info")

# gunicorn >= 25.1 opens a control socket at $HOME/.gunicorn/gunicorn.ctl: one path for every
# server of the user (several instances on one box replace each other's), and on App Service
# $HOME is the network share all instances mount. Off unless PRODKIT_CONTROL_SOCKET names a
# path of this server's own. (Older gunicorns ignore both settings.)
control_socket = env.str("PRODKIT_CONTROL_SOCKET", default=None) or ""
control_socket_disable = not control_socket

# The heartbeat file is written every few seconds; keep it off a slow network disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn only keeps its heartbeat file here
worker_tmp_dir = _SHM if Path(_SHM).is_dir() else None


def on_starting(server: Any) -> None:
    """Say in the log what runs and why, once, as the master starts."""
    server.log.info(
        "prodkit: %s worker(s) of %s (%s), %s thread(s) each, timeout %ss",
        workers,
        worker_class,
        _reason,
        threads,
        timeout,
    )


def pre_fork(server: Any, worker: Any) -> None:
    """Close database connections the master opened (``--preload``): a forked worker would
    share their sockets with its siblings."""
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def post_worker_init(worker: Any) -> None:
    """Refuse an application the worker class cannot serve (an ASGI app under gthread, a
    WSGI app under uvicorn), with the fix, before the first request fails obscurely."""
    from asgiref.sync import iscoroutinefunction

    application = worker.wsgi
    app_is_asgi = iscoroutinefunction(application) or iscoroutinefunction(
        type(application).__call__
    )
    class_path = f"{type(worker).__module__}.{type(worker).__name__}"
    if app_is_asgi != is_asgi_worker(class_path):
        worker.log.error(
            "prodkit: %s serves %s applications but %s is %s. Start gunicorn without an "
            "application argument (prodkit picks the entrypoint that matches), or set "
            "PRODKIT_WORKER_CLASS=%s.",
            class_path,
            "ASGI" if is_asgi_worker(class_path) else "WSGI",
            worker.app.app_uri,
            "ASGI" if app_is_asgi else "WSGI",
            "uvicorn" if app_is_asgi else "gthread",
        )
        sys.exit(4)  # gunicorn's APP_LOAD_ERROR: the master stops instead of respawning
    if is_asgi_worker(class_path):
        # uvicorn ends a worker by re-raising SIGTERM with the handler it found at start-up:
        # by default that kills the process before atexit, so telemetry's last batch is
        # lost. Found this handler instead, it sends that batch and exits normally.
        signal.signal(signal.SIGTERM, _flush_and_exit)
    else:
        quit_without_pool_shutdown(worker)


def quit_without_pool_shutdown(worker: Any) -> None:
    """Give a gthread worker gunicorn's plain quick-exit handler (SIGINT, SIGQUIT).

    gthread's own shuts its thread pool down inside the signal handler. When the signal lands
    while the main thread is in the pool's ``submit()``, both want the pool's lock and the
    worker hangs until the master kills it ``graceful_timeout`` later (cpython#121649): Ctrl-C
    on a busy server took 30 s now and then. Exiting ends the pool's threads anyway.
    """
    from gunicorn.workers.base import Worker
    from gunicorn.workers.gthread import ThreadWorker

    if isinstance(worker, ThreadWorker):
        handler = functools.partial(Worker.handle_quit, worker)
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGQUIT, handler)


def _flush_and_exit(signum: int, frame: Any) -> None:
    from django_prodkit.telemetry.instrument import flush_at_exit

    flush_at_exit()
    sys.exit(0)
