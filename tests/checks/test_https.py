"""Checks 1xx: HTTPS and proxies, on App Service, behind a declared proxy and on a bare host."""

from __future__ import annotations

import django
import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.checks import https as checks
from django_prodkit.env import Env
from django_prodkit.settings import (
    host_settings,
    host_settings_from_env,
    production_middleware,
    security_from_env,
    security_settings,
    trusted_proxies_from_env,
)
from django_prodkit.settings.platform import FORWARDED_PROTO_HEADER, Platform
from tests.checks import ids

SECURITY = "django.middleware.security.SecurityMiddleware"
HEALTH = "django_prodkit.middleware.HealthCheckMiddleware"
TRUSTED_PROXY = "django_prodkit.middleware.TrustedProxyMiddleware"
DJANGO_CSP = "csp.middleware.CSPMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
PLAIN_MIDDLEWARE = [
    SECURITY,
    SESSIONS,
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
APP_SERVICE_HOST = "mysite.azurewebsites.net"
PLANTED_PASSWORD = "Pl4nted-origin-password"


@pytest.fixture
def app_service(monkeypatch):
    """The environment App Service gives a Linux web app."""
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    monkeypatch.setenv("WEBSITE_HOSTNAME", APP_SERVICE_HOST)


@pytest.fixture
def declared_proxy(monkeypatch):
    """A TLS-terminating proxy declared with PRODKIT_BEHIND_TLS_PROXY (nginx, Traefik...)."""
    monkeypatch.setenv("PRODKIT_BEHIND_TLS_PROXY", "true")


@pytest.fixture
def kubernetes(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")


@pytest.fixture(autouse=True)
def _plain_settings(settings):
    """Django's defaults for what these checks read, whatever the example project sets."""
    settings.MIDDLEWARE = PLAIN_MIDDLEWARE
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_REDIRECT_EXEMPT = []
    settings.SECURE_HSTS_SECONDS = 0
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.LANGUAGE_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.PRODKIT_TRUSTED_PROXIES = []
    settings.PRODKIT_PROXY_HOPS = 0
    # Django >= 6.0's defaults; the example project sets a report-only policy there.
    settings.SECURE_CSP = {}
    settings.SECURE_CSP_REPORT_ONLY = {}


def _area():
    return run_checks(tags=["https"], include_deployment_checks=True)


def _texts(messages) -> str:
    return " ".join(f"{m.msg} {m.hint} {m.obj}" for m in messages)


# --- E101, E102, W103, E104 SECURE_PROXY_SSL_HEADER ----------------------------------------


def test_e101_header_without_a_known_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = FORWARDED_PROTO_HEADER
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.E101"
    assert "X-Forwarded-Proto" in message.msg
    assert "PRODKIT_BEHIND_TLS_PROXY=true" in message.hint


def test_e101_on_kubernetes_points_at_the_ingress(settings, kubernetes):
    settings.SECURE_PROXY_SSL_HEADER = FORWARDED_PROTO_HEADER
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.E101"
    assert "(kubernetes)" in message.msg
    assert "ingress" in message.hint


@pytest.mark.parametrize("where", ["app_service", "declared_proxy"])
def test_e101_header_behind_a_known_proxy_passes(settings, request, where):
    request.getfixturevalue(where)
    settings.SECURE_PROXY_SSL_HEADER = FORWARDED_PROTO_HEADER
    settings.SECURE_SSL_REDIRECT = True
    assert checks.check_proxy_ssl_header() == []


def test_e102_redirect_loop_on_app_service(settings, app_service):
    settings.SECURE_SSL_REDIRECT = True
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.E102"
    assert "App Service's front end" in message.msg
    assert "HTTPS Only" in message.hint
    assert "host_settings_from_env() does this on App Service" in message.hint


def test_e102_redirect_loop_behind_a_declared_proxy(settings, declared_proxy):
    settings.SECURE_SSL_REDIRECT = True
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.E102"
    assert "PRODKIT_BEHIND_TLS_PROXY=true" in message.msg
    assert "let the proxy redirect HTTP to HTTPS" in message.hint
    assert "App Service" not in message.hint


def test_e102_w103_no_proxy_no_header_passes(settings):
    settings.SECURE_SSL_REDIRECT = True
    assert checks.check_proxy_ssl_header() == []


def test_w103_https_invisible_behind_app_service(settings, app_service):
    settings.SECURE_SSL_REDIRECT = False
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.W103"
    assert "HTTP_X_FORWARDED_PROTO" in message.hint


def test_w103_proxy_denied_by_environment_passes(settings, app_service, monkeypatch):
    monkeypatch.setenv("PRODKIT_BEHIND_TLS_PROXY", "false")
    assert checks.check_proxy_ssl_header() == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(("X-Forwarded-Proto", "https"), "request.META", id="http-spelling"),
        pytest.param(("HTTP_X-FORWARDED-PROTO", "https"), "request.META", id="dashes"),
        pytest.param(("http_x_forwarded_proto", "https"), "request.META", id="lower-case"),
        pytest.param(("HTTP_X_FORWARDED_PROTO", "HTTPS"), "'HTTPS'", id="upper-case-value"),
        pytest.param(("HTTP_X_FORWARDED_PROTO",), "pair", id="one-item"),
        pytest.param("HTTP_X_FORWARDED_PROTO", "pair", id="a-string"),
    ],
)
def test_e104_header_that_never_matches(settings, app_service, value, reason):
    settings.SECURE_PROXY_SSL_HEADER = value
    [message] = checks.check_proxy_ssl_header()
    assert message.id == "prodkit.E104"
    assert reason in message.msg


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(FORWARDED_PROTO_HEADER, id="prodkit-constant"),
        pytest.param(["HTTP_X_FORWARDED_PROTO", "https"], id="list"),
        pytest.param(("HTTP_X_FORWARDED_SSL", "on"), id="other-header"),
    ],
)
def test_e104_well_formed_headers_pass(settings, declared_proxy, value):
    settings.SECURE_PROXY_SSL_HEADER = value
    assert checks.check_proxy_ssl_header() == []


