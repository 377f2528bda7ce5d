"""``deployconfig apache``: the files Apache accepts, and the example project behind them.

``apache2 -t`` checks the files for each kind of site; then the example project runs in
Apache under mod_wsgi (built for this virtualenv) from the files ``manage.py deployconfig
apache`` writes for it, protected downloads handed to mod_xsendfile; and the balancer file
proxies to the example under gunicorn.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.deploy import render
from django_prodkit.deploy.apache import site_files
from django_prodkit.deploy.context import DeployContext
from django_prodkit.protected import CACHE_CONTROL
from tests.apache import PORT, apache_test, own_apache
from tests.example import (
    BODY,
    EXAMPLE_PROJECT,
    PHOTO,
    gunicorn,
    manage,
    protected_site_env,
    signed_in,
)

BLOB_STATIC = "https://account.blob.core.windows.net/static/"
BLOB_MEDIA = "https://account.blob.core.windows.net/media/"


@pytest.fixture
def context(settings, tmp_path) -> DeployContext:
    """A site with static files and uploads on this disk, protected files handed to
    mod_xsendfile, no proxy in front."""
    settings.ALLOWED_HOSTS = ["www.example.com", "example.com", "*"]
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRODKIT_PROTECTED_MODE = "xsendfile"
    return DeployContext.from_settings()


def directives(text: str) -> list[str]:
    """The file's lines without comments and indentation: what Apache reads."""
    lines = (line.strip() for line in text.replace("\\\n", " ").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_three_files(context):
    assert set(render("apache", context)) == {"apache.conf", "wsgi.py", "apache-balancer.conf"}


def test_mod_wsgi_file_follows_the_settings(context, tmp_path):
    files = site_files(
        replace(context, workers=3, threads=4, timeout=100, max_requests=500),
        python_home=Path("/srv/venv"),
    )
    lines = directives(files["apache.conf"])
    [daemon] = [line for line in lines if line.startswith("WSGIDaemonProcess ")]
    for option in (
        "processes=3",
        "threads=4",
        "request-timeout=100",
        "maximum-requests=500",
        "python-home=/srv/venv",
        f"python-path={context.project_dir}",
    ):
        assert option in daemon.split()
    assert "WSGIApplicationGroup %{GLOBAL}" in lines
    script = context.project_dir / "deploy" / "apache" / "wsgi.py"
    assert f'WSGIScriptAlias / "{script}"' in lines
    assert "ServerName www.example.com" in lines
    assert "ServerAlias example.com" in lines
    assert f"LimitRequestBody {context.max_body_bytes}" in lines
    assert f'Alias "/static/" "{tmp_path / "static"}/"' in lines
    # X-Sendfile from MEDIA_ROOT only, and no public way to the uploads.
    assert "XSendFile On" in lines
    assert f'XSendFilePath "{tmp_path / "media"}"' in lines
    assert 'Redirect 404 "/media/"' in lines
    assert not any(line.startswith('Alias "/media/"') for line in lines)
    # No proxy in front: mod_remoteip would believe anyone's X-Forwarded-For.
    assert not any(line.startswith("RemoteIP") for line in lines)


def test_shim_sets_the_settings_module(context):
    shim = render("apache", replace(context, settings_module="mysite.settings"))["wsgi.py"]
    compile(shim, "wsgi.py", "exec")
    assert 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")' in shim
    assert "from django_prodkit.wsgi import application" in shim


def test_trusted_proxies_turn_on_mod_remoteip(context):
    text = render("apache", replace(context, trusted_proxies=("10.1.2.0/24", "192.0.2.7")))
    for name in ("apache.conf", "apache-balancer.conf"):
        lines = directives(text[name])
        assert "RemoteIPHeader X-Forwarded-For" in lines
        assert "RemoteIPTrustedProxy 10.1.2.0/24" in lines
        assert "RemoteIPTrustedProxy 192.0.2.7/32" in lines


def test_other_protected_modes_keep_media_public(context):
    lines = directives(render("apache", replace(context, protected_mode="stream"))["apache.conf"])
    assert not any(line.startswith("XSendFile") for line in lines)
    assert any(line.startswith('Alias "/media/"') for line in lines)


def test_files_elsewhere_get_no_alias(context):
    text = render(
        "apache",
        replace(
            context,
            static_url=BLOB_STATIC,
            static_root=None,
            media_url=BLOB_MEDIA,
            media_root=None,
            protected_mode="sas",
        ),
    )["apache.conf"]
    assert not any(line.startswith(("Alias", "XSendFile")) for line in directives(text))
    assert "static files are on blob storage" in text


def test_balancer_file(context):
    text = render("apache", replace(context, port=8100))["apache-balancer.conf"]
    lines = directives(text)
    assert 'BalancerMember "http://127.0.0.1:8100"' in lines
    assert '# BalancerMember "http://127.0.0.1:8101"  # another app server: one line each' in (text)
    assert "ProxySet lbmethod=byrequests" in lines
    assert lines.index('ProxyPass "/static/" !') < lines.index(
        'ProxyPass / "balancer://prodkit_farm/"'.replace("prodkit", _group(context))
    )
    # The client's own X-Forwarded-For goes no further than Apache.
    assert "RequestHeader unset X-Forwarded-For" in lines
    assert "gunicorn -c python:django_prodkit.gunicorn_conf" in text
    assert "do not trust it" in text


def _group(context: DeployContext) -> str:
    return context.settings_module.partition(".")[0]


def test_a_path_apache_cannot_take_is_refused(context, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="STATIC_ROOT holds a character"):
        render("apache", replace(context, static_root=tmp_path / 'say "hi"'))
    with pytest.raises(ImproperlyConfigured, match=r"BASE_DIR .* must be an absolute path"):
        render("apache", replace(context, project_dir=tmp_path / "my site"))


def test_no_secret_reaches_the_files(settings, planted, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRODKIT_TRUSTED_PROXIES = ["127.0.0.1"]
    for name, text in render("apache", DeployContext.from_settings()).items():
        assert planted not in text, name


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({}, id="xsendfile"),
        pytest.param({"protected_mode": "stream"}, id="public-media"),
        pytest.param({"trusted_proxies": ("10.1.2.0/24", "2001:db8::/32")}, id="proxies"),
        pytest.param(
            {"static_url": BLOB_STATIC, "static_root": None, "media_root": None}, id="blob"
        ),
        pytest.param({"server_names": ()}, id="no-server-name"),
    ],
)
def test_apache_accepts_the_files(context, tmp_path, change):
    files = site_files(replace(context, **change), address=f"127.0.0.1:{PORT}")
    for name in ("apache.conf", "apache-balancer.conf"):
        apache_test(files[name], tmp_path / name)


