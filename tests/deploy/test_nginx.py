"""``deployconfig nginx``: the site file nginx accepts, and the example project behind it.

``nginx -t`` checks the file for each kind of site (static and media on disk or on blob
storage, each protected mode); then the example project runs under gunicorn behind nginx
with the file ``manage.py deployconfig nginx`` rendered from its own settings.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import replace
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from django_prodkit.deploy import render
from django_prodkit.deploy.context import DeployContext
from django_prodkit.deploy.nginx import HASHED_NAME
from django_prodkit.protected import CACHE_CONTROL
from tests.example import (
    BODY,
    PHOTO,
    gunicorn,
    manage,
    protected_site_env,
    signed_in,
)
from tests.nginx import PORT, nginx_test, own_nginx

BLOB_STATIC = "https://account.blob.core.windows.net/static/"
BLOB_MEDIA = "https://account.blob.core.windows.net/media/"


@pytest.fixture
def context(settings, tmp_path) -> DeployContext:
    """A site with static files and uploads on this disk, nginx trusted, protected files
    handed to nginx."""
    settings.ALLOWED_HOSTS = ["www.example.com", "example.com", "*"]
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRODKIT_TRUSTED_PROXIES = ["127.0.0.1"]
    settings.PRODKIT_PROTECTED_MODE = "nginx"
    return DeployContext.from_settings()


def site_file(context: DeployContext) -> str:
    [(name, text)] = render("nginx", context).items()
    assert name == "nginx.conf"
    return text


def directives(text: str) -> list[str]:
    """The file's lines without comments and indentation: what nginx reads."""
    lines = (line.partition("#")[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


# --- What the file says.


def test_file_passes_the_client_address_the_way_the_middleware_reads_it(context):
    lines = directives(site_file(context))
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in lines
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in lines
    assert "proxy_set_header Host $host;" in lines
    assert not any("$proxy_add_x_forwarded_for" in line for line in lines)


@pytest.mark.parametrize(
    ("proxies", "hops", "says"),
    [
        pytest.param(["127.0.0.1"], 0, "The settings trust it (127.0.0.1).", id="trusted"),
        pytest.param(["127.0.0.0/8"], 0, "The settings trust it (127.0.0.0/8).", id="network"),
        pytest.param([], 1, "PRODKIT_PROXY_HOPS=1", id="hops"),
        pytest.param(
            ["10.0.0.0/8"],
            0,
            "do not trust it (10.0.0.0/8): set PRODKIT_TRUSTED_PROXIES=127.0.0.1",
            id="other",
        ),
        pytest.param([], 0, "do not trust it: set PRODKIT_TRUSTED_PROXIES=127.0.0.1", id="none"),
    ],
)
def test_header_says_whether_the_settings_trust_nginx(context, proxies, hops, says):
    text = site_file(replace(context, trusted_proxies=tuple(proxies), proxy_hops=hops))
    header = " ".join(line.lstrip("# ") for line in text.split("\nupstream ")[0].splitlines())
    assert "manage.py deployconfig nginx" in header
    assert says in header


def test_file_follows_the_settings(context):
    context = replace(context, port=8123, workers=3, threads=4, timeout=100)
    lines = directives(site_file(context))
    assert "server 127.0.0.1:8123;" in lines
    assert "keepalive 12;" in lines
    assert "server_name www.example.com example.com;" in lines
    assert "proxy_read_timeout 110s;" in lines
    assert "proxy_next_upstream error timeout;" in lines
    # 5 MiB uploads (the example's) and 1 MiB of multipart framing.
    assert "client_max_body_size 6m;" in lines
    assert f"alias {context.static_root}/;" in lines
    assert 'location ~ "^(/healthz|/readyz)/?$" {' in lines


def test_protected_mode_decides_who_serves_uploads(context):
    handed_to_nginx = directives(site_file(context))
    assert "location ^~ /_protected/ {" in handed_to_nginx
    assert "internal;" in handed_to_nginx
    # Uploads are private: MEDIA_URL is refused, whatever the app would do with it.
    media = handed_to_nginx.index("location ^~ /media/ {")
    assert handed_to_nginx[media + 1] == "return 404;"
    streamed = directives(site_file(replace(context, protected_mode="stream")))
    media = streamed.index("location ^~ /media/ {")
    assert streamed[media + 1] == f"alias {context.media_root}/;"
    assert "internal;" not in streamed


def test_files_elsewhere_get_no_location(context):
    text = site_file(
        replace(
            context,
            static_url=BLOB_STATIC,
            static_root=None,
            media_url=BLOB_MEDIA,
            media_root=None,
            protected_mode="sas",
        )
    )
    assert "alias" not in "\n".join(directives(text))
    assert "No static location" in text
    assert "uploads live on blob storage" in text


def test_protected_nginx_mode_without_local_uploads_is_flagged(context):
    text = site_file(replace(context, media_root=None, media_url=BLOB_MEDIA))
    assert "internal;" not in directives(text)
    assert "use PRODKIT_PROTECTED_MODE=sas" in " ".join(text.split())


def test_a_sync_worker_gets_no_kept_alive_connections(context):
    lines = directives(site_file(replace(context, worker_class="sync")))
    assert not any(line.startswith("keepalive") for line in lines)


def test_nginx_lets_idle_connections_go_before_the_app_server(context):
    # PRODKIT_KEEPALIVE: gunicorn's idle timeout; nginx's is a second shorter.
    assert "keepalive_timeout 4s;" in directives(site_file(context))
    assert "keepalive_timeout 14s;" in directives(site_file(replace(context, keepalive=15)))
    lines = directives(site_file(replace(context, keepalive=0)))
    assert not any(line.startswith("keepalive") for line in lines)


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        pytest.param("admin/css/base.3f2a8c9d1b4e.css", True, id="manifest"),
        pytest.param("js/app.0123456789ab.min.js", True, id="two-suffixes"),
        pytest.param("admin/css/base.css", False, id="plain"),
        pytest.param("build.3f2a8c9d1b4e/app.css", False, id="hash-in-folder"),
        pytest.param("base.3F2A8C9D1B4E.css", False, id="upper-case"),
    ],
)
def test_hashed_names(name, hashed):
    assert bool(re.search(HASHED_NAME, "/static/" + name)) is hashed