# --- E105, W106 CSRF_TRUSTED_ORIGINS --------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        pytest.param("https://www.example.com/", "trailing slash", id="trailing-slash"),
        pytest.param("https://www.example.com/app", "path", id="path"),
        pytest.param("https://www.example.com?x=1", "query", id="query"),
        pytest.param("https://WWW.example.com", "upper-case", id="upper-case"),
        pytest.param("https://www.example.com:443", "default port 443", id="default-port"),
        pytest.param("http://www.example.com:80", "default port 80", id="default-http-port"),
        pytest.param(f"https://u:{PLANTED_PASSWORD}@www.example.com", "user", id="user-info"),
    ],
)
def test_e105_origin_never_matches(settings, origin, reason):
    settings.CSRF_TRUSTED_ORIGINS = ["https://ok.example.com", origin]
    [message] = checks.check_csrf_trusted_origins()
    assert message.id == "prodkit.E105"
    assert reason in message.msg
    assert PLANTED_PASSWORD not in _texts([message])


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://www.example.com", id="exact"),
        pytest.param("https://www.example.com:8443", id="other-port"),
        pytest.param("http://localhost:8000", id="local"),
        pytest.param("https://*.example.com", id="wildcard"),
        pytest.param("https://*.Example.com/", id="wildcard-any-form"),
        pytest.param("www.example.com", id="no-scheme-is-djangos-own-check"),
    ],
)
def test_e105_usable_origins_pass(settings, origin):
    settings.CSRF_TRUSTED_ORIGINS = [origin]
    assert checks.check_csrf_trusted_origins() == []


def test_w106_form_posts_fail_behind_app_service(settings, app_service):
    settings.ALLOWED_HOSTS = [APP_SERVICE_HOST, "www.example.com", "localhost", "169.254.130.3"]
    settings.CSRF_TRUSTED_ORIGINS = [f"https://{APP_SERVICE_HOST}"]
    [message] = checks.check_csrf_origins_behind_proxy()
    assert message.id == "prodkit.W106"
    assert "https://www.example.com" in message.msg
    assert APP_SERVICE_HOST not in message.msg
    assert "169.254" not in message.msg


