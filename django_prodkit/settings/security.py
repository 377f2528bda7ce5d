"""Hardened security settings: HTTPS, HSTS with a ramp-up, cookies, headers and CSP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import django
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

# HSTS ramp-up: start short, raise the stage once HTTPS works everywhere. A browser that saw
# a long max-age refuses plain HTTP for that long, so a mistake at "1y" lasts a year.
HSTS_STAGES: dict[str, int] = {
    "off": 0,
    "5m": 300,
    "1d": 86_400,
    "1w": 604_800,
    "1m": 2_592_000,
    "1y": 31_536_000,
    "2y": 63_072_000,  # the max-age hstspreload.org asks for
}

# Paths the platform's health probe requests over plain HTTP; SECURE_REDIRECT_EXEMPT
# matches them without the leading slash.
HEALTH_PATHS = (r"^healthz/?$", r"^readyz/?$")

CSP_MODES = ("off", "report-only", "enforce")

# Django >= 6.0 ships Content-Security-Policy support (SECURE_CSP + its middleware).
HAS_BUILTIN_CSP = django.VERSION >= (6, 0)


def security_settings(
    *,
    debug: bool = False,
    https: bool = True,
    hsts: str = "1y",
    hsts_include_subdomains: bool = True,
    hsts_preload: bool = False,
    redirect_exempt: Sequence[str] = HEALTH_PATHS,
    csp: str = "report-only",
    csp_sources: Sequence[str] = (),
    csp_telemetry_origin: str | None = None,
) -> dict[str, Any]:
    """Return the security settings for a site served over HTTPS (or not, with ``https=False``).

    ``hsts`` is a stage of ``HSTS_STAGES``; ``redirect_exempt`` keeps the health paths
    answering over plain HTTP. ``csp`` sets a strict same-origin policy on Django >= 6.0
    (``report-only`` first, ``enforce`` once the reports are clean); ``csp_sources`` adds
    origins (a CDN) to it; ``csp_telemetry_origin`` (the Application Insights ingestion origin)
    lets the browser snippet run (by nonce) and send there.
    """
    if hsts not in HSTS_STAGES:
        raise ImproperlyConfigured(
            f"PRODKIT_HSTS must be one of {', '.join(HSTS_STAGES)}, got {hsts!r}."
        )
    if csp not in CSP_MODES:
        raise ImproperlyConfigured(
            f"PRODKIT_CSP must be one of {', '.join(CSP_MODES)}, got {csp!r}."
        )
    secure = https and not debug
    hsts_seconds = HSTS_STAGES[hsts] if secure else 0
    if hsts_preload and (hsts_seconds < HSTS_STAGES["1y"] or not hsts_include_subdomains):
        raise ImproperlyConfigured(
            "PRODKIT_HSTS_PRELOAD needs PRODKIT_HSTS=1y or 2y and "
            "PRODKIT_HSTS_INCLUDE_SUBDOMAINS=true: browsers' preload lists require both."
        )
    config: dict[str, Any] = {
        "SECURE_SSL_REDIRECT": secure,
        "SECURE_REDIRECT_EXEMPT": list(redirect_exempt),
        "SECURE_HSTS_SECONDS": hsts_seconds,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": secure and hsts_include_subdomains,
        "SECURE_HSTS_PRELOAD": secure and hsts_preload,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": secure,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "LANGUAGE_COOKIE_SECURE": secure,
        "LANGUAGE_COOKIE_HTTPONLY": True,
    }
    if HAS_BUILTIN_CSP and csp != "off":
        name = "SECURE_CSP" if csp == "enforce" else "SECURE_CSP_REPORT_ONLY"
        config[name] = csp_policy(csp_sources, telemetry_origin=csp_telemetry_origin)
    return config


def csp_policy(
    sources: Sequence[str] = (), *, telemetry_origin: str | None = None
) -> dict[str, list[str]]:
    """Return a same-origin Content-Security-Policy, with ``sources`` allowed for assets.

    With ``telemetry_origin`` the Application Insights browser snippet works under it: scripts
    carrying the request's nonce run (the loader passes the nonce on to the SDK it loads, from
    ``PRODKIT_TELEMETRY_BROWSER_SDK_URL``), and the SDK may send to the ingestion origin.
    """
    own = ["'self'", *sources]
    scripts, connect = list(own), list(own)
    if telemetry_origin:
        connect.append(telemetry_origin)
        if HAS_BUILTIN_CSP:  # the nonce placeholder is Django 6's
            from django.utils.csp import CSP  # type: ignore[import-not-found,unused-ignore]

            scripts.append(CSP.NONCE)
    return {
        "default-src": own,
        "script-src": scripts,
        "style-src": own,
        "img-src": [*own, "data:"],
        "font-src": own,
        "connect-src": connect,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def security_from_env(
    env: Env | None = None, *, debug: bool = False, csp_telemetry_origin: str | None = None
) -> dict[str, Any]:
    """Return ``security_settings`` from ``PRODKIT_HTTPS``, ``PRODKIT_HSTS``, ``PRODKIT_CSP``...

    ``csp_telemetry_origin``: see ``security_settings`` (``production_settings()`` passes it
    when browser telemetry is on)."""
    env = env or Env()
    return security_settings(
        debug=debug,
        https=env.bool("PRODKIT_HTTPS", default=True),
        hsts=env.str("PRODKIT_HSTS", default="1y", choices=tuple(HSTS_STAGES)),
        hsts_include_subdomains=env.bool("PRODKIT_HSTS_INCLUDE_SUBDOMAINS", default=True),
        hsts_preload=env.bool("PRODKIT_HSTS_PRELOAD", default=False),
        csp=env.str("PRODKIT_CSP", default="report-only", choices=CSP_MODES),
        csp_sources=env.list("PRODKIT_CSP_SOURCES", default=()),
        csp_telemetry_origin=csp_telemetry_origin,
    )