def test_a_path_nginx_cannot_take_is_refused(context):
    with pytest.raises(ImproperlyConfigured, match="STATIC_ROOT holds a character nginx"):
        site_file(replace(context, static_root=Path("/srv/$site/static")))


def test_no_secret_reaches_the_file(settings, planted, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    out = StringIO()
    call_command("deployconfig", "nginx", stdout=out)
    assert "upstream" in out.getvalue()
    assert planted not in out.getvalue()


# --- nginx -t.


@pytest.mark.parametrize("protected_mode", ["nginx", "stream", "xsendfile", "sas"])
@pytest.mark.parametrize("media", ["local", "blob"])
@pytest.mark.parametrize("static", ["local", "blob"])
def test_nginx_accepts_the_file(context, tmp_path, static, media, protected_mode):
    if static == "blob":
        context = replace(context, static_url=BLOB_STATIC, static_root=None)
    if media == "blob":
        context = replace(context, media_url=BLOB_MEDIA, media_root=None)
    text = site_file(replace(context, protected_mode=protected_mode))
    nginx_test(text, tmp_path / "nginx")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"server_names": ()}, id="no-server-name"),
        pytest.param({"worker_class": "sync"}, id="sync-worker"),
        pytest.param({"https": True}, id="https"),
        pytest.param({"static_root": Path("/srv/my site/static")}, id="space-in-path"),
        pytest.param({"protected_url": "/internal/media/"}, id="protected-url"),
    ],
)
def test_nginx_accepts_the_file_for_other_sites(context, tmp_path, change):
    nginx_test(site_file(replace(context, **change)), tmp_path / "nginx")


# --- The example project behind nginx with the generated file.

TOKEN = "health-token-for-nginx-test"
SPOOFED = "203.0.113.66"


