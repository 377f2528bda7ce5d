"""The server: worker class chosen from what the project is, gunicorn's config, manage.py serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from django_prodkit.env import Env
from django_prodkit.server import application_interface, async_views, worker_class
from django_prodkit.settings.server import (
    ASGI_ENTRYPOINT,
    WSGI_ENTRYPOINT,
    entrypoint_for,
    is_asgi_worker,
    server_bind,
    worker_class_setting,
)
from tests.example import BIN, EXAMPLE_PROJECT, example_env, manage
from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
UVICORN = "uvicorn_worker.UvicornWorker"
WSGI_REASON = "no async views and no async-only middleware"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="unset"),
        pytest.param("auto", None, id="auto"),
        pytest.param(" AUTO ", None, id="auto-any-case"),
        pytest.param("uvicorn", UVICORN, id="uvicorn"),
        pytest.param("gthread", "gthread", id="gthread"),
        pytest.param("Sync", "sync", id="sync"),
        pytest.param("asgi", "asgi", id="gunicorn-asgi"),
        pytest.param(
            "uvicorn_worker.UvicornH11Worker", "uvicorn_worker.UvicornH11Worker", id="path"
        ),
    ],
)
def test_worker_class_setting(value, expected):
    environ = {} if value is None else {"PRODKIT_WORKER_CLASS": value}
    assert worker_class_setting(Env(environ=environ)) == expected


def test_unknown_worker_class_names_the_variable_and_the_choices():
    with pytest.raises(ImproperlyConfigured) as error:
        worker_class_setting(Env(environ={"PRODKIT_WORKER_CLASS": "gevent-ish"}))
    assert "PRODKIT_WORKER_CLASS must be auto, uvicorn, gthread, sync, asgi or a worker class" in (
        str(error.value)
    )


@pytest.mark.parametrize(
    ("worker", "asgi"),
    [
        (UVICORN, True),
        ("uvicorn.workers.UvicornWorker", True),
        ("asgi", True),
        ("gunicorn.workers.gasgi.ASGIWorker", True),
        ("gthread", False),
        ("sync", False),
        ("gevent", False),
    ],
)
def test_entrypoint_matches_the_worker_class(worker, asgi):
    assert is_asgi_worker(worker) is asgi
    assert entrypoint_for(worker) == (ASGI_ENTRYPOINT if asgi else WSGI_ENTRYPOINT)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "0.0.0.0:8000"),
        ({"PORT": "8080"}, "0.0.0.0:8080"),
        ({"PORT": "8080", "WEBSITES_PORT": "9000"}, "0.0.0.0:9000"),
        ({"PORT": "8080", "PRODKIT_BIND": "unix:/run/app.sock"}, "unix:/run/app.sock"),
    ],
)
def test_server_bind(environ, expected):
    assert server_bind(Env(environ=environ)) == expected


# --- what the project is ---------------------------------------------------------------------


def test_example_project_is_wsgi():
    interface = application_interface()
    assert (interface.name, interface.reason) == ("wsgi", WSGI_REASON)
    assert worker_class(Env(environ={})) == ("gthread", WSGI_REASON)


def test_async_views_make_it_asgi(settings):
    settings.ROOT_URLCONF = "tests.urls_async"
    # Nested includes and async class-based views count; sync views do not.
    assert async_views() == ["live/events/", "live/page/", "a/", "b/"]
    interface = application_interface()
    assert interface.name == "asgi"
    assert interface.reason == "4 async view(s): /live/events/, /live/page/, /a/ and 1 more"
    assert worker_class(Env(environ={}))[0] == UVICORN


def test_async_only_middleware_makes_it_asgi(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.urls_async.AsyncOnlyMiddleware"]
    interface = application_interface()
    assert interface.name == "asgi"
    assert "tests.urls_async.AsyncOnlyMiddleware" in interface.reason


def test_asgi_application_makes_it_asgi(settings):
    settings.ASGI_APPLICATION = "mysite.asgi.application"
    assert application_interface().name == "asgi"


def test_the_variable_wins_over_the_project(settings):
    settings.ROOT_URLCONF = "tests.urls_async"
    assert worker_class(Env(environ={"PRODKIT_WORKER_CLASS": "gthread"})) == (
        "gthread",
        "PRODKIT_WORKER_CLASS is set",
    )


# --- gunicorn's view of the config ----------------------------------------------------------


def print_config(**environ: str) -> subprocess.CompletedProcess[str]:
    """Run ``gunicorn --print-config`` with prodkit's config from the repository root."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHON_DOTENV_DISABLED": "1",
        "PYTHONPATH": str(EXAMPLE_PROJECT),
        **environ,
    }
    return subprocess.run(
        [str(BIN / "gunicorn"), "-c", "python:django_prodkit.gunicorn_conf", "--print-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def setting(output: str, name: str) -> str:
    for line in output.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    raise AssertionError(f"{name} not in:\n{output}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("settings_module", "worker", "app"),
    [
        pytest.param("tests.settings", "gthread", WSGI_ENTRYPOINT, id="sync-project"),
        pytest.param("tests.settings_async", UVICORN, ASGI_ENTRYPOINT, id="async-project"),
    ],
)
def test_config_chooses_class_and_entrypoint_from_the_project(settings_module, worker, app):
    result = print_config(DJANGO_SETTINGS_MODULE=settings_module)
    assert result.returncode == 0, result.stderr
    assert setting(result.stdout, "worker_class") == worker
    assert setting(result.stdout, "wsgi_app") == app
    # Measured defaults (docs/server.md): two threads, recycling every 10,000 requests.
    assert setting(result.stdout, "threads") == "2"
    assert setting(result.stdout, "max_requests") == "10000"
    assert setting(result.stdout, "max_requests_jitter") == "1000"


@pytest.mark.slow
def test_config_without_settings_module_says_what_to_set():
    result = print_config()
    assert result.returncode != 0
    assert "DJANGO_SETTINGS_MODULE is not set" in result.stderr


@pytest.mark.slow
def test_config_reports_a_project_that_does_not_load():
    result = print_config(DJANGO_SETTINGS_MODULE="tests.no_such_settings")
    assert result.returncode != 0
    assert "prodkit could not load the project to choose the worker class" in result.stderr
    assert "No module named 'tests.no_such_settings'" in result.stderr
    assert "set PRODKIT_WORKER_CLASS to uvicorn or gthread" in result.stderr


@pytest.mark.slow
def test_config_takes_the_class_from_the_variable():
    result = print_config(DJANGO_SETTINGS_MODULE="tests.settings", PRODKIT_WORKER_CLASS="uvicorn")
    assert result.returncode == 0, result.stderr
    assert setting(result.stdout, "worker_class") == UVICORN
    assert setting(result.stdout, "wsgi_app") == ASGI_ENTRYPOINT


def test_config_passes_the_class_on_to_the_workers(monkeypatch):
    """The workers' settings read PRODKIT_WORKER_CLASS (database connections under ASGI)."""
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn")
    sys.modules.pop("django_prodkit.gunicorn_conf", None)
    import django_prodkit.gunicorn_conf as config

    assert config.worker_class == UVICORN
    assert os.environ["PRODKIT_WORKER_CLASS"] == UVICORN
    sys.modules.pop("django_prodkit.gunicorn_conf", None)


# --- real servers ---------------------------------------------------------------------------


def serve(env: dict[str, str], log: Path, *argv: str) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=EXAMPLE_PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("worker", "app"),
    [
        pytest.param("gthread", ASGI_ENTRYPOINT, id="asgi-app-under-gthread"),
        pytest.param("uvicorn", WSGI_ENTRYPOINT, id="wsgi-app-under-uvicorn"),
    ],
)
def test_a_mismatched_application_stops_the_server(tmp_path, worker, app):
    env = example_env(tmp_path, PRODKIT_WORKER_CLASS=worker)
    log = tmp_path / "server.log"
    port = free_port()
    process = serve(
        env,
        log,
        str(BIN / "gunicorn"),
        "-c",
        "python:django_prodkit.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        app,
    )
    try:
        code = process.wait(timeout=60)
    finally:
        process.kill()
    output = log.read_text()
    assert code != 0, output
    assert f"but {app} is" in output
    assert "Start gunicorn without an application argument" in output


@pytest.mark.slow
def test_serve_prints_the_line(tmp_path, monkeypatch):
    stdout = StringIO()
    call_command("serve", "--print", stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert lines[0] == f"# worker class gthread: {WSGI_REASON}"
    assert (
        lines[-1] == "PRODKIT_WORKER_CLASS=gthread gunicorn -c python:django_prodkit.gunicorn_conf"
    )


@pytest.mark.slow
def test_serve_runs_gunicorn_with_the_chosen_class(tmp_path):
    port = free_port()
    env = example_env(tmp_path, PRODKIT_BIND=f"127.0.0.1:{port}")
    Path(env["DJANGO_STATIC_ROOT"]).mkdir()
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    log = tmp_path / "server.log"
    process = serve(env, log, sys.executable, "manage.py", "serve")
    try:
        wait_for_port(port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/about/", timeout=10) as response:
            assert response.status == 200
            request_id = response.headers["X-Request-ID"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log.read_text()
    # manage.py decided; gunicorn's master did not load the project again to decide.
    assert "prodkit: 1 worker(s) of gthread (PRODKIT_WORKER_CLASS is set)" in output, output
    assert "Control socket" not in output, output
    assert f'django_prodkit.access [{request_id}] 127.0.0.1 "GET /about/" 200' in output, output


@pytest.mark.slow
def test_sync_workers_get_one_thread():
    # gunicorn runs a "sync" worker with threads > 1 as gthread, silently.
    result = print_config(DJANGO_SETTINGS_MODULE="tests.settings", PRODKIT_WORKER_CLASS="sync")
    assert result.returncode == 0, result.stderr
    assert setting(result.stdout, "worker_class") == "sync"
    assert setting(result.stdout, "threads") == "1"


def test_gthread_quick_exit_does_not_wait_for_the_pool_lock(monkeypatch):
    """Ctrl-C (SIGINT) or the master's quick stop (SIGQUIT) landing while the worker's main
    thread is in the thread pool's submit(), which holds the pool's lock: gthread's own
    handler waited for that lock forever (cpython#121649); prodkit's quits at once."""
    from gunicorn.config import Config
    from gunicorn.workers.gthread import ThreadWorker

    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "gthread")
    sys.modules.pop("django_prodkit.gunicorn_conf", None)
    import django_prodkit.gunicorn_conf as config

    sys.modules.pop("django_prodkit.gunicorn_conf", None)
    worker = ThreadWorker(0, os.getpid(), [], None, 30, Config(), None)
    worker.tpool = worker.get_thread_pool()
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGQUIT)}
    try:
        config.quit_without_pool_shutdown(worker)
        handlers = {signum: signal.getsignal(signum) for signum in saved}
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    for signum, handler in handlers.items():
        codes: list[object] = []
        with worker.tpool._shutdown_lock:  # what submit() holds
            thread = threading.Thread(target=_exit_code, args=(handler, signum, codes), daemon=True)
            thread.start()
            thread.join(timeout=5)
        assert not thread.is_alive(), f"{signal.Signals(signum).name}: waited for the pool lock"
        assert codes == [0]
    worker.tpool.shutdown()
    worker.tmp.close()


def _exit_code(handler, signum: int, codes: list[object]) -> None:
    """Call a signal handler; put the code of the SystemExit it raises in ``codes``."""
    try:
        handler(signum, None)
    except SystemExit as exc:
        codes.append(exc.code)
