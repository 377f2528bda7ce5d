"""``deployconfig uwsgi``: the ini file, and the example project served by uWSGI from it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.deploy import render
from django_prodkit.deploy.context import DeployContext
from tests.example import BIN, EXAMPLE_PROJECT, example_env, manage
from tests.servers import free_port, process_group, wait_until_listening


@pytest.fixture
def context(settings, tmp_path) -> DeployContext:
    settings.STATIC_ROOT = tmp_path / "static"
    return DeployContext.from_settings()


def options(text: str) -> list[str]:
    """The ini's option lines, as uWSGI reads them."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith((";", "["))]


def test_ini_follows_the_settings(context, tmp_path):
    changed = replace(context, port=8123, workers=3, threads=4, timeout=100, max_requests=500)
    lines = options(render("uwsgi", changed)["uwsgi.ini"])
    for line in (
        "module = django_prodkit.wsgi:application",
        f"env = DJANGO_SETTINGS_MODULE={context.settings_module}",
        f"chdir = {context.project_dir}",
        "http-socket = :8123",
        "processes = 3",
        "threads = 4",
        "harakiri = 100",
        "max-requests = 500",
        "master = true",
        "die-on-term = true",
        "vacuum = true",
        "need-app = true",
        "lazy-apps = true",
        f"limit-post = {context.max_body_bytes}",
        f"static-map = /static={tmp_path / 'static'}",
    ):
        assert line in lines


def test_an_async_project_is_still_served_through_wsgi(context):
    text = render(
        "uwsgi", replace(context, asgi=True, entrypoint="django_prodkit.asgi:application")
    )
    assert "module = django_prodkit.wsgi:application" in options(text["uwsgi.ini"])
    assert "async views" in text["uwsgi.ini"]


def test_static_files_elsewhere_get_no_map(context):
    blob = replace(context, static_url="https://account.blob.core.windows.net/static/")
    text = render("uwsgi", replace(blob, static_root=None))["uwsgi.ini"]
    assert not any(line.startswith("static-") for line in options(text))
    assert "No static-map: static files are on blob storage" in text


def test_a_relative_path_is_refused(context):
    with pytest.raises(ImproperlyConfigured, match="BASE_DIR must be an absolute path"):
        render("uwsgi", replace(context, project_dir=Path("site")))


def test_no_secret_reaches_the_file(settings, planted, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    assert planted not in render("uwsgi", DeployContext.from_settings())["uwsgi.ini"]


@pytest.mark.slow
def test_uwsgi_serves_the_example_from_the_ini(tmp_path):
    uwsgi = BIN / "uwsgi"
    if not uwsgi.exists():
        message = "uwsgi is not installed in the virtualenv (pip install uwsgi, the `test` extra)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    port = free_port()
    env = example_env(tmp_path, PORT=str(port))
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "deployconfig", "uwsgi", "--output", str(tmp_path))
    ini = tmp_path / "uwsgi.ini"
    # The file listens on every interface; the test on loopback only.
    ini.write_text(
        ini.read_text().replace(f"http-socket = :{port}", f"http-socket = 127.0.0.1:{port}")
    )
    log = tmp_path / "uwsgi.log"
    # die-on-term: SIGTERM stops the master and its workers.
    with process_group([str(uwsgi), "--ini", str(ini)], log=log, cwd=EXAMPLE_PROJECT, env=env):
        wait_until_listening(port, "uWSGI", log.read_text, timeout=60)
        base = f"http://127.0.0.1:{port}"
        page = requests.get(f"{base}/", timeout=30)
        assert page.status_code == 200, log.read_text()
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        # static-map: uWSGI sends files from STATIC_ROOT, a hashed name with a year's expiry.
        static_root = Path(env["DJANGO_STATIC_ROOT"])
        manifest = json.loads((static_root / "staticfiles.json").read_text())
        hashed = requests.get(
            f"{base}/static/{manifest['paths']['admin/css/base.css']}", timeout=10
        )
        assert hashed.status_code == 200, log.read_text()
        assert "body" in hashed.text
        assert "Expires" in hashed.headers
        plain = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
        assert plain.status_code == 200
        assert "Expires" not in plain.headers
        # Not Django: a file whitenoise never indexed is there all the same.
        (static_root / "late.txt").write_text("added after the app started")
        assert requests.get(f"{base}/static/late.txt", timeout=10).text == (
            "added after the app started"
        )