@pytest.mark.parametrize(
    ("origins", "header"),
    [
        pytest.param(["https://www.example.com"], None, id="origin-listed"),
        pytest.param(["https://*.example.com"], None, id="wildcard-origin"),
        pytest.param([], FORWARDED_PROTO_HEADER, id="header-set"),
    ],
)
def test_w106_passes(settings, app_service, origins, header):
    settings.ALLOWED_HOSTS = ["www.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = origins
    settings.SECURE_PROXY_SSL_HEADER = header
    assert checks.check_csrf_origins_behind_proxy() == []


def test_w106_without_a_proxy_passes(settings):
    settings.ALLOWED_HOSTS = ["www.example.com"]
    assert checks.check_csrf_origins_behind_proxy() == []


# --- I107 HSTS, E108 SameSite, I109 language cookie -----------------------------------------


@pytest.mark.parametrize(
    ("seconds", "middleware", "expected"),
    [
        pytest.param(300, PLAIN_MIDDLEWARE, ["prodkit.I107"], id="five-minutes"),
        pytest.param(86_400, PLAIN_MIDDLEWARE, [], id="one-day"),
        pytest.param(0, PLAIN_MIDDLEWARE, [], id="off"),
        pytest.param(300, PLAIN_MIDDLEWARE[1:], [], id="no-security-middleware"),
    ],
)
def test_i107_hsts_ramp_up(settings, seconds, middleware, expected):
    settings.SECURE_HSTS_SECONDS = seconds
    settings.MIDDLEWARE = middleware
    assert ids(checks.check_hsts_ramp_up()) == expected


@pytest.mark.parametrize(
    ("prefix", "samesite", "secure", "expected"),
    [
        pytest.param("SESSION", "None", False, ["prodkit.E108"], id="session-none"),
        pytest.param("CSRF", "none", False, ["prodkit.E108"], id="csrf-none-lower"),
        pytest.param("SESSION", "None", True, [], id="session-none-secure"),
        pytest.param("SESSION", "Lax", False, [], id="session-lax"),
        pytest.param("SESSION", None, False, [], id="no-attribute"),
    ],
)
def test_e108_samesite_none_needs_secure(settings, prefix, samesite, secure, expected):
    setattr(settings, f"{prefix}_COOKIE_SAMESITE", samesite)
    setattr(settings, f"{prefix}_COOKIE_SECURE", secure)
    found = checks.check_samesite_none()
    assert ids(found) == expected
    assert all(m.obj == f"settings.{prefix}_COOKIE_SAMESITE" for m in found)


def test_e108_csrf_cookie_unused_with_sessions(settings):
    settings.CSRF_USE_SESSIONS = True
    settings.CSRF_COOKIE_SAMESITE = "None"
    assert checks.check_samesite_none() == []


@pytest.mark.parametrize(
    ("https", "language_secure", "expected"),
    [
        pytest.param(True, False, ["prodkit.I109"], id="https-insecure-cookie"),
        pytest.param(True, True, [], id="https-secure-cookie"),
        pytest.param(False, False, [], id="plain-http-site"),
    ],
)
def test_i109_language_cookie(settings, https, language_secure, expected):
    settings.SESSION_COOKIE_SECURE = https
    settings.LANGUAGE_COOKIE_SECURE = language_secure
    assert ids(checks.check_language_cookie_secure()) == expected


def test_i109_behind_app_service_counts_as_https(settings, app_service):
    assert ids(checks.check_language_cookie_secure()) == ["prodkit.I109"]


# --- W110, I111, W112 Content-Security-Policy -----------------------------------------------


def _django_csp(policy=None, report_only=None):
    return {
        "MIDDLEWARE": [*PLAIN_MIDDLEWARE, DJANGO_CSP],
        "CONTENT_SECURITY_POLICY": policy,
        "CONTENT_SECURITY_POLICY_REPORT_ONLY": report_only,
    }


def _apply(settings, values):
    for name, value in values.items():
        setattr(settings, name, value)


def test_w110_no_policy(settings):
    [message] = checks.check_csp()
    assert message.id == "prodkit.W110"
    assert "no policy is configured" in message.msg
    if django.VERSION >= (6, 0):
        assert "security_settings(csp='report-only')" in message.hint
    else:
        assert "django-csp" in message.hint


def test_w110_django_csp_settings_without_its_middleware(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    [message] = checks.check_csp()
    assert message.id == "prodkit.W110"
    assert "CSPMiddleware is not in MIDDLEWARE" in message.msg


def test_w110_builtin_csp_settings(settings):
    settings.SECURE_CSP = {"default-src": ["'self'"]}
    settings.MIDDLEWARE = production_middleware(PLAIN_MIDDLEWARE)
    found = checks.check_csp()
    if django.VERSION >= (6, 0):
        assert found == []
    else:
        [message] = found
        assert message.id == "prodkit.W110"
        assert "SECURE_CSP needs Django 6.0" in message.msg


def test_w110_builtin_csp_without_its_middleware(settings):
    settings.SECURE_CSP = {"default-src": ["'self'"]}
    [message] = checks.check_csp()
    assert message.id == "prodkit.W110"
    if django.VERSION >= (6, 0):
        assert "ContentSecurityPolicyMiddleware is not in MIDDLEWARE" in message.msg


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(_django_csp(policy={"DIRECTIVES": {}}), [], id="enforced"),
        pytest.param(
            _django_csp(report_only={"DIRECTIVES": {"default-src": ["'self'"]}}),
            ["prodkit.I111"],
            id="report-only",
        ),
        pytest.param(
            _django_csp(
                policy={"DIRECTIVES": {"default-src": ["'self'"]}},
                report_only={"DIRECTIVES": {"default-src": ["'none'"]}},
            ),
            [],
            id="enforced-and-trying-stricter",
        ),
    ],
)
def test_w110_i111_django_csp(settings, values, expected):
    _apply(settings, values)
    assert ids(checks.check_csp()) == expected


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP needs Django 6.0")
def test_i111_security_settings_start_report_only(settings):
    _apply(settings, security_settings(csp="report-only"))
    settings.MIDDLEWARE = production_middleware(PLAIN_MIDDLEWARE)
    assert ids(checks.check_csp()) == ["prodkit.I111"]
    _apply(settings, security_settings(csp="enforce"))
    settings.SECURE_CSP_REPORT_ONLY = {}
    assert checks.check_csp() == []