# --- The example project in Apache with the generated files.

TOKEN = "health-token-for-apache-test"
CLIENT = "203.0.113.66"
SPOOFED = "6.6.6.6"
# A name X-Sendfile carries the same quoted or not (pk 2; PHOTO is pk 1).
PLAIN_PHOTO = "photos/2026/01/plain-tea.png"


def serve_on_test_port(text: str, wsgi_folder: Path | None = None) -> str:
    """A generated file listening on the test's port on loopback, its wsgi.py where the
    test wrote it instead of the project's deploy/apache folder."""
    assert "<VirtualHost *:80>" in text
    text = text.replace("<VirtualHost *:80>", f"<VirtualHost 127.0.0.1:{PORT}>")
    if wsgi_folder is not None:
        default = str(EXAMPLE_PROJECT / "deploy" / "apache")
        assert text.count(default) == 3, text
        text = text.replace(default, str(wsgi_folder))
    return text


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example project's environment: protected downloads by X-Sendfile, 127.0.0.1
    trusted, two photos, one user."""
    tmp_path = tmp_path_factory.mktemp("apache-site")
    env = protected_site_env(
        tmp_path,
        "xsendfile",
        {"Tea": PHOTO, "Plain": PLAIN_PHOTO},
        PRODKIT_TRUSTED_PROXIES="127.0.0.1",
        PRODKIT_HEALTH_TOKEN=TOKEN,
    )
    output = tmp_path / "deploy"
    manage(env, "deployconfig", "apache", "--output", str(output))
    return tmp_path, env, output


@pytest.fixture(scope="module")
def site(example):
    """Apache running the example under mod_wsgi from the generated apache.conf and wsgi.py."""
    tmp_path, env, output = example
    config = serve_on_test_port((output / "apache.conf").read_text(), output)
    with own_apache(config, tmp_path / "apache", env) as apache:
        yield {
            "base": f"http://127.0.0.1:{apache.port}",
            "apache": apache,
            "static_root": Path(env["DJANGO_STATIC_ROOT"]),
            "logs": apache.logs,
        }


@pytest.mark.slow
def test_example_under_mod_wsgi(site):
    base, logs = site["base"], site["logs"]
    page = requests.get(f"{base}/", timeout=30)
    assert page.status_code == 200, logs()
    assert "Apache" not in page.headers.get("Content-Type", "")
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200, logs()

    # A hashed static name: Apache sends it from STATIC_ROOT, cached for a year.
    manifest = json.loads((site["static_root"] / "staticfiles.json").read_text())
    hashed = "/static/" + manifest["paths"]["admin/css/base.css"]
    static = requests.get(f"{base}{hashed}", timeout=10)
    assert static.status_code == 200, logs()
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    assert "body" in static.text
    plain = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
    assert plain.headers["Cache-Control"] == "public, max-age=60"
    # Apache, not Django: a file whitenoise never indexed is there all the same.
    (site["static_root"] / "late.txt").write_text("added after the app started")
    assert requests.get(f"{base}/static/late.txt", timeout=10).status_code == 200


@pytest.mark.slow
def test_protected_file_through_x_sendfile(site):
    base, logs = site["base"], site["logs"]
    anonymous = requests.get(f"{base}/photos/2/download/", timeout=10)
    assert anonymous.status_code == 403, logs()
    assert BODY not in anonymous.content

    allowed = requests.get(f"{base}/photos/2/download/", cookies=signed_in(base), timeout=10)
    assert allowed.status_code == 200, logs()
    assert allowed.content == BODY
    assert "X-Sendfile" not in allowed.headers
    assert allowed.headers["Content-Type"] == "image/png"
    assert allowed.headers["Content-Disposition"] == 'attachment; filename="Plain.png"'
    assert allowed.headers["Cache-Control"] == CACHE_CONTROL
    assert allowed.headers["X-Content-Type-Options"] == "nosniff"

    # The uploads' public URL gives the file to no one.
    direct = requests.get(f"{base}/media/{quote(PLAIN_PHOTO)}", timeout=10)
    assert direct.status_code == 404, logs()
    assert BODY not in direct.content


@pytest.mark.slow
def test_protected_file_with_any_name_through_x_sendfile(site):
    base = site["base"]
    allowed = requests.get(f"{base}/photos/1/download/", cookies=signed_in(base), timeout=10)
    assert (allowed.status_code, allowed.content) == (200, BODY)


@pytest.mark.slow
def test_client_address_from_a_trusted_proxy(site):
    # The test's client is on 127.0.0.1, the proxy the settings trust: Apache believes the
    # entry it appended, not the one a client wrote before it.
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": f"{SPOOFED}, {CLIENT}"}
    health = requests.get(f"{site['base']}/healthz", headers=headers, timeout=10)
    assert health.status_code == 200, site["logs"]()
    assert health.json()["client"] == CLIENT
    # Apache's own log has the client too (%a), beside the connection's address (%{c}a).
    # Apache writes the line after the response has gone out: wait for it (bounded).
    line = re.compile(rf'^{re.escape(CLIENT)} 127\.0\.0\.1 "GET /healthz ', re.MULTILINE)
    deadline = time.monotonic() + 10
    while not line.search(site["apache"].access_log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line.search(site["apache"].access_log.read_text()), site["logs"]()


@pytest.mark.slow
def test_an_upload_over_the_limit_stops_at_apache(site):
    connection = http.client.HTTPConnection(site["base"].removeprefix("http://"), timeout=10)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", str(7 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()


@pytest.mark.slow
def test_balancer_file_proxies_to_gunicorn(example):
    tmp_path, env, _ = example
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log) as app:
        output = tmp_path / "balancer"
        manage({**env, "PORT": str(app)}, "deployconfig", "apache", "--output", str(output))
        config = serve_on_test_port((output / "apache-balancer.conf").read_text())
        with own_apache(config, tmp_path / "apache-balancer", env) as apache:
            base = f"http://127.0.0.1:{apache.port}"
            logs = lambda: apache.logs() + log.read_text()  # noqa: E731
            page = requests.get(f"{base}/", timeout=30)
            assert page.status_code == 200, logs()
            assert '"GET /" 200' in log.read_text(), logs()
            headers = {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": SPOOFED}
            health = requests.get(f"{base}/healthz", headers=headers, timeout=10)
            assert health.status_code == 200, logs()
            # From 127.0.0.1 Apache believes the header (a trusted proxy), and passes the one
            # address it believes on: the app sees that client, nothing a client wrote before.
            assert health.json()["client"] == SPOOFED
            twice = {**headers, "X-Forwarded-For": f"{SPOOFED}, {CLIENT}"}
            assert (
                requests.get(f"{base}/healthz", headers=twice, timeout=10).json()["client"]
                == CLIENT
            )
