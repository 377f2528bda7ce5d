"""prodcheck --url: probes of a deployed site.

The example project served by gunicorn (well configured, and with the proxy settings that
believe anyone), a project with hand-written settings, small local servers that misbehave on
purpose (a hand-rolled site, a TLS site, a server that never answers), and the judging
functions on crafted answers.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django
import pytest

from django_prodkit.checks.registry import REGISTRY
from django_prodkit.probes import site
from django_prodkit.probes.site import Failure, Response, probe_site
from tests.example import EXAMPLE_PROJECT, example_env, gunicorn, manage
from tests.servers import free_port, serving

TOKEN = "health-token-7f3c9a1e5b"
COOKIE_VALUE = "cookie-value-0d9e8f7a6b"
PASSWORD = "url-password-4c5d6e"
SPOOFED = "203.0.113.77"


# --- helpers ----------------------------------------------------------------------------------


def reported(outcomes) -> list[str]:
    return [message.id for outcome in outcomes for message in outcome.messages]


def by_name(outcomes) -> dict:
    return {outcome.name: outcome for outcome in outcomes}


def texts(outcomes) -> str:
    return "\n".join(f"{m.msg} {m.hint} {m.obj}" for outcome in outcomes for m in outcome.messages)


def answer(url="https://www.example.com/", status=200, headers=(), body=b""):
    return Response(url=url, status=status, headers=tuple(headers), body=body)


def ids(outcome) -> list[str]:
    return [message.id for message in outcome.messages]


# --- the example project, served for real -----------------------------------------------------


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    """A migrated SQLite database and collected static files, shared by the servers below."""
    tmp = tmp_path_factory.mktemp("site")
    env = example_env(tmp)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    return tmp


@contextmanager
def example_site(tmp, name, **overrides) -> Iterator[str]:
    env = example_env(tmp, PRODKIT_HEALTH_TOKEN=TOKEN, **overrides)
    with gunicorn(env, tmp / f"{name}.log") as port:
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def well_configured(example_files) -> Iterator[str]:
    with example_site(example_files, "well") as url:
        yield url


@pytest.fixture(scope="module")
def believes_anyone(example_files) -> Iterator[str]:
    """HTTPS on, X-Forwarded-Proto and one X-Forwarded-For hop trusted from any peer."""
    with example_site(
        example_files,
        "misconfigured",
        PRODKIT_HTTPS="true",
        PRODKIT_BEHIND_TLS_PROXY="true",
        PRODKIT_PROXY_HOPS="1",
    ) as url:
        yield url


# Django >= 6.0 sends prodkit's report-only policy; 5.2 has no CSP support at all.
CSP_FINDING = "prodkit.I177" if django.VERSION >= (6, 0) else "prodkit.W176"


@pytest.mark.slow
def test_well_configured_example_passes_what_plain_http_can_show(well_configured):
    outcomes = probe_site(well_configured, timeout=10, health_token=TOKEN)
    # Over plain HTTP only the note that HTTPS checks are limited, and the CSP finding.
    assert sorted(reported(outcomes)) == sorted(["prodkit.I173", CSP_FINDING]), texts(outcomes)
    outcome = by_name(outcomes)
    assert outcome["url:reachable"].ids == ("prodkit.E170",)
    # The spoofed X-Forwarded-For is not believed: the health answer names the real peer.
    assert outcome["url:forwarded-for"].ids == ("prodkit.E174",)
    assert outcome["url:nosniff"].ids == ("prodkit.W178",)
    assert outcome["url:referrer-policy"].ids == ("prodkit.W179",)
    assert outcome["url:cookies"].ids == ("prodkit.W180",)
    assert outcome["url:server-header"].ids == ("prodkit.I181",)
    # whitenoise: site.<hash>.css found in the page, served compressed and immutable.
    assert outcome["url:static"].ids == ("prodkit.W370", "prodkit.W371", "prodkit.E372")
    assert outcome["url:healthz"].ids == ("prodkit.E770",)
    assert outcome["url:readyz"].ids == ("prodkit.W771",)
    # HSTS means nothing over plain HTTP: not judged.
    assert outcome["url:hsts"].ids == ()
    assert all(o.kind == "url" and o.name.startswith("url:") for o in outcomes)
    assert TOKEN not in texts(outcomes)
    # What url:static judged: the page's stylesheet under its manifest (hashed) name.
    with urllib.request.urlopen(well_configured, timeout=10) as page:
        html = answer(well_configured, page.status, page.getheaders(), page.read())
    assert re.fullmatch(
        rf"{well_configured}static/gallery/site\.[0-9a-f]{{12}}\.css", site.find_asset(html)
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "token", [pytest.param(None, id="no-token"), pytest.param("wrong-token", id="wrong-token")]
)
def test_forwarded_for_probe_needs_the_health_token(well_configured, token):
    outcomes = by_name(probe_site(well_configured, timeout=10, health_token=token))
    assert outcomes["url:forwarded-for"].ids == ()
    assert outcomes["url:forwarded-for"].messages == []


@pytest.mark.slow
def test_example_that_believes_any_peer_is_caught(believes_anyone):
    outcomes = probe_site(believes_anyone, timeout=10, health_token=TOKEN)
    found = reported(outcomes)
    assert "prodkit.E171" in found, texts(outcomes)
    assert "prodkit.E174" in found
    outcome = by_name(outcomes)
    [spoofed_proto] = outcome["url:https-redirect"].messages[:1]
    assert spoofed_proto.obj == believes_anyone
    assert "X-Forwarded-Proto" in spoofed_proto.msg
    assert "PRODKIT_BEHIND_TLS_PROXY" in spoofed_proto.hint
    [spoofed_for] = outcome["url:forwarded-for"].messages
    assert spoofed_for.obj == believes_anyone + "healthz"
    assert "PRODKIT_PROXY_HOPS" in spoofed_for.hint
    # The health endpoints answer over plain HTTP (exempt from the HTTPS redirect).
    assert outcome["url:healthz"].messages == []
    assert outcome["url:readyz"].messages == []
    # The page itself is sent to HTTPS: its checks wait for an https:// URL.
    assert outcome["url:nosniff"].ids == ()
    assert TOKEN not in texts(outcomes)


HAND_WRITTEN_SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path({base!r})
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "gallery",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {{"context_processors": ["django.template.context_processors.request"]}},
    }}
]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {database!r}}}}}
STATIC_URL = "static/"
STATIC_ROOT = {static!r}
MEDIA_URL = "/media/"
MEDIA_ROOT = {media!r}
GALLERY_SERVE_MEDIA = False
GALLERY_MAX_UPLOAD_BYTES = 5 * 1024 * 1024
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "Behind a load balancer", as a blog post has it: the app is reachable without one.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
"""


