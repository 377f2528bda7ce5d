"""The example project run for real: its manage.py and gunicorn in processes of their own."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port, wait_for_port

EXAMPLE_PROJECT = Path(__file__).resolve().parents[1] / "example_project"
BIN = Path(sys.executable).parent

# Variables of the test process that would change what the example does: pytest-django's
# DJANGO_SETTINGS_MODULE=tests.settings, the test settings' DJANGO_*/PRODKIT_* and any
# database, cache or mail server the developer's shell points at.
_NOT_INHERITED = (
    "DJANGO_",
    "PRODKIT_",
    "AZURE_",
    "DATABASE_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "FORWARDED_ALLOW_IPS",
)


def example_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Return an environment for the example project on its embedded defaults.

    Plain HTTP, a fresh secret key, SQLite, static and media files under ``tmp_path``, one
    worker; ``overrides`` win.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PRODKIT_HTTPS="false",
        PYTHON_DOTENV_DISABLED="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        WEB_CONCURRENCY="1",
        PRODKIT_MAX_REQUESTS="0",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run the example's ``manage.py ARGS`` in a fresh process; return its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@contextmanager
def gunicorn(env: dict[str, str], log: Path, application: str | None = None) -> Iterator[int]:
    """Serve the example with prodkit's gunicorn config on a free port; yield the port.

    Without ``application`` the config picks prodkit's entrypoint for its worker class.
    """
    # whitenoise warns about a missing STATIC_ROOT; collectstatic is not what is tested here.
    Path(env["DJANGO_STATIC_ROOT"]).mkdir(parents=True, exist_ok=True)
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "python:django_prodkit.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                *([application] if application else []),
            ],
            cwd=EXAMPLE_PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            raise TimeoutError(f"gunicorn never listened:\n{log.read_text()}") from None
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
