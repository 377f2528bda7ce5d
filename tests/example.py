"""The example project run for real: its manage.py and gunicorn in processes of their own."""

from __future__ import annotations

import html
import http.cookiejar
import io
import os
import re
import secrets
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from tests.servers import free_port, process_group, wait_until_listening

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
    argv = [
        str(BIN / "gunicorn"),
        "-c",
        "python:django_prodkit.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        *([application] if application else []),
    ]
    with process_group(argv, log=log, stop_timeout=20, cwd=EXAMPLE_PROJECT, env=env):
        wait_until_listening(port, "gunicorn", log.read_text, timeout=60)
        yield port


# --- a visitor of the example --------------------------------------------------------------

# The superuser tests create with manage.py createsuperuser (DJANGO_SUPERUSER_PASSWORD).
PASSWORD = "Two-Instances-Pw-1"


def browser() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    """Return a URL opener that keeps cookies, and its cookie jar."""
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def open_page(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None
) -> tuple[str, int, str]:
    """Return (final URL, status, body) after following redirects."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with opener.open(url, data=body, timeout=10) as response:
        return response.geturl(), response.status, response.read().decode()


def log_in(opener: urllib.request.OpenerDirector, base: str) -> tuple[str, int, str]:
    """Log in to the admin at ``base`` as ``admin`` with ``PASSWORD``; return ``open_page``'s."""
    _, status, page = open_page(opener, f"{base}/admin/login/?next=/admin/")
    assert status == 200
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page
    token = found.group(1)
    form = {
        "csrfmiddlewaretoken": token,
        "username": "admin",
        "password": PASSWORD,
        "next": "/admin/",
    }
    return open_page(opener, f"{base}/admin/login/?next=/admin/", form)


def signed_in(base: str) -> dict[str, str]:
    """The cookies of the example's admin, signed in through ``base``."""
    opener, jar = browser()
    log_in(opener, base)
    return {cookie.name: cookie.value for cookie in jar}


def prepare(env: dict[str, str]) -> None:
    """Migrate the example, collect its static files (the admin's login page links them
    through the manifest) and create its admin user (``PASSWORD``)."""
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(
        env, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
    )


def png_bytes() -> bytes:
    """Return a small PNG image, an upload the gallery's form accepts."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def links(page: str, pattern: str) -> list[str]:
    """Return every match of ``pattern``'s group in ``page``, HTML entities decoded."""
    return [html.unescape(found) for found in re.findall(pattern, page)]


# --- a site with a protected photo ---------------------------------------------------------

# A private upload: its name has what breaks naive header handling (space, %, ?, é).
PHOTO = "photos/2026/01/tea garden 100% é?.png"
BODY = b"%PDF-1.7 protected bytes 0123456789"


def protected_site_env(
    tmp_path: Path, mode: str, photos: dict[str, str] | None = None, **overrides: str
) -> dict[str, str]:
    """Prepare the example with protected downloads in ``mode`` (``PRODKIT_PROTECTED_MODE``):
    migrated, static files collected, the admin user (``PASSWORD``) and ``photos`` (title ->
    media name, default one ``PHOTO``), each file holding ``BODY``. Return its environment."""
    photos = photos or {"Tea": PHOTO}
    env = example_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.settings_protected",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(EXAMPLE_PROJECT.parent), os.environ.get("PYTHONPATH")])
        ),
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        PRODKIT_PROTECTED_MODE=mode,
        **overrides,
    )
    media = Path(env["DJANGO_MEDIA_ROOT"])
    for name in photos.values():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(BODY)
    prepare(env)
    creates = "; ".join(
        f"Photo.objects.create(title={title!r}, image={name!r})" for title, name in photos.items()
    )
    manage(env, "shell", "-c", f"from gallery.models import Photo; {creates}")
    return env