def listening_on_test_port(text: str) -> str:
    """The generated file, listening on the test's port on loopback instead of port 80."""
    assert "    listen 80;\n    listen [::]:80;\n" in text
    return text.replace("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{PORT};\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example project (protected downloads handed to nginx, nginx trusted) under
    gunicorn, behind nginx running the file ``deployconfig nginx`` renders for it; one
    photo, one user. Shared by the module's tests: none changes what another reads."""
    tmp_path = tmp_path_factory.mktemp("site")
    env = protected_site_env(
        tmp_path, "nginx", PRODKIT_TRUSTED_PROXIES="127.0.0.1", PRODKIT_HEALTH_TOKEN=TOKEN
    )
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log) as app:
        generated = manage({**env, "PORT": str(app)}, "deployconfig", "nginx")
        (tmp_path / "nginx.conf").write_text(generated)
        with own_nginx(listening_on_test_port(generated), tmp_path / "nginx") as nginx:
            yield {
                "base": f"http://127.0.0.1:{nginx.port}",
                "app": f"http://127.0.0.1:{app}",
                "static_root": Path(env["DJANGO_STATIC_ROOT"]),
                "logs": lambda: nginx.logs() + log.read_text(),
                "app_log": log,
            }


def served_by_django(log: Path, path: str) -> bool:
    """Whether prodkit's access log (one line per request Django served) names ``path``."""
    return f' {path}" ' in log.read_text()


@pytest.mark.slow
def test_example_behind_the_generated_file(site):
    base, logs = site["base"], site["logs"]

    # A page: through nginx to the app and back.
    page = requests.get(f"{base}/", timeout=10)
    assert page.status_code == 200, logs()
    assert served_by_django(site["app_log"], "/")

    # A hashed static name: nginx sends it from STATIC_ROOT, compressed, cached for a year.
    manifest = json.loads((site["static_root"] / "staticfiles.json").read_text())
    hashed = "/static/" + manifest["paths"]["admin/css/base.css"]
    static = requests.get(f"{base}{hashed}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert static.status_code == 200, logs()
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert static.headers["Content-Encoding"] == "gzip"
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    assert "body" in static.text
    plain = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
    assert plain.headers["Cache-Control"] == "public, max-age=60"
    # Django never saw either: a file it does not know (whitenoise indexes STATIC_ROOT at
    # start) is there through nginx and not through the app.
    (site["static_root"] / "late.txt").write_text("added after the app started")
    assert requests.get(f"{base}/static/late.txt", timeout=10).status_code == 200
    assert requests.get(f"{site['app']}/static/late.txt", timeout=10).status_code == 404
    assert not served_by_django(site["app_log"], hashed)
    assert not served_by_django(site["app_log"], "/static/admin/css/base.css")


@pytest.mark.slow
def test_protected_file_through_the_generated_file(site):
    base, logs = site["base"], site["logs"]
    anonymous = requests.get(f"{base}/photos/1/download/", timeout=10)
    assert anonymous.status_code == 403, logs()
    assert BODY not in anonymous.content

    cookies = signed_in(base)
    allowed = requests.get(f"{base}/photos/1/download/", cookies=cookies, timeout=10)
    assert allowed.status_code == 200, logs()
    assert allowed.content == BODY
    assert "X-Accel-Redirect" not in allowed.headers
    assert allowed.headers["Content-Disposition"] == 'attachment; filename="Tea.png"'
    assert allowed.headers["Cache-Control"] == CACHE_CONTROL
    assert allowed.headers["X-Content-Type-Options"] == "nosniff"

    # Neither the internal location nor the uploads' public URL give the file to anyone.
    for path in (
        "/_protected/" + quote(PHOTO),
        "/%5Fprotected/" + quote(PHOTO),
        "//_protected/" + quote(PHOTO),
        "/media/" + quote(PHOTO),
    ):
        direct = requests.get(base + path, timeout=10)
        assert direct.status_code == 404, (path, direct.status_code, logs())
        assert BODY not in direct.content


@pytest.mark.slow
def test_a_spoofed_client_address_stops_at_nginx(site):
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": SPOOFED}
    through_nginx = requests.get(f"{site['base']}/healthz", headers=headers, timeout=10)
    assert through_nginx.status_code == 200, site["logs"]()
    assert through_nginx.json()["client"] == "127.0.0.1"
    # The app does believe its trusted peer: sent straight to it from 127.0.0.1, the same
    # header would have made the client someone else.
    direct = requests.get(f"{site['app']}/healthz", headers=headers, timeout=10)
    assert direct.json()["client"] == SPOOFED


@pytest.mark.slow
def test_an_upload_over_the_limit_stops_at_nginx(site):
    # The declared length is enough: nginx answers before reading a byte of the body.
    connection = http.client.HTTPConnection(site["base"].removeprefix("http://"), timeout=10)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", str(7 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()