@pytest.mark.slow
def test_hand_written_settings_are_caught(example_files, tmp_path):
    (tmp_path / "handwritten_settings.py").write_text(
        HAND_WRITTEN_SETTINGS.format(
            base=str(EXAMPLE_PROJECT),
            database=str(example_files / "db.sqlite3"),
            static=str(example_files / "static"),
            media=str(tmp_path / "media"),
        )
    )
    env = example_env(
        example_files,
        DJANGO_SETTINGS_MODULE="handwritten_settings",
        PYTHONPATH=str(tmp_path),
    )
    with gunicorn(env, tmp_path / "server.log") as port:
        url = f"http://127.0.0.1:{port}/"
        outcomes = probe_site(url, timeout=10, health_token=TOKEN)
    found = reported(outcomes)
    # The copied proxy header, and no health endpoints (redirected to HTTPS like any path).
    for expected in ("prodkit.E171", "prodkit.E770", "prodkit.W771", "prodkit.I173"):
        assert expected in found, texts(outcomes)
    [liveness] = by_name(outcomes)["url:healthz"].messages
    assert f"answers 301 to https://127.0.0.1:{port}/healthz" in liveness.msg


# --- small local servers ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        routes = self.server.routes
        status, headers, body = routes.get(self.path.partition("?")[0], (404, [], b"no"))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@contextmanager
