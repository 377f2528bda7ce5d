"""Protected files: each mode's response, the names it refuses, and the real front ends.

Django's test client drives every mode; SAS redirects are followed to a real Azurite, and
X-Accel-Redirect runs through a real nginx in front of the example project under gunicorn.
"""

from __future__ import annotations

import os
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import Http404

from django_prodkit.protected import (
    CACHE_CONTROL,
    REDIRECT_CACHE_CONTROL,
    content_disposition,
    protected_file_response,
    protected_mode,
)
from tests.example import BODY, PHOTO, gunicorn, protected_site_env, signed_in
from tests.nginx import PORT, own_nginx
from tests.storage.conftest import fetch

pytestmark = pytest.mark.urls("tests.urls_protected")

FRONT_END_MODES = ("nginx", "xsendfile")
ALL_MODES = ("nginx", "xsendfile", "sas", "stream")

UNSAFE_NAMES = [
    pytest.param("../secret.txt", id="parent"),
    pytest.param("docs/../../secret.txt", id="parent-inside"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("C:/secret.txt", id="drive"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("..\\secret.txt", id="backslash-parent"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\r\nX-Evil: 1", id="crlf"),
    pytest.param("a\nb", id="newline"),
    pytest.param("", id="empty"),
    pytest.param("docs/", id="directory"),
    pytest.param(".", id="dot"),
]


def drain(response) -> bytes:
    """The whole body; a streamed one read to its end, which closes its file the way a
    server does (closing it directly would fire request_finished at the database)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def media(settings) -> Path:
    """MEDIA_ROOT with ``docs/report.pdf`` in it, and a secret next to (not in) it."""
    root = Path(settings.MEDIA_ROOT)
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "report.pdf").write_bytes(BODY)
    (root.parent / "secret.txt").write_text("not yours")
    return root


@pytest.fixture
def mode(settings):
    """Set PRODKIT_PROTECTED_MODE."""

    def apply(name: str) -> None:
        settings.PRODKIT_PROTECTED_MODE = name

    return apply


# --- The front-end modes: headers only.


def test_nginx_mode_hands_the_file_to_the_internal_location(client, media, mode):
    mode("nginx")
    response = client.get("/files/docs/report.pdf")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_protected/docs/report.pdf"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Cache-Control"] == CACHE_CONTROL
    assert response.content == b""


def test_nginx_location_comes_from_the_setting(client, media, mode, settings):
    mode("nginx")
    settings.PRODKIT_PROTECTED_URL = "/internal/media"
    response = client.get("/files/docs/report.pdf")
    assert response["X-Accel-Redirect"] == "/internal/media/docs/report.pdf"


@pytest.mark.parametrize("prefix", ["internal/", "/x?y", "/a\nb"])
def test_nginx_location_must_be_a_path(client, media, mode, settings, prefix):
    mode("nginx")
    settings.PRODKIT_PROTECTED_URL = prefix
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_PROTECTED_URL"):
        client.get("/files/docs/report.pdf")


def test_xsendfile_mode_names_the_absolute_path(client, media, mode):
    mode("xsendfile")
    response = client.get("/files/docs/report.pdf")
    assert response.status_code == 200
    assert response["X-Sendfile"] == str(media / "docs" / "report.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Cache-Control"] == CACHE_CONTROL
    assert response.content == b""


def test_xsendfile_needs_local_paths(rf, mode, use_azure):
    mode("xsendfile")
    use_azure()
    with pytest.raises(ImproperlyConfigured, match="local paths"):
        protected_file_response(rf.get("/"), "docs/report.pdf")


def test_sas_mode_needs_azure_media_storage(client, media, mode):
    mode("sas")
    with pytest.raises(ImproperlyConfigured, match="AzureMediaStorage"):
        client.get("/files/docs/report.pdf")


@pytest.mark.parametrize("value", ["nginxx", "", "X-Accel"])
def test_an_unknown_mode_is_refused(client, media, mode, value):
    mode(value)
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_PROTECTED_MODE must be one of"):
        client.get("/files/docs/report.pdf")


def test_auto_streams_local_files(settings, media):
    assert not hasattr(settings, "PRODKIT_PROTECTED_MODE")
    assert protected_mode() == "stream"
    assert protected_mode(FileSystemStorage(location=media)) == "stream"


def test_auto_redirects_to_sas_for_azure_media(use_azure):
    use_azure()
    assert protected_mode() == "sas"


# --- Names: refused before anything reaches a header.


@pytest.mark.parametrize("mode_name", ALL_MODES)
@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_names_are_404_in_every_mode(rf, media, mode, mode_name, name):
    mode(mode_name)
    with pytest.raises(Http404) as refused:
        protected_file_response(rf.get("/"), name)
    # The 404's message never echoes the name.
    assert str(refused.value) == "No such file."


@pytest.mark.parametrize("mode_name", ALL_MODES)
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/files/../secret.txt", id="parent"),
        pytest.param("/files/%2E%2E/secret.txt", id="parent-encoded"),
        pytest.param("/files/docs/..%2F..%2Fsecret.txt", id="slash-encoded"),
        pytest.param("/files/%2Fetc/passwd", id="absolute"),
        pytest.param("/files/..%5Csecret.txt", id="backslash"),
        pytest.param("/files/a%00b", id="nul"),
    ],
)
def test_unsafe_names_from_the_url_are_404(client, media, mode, mode_name, path):
    mode(mode_name)
    response = client.get(path)
    assert response.status_code == 404
    for header in ("X-Accel-Redirect", "X-Sendfile", "Location", "Content-Disposition"):
        assert header not in response
    assert b"not yours" not in response.content


def test_names_are_normalised(client, media, mode):
    mode("nginx")
    response = client.get("/files/docs//./report.pdf")
    assert response["X-Accel-Redirect"] == "/_protected/docs/report.pdf"


# --- Download names, dispositions and types.


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("report.pdf", 'attachment; filename="report.pdf"', id="ascii"),
        pytest.param(
            "résumé.pdf",
            "attachment; filename=\"resume.pdf\"; filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
            id="latin",
        ),
        pytest.param(
            "日本.txt",
            "attachment; filename=\"download.txt\"; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt",
            id="cjk",
        ),
        pytest.param('say "hi".txt', 'attachment; filename="say \\"hi\\".txt"', id="quotes"),
        pytest.param("a\r\nX-Evil: 1.txt", 'attachment; filename="aX-Evil: 1.txt"', id="crlf"),
        pytest.param("../../etc/passwd", 'attachment; filename="_.._etc_passwd"', id="path"),
        pytest.param("", 'attachment; filename="download"', id="empty"),
    ],
)
def test_content_disposition(name, expected):
    assert content_disposition(name, attachment=True) == expected


@pytest.mark.parametrize("mode_name", ["nginx", "xsendfile", "stream"])
@pytest.mark.parametrize("name", ["résumé.pdf", "日本.txt"])
def test_non_ascii_names_in_every_mode(client, media, mode, mode_name, name):
    mode(mode_name)
    (media / name).write_bytes(BODY)
    # A name decomposed (NFD, as macOS writes it) reaches the same file.
    response = client.get("/files/" + quote(unicodedata.normalize("NFD", name)))
    assert response.status_code == 200
    assert f"filename*=utf-8''{quote(name)}" in response["Content-Disposition"]
    if mode_name == "nginx":
        assert response["X-Accel-Redirect"] == "/_protected/" + quote(name)
    elif mode_name == "xsendfile":
        # UTF-8 bytes as they are on disk (mod_xsendfile 0.12 does not unescape).
        assert response["X-Sendfile"].encode("latin-1") == str(media / name).encode()
    else:
        assert drain(response) == BODY


@pytest.mark.parametrize("mode_name", ["nginx", "xsendfile", "stream"])
def test_inline_and_a_download_name(client, media, mode, mode_name):
    mode(mode_name)
    response = client.get("/files/docs/report.pdf", {"inline": "1", "filename": "Q1 report.pdf"})
    drain(response)
    assert response["Content-Disposition"] == 'inline; filename="Q1 report.pdf"'


@pytest.mark.parametrize("name", ["page.html", "image.svg", "feed.xml", "app.js"])
def test_types_a_browser_runs_are_always_attachments(client, media, mode, name):
    mode("nginx")
    (media / name).write_text("<script>alert(1)</script>")
    response = client.get(f"/files/{name}", {"inline": "1"})
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_explicit_type_that_runs_is_an_attachment_too(rf, media, mode):
    mode("nginx")
    response = protected_file_response(
        rf.get("/"), "docs/report.pdf", attachment=False, content_type="text/html"
    )
    assert response["Content-Type"] == "text/html"
    assert response["Content-Disposition"].startswith("attachment;")


def test_type_comes_from_the_name(client, media, mode):
    mode("nginx")
    (media / "notes.txt").write_text("hello")
    response = client.get("/files/notes.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"


# --- stream: validators, 304, ranges.


def test_stream_mode_serves_the_bytes_with_validators(client, media, mode):
    mode("stream")
    response = client.get("/files/docs/report.pdf")
    assert response.status_code == 200
    assert drain(response) == BODY
    assert response["Content-Length"] == str(len(BODY))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Cache-Control"] == CACHE_CONTROL
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"].endswith(" GMT")


@pytest.mark.parametrize(
    "condition",
    [pytest.param("etag", id="if-none-match"), pytest.param("date", id="if-modified-since")],
)
def test_stream_answers_304_to_a_fresh_copy(client, media, mode, condition):
    mode("stream")
    first = client.get("/files/docs/report.pdf")
    drain(first)
    header = (
        {"HTTP_IF_NONE_MATCH": first["ETag"]}
        if condition == "etag"
        else {"HTTP_IF_MODIFIED_SINCE": first["Last-Modified"]}
    )
    again = client.get("/files/docs/report.pdf", **header)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == CACHE_CONTROL


def test_stream_sends_a_changed_file_again(client, media, mode):
    mode("stream")
    first = client.get("/files/docs/report.pdf")
    drain(first)
    target = media / "docs" / "report.pdf"
    target.write_bytes(BODY + b" v2")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    again = client.get("/files/docs/report.pdf", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert drain(again) == BODY + b" v2"


def test_stream_refuses_a_failed_precondition(client, media, mode):
    mode("stream")
    response = client.get("/files/docs/report.pdf", HTTP_IF_MATCH='"other"')
    assert response.status_code == 412


@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        pytest.param("bytes=0-7", 206, f"bytes 0-7/{len(BODY)}", BODY[:8], id="first"),
        pytest.param("bytes=9-", 206, f"bytes 9-{len(BODY) - 1}/{len(BODY)}", BODY[9:], id="open"),
        pytest.param(
            "bytes=-10",
            206,
            f"bytes {len(BODY) - 10}-{len(BODY) - 1}/{len(BODY)}",
            BODY[-10:],
            id="suffix",
        ),
        pytest.param(
            "bytes=5-1000", 206, f"bytes 5-{len(BODY) - 1}/{len(BODY)}", BODY[5:], id="past-end"
        ),
        pytest.param("bytes=1000-", 416, f"bytes */{len(BODY)}", b"", id="unsatisfiable"),
        pytest.param("bytes=0-1,4-5", 200, None, BODY, id="several"),
        pytest.param("items=0-1", 200, None, BODY, id="other-unit"),
    ],
)
def test_stream_serves_a_single_range(client, media, mode, header, status, content_range, body):
    mode("stream")
    response = client.get("/files/docs/report.pdf", HTTP_RANGE=header)
    assert response.status_code == status
    assert response.get("Content-Range") == content_range
    content = drain(response)
    if status != 416:
        assert content == body
        assert response["Content-Length"] == str(len(body))


def test_stream_range_with_a_stale_if_range_sends_everything(client, media, mode):
    mode("stream")
    current = client.get("/files/docs/report.pdf")
    drain(current)
    matching = client.get(
        "/files/docs/report.pdf", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=current["ETag"]
    )
    assert matching.status_code == 206
    assert drain(matching) == BODY[:4]
    stale = client.get("/files/docs/report.pdf", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200
    assert drain(stale) == BODY


def test_stream_mode_404s_a_missing_file(client, media, mode):
    mode("stream")
    assert client.get("/files/docs/missing.pdf").status_code == 404


# --- sas: a redirect to Azurite.


@pytest.fixture
def azure_media(use_azure, settings):
    """Private media on Azurite (auto mode: sas), with ``docs/report.pdf`` uploaded."""
    use_azure()
    settings.PRODKIT_PROTECTED_SAS_SECONDS = 60
    assert default_storage.save("docs/report.pdf", ContentFile(BODY)) == "docs/report.pdf"
    return default_storage


def test_sas_redirect_fetches_the_blob(client, azure_media):
    response = client.get("/files/docs/report.pdf")
    assert response.status_code == 302
    assert response["Cache-Control"] == REDIRECT_CACHE_CONTROL
    location = response["Location"]
    assert location.startswith(azure_media.account_url)
    status, headers, body = fetch(location)
    assert (status, body) == (200, BODY)
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
    # The container is private: without the signature the blob is not there.
    assert fetch(location.split("?")[0])[0] in (403, 404)


def test_sas_redirect_carries_the_download_name(client, azure_media):
    azure_media.save("日本.txt", ContentFile(b"konnichiwa"))
    response = client.get("/files/" + quote("日本.txt"), {"inline": "1"})
    status, headers, body = fetch(response["Location"])
    assert (status, body) == (200, b"konnichiwa")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == (
        "inline; filename=\"download.txt\"; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt"
    )


def test_sas_url_is_short_lived(client, azure_media, settings):
    # A lifetime of 1 s is rounded up to the next whole second: waiting until the signed
    # expiry is past, by the URL's own "se", proves the blob service refuses it then.
    settings.PRODKIT_PROTECTED_SAS_SECONDS = 1
    location = client.get("/files/docs/report.pdf")["Location"]
    query = parse_qs(urlsplit(location).query)
    expiry = datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    while datetime.now(UTC) <= expiry:
        time.sleep(0.2)
    time.sleep(1.1)
    assert fetch(location)[0] == 403


@pytest.mark.parametrize("field", ["sig", "se", "rscd", "rsct"])
def test_a_tampered_sas_url_is_refused(client, azure_media, field):
    location = client.get("/files/docs/report.pdf")["Location"]
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    value = query[field][0]
    query[field] = [
        {
            "sig": value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"),
            "se": "2099-01-01T00:00:00Z",
            "rscd": 'attachment; filename="evil.html"',
            "rsct": "text/html",
        }[field]
    ]
    tampered = "&".join(f"{key}={quote(values[0], safe='')}" for key, values in query.items())
    assert fetch(urlunsplit(parts._replace(query=tampered)))[0] == 403


def test_sas_mode_does_not_sign_unsafe_names(rf, azure_media):
    with pytest.raises(Http404):
        protected_file_response(rf.get("/"), "../static-x/site.css")


# --- nginx in front of the example project: X-Accel-Redirect end to end.

NGINX_SITE = """
    server {{
        listen 127.0.0.1:{port};
        location {internal} {{
            internal;
            alias {media}/;
            # nginx keeps only some of the app's headers (Content-Type, Content-Disposition,
            # Cache-Control...) when it follows X-Accel-Redirect; not this one.
            add_header X-Content-Type-Options nosniff always;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{app};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
"""


@pytest.fixture
def site(tmp_path):
    """The example project (protected downloads in nginx mode) under gunicorn, behind nginx
    with the internal location aliased to its MEDIA_ROOT; one photo, one user."""
    env = protected_site_env(tmp_path, "nginx")
    media = Path(env["DJANGO_MEDIA_ROOT"])
    (tmp_path / "secret.txt").write_text("not yours")
    with gunicorn(env, tmp_path / "gunicorn.log") as app:
        config = NGINX_SITE.format(port=PORT, internal="/_protected/", media=media, app=app)
        with own_nginx(config, tmp_path / "nginx") as nginx:
            yield f"http://127.0.0.1:{nginx.port}", nginx, tmp_path / "gunicorn.log"


@pytest.mark.slow
def test_nginx_serves_a_protected_file_only_after_the_view_allows_it(site):
    base, nginx, log = site
    logs = lambda: nginx.logs() + log.read_text()  # noqa: E731

    # Anonymous: the view refuses, nginx sends nothing of the file.
    anonymous = requests.get(f"{base}/photos/1/download/", timeout=10)
    assert anonymous.status_code == 403, logs()
    assert BODY not in anonymous.content

    # Signed in: the view allows, nginx serves the bytes from disk under the view's headers.
    cookies = signed_in(base)
    allowed = requests.get(f"{base}/photos/1/download/", cookies=cookies, timeout=10)
    assert allowed.status_code == 200, logs()
    assert allowed.content == BODY
    assert "X-Accel-Redirect" not in allowed.headers
    assert allowed.headers["Content-Type"] == "image/png"
    assert allowed.headers["Content-Disposition"] == 'attachment; filename="Tea.png"'
    assert allowed.headers["Cache-Control"] == CACHE_CONTROL
    assert allowed.headers["X-Content-Type-Options"] == "nosniff"
    # nginx, not Django, sent the file: it answers conditional and range requests itself.
    assert "ETag" in allowed.headers, allowed.headers
    again = requests.get(
        f"{base}/photos/1/download/",
        cookies=cookies,
        headers={"If-None-Match": allowed.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304, logs()
    ranged = requests.get(
        f"{base}/photos/1/download/", cookies=cookies, headers={"Range": "bytes=0-3"}, timeout=10
    )
    assert (ranged.status_code, ranged.content) == (206, BODY[:4])

    # The internal location is not reachable from outside, by any spelling.
    for path in (
        "/_protected/" + quote(PHOTO),
        "/_protected/../secret.txt",
        "/%5Fprotected/" + quote(PHOTO),
        "//_protected/" + quote(PHOTO),
    ):
        direct = requests.get(base + path, timeout=10)
        assert direct.status_code == 404, (path, direct.status_code)
        assert BODY not in direct.content
