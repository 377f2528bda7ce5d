from __future__ import annotations

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_prodkit.env import Env
from django_prodkit.settings.middleware import production_middleware
from django_prodkit.settings.security import (
    HAS_BUILTIN_CSP,
    HSTS_STAGES,
    csp_policy,
    security_from_env,
    security_settings,
)
from django_prodkit.settings.telemetry import browser_telemetry_origin, telemetry_settings


def test_production_defaults_are_strict():
    config = security_settings()
    assert config["SECURE_SSL_REDIRECT"] is True
    assert config["SECURE_HSTS_SECONDS"] == 31_536_000
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["CSRF_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["X_FRAME_OPTIONS"] == "DENY"
    assert config["SECURE_REFERRER_POLICY"] == "same-origin"
    assert config["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert r"^healthz/?$" in config["SECURE_REDIRECT_EXEMPT"]


@pytest.mark.parametrize(
    "kwargs",
    [pytest.param({"debug": True}, id="debug"), pytest.param({"https": False}, id="plain-http")],
)
def test_no_https_means_no_redirect_hsts_or_secure_cookies(kwargs):
    config = security_settings(**kwargs)
    assert config["SECURE_SSL_REDIRECT"] is False
    assert config["SECURE_HSTS_SECONDS"] == 0
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["CSRF_COOKIE_SECURE"] is False


@pytest.mark.parametrize(("stage", "seconds"), list(HSTS_STAGES.items()))
def test_hsts_ramp_up_stages(stage, seconds):
    assert security_settings(hsts=stage)["SECURE_HSTS_SECONDS"] == seconds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"hsts": "forever"}, "PRODKIT_HSTS must be one of off, 5m", id="bad-stage"),
        pytest.param(
            {"hsts_preload": True, "hsts_include_subdomains": True, "hsts": "1m"},
            "PRODKIT_HSTS_PRELOAD needs",
            id="preload-short",
        ),
        pytest.param(
            {"hsts_preload": True, "hsts_include_subdomains": False},
            "PRODKIT_HSTS_INCLUDE_SUBDOMAINS=true",
            id="preload-no-subdomains",
        ),
        pytest.param(
            {"csp": "strict"}, "PRODKIT_CSP must be one of off, report-only, enforce", id="bad-csp"
        ),
    ],
)
def test_invalid_combinations_are_errors(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        security_settings(**kwargs)


@pytest.mark.skipif(not HAS_BUILTIN_CSP, reason="Django < 6.0 has no built-in CSP")
@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("report-only", "SECURE_CSP_REPORT_ONLY", "SECURE_CSP"),
        ("enforce", "SECURE_CSP", "SECURE_CSP_REPORT_ONLY"),
    ],
)
def test_csp_mode_picks_the_setting(mode, present, absent):
    config = security_settings(csp=mode, csp_sources=["https://cdn.example.com"])
    assert config[present]["script-src"] == ["'self'", "https://cdn.example.com"]
    assert absent not in config


def test_no_csp_settings_before_django_6():
    config = security_settings(csp="enforce")
    assert ("SECURE_CSP" in config) is (django.VERSION >= (6, 0))


def test_security_from_env():
    env = Env({"PRODKIT_HTTPS": "false", "PRODKIT_HSTS": "1d", "PRODKIT_CSP": "off"})
    assert security_from_env(env)["SECURE_SSL_REDIRECT"] is False
    assert security_from_env(Env({"PRODKIT_HSTS": "1d"}))["SECURE_HSTS_SECONDS"] == 86_400
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_HSTS must be one of"):
        security_from_env(Env({"PRODKIT_HSTS": "1yr"}))


def test_production_middleware_order_is_fixed_and_idempotent():
    existing = [
        "django.middleware.cache.UpdateCacheMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
    result = production_middleware(existing)
    assert result[:6] == [
        "django.middleware.cache.UpdateCacheMiddleware",
        "django_prodkit.middleware.HealthCheckMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "django_prodkit.middleware.TrustedProxyMiddleware",
        "django_prodkit.middleware.RequestIdMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    assert result[-2:] == existing[1:2] + existing[3:]
    assert production_middleware(result) == result
    assert ("django.middleware.csp.ContentSecurityPolicyMiddleware" in result) is HAS_BUILTIN_CSP


def test_preset_headers_reach_a_real_response(settings):
    settings.ROOT_URLCONF = "tests.urls_security"
    settings.MIDDLEWARE = production_middleware([])
    for name, value in security_settings(csp="enforce").items():
        setattr(settings, name, value)
    response = Client().get("/plain/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    if HAS_BUILTIN_CSP:
        assert "default-src 'self'" in response["Content-Security-Policy"]
    redirect = Client().get("/plain/")
    assert redirect.status_code == 301
    assert redirect["Location"] == "https://testserver/plain/"
    # The platform's health probe comes over plain HTTP: exempt paths are not redirected.
    assert Client().get("/healthz").status_code == 200


def test_csp_lets_the_telemetry_snippet_run_and_send():
    policy = csp_policy(telemetry_origin="https://westeurope-5.in.applicationinsights.azure.com")
    assert policy["connect-src"] == [
        "'self'",
        "https://westeurope-5.in.applicationinsights.azure.com",
    ]
    # 'self' and the request's nonce (Django 6's placeholder).
    assert len(policy["script-src"]) == (2 if HAS_BUILTIN_CSP else 1)
    assert csp_policy()["script-src"] == ["'self'"]


def test_browser_telemetry_origin_follows_the_connection_string():
    on = telemetry_settings(
        backend="azure",
        connection_string=(
            "InstrumentationKey=00000000-1111-2222-3333-444444444444;"
            "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
        ),
    )
    assert browser_telemetry_origin(on) == "https://westeurope-5.in.applicationinsights.azure.com"
    assert browser_telemetry_origin(telemetry_settings(backend="console")) is None