def local_site(routes, context=None) -> Iterator[int]:
    """A stdlib HTTP(S) server on a free loopback port answering ``routes``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes = routes
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield server.server_address[1]


CSS = b"body { margin: 0; padding: 0; color: #222; }\n" * 100
HAND_ROLLED_PAGE = b"""<!doctype html><html><head>
<link rel="icon" href="/static/logo.svg">
<link rel="stylesheet" href="https://cdn.example.net/lib.css">
<link rel="stylesheet" href="/static/site.0123456789ab.css">
<script src="/static/app.js"></script>
</head><body>Hello</body></html>"""
HAND_ROLLED = {
    "/": (
        200,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Referrer-Policy", "unsafe-url"),
            ("X-Powered-By", "PHP/8.2.12"),
            ("Set-Cookie", f"sessionid={COOKIE_VALUE}; Path=/"),
        ],
        HAND_ROLLED_PAGE,
    ),
    "/static/site.0123456789ab.css": (
        200,
        [("Content-Type", "text/css"), ("Cache-Control", "max-age=3600")],
        CSS,
    ),
    "/missing/": (
        200,
        [("Content-Type", "text/html")],
        b'<link rel="stylesheet" href="/static/gone.css">',
    ),
    "/readyz": (503, [("Content-Type", "application/json")], b'{"status": "unavailable"}'),
}


@pytest.fixture(scope="module")
def hand_rolled() -> Iterator[str]:
    with local_site(HAND_ROLLED) as port:
        yield f"http://127.0.0.1:{port}/"


def test_hand_rolled_site_is_caught(hand_rolled):
    outcomes = probe_site(hand_rolled, timeout=5, health_token=TOKEN)
    assert sorted(reported(outcomes)) == sorted(
        [
            "prodkit.I173",  # plain HTTP
            "prodkit.W176",  # no CSP
            "prodkit.W178",  # no nosniff
            "prodkit.W179",  # unsafe-url
            "prodkit.W180",  # sessionid without HttpOnly and SameSite
            "prodkit.I181",  # Server: BaseHTTP/0.6 Python/3.x, X-Powered-By: PHP/8.2.12
            "prodkit.I181",
            "prodkit.W370",  # 4.6 KB of CSS uncompressed
            "prodkit.W371",  # hashed name cached for an hour
            "prodkit.E770",  # no /healthz
            "prodkit.W771",  # /readyz says 503
        ]
    ), texts(outcomes)
    outcome = by_name(outcomes)
    # The hashed stylesheet on the site's own host, never the CDN's.
    [uncompressed, short_cache] = outcome["url:static"].messages
    assert uncompressed.obj == f"{hand_rolled}static/site.0123456789ab.css"
    assert "'Cache-Control: max-age=3600'" in short_cache.msg
    [cookie] = outcome["url:cookies"].messages
    assert "'sessionid'" in cookie.msg
    assert "HttpOnly or SameSite" in cookie.msg
    assert "PHP/8.2.12" in texts(outcomes)
    assert COOKIE_VALUE not in texts(outcomes)
    assert TOKEN not in texts(outcomes)


def test_missing_static_file_is_an_error(hand_rolled):
    outcome = by_name(probe_site(hand_rolled + "missing/", timeout=5))["url:static"]
    [message] = outcome.messages
    assert message.id == "prodkit.E372"
    assert "answers 404" in message.msg
    assert message.obj == f"{hand_rolled}static/gone.css"


def test_closed_port_is_one_quick_failure():
    port = free_port()
    started = time.monotonic()
    outcomes = probe_site(f"http://admin:{PASSWORD}@127.0.0.1:{port}/", timeout=5)
    assert time.monotonic() - started < 2
    [outcome] = outcomes
    assert outcome.name == "url:reachable"
    [message] = outcome.messages
    assert message.id == "prodkit.E170"
    assert "the connection was refused" in message.msg
    assert message.obj == f"http://127.0.0.1:{port}/"
    assert PASSWORD not in texts(outcomes)


def test_server_that_never_answers_costs_one_timeout():
    # Accepted by the kernel (listen backlog), never answered.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)
        port = listener.getsockname()[1]
        started = time.monotonic()
        outcomes = probe_site(f"http://127.0.0.1:{port}/", timeout=1.5, health_token=TOKEN)
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 2.5
    [outcome] = outcomes
    [message] = outcome.messages
    assert message.id == "prodkit.E170"
    assert "no answer within 1.5 s" in message.msg


# --- HTTPS, with a certificate authority of the test's own -------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A CA and a certificate for 127.0.0.1 it signed (paths: ca, cert, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tmp = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, public_key, extensions, signing_key):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    def usage(*, key_cert_sign):
        return x509.KeyUsage(
            digital_signature=not key_cert_sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=key_cert_sign,
            crl_sign=key_cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prodkit test CA")])
    ca = build(
        ca_name,
        ca_name,
        ca_key.public_key(),
        [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (usage(key_cert_sign=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
        ca_key,
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
        ca_name,
        key.public_key(),
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (usage(key_cert_sign=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            ),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
        ca_key,
    )
    paths = {"ca": tmp / "ca.pem", "cert": tmp / "cert.pem", "key": tmp / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


TLS_SITE = {
    "/": (
        200,
        [
            ("Content-Type", "text/html"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Content-Security-Policy", "default-src 'self'"),
            ("Set-Cookie", f"sessionid={COOKIE_VALUE}; HttpOnly; Path=/; SameSite=Lax"),
        ],
        b"<p>No HSTS, and a session cookie that also travels over plain HTTP.</p>",
    ),
    "/healthz": (200, [("Content-Type", "application/json")], b'{"status": "ok"}'),
    "/readyz": (200, [("Content-Type", "application/json")], b'{"status": "ok"}'),
}


@pytest.fixture(scope="module")
def tls_site(tls_files) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    with local_site(TLS_SITE, context) as port:
        yield f"https://127.0.0.1:{port}/"


def test_https_site_without_hsts_and_secure_cookies_is_caught(tls_site, tls_files, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    outcomes = probe_site(tls_site, timeout=5, health_token=TOKEN)
    outcome = by_name(outcomes)
    assert ids(outcome["url:hsts"]) == ["prodkit.W175"], texts(outcomes)
    [cookie] = outcome["url:cookies"].messages
    assert cookie.id == "prodkit.W180"
    assert "without Secure." in cookie.msg
    assert "prodkit.I173" not in reported(outcomes)
    for name in ("url:csp", "url:nosniff", "url:referrer-policy", "url:healthz", "url:readyz"):
        assert outcome[name].messages == []
    assert COOKIE_VALUE not in texts(outcomes)


def test_certificate_the_client_does_not_trust_is_unreachable(tls_site, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    [outcome] = probe_site(tls_site, timeout=5)
    [message] = outcome.messages
    assert message.id == "prodkit.E170"
    assert "TLS certificate is not accepted" in message.msg


# --- judging crafted answers ------------------------------------------------------------------

HTTPS = "https://www.example.com/"
HTTP = "http://www.example.com/"


def redirect(url, location, status=301):
    return answer(url, status, [("Location", location)])


@pytest.mark.parametrize(
    ("url", "plain", "spoofed", "evaluated", "expected"),
    [
        pytest.param(
            HTTPS,
            redirect(HTTP, HTTPS),
            redirect(HTTP, HTTPS),
            ["prodkit.E171", "prodkit.W172"],
            [],
            id="redirected-both-times",
        ),
        pytest.param(
            HTTPS,
            redirect(HTTP, HTTPS),
            answer(HTTP, 200),
            ["prodkit.E171", "prodkit.W172"],
            ["prodkit.E171"],
            id="spoofed-proto-served",
        ),
        pytest.param(
            HTTPS,
            redirect(HTTP, HTTPS),
            answer(HTTP, 403),
            ["prodkit.E171", "prodkit.W172"],
            ["prodkit.E171"],
            id="spoofed-proto-answered-4xx",
        ),
        pytest.param(
            HTTPS,
            answer(HTTP, 200),
            answer(HTTP, 200),
            ["prodkit.W172"],
            ["prodkit.W172"],
            id="http-not-redirected",
        ),
        pytest.param(
            HTTPS,
            redirect(HTTP, "http://www.example.com/en/"),
            answer(HTTP, 200),
            ["prodkit.W172"],
            ["prodkit.W172"],
            id="http-redirected-to-http",
        ),
        pytest.param(
            HTTPS,
            Failure(HTTP, "the connection was refused"),
            Failure(HTTP, "the connection was refused"),
            [],
            [],
            id="nothing-on-port-80",
        ),
        pytest.param(
            HTTP,
            answer(HTTP, 200),
            answer(HTTP, 200),
            ["prodkit.I173"],
            ["prodkit.I173"],
            id="http-url",
        ),
        pytest.param(
            HTTP,
            redirect(HTTP, HTTPS),
            answer(HTTP, 200),
            ["prodkit.E171", "prodkit.I173"],
            ["prodkit.E171", "prodkit.I173"],
            id="http-url-spoofed-proto-served",
        ),
    ],
)
def test_https_redirect(url, plain, spoofed, evaluated, expected):
    outcome = site.judge_https_redirect(url, plain, spoofed)
    assert list(outcome.ids) == evaluated
    assert ids(outcome) == expected


@pytest.mark.parametrize(
    ("healthz", "evaluated", "expected"),
    [
        pytest.param(None, [], [], id="no-token"),
        pytest.param(answer(body=b'{"status": "ok"}'), [], [], id="token-not-accepted"),
        pytest.param(answer(body=b"<html>"), [], [], id="not-json"),
        pytest.param(
            answer(body=b'{"status": "ok", "client": "198.51.100.4"}'),
            ["prodkit.E174"],
            [],
            id="real-client",
        ),
        pytest.param(
            answer(body=b'{"status": "ok", "client": "203.0.113.77"}'),
            ["prodkit.E174"],
            ["prodkit.E174"],
            id="spoofed-client",
        ),
    ],
)
def test_forwarded_for(healthz, evaluated, expected):
    outcome = site.judge_forwarded_for(healthz)
    assert (list(outcome.ids), ids(outcome)) == (evaluated, expected)


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        pytest.param(HTTPS, [], ["prodkit.W175"], id="missing"),
        pytest.param(
            HTTPS, [("Strict-Transport-Security", "max-age=0")], ["prodkit.W175"], id="zero"
        ),
        pytest.param(
            HTTPS,
            [("Strict-Transport-Security", "max-age=31536000; includeSubDomains")],
            [],
            id="one-year",
        ),
        pytest.param(HTTPS, [("strict-transport-security", "max-age=300")], [], id="ramp-up"),
        pytest.param(
            HTTPS,
            [("Strict-Transport-Security", "includeSubDomains")],
            ["prodkit.W175"],
            id="no-max-age",
        ),
    ],
)
def test_w175_hsts(url, headers, expected):
    outcome = site.judge_hsts(answer(url, headers=headers))
    assert outcome.ids == ("prodkit.W175",)
    assert ids(outcome) == expected


def test_w175_hsts_is_not_judged_over_plain_http():
    assert site.judge_hsts(answer(HTTP)).ids == ()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([], ["prodkit.W176"], id="none"),
        pytest.param(
            [("Content-Security-Policy-Report-Only", "default-src 'self'")],
            ["prodkit.I177"],
            id="report-only",
        ),
        pytest.param([("Content-Security-Policy", "default-src 'self'")], [], id="enforced"),
    ],
)
def test_w176_i177_csp(headers, expected):
    assert ids(site.judge_csp(answer(headers=headers))) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([], ["prodkit.W178"], id="missing"),
        pytest.param([("X-Content-Type-Options", "nosniff")], [], id="nosniff"),
    ],
)
def test_w178_nosniff(headers, expected):
    assert ids(site.judge_nosniff(answer(headers=headers))) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(None, ["prodkit.W179"], id="missing"),
        pytest.param("unsafe-url", ["prodkit.W179"], id="unsafe-url"),
        pytest.param("no-referrer-when-downgrade", ["prodkit.W179"], id="downgrade-only"),
        pytest.param("no-referrer, unsafe-url", ["prodkit.W179"], id="last-known-counts"),
        pytest.param("unsafe-url, strict-origin-when-cross-origin", [], id="fallback-strict"),
        pytest.param("same-origin", [], id="same-origin"),
    ],
)
def test_w179_referrer_policy(policy, expected):
    headers = [] if policy is None else [("Referrer-Policy", policy)]
    assert ids(site.judge_referrer_policy(answer(headers=headers))) == expected


@pytest.mark.parametrize(
    ("url", "cookie", "missing"),
    [
        pytest.param(HTTPS, "sessionid=V; Secure; HttpOnly; SameSite=Lax", None, id="session-ok"),
        pytest.param(HTTPS, "csrftoken=V; Secure; SameSite=Lax", None, id="csrf-without-httponly"),
        pytest.param(HTTPS, "sessionid=V; HttpOnly; SameSite=Lax", "Secure", id="not-secure"),
        pytest.param(HTTPS, "sessionid=V; Secure; SameSite=Lax", "HttpOnly", id="session-script"),
        pytest.param(HTTPS, "csrftoken=V; Secure", "SameSite", id="no-samesite"),
        pytest.param(HTTP, "csrftoken=V; SameSite=Lax", None, id="plain-http-needs-no-secure"),
        pytest.param(
            HTTPS,
            "sessionid=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0",
            None,
            id="deleted",
        ),
    ],
)
def test_w180_cookies(url, cookie, missing):
    cookie = cookie.replace("=V", f"={COOKIE_VALUE}")
    outcome = site.judge_cookies([answer(url, headers=[("Set-Cookie", cookie)])])
    assert outcome.ids == ("prodkit.W180",)
    if missing is None:
        assert outcome.messages == []
    else:
        [message] = outcome.messages
        assert message.id == "prodkit.W180"
        assert message.msg.endswith(f"without {missing}.")
        assert COOKIE_VALUE not in f"{message.msg} {message.hint} {message.obj}"


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        pytest.param("Server", "gunicorn/23.0.0", ["prodkit.I181"], id="gunicorn-version"),
        pytest.param("Server", "nginx/1.25.3", ["prodkit.I181"], id="nginx-version"),
        pytest.param("Server", "Apache/2.4 (Debian)", ["prodkit.I181"], id="apache-version"),
        pytest.param("X-Powered-By", "PHP/8.2.12", ["prodkit.I181"], id="php-version"),
        pytest.param("Server", "uvicorn", [], id="uvicorn"),
        pytest.param("Server", "nginx", [], id="nginx-hidden"),
        pytest.param("X-Powered-By", "Express", [], id="express"),
    ],
)
def test_i181_server_version(header, value, expected):
    assert ids(site.judge_server_header(answer(headers=[(header, value)]))) == expected


@pytest.mark.parametrize(
    ("responses", "expected"),
    [
        pytest.param([answer(HTTPS)], [], id="page"),
        pytest.param([redirect(HTTPS, "https://example.com/")], ["prodkit.I182"], id="other-host"),
        pytest.param([redirect(HTTP, HTTPS)], [], id="https-upgrade-left-to-i173"),
    ],
)
def test_i182_page_redirects_elsewhere(responses, expected):
    outcome = site.judge_page(responses)
    assert outcome.ids == ("prodkit.I182",)
    assert ids(outcome) == expected


ASSET = "https://www.example.com/static/site.css"
HASHED = "https://www.example.com/static/site.3f2a1b9c8d7e.css"
BIG = [("Content-Type", "text/css"), ("Content-Length", "40000")]


@pytest.mark.parametrize(
    ("asset", "expected"),
    [
        pytest.param(None, [], id="no-asset-found"),
        pytest.param(answer(ASSET, 404), ["prodkit.E372"], id="missing"),
        pytest.param(Failure(ASSET, "no answer within 5 s"), ["prodkit.E372"], id="no-answer"),
        pytest.param(answer(ASSET, headers=BIG), ["prodkit.W370"], id="uncompressed"),
        pytest.param(answer(ASSET, headers=[*BIG, ("Content-Encoding", "br")]), [], id="brotli"),
        pytest.param(
            answer(ASSET, headers=[("Content-Type", "text/css"), ("Content-Length", "90")]),
            [],
            id="too-small-to-matter",
        ),
        pytest.param(
            answer(HASHED, headers=[*BIG, ("Content-Encoding", "gzip")]),
            ["prodkit.W371"],
            id="hashed-no-cache-control",
        ),
        pytest.param(
            answer(
                HASHED,
                headers=[
                    *BIG,
                    ("Content-Encoding", "gzip"),
                    ("Cache-Control", "max-age=315360000, public, immutable"),
                ],
            ),
            [],
            id="hashed-immutable",
        ),
        pytest.param(
            answer(
                HASHED,
                headers=[*BIG, ("Content-Encoding", "gzip"), ("Cache-Control", "max-age=60")],
            ),
            ["prodkit.W371"],
            id="hashed-one-minute",
        ),
        pytest.param(
            answer(
                ASSET, headers=[*BIG, ("Content-Encoding", "gzip"), ("Cache-Control", "max-age=60")]
            ),
            [],
            id="unhashed-short-cache-is-fine",
        ),
    ],
)
def test_w370_w371_e372_static(asset, expected):
    assert ids(site.judge_static(asset)) == expected


@pytest.mark.parametrize(
    ("healthz", "expected"),
    [
        pytest.param(answer(status=200), [], id="ok"),
        pytest.param(answer(status=404), ["prodkit.E770"], id="not-found"),
        pytest.param(Failure(HTTPS, "no answer within 5 s"), ["prodkit.E770"], id="no-answer"),
    ],
)
def test_e770_liveness(healthz, expected):
    assert ids(site.judge_liveness(healthz)) == expected


def test_w771_readiness_names_failing_dependencies():
    body = (
        b'{"status": "unavailable", "checks": {"database": {"status": "unavailable", '
        b'"error": "OperationalError"}, "cache": {"status": "ok"}, "cache:pages": '
        b'{"status": "unavailable", "error": "ConnectionError", "required": false}}}'
    )
    [message] = site.judge_readiness(answer(status=503, body=body)).messages
    assert message.id == "prodkit.W771"
    assert "answers 503; failing: database (OperationalError)" in message.msg
    assert site.judge_readiness(answer(status=200)).messages == []


def test_find_asset_prefers_a_hashed_file_on_the_same_origin():
    page = answer(
        "https://www.example.com/en/",
        headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        body=gzip.compress(
            b'<script src="//cdn.example.net/x.3f2a1b9c8d7e.js"></script>'
            b'<script src="../static/app.js"></script>'
            b'<link rel="preload stylesheet" href="/static/site.3f2a1b9c8d7e.css">'
        ),
    )
    assert site.find_asset(page) == "https://www.example.com/static/site.3f2a1b9c8d7e.css"
    assert site.find_asset(answer(body=b"<p>nothing</p>")) is None
    assert site.find_asset(answer(headers=[("Content-Type", "application/json")])) is None


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://www.example.com/", True, id="https"),
        pytest.param("http://127.0.0.1:8000/", True, id="loopback"),
        pytest.param("http://localhost:8000/", True, id="localhost"),
        pytest.param("http://[::1]:8000/", True, id="loopback-v6"),
        pytest.param("http://www.example.com/", False, id="plain-http-over-a-network"),
    ],
)
def test_health_token_never_travels_in_clear_text(url, allowed):
    assert site.may_send_token(url) is allowed


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://www.example.com/", id="scheme"),
        pytest.param("www.example.com", id="no-scheme"),
        pytest.param(f"https://user:{PASSWORD}@www.example.com:99999/", id="bad-port"),
    ],
)
def test_probe_site_refuses_what_is_not_an_http_url(url):
    with pytest.raises(ValueError, match="not a URL prodcheck can probe") as raised:
        probe_site(url, timeout=1)
    assert PASSWORD not in str(raised.value)


def test_specs_are_live_and_in_the_reserved_ranges():
    specs = [getattr(site, name) for name in dir(site) if name[:1] in "EWI" and name[1:].isdigit()]
    assert len(specs) == 18
    for spec in specs:
        assert REGISTRY[spec.id] is spec
        assert spec.live
        number = int(spec.id[9:])
        assert 170 <= number <= 189 or 370 <= number <= 379 or 770 <= number <= 779, spec.id
        assert all((spec.title, spec.msg, spec.hint, spec.why)), spec.id