@pytest.mark.parametrize(
    ("directives", "expected"),
    [
        pytest.param({"script-src": ["'self'", "'unsafe-inline'"]}, ["prodkit.W112"], id="inline"),
        pytest.param({"script-src": "'self' 'unsafe-eval'"}, ["prodkit.W112"], id="eval-string"),
        pytest.param({"default-src": ["*"]}, ["prodkit.W112"], id="default-src-any"),
        pytest.param({"script-src": ["https:"]}, ["prodkit.W112"], id="any-https-origin"),
        pytest.param(
            {"script-src": ["'self'", "'unsafe-inline'", "<CSP_NONCE_SENTINEL>"]},
            [],
            id="inline-with-nonce",
        ),
        pytest.param(
            {"script-src": ["'unsafe-inline'", "'sha256-abc='"]}, [], id="inline-with-hash"
        ),
        pytest.param(
            {"default-src": ["*"], "script-src": ["'self'", "https://cdn.example.com"]},
            [],
            id="script-src-wins",
        ),
        pytest.param({}, [], id="django-csp-default"),
    ],
)
def test_w112_unsafe_script_sources(settings, directives, expected):
    _apply(settings, _django_csp(policy={"DIRECTIVES": directives}))
    found = checks.check_csp_script_sources()
    assert ids(found) == expected
    assert all(m.obj == "settings.CONTENT_SECURITY_POLICY" for m in found)


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP needs Django 6.0")
def test_w112_builtin_policy_with_djangos_constants(settings):
    from django.utils.csp import CSP

    settings.MIDDLEWARE = production_middleware(PLAIN_MIDDLEWARE)
    settings.SECURE_CSP = {"default-src": [CSP.SELF], "script-src": [CSP.SELF, CSP.UNSAFE_INLINE]}
    [message] = checks.check_csp_script_sources()
    assert message.id == "prodkit.W112"
    assert message.obj == "settings.SECURE_CSP"
    settings.SECURE_CSP = {"script-src": [CSP.SELF, CSP.UNSAFE_INLINE, CSP.NONCE]}
    assert checks.check_csp_script_sources() == []


def test_w112_checks_the_report_only_policy_too(settings):
    _apply(settings, _django_csp(report_only={"DIRECTIVES": {"script-src": ["'unsafe-eval'"]}}))
    [message] = checks.check_csp_script_sources()
    assert "CONTENT_SECURITY_POLICY_REPORT_ONLY" in message.msg
    assert "'unsafe-eval'" in message.msg


# --- W113 Referrer-Policy, I114 COOP --------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param("unsafe-url", ["prodkit.W113"], id="unsafe-url"),
        pytest.param("no-referrer-when-downgrade", ["prodkit.W113"], id="downgrade"),
        pytest.param(["same-origin", "unsafe-url"], ["prodkit.W113"], id="weak-last"),
        pytest.param(
            "no-referrer-when-downgrade, strict-origin-when-cross-origin", [], id="weak-fallback"
        ),
        pytest.param("same-origin", [], id="same-origin"),
        pytest.param(None, [], id="unset-is-djangos-w022"),
    ],
)
def test_w113_referrer_policy(settings, policy, expected):
    settings.SECURE_REFERRER_POLICY = policy
    assert ids(checks.check_referrer_policy()) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param("unsafe-none", ["prodkit.I114"], id="unsafe-none"),
        pytest.param("same-origin-allow-popups", [], id="allow-popups"),
        pytest.param("same-origin", [], id="same-origin"),
    ],
)
def test_i114_cross_origin_opener_policy(settings, policy, expected):
    settings.SECURE_CROSS_ORIGIN_OPENER_POLICY = policy
    assert ids(checks.check_cross_origin_opener_policy()) == expected


# --- W115, I116 forwarded host and port -----------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        pytest.param(True, False, ["prodkit.W115"], id="host"),
        pytest.param(False, True, ["prodkit.I116"], id="port"),
        pytest.param(True, True, ["prodkit.W115", "prodkit.I116"], id="both"),
        pytest.param(False, False, [], id="neither"),
    ],
)
def test_w115_i116_forwarded_headers_without_a_proxy(settings, host, port, expected):
    settings.USE_X_FORWARDED_HOST = host
    settings.USE_X_FORWARDED_PORT = port
    assert ids(checks.check_forwarded_host_and_port()) == expected


@pytest.mark.parametrize("where", ["app_service", "declared_proxy"])
def test_w115_i116_behind_a_known_proxy_pass(settings, request, where):
    request.getfixturevalue(where)
    settings.USE_X_FORWARDED_HOST = True
    settings.USE_X_FORWARDED_PORT = True
    assert checks.check_forwarded_host_and_port() == []


def test_w115_trusted_proxies_count_as_a_proxy(settings):
    settings.USE_X_FORWARDED_HOST = True
    settings.PRODKIT_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert checks.check_forwarded_host_and_port() == []


# --- E117, W118, W119 trusted proxies -------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [
        pytest.param(["0.0.0.0/0"], ["prodkit.E117"], id="every-ipv4"),
        pytest.param(["::/0"], ["prodkit.E117"], id="every-ipv6"),
        pytest.param(["*"], ["prodkit.E117"], id="star"),
        pytest.param(["10.0.0.5/24"], ["prodkit.E117"], id="host-bits"),
        pytest.param(["proxy.internal"], ["prodkit.E117"], id="host-name"),
        pytest.param("10.0.0.0/24", ["prodkit.E117"], id="a-string"),
        pytest.param(["64.0.0.0/2"], ["prodkit.W118"], id="quarter-of-ipv4"),
        pytest.param(["2000::/3"], ["prodkit.W118"], id="global-ipv6"),
        pytest.param(["10.0.0.0/8"], [], id="private"),
        pytest.param(["169.254.0.0/16"], [], id="app-service-front-ends"),
        pytest.param(["fc00::/7"], [], id="unique-local-ipv6"),
        pytest.param(["203.0.113.7"], [], id="one-public-address"),
        pytest.param(["104.16.0.0/13", "2400:cb00::/32"], [], id="cdn-ranges"),
    ],
)
def test_e117_w118_trusted_proxies(settings, proxies, expected):
    settings.PRODKIT_TRUSTED_PROXIES = proxies
    assert ids(checks.check_trusted_proxies()) == expected


@pytest.mark.parametrize(
    ("proxies", "hops", "middleware", "expected"),
    [
        pytest.param(["10.0.0.0/24"], 0, PLAIN_MIDDLEWARE, ["prodkit.W119"], id="list"),
        pytest.param([], 2, PLAIN_MIDDLEWARE, ["prodkit.W119"], id="hops"),
        pytest.param(
            ["10.0.0.0/24"], 0, production_middleware(PLAIN_MIDDLEWARE), [], id="with-middleware"
        ),
        pytest.param([], 0, PLAIN_MIDDLEWARE, [], id="not-configured"),
    ],
)
def test_w119_trusted_proxy_middleware(settings, proxies, hops, middleware, expected):
    settings.PRODKIT_TRUSTED_PROXIES = proxies
    settings.PRODKIT_PROXY_HOPS = hops
    settings.MIDDLEWARE = middleware
    assert ids(checks.check_trusted_proxy_middleware()) == expected


# --- W120 health probes and the HTTPS redirect ---------------------------------------------


@pytest.mark.parametrize(
    ("middleware", "exempt", "expected"),
    [
        pytest.param(PLAIN_MIDDLEWARE, [], ["prodkit.W120"], id="not-exempt"),
        pytest.param(PLAIN_MIDDLEWARE, [r"^healthz/?$"], ["prodkit.W120"], id="readyz-missing"),
        pytest.param(
            [SECURITY, HEALTH, *PLAIN_MIDDLEWARE[1:]], [], ["prodkit.W120"], id="health-after"
        ),
        pytest.param(PLAIN_MIDDLEWARE, [r"^healthz/?$", r"^readyz/?$"], [], id="exempt"),
        pytest.param([HEALTH, *PLAIN_MIDDLEWARE], [], [], id="health-first"),
        pytest.param(PLAIN_MIDDLEWARE[1:], [], [], id="no-security-middleware"),
    ],
)
def test_w120_health_probe_redirected(settings, middleware, exempt, expected):
    settings.SECURE_SSL_REDIRECT = True
    settings.MIDDLEWARE = middleware
    settings.SECURE_REDIRECT_EXEMPT = exempt
    assert ids(checks.check_health_redirect()) == expected


def test_w120_no_redirect_passes(settings):
    assert checks.check_health_redirect() == []


def test_w120_advice_on_app_service(settings, app_service):
    settings.SECURE_SSL_REDIRECT = True
    [message] = checks.check_health_redirect()
    assert "/healthz and /readyz" in message.msg
    assert "App Service's health check" in message.msg
    assert "HTTPS Only" in message.hint


def test_w120_advice_behind_a_declared_proxy(settings, declared_proxy):
    settings.SECURE_SSL_REDIRECT = True
    [message] = checks.check_health_redirect()
    assert "App Service" not in f"{message.msg} {message.hint}"
    assert "let the proxy redirect HTTP to HTTPS" in message.hint


def test_w120_advice_on_a_bare_host(settings):
    settings.SECURE_SSL_REDIRECT = True
    [message] = checks.check_health_redirect()
    assert "load balancer" in message.msg
    assert "let the proxy redirect" not in message.hint
    assert "SECURE_REDIRECT_EXEMPT" in message.hint


# --- the area as a whole --------------------------------------------------------------------

# What prodkit's presets leave to the project on each Django: a CSP (Django 6.0 ships one,
# report-only first).
CSP_FINDING = ["prodkit.I111"] if django.VERSION >= (6, 0) else ["prodkit.W110"]


def test_hand_written_settings_are_caught(settings):
    """Settings the way a project writes them by hand, on a VM with no proxy declared."""
    settings.ALLOWED_HOSTS = ["www.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.USE_X_FORWARDED_HOST = True
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.example.com/"]
    settings.SESSION_COOKIE_SAMESITE = "None"
    settings.SECURE_REFERRER_POLICY = "no-referrer-when-downgrade"
    found = set(ids(_area()))
    assert {
        "prodkit.E101",
        "prodkit.E105",
        "prodkit.E108",
        "prodkit.W110",
        "prodkit.W113",
        "prodkit.W115",
        "prodkit.W120",
    } <= found


def test_hand_written_settings_on_app_service_loop(settings, app_service):
    """The same project moved to App Service without SECURE_PROXY_SSL_HEADER."""
    settings.ALLOWED_HOSTS = ["www.example.com", APP_SERVICE_HOST]
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    found = set(ids(_area()))
    assert {"prodkit.E102", "prodkit.W106", "prodkit.W120"} <= found


def _production(settings, env):
    for values in (
        host_settings_from_env(env),
        security_from_env(env),
        trusted_proxies_from_env(env),
    ):
        _apply(settings, values)
    settings.MIDDLEWARE = production_middleware(PLAIN_MIDDLEWARE)


def test_prodkit_settings_on_app_service_pass(settings, app_service):
    _production(
        settings,
        Env(
            environ={
                "WEBSITE_SITE_NAME": "mysite",
                "WEBSITE_HOSTNAME": APP_SERVICE_HOST,
                "DJANGO_ALLOWED_HOSTS": "www.example.com",
            }
        ),
    )
    assert ids(_area()) == CSP_FINDING


def test_prodkit_settings_behind_a_declared_proxy_pass(settings, declared_proxy):
    _production(
        settings,
        Env(
            environ={
                "PRODKIT_BEHIND_TLS_PROXY": "true",
                "DJANGO_ALLOWED_HOSTS": "www.example.com",
                "PRODKIT_TRUSTED_PROXIES": "10.1.2.0/24",
            }
        ),
    )
    assert ids(_area()) == CSP_FINDING


def test_prodkit_settings_on_a_bare_host_pass(settings):
    _production(settings, Env(environ={"DJANGO_ALLOWED_HOSTS": "www.example.com"}))
    assert ids(_area()) == CSP_FINDING


def test_host_settings_told_of_a_proxy_the_environment_denies(settings):
    """host_settings(behind_tls_proxy=True) in code, while the environment says nothing."""
    _apply(
        settings,
        host_settings(Platform(kind="local"), allowed_hosts=["x.example"], behind_tls_proxy=True),
    )
    assert ids(checks.check_proxy_ssl_header()) == ["prodkit.E101"]


def test_no_secret_appears_in_any_message(settings):
    settings.CSRF_TRUSTED_ORIGINS = [f"https://admin:{PLANTED_PASSWORD}@www.example.com/"]
    settings.SECURE_PROXY_SSL_HEADER = FORWARDED_PROTO_HEADER
    settings.SECURE_SSL_REDIRECT = True
    found = _area()
    assert "prodkit.E105" in ids(found)
    assert PLANTED_PASSWORD not in _texts(found)


def test_checks_reach_django_check_command(settings):
    settings.SECURE_PROXY_SSL_HEADER = FORWARDED_PROTO_HEADER
    with pytest.raises(SystemCheckError, match=r"prodkit\.E101"):
        call_command("check", deploy=True, tags=["https"])
