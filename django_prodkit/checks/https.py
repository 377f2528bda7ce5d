"""Checks 1xx: HTTPS and proxies.

Whether Django may believe ``X-Forwarded-Proto`` (and the other forwarding headers) depends on
what is in front of it: ``deployment().tls_proxy`` says whether a TLS-terminating proxy is
known (App Service's front ends, or ``PRODKIT_BEHIND_TLS_PROXY=true``). Django's own deploy
checks cover the switches being off (``security.W004``-``W022``); these cover settings that are
on but cannot work, or work against the site, where it runs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import django
from django.conf import settings
from django.core.checks import CheckMessage

from django_prodkit.checks.context import Deployment, deployment, serves_https
from django_prodkit.checks.inspect import backend_class, backend_is, middleware_paths
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.conf import conf
from django_prodkit.redact import redact_url
from django_prodkit.settings.middleware import CSP, HEALTH, SECURITY, TRUSTED_PROXY
from django_prodkit.settings.platform import FORWARDED_PROTO_HEADER, LOCAL_HOSTS

E101 = Check(
    id="prodkit.E101",
    title="anyone can claim HTTPS",
    msg=(
        "SECURE_PROXY_SSL_HEADER is set but no TLS-terminating proxy is known to be in front "
        "({platform}): any client can send {header} and pass for HTTPS."
    ),
    hint=(
        "{where} If a proxy that always sets (overwriting the client's) X-Forwarded-Proto is in "
        "front, say so with PRODKIT_BEHIND_TLS_PROXY=true; otherwise leave SECURE_PROXY_SSL_HEADER "
        "unset (host_settings() sets it only when a proxy is known)."
    ),
    why=(
        "Django believes the header for every request. Without a proxy that overwrites it, a "
        "client on plain HTTP sends it and Django treats the request as secure: no HTTPS "
        "redirect, secure cookies set over HTTP, CSRF's strict Referer checking skipped."
    ),
)
E102 = Check(
    id="prodkit.E102",
    title="HTTPS redirect loop behind a TLS proxy",
    msg=(
        "SECURE_SSL_REDIRECT is on, {proxy} terminates TLS, and SECURE_PROXY_SSL_HEADER is unset: "
        "every request is redirected to HTTPS, forever."
    ),
    hint="Let Django read the proxy's X-Forwarded-Proto, or leave the redirect to the proxy. {fix}",
    why=(
        "Behind a TLS-terminating proxy every request reaches Django over plain HTTP. Unless "
        "Django reads the proxy's X-Forwarded-Proto, it sees HTTP, redirects to HTTPS, and the "
        "browser comes back the same way until it gives up (ERR_TOO_MANY_REDIRECTS)."
    ),
)
W103 = Check(
    id="prodkit.W103",
    title="HTTPS requests look like HTTP behind a TLS proxy",
    msg=(
        "{proxy} terminates TLS but SECURE_PROXY_SSL_HEADER is unset: request.is_secure() is "
        "False for every HTTPS request."
    ),
    hint=(
        "Set SECURE_PROXY_SSL_HEADER = {header} (host_settings_from_env() does when the proxy is "
        "known)."
    ),
    why=(
        "Absolute URLs Django builds (password-reset links, redirects, OAuth callbacks) start "
        "with http://, and CSRF compares a form's https:// Origin with http://: posts fail "
        "unless CSRF_TRUSTED_ORIGINS lists the origin."
    ),
)
E104 = Check(
    id="prodkit.E104",
    title="SECURE_PROXY_SSL_HEADER can never match",
    msg="SECURE_PROXY_SSL_HEADER {reason}.",
    hint=(
        "Write it as Django reads request.META: SECURE_PROXY_SSL_HEADER = {header} "
        "(django_prodkit.settings.platform.FORWARDED_PROTO_HEADER)."
    ),
    why=(
        "Django looks the header up in request.META (upper case, HTTP_ prefix, underscores) and "
        "compares its value exactly. A header spelled otherwise is never found and no request "
        "is ever secure; a value that is not a pair makes every request fail."
    ),
)
E105 = Check(
    id="prodkit.E105",
    title="a CSRF trusted origin never matches",
    msg="CSRF_TRUSTED_ORIGINS entry {origin} can never match a browser's Origin header: {reason}.",
    hint=(
        "Write origins as scheme://host[:port], lower case, without path, query or trailing "
        "slash: https://www.example.com (host_settings() builds them from ALLOWED_HOSTS)."
    ),
    why=(
        "Django compares the Origin header with each entry exactly, and browsers send only "
        "scheme, host and a non-default port, in lower case. Any other form is dead weight: form "
        "posts from that origin are refused with 403."
    ),
)
W106 = Check(
    id="prodkit.W106",
    title="HTTPS form posts fail CSRF behind a TLS proxy",
    msg=(
        "HTTPS form posts to {hosts} fail CSRF's origin check: behind {proxy} Django sees "
        "HTTP, and CSRF_TRUSTED_ORIGINS lacks {origins}."
    ),
    hint=(
        "Set SECURE_PROXY_SSL_HEADER = {header}, or add the https:// origins to "
        "CSRF_TRUSTED_ORIGINS; host_settings_from_env() does both."
    ),
    why=(
        "Django's CSRF check expects the Origin of a post to be the request's own scheme and "
        "host. Behind a TLS proxy whose header Django ignores, the page was https:// but the "
        "request looks like http://: every login and form post gets 403."
    ),
)
I107 = Check(
    id="prodkit.I107",
    title="HSTS is still short",
    msg="SECURE_HSTS_SECONDS is {seconds} s, less than a day.",
    hint=(
        "Fine while trying HTTPS out. Once every page works over HTTPS, raise it in steps "
        "(PRODKIT_HSTS=1d, 1w, 1m, then 1y; security_settings(hsts=...))."
    ),
    why=(
        "HSTS protects a visitor only while the browser remembers it. With a short max-age the "
        "first request after it lapses goes out over plain HTTP again, open to a downgrade."
    ),
)
E108 = Check(
    id="prodkit.E108",
    title="a SameSite=None cookie without Secure",
    msg=(
        "{prefix}_COOKIE_SAMESITE is 'None' but {prefix}_COOKIE_SECURE is off: browsers refuse "
        "the cookie."
    ),
    hint=(
        "Use SameSite 'Lax' (security_settings() does) unless the cookie must cross sites; "
        "then also set {prefix}_COOKIE_SECURE = True."
    ),
    why=(
        "Chrome, Edge and Firefox reject a SameSite=None cookie that is not also Secure. The "
        "session cookie is never stored (nobody can log in), the CSRF cookie is never sent "
        "(every form post fails)."
    ),
)
I109 = Check(
    id="prodkit.I109",
    title="the language cookie is not Secure",
    msg="The site is served over HTTPS but LANGUAGE_COOKIE_SECURE is off.",
    hint="Set LANGUAGE_COOKIE_SECURE = True (security_settings() does).",
    why=(
        "The language cookie set by Django's set_language view is then sent over plain HTTP "
        "too, where it can be read or replaced; every other cookie of an HTTPS site should be "
        "Secure."
    ),
)
W110 = Check(
    id="prodkit.W110",
    title="no Content-Security-Policy",
    msg="No Content-Security-Policy is sent: {reason}.",
    hint="Send a policy, report-only first. {how}",
    why=(
        "A Content-Security-Policy tells the browser which scripts, styles and frames the page "
        "may load. It is the main defence left when an XSS bug lets an attacker inject markup."
    ),
)
I111 = Check(
    id="prodkit.I111",
    title="the Content-Security-Policy only reports",
    msg="The Content-Security-Policy is report-only ({setting}): nothing is blocked.",
    hint=(
        "Once the reports are clean, enforce it: SECURE_CSP on Django >= 6.0 "
        "(security_settings(csp='enforce'), PRODKIT_CSP=enforce), CONTENT_SECURITY_POLICY with "
        "django-csp."
    ),
    why=(
        "A report-only policy is the right first step: browsers report what the policy would "
        "block. It protects nothing until it is enforced."
    ),
)
W112 = Check(
    id="prodkit.W112",
    title="the Content-Security-Policy allows unsafe scripts",
    msg="{setting} lets scripts run from {sources} ({directive}).",
    hint=(
        "Allow scripts from 'self' and named origins only (security_settings(csp_sources=...)); "
        "for inline scripts use a nonce (CSP.NONCE) or a hash instead of 'unsafe-inline'."
    ),
    why=(
        "'unsafe-inline' lets injected <script> tags run, 'unsafe-eval' lets strings become "
        "code, and a bare scheme or '*' allows scripts from any server: each undoes what the "
        "policy is for."
    ),
)
W113 = Check(
    id="prodkit.W113",
    title="the Referrer-Policy leaks full URLs",
    msg="SECURE_REFERRER_POLICY is '{policy}': full URLs go to other sites.",
    hint=(
        "Use 'same-origin' (security_settings() does) or 'strict-origin-when-cross-origin', "
        "the browsers' default."
    ),
    why=(
        "With this policy every link or resource on another site receives the page's full URL, "
        "including paths and query strings that may carry tokens, e-mail addresses or search "
        "terms."
    ),
)
I114 = Check(
    id="prodkit.I114",
    title="no Cross-Origin-Opener-Policy isolation",
    msg=(
        "SECURE_CROSS_ORIGIN_OPENER_POLICY is 'unsafe-none': pages share their window with openers."
    ),
    hint=(
        "Use 'same-origin' (Django's default, and security_settings()'s), or "
        "'same-origin-allow-popups' when the site opens payment or sign-in pop-ups."
    ),
    why=(
        "Without it, a page opened from another site (or opening one) keeps a window reference "
        "that the other site can use to navigate it, and it loses the process isolation that "
        "limits Spectre-style leaks."
    ),
)
W115 = Check(
    id="prodkit.W115",
    title="X-Forwarded-Host believed without a proxy",
    msg="USE_X_FORWARDED_HOST is True but no proxy is known to be in front ({platform}).",
    hint=(
        "Turn it off unless a proxy in front always replaces X-Forwarded-Host; if one does, "
        "declare it (PRODKIT_BEHIND_TLS_PROXY=true, or PRODKIT_TRUSTED_PROXIES)."
    ),
    why=(
        "Django then takes the host from X-Forwarded-Host, which any client can send. It builds "
        "password-reset links and cache keys from it; only ALLOWED_HOSTS stands between an "
        "attacker's header and those URLs."
    ),
)
I116 = Check(
    id="prodkit.I116",
    title="X-Forwarded-Port believed without a proxy",
    msg="USE_X_FORWARDED_PORT is True but no proxy is known to be in front ({platform}).",
    hint=(
        "Turn it off unless a proxy in front always sets X-Forwarded-Port; if one does, declare "
        "it (PRODKIT_BEHIND_TLS_PROXY=true, or PRODKIT_TRUSTED_PROXIES)."
    ),
    why=(
        "Django then takes the port of the absolute URLs it builds from a header any client can "
        "send."
    ),
)
E117 = Check(
    id="prodkit.E117",
    title="a trusted-proxy entry trusts everyone or is invalid",
    msg="PRODKIT_TRUSTED_PROXIES {reason}.",
    hint=(
        "List the proxies' addresses or networks (10.0.0.0/24, 203.0.113.7); to trust a fixed "
        "number of proxies whose addresses change, set PRODKIT_PROXY_HOPS instead. "
        "trusted_proxies_from_env() validates the list."
    ),
    why=(
        "TrustedProxyMiddleware believes X-Forwarded-For from the listed peers. Trusting every "
        "address lets any client claim any IP (defeating rate limits and IP allow-lists); an "
        "entry it cannot parse makes every request fail."
    ),
)
W118 = Check(
    id="prodkit.W118",
    title="a trusted-proxy network is a wide public range",
    msg="PRODKIT_TRUSTED_PROXIES entry {network} is a public network of {size} addresses.",
    hint=(
        "Trust only your proxies' own addresses (a load balancer's subnet, a CDN's published "
        "ranges); trusted_proxies() adds App Service's front ends by itself."
    ),
    why=(
        "Every machine in a trusted network may say which client it forwards for. A wide public "
        "range includes machines anyone can rent, so a client can make up its address."
    ),
)
W119 = Check(
    id="prodkit.W119",
    title="trusted proxies without their middleware",
    msg=(
        "{setting} is set but TrustedProxyMiddleware is not in MIDDLEWARE: REMOTE_ADDR is the "
        "proxy's."
    ),
    hint=(
        "Add django_prodkit.middleware.TrustedProxyMiddleware right after SecurityMiddleware "
        "(production_middleware() does)."
    ),
    why=(
        "Behind a proxy every request comes from the proxy's address. Without the middleware, "
        "logs, rate limits and IP checks all see that one address."
    ),
)
W120 = Check(
    id="prodkit.W120",
    title="the HTTPS redirect catches the health probe",
    msg="SECURE_SSL_REDIRECT redirects {paths}: {probe}.",
    hint="Answer the health paths before the redirect. {fix}",
    why=(
        "Platform and load-balancer health probes request the health path on the instance "
        "directly, over plain HTTP. Redirected, the probe either fails (and healthy instances "
        "are taken out of rotation) or passes without ever reaching the check."
    ),
)

HSTS_RAMP_UP_SECONDS = 86_400
# SECURE_PROXY_SSL_HEADER names whose value proxies send as lowercase "https".
_PROTO_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_SCHEME")
_META_NAME = re.compile(r"HTTP_[A-Z0-9_]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The health paths as SecurityMiddleware matches them: without the leading slash.
_HEALTH_PATHS = ("healthz", "readyz")

DJANGO_CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
HAS_BUILTIN_CSP = django.VERSION >= (6, 0)
_WEAK_REFERRER_POLICIES = frozenset({"unsafe-url", "no-referrer-when-downgrade"})
_ANY_SCRIPT_SOURCES = ("*", "http:", "https:", "data:")

# Addresses no one on the internet can use as a source: trusting them is never trusting
# strangers. 100.64.0.0/10 is carrier-grade NAT, also used inside cloud platforms.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)
# Wider than this a public network is not one operator's proxies (Cloudflare's largest
# published ranges are a /13 and a /29).
MAX_PUBLIC_PREFIX = {4: 12, 6: 24}


def _index(middleware: Sequence[str], path: str) -> int | None:
    """Return the position of ``path`` (or a subclass of it) in ``middleware``, or None."""
    if path in middleware:
        return middleware.index(path)
    # Only an importable base can have subclasses; a failed import is slow, so try it once.
    if backend_class(path) is None:
        return None
    for position, entry in enumerate(middleware):
        if backend_is(entry, path):
            return position
    return None


def _proxy_name(where: Deployment) -> str:
    if where.platform.kind == "appservice" and where.platform.tls_proxy:
        return "App Service's front end"
    return "a proxy (PRODKIT_BEHIND_TLS_PROXY=true)"


def _on_app_service(where: Deployment) -> bool:
    return where.platform.kind == "appservice"


def _proxy_ssl_header_problem(value: Any) -> str | None:
    if not isinstance(value, tuple | list) or len(value) != 2:
        return (
            "is not a (header, value) pair: every request that reads request.scheme fails with "
            "ImproperlyConfigured"
        )
    name, expected = value
    if not isinstance(name, str) or not _META_NAME.fullmatch(name):
        return (
            f"names {name!r}, which is not how Django spells a request header in request.META "
            "(upper case, HTTP_ prefix, underscores): no request is ever secure"
        )
    if name in _PROTO_HEADERS and expected != "https":
        return (
            f"expects {expected!r}, but proxies send 'https' in lower case and Django compares "
            "exactly: no request is ever secure"
        )
    return None


def _redirect_loop_fix(where: Deployment) -> str:
    if _on_app_service(where):
        return (
            f"Set SECURE_PROXY_SSL_HEADER = {FORWARDED_PROTO_HEADER!r}: App Service's front ends "
            "always set X-Forwarded-Proto (host_settings_from_env() does this on App Service). "
            "Or leave the redirect to App Service (HTTPS Only: on) and turn SECURE_SSL_REDIRECT "
            "off."
        )
    return (
        "Set SECURE_PROXY_SSL_HEADER to the header your proxy sets, e.g. "
        f"{FORWARDED_PROTO_HEADER!r} (host_settings_from_env() reads PRODKIT_BEHIND_TLS_PROXY "
        "too), or let the proxy redirect HTTP to HTTPS and turn SECURE_SSL_REDIRECT off."
    )


@prodkit_check(E101, E102, W103, E104)
def check_proxy_ssl_header(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E101: the header without a proxy; E102/W103: a proxy without the header; E104: a header
    that can never match."""
    value = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    header = repr(FORWARDED_PROTO_HEADER)
    obj = "settings.SECURE_PROXY_SSL_HEADER"
    if value:
        problem = _proxy_ssl_header_problem(value)
        if problem:
            return [E104.message(obj=obj, reason=problem, header=header)]
    where = deployment()
    if value and not where.tls_proxy:
        if where.platform.kind == "kubernetes":
            hint = "On Kubernetes an ingress controller usually terminates TLS; check that it does."
        else:
            hint = "Nothing in the environment says a proxy is in front."
        return [
            E101.message(
                obj=obj,
                platform=where.platform.kind,
                header=str(value[0]).removeprefix("HTTP_").replace("_", "-").title(),
                where=hint,
            )
        ]
    if not value and where.tls_proxy:
        proxy = _proxy_name(where)
        if getattr(settings, "SECURE_SSL_REDIRECT", False):
            return [E102.message(obj=obj, proxy=proxy, fix=_redirect_loop_fix(where))]
        return [W103.message(obj=obj, proxy=proxy, header=header)]
    return []


def _origin_problem(origin: str) -> str | None:
    if "://" not in origin:
        return None  # Django's own check (4_0.E001) reports a missing scheme.
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return "it is not a valid URL"
    if parts.username is not None or parts.password is not None:
        return "it carries user information"
    if "*" in parts.netloc:
        # Django matches a wildcard origin by its host alone, in any case, path or not.
        return None
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        return "it has a path, query or trailing slash"
    if origin != origin.lower():
        return "it has upper-case letters"
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme):
        return f"browsers leave out the default port {port}"
    return None


@prodkit_check(E105)
def check_csrf_trusted_origins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E105: a CSRF trusted origin in a form the Origin header never has."""
    found = []
    for origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or []:
        reason = _origin_problem(str(origin))
        if reason:
            found.append(
                E105.message(
                    obj="settings.CSRF_TRUSTED_ORIGINS",
                    origin=repr(redact_url(str(origin))),
                    reason=reason,
                )
            )
    return found


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _origin_trusted(host: str, origins: Sequence[str]) -> bool:
    if f"https://{host}" in origins:
        return True
    for origin in origins:
        scheme, _, netloc = origin.partition("://")
        if scheme == "https" and netloc.startswith("*."):
            suffix = netloc[1:].lower()
            if host.lower().endswith(suffix):
                return True
    return False


@prodkit_check(W106)
def check_csrf_origins_behind_proxy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W106: behind a TLS proxy whose header Django ignores, hosts without https:// origins."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return []
    where = deployment()
    if not where.tls_proxy:
        return []
    origins = [str(origin) for origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or []]
    # Wildcards, local names and bare addresses (an instance IP for probes) get no form posts.
    hosts = [
        str(host)
        for host in getattr(settings, "ALLOWED_HOSTS", []) or []
        if host != "*"
        and not str(host).startswith(".")
        and host not in LOCAL_HOSTS
        and not _is_address(str(host))
    ]
    missing = [host for host in hosts if not _origin_trusted(host, origins)]
    if not missing:
        return []
    return [
        W106.message(
            obj="settings.CSRF_TRUSTED_ORIGINS",
            hosts=", ".join(missing),
            origins=", ".join(f"https://{host}" for host in missing),
            proxy=_proxy_name(where),
            header=repr(FORWARDED_PROTO_HEADER),
        )
    ]


@prodkit_check(I107)
def check_hsts_ramp_up(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I107: HSTS on but shorter than a day."""
    seconds = int(getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0)
    if 0 < seconds < HSTS_RAMP_UP_SECONDS and _index(middleware_paths(), SECURITY) is not None:
        return [I107.message(obj="settings.SECURE_HSTS_SECONDS", seconds=seconds)]
    return []


@prodkit_check(E108)
def check_samesite_none(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E108: a SameSite=None cookie that is not Secure."""
    prefixes = ["SESSION", "LANGUAGE"]
    if not getattr(settings, "CSRF_USE_SESSIONS", False):
        prefixes.insert(1, "CSRF")
    found = []
    for prefix in prefixes:
        samesite = getattr(settings, f"{prefix}_COOKIE_SAMESITE", None)
        secure = getattr(settings, f"{prefix}_COOKIE_SECURE", False)
        if isinstance(samesite, str) and samesite.lower() == "none" and not secure:
            found.append(E108.message(obj=f"settings.{prefix}_COOKIE_SAMESITE", prefix=prefix))
    return found


@prodkit_check(I109)
def check_language_cookie_secure(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I109: the language cookie not Secure on an HTTPS site."""
    if (
        getattr(settings, "USE_I18N", True)
        and not getattr(settings, "LANGUAGE_COOKIE_SECURE", False)
        and serves_https()
    ):
        return [I109.message(obj="settings.LANGUAGE_COOKIE_SECURE")]
    return []


def _sources(value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        return value.split()
    try:
        return [str(item) for item in value]
    except TypeError:
        return [str(value)]


def csp_policies() -> Iterator[tuple[str, dict[str, list[str]], bool]]:
    """Yield (setting, directives, report-only) for each Content-Security-Policy the current
    settings send: Django's own (>= 6.0) and django-csp's (4.x)."""
    middleware = middleware_paths()
    if HAS_BUILTIN_CSP and _index(middleware, CSP) is not None:
        for name, report_only in (("SECURE_CSP", False), ("SECURE_CSP_REPORT_ONLY", True)):
            policy = getattr(settings, name, None)
            if isinstance(policy, dict) and policy:
                yield name, {str(k): _sources(v) for k, v in policy.items()}, report_only
    if _index(middleware, DJANGO_CSP_MIDDLEWARE) is not None:
        for name, report_only in (
            ("CONTENT_SECURITY_POLICY", False),
            ("CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
        ):
            policy = getattr(settings, name, None)
            if isinstance(policy, dict) and policy:
                directives = policy.get("DIRECTIVES") or {}
                # django-csp fills in default-src 'self' when a policy does not name it.
                parsed = {"default-src": ["'self'"]}
                parsed.update({str(k): _sources(v) for k, v in directives.items()})
                yield name, parsed, report_only


def _missing_csp_reason() -> str:
    configured = [
        name for name in ("SECURE_CSP", "SECURE_CSP_REPORT_ONLY") if getattr(settings, name, None)
    ]
    if configured and not HAS_BUILTIN_CSP:
        return f"{configured[0]} needs Django 6.0 or later"
    if configured:
        return f"{configured[0]} is set but ContentSecurityPolicyMiddleware is not in MIDDLEWARE"
    django_csp = [
        name
        for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
        if getattr(settings, name, None)
    ]
    if django_csp:
        return f"{django_csp[0]} is set but csp.middleware.CSPMiddleware is not in MIDDLEWARE"
    return "no policy is configured"


@prodkit_check(W110, I111)
def check_csp(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W110: no Content-Security-Policy; I111: only a report-only one."""
    policies = list(csp_policies())
    if not policies:
        if HAS_BUILTIN_CSP:
            how = (
                "Use security_settings(csp='report-only') (PRODKIT_CSP=report-only), which sets "
                "SECURE_CSP_REPORT_ONLY, with production_middleware(), which adds Django's "
                "ContentSecurityPolicyMiddleware; enforce it once the reports are clean."
            )
        else:
            how = (
                "Django 5.2 has no built-in CSP: add django-csp (csp.middleware.CSPMiddleware "
                "with CONTENT_SECURITY_POLICY), or upgrade to Django 6.0, where "
                "security_settings() configures Django's own."
            )
        return [W110.message(obj="settings.MIDDLEWARE", reason=_missing_csp_reason(), how=how)]
    if all(report_only for _, _, report_only in policies):
        return [I111.message(obj=f"settings.{policies[0][0]}", setting=policies[0][0])]
    return []


def _unsafe_script_sources(sources: Sequence[str]) -> list[str]:
    lowered = [source.lower() for source in sources]
    # With a nonce, a hash or 'strict-dynamic', CSP level 2+ browsers ignore 'unsafe-inline'.
    neutralised = any(
        "nonce" in source
        or source.startswith(("'sha256-", "'sha384-", "'sha512-"))
        or source == "'strict-dynamic'"
        for source in lowered
    )
    always_unsafe = ("'unsafe-eval'", *_ANY_SCRIPT_SOURCES)
    return [
        source
        for source in lowered
        if source in always_unsafe or (source == "'unsafe-inline'" and not neutralised)
    ]


@prodkit_check(W112)
def check_csp_script_sources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W112: a policy that lets unsafe scripts run."""
    found = []
    for name, directives, _ in csp_policies():
        directive = "script-src" if "script-src" in directives else "default-src"
        unsafe = _unsafe_script_sources(directives.get(directive, []))
        if unsafe:
            found.append(
                W112.message(
                    obj=f"settings.{name}",
                    setting=name,
                    sources=", ".join(unsafe),
                    directive=directive,
                )
            )
    return found


@prodkit_check(W113)
def check_referrer_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W113: a Referrer-Policy that sends full URLs to other sites."""
    value = getattr(settings, "SECURE_REFERRER_POLICY", None)
    policies = value.split(",") if isinstance(value, str) else _sources(value)
    policies = [policy.strip().lower() for policy in policies if policy.strip()]
    # Browsers apply the last policy they understand; earlier ones are fallbacks.
    if policies and policies[-1] in _WEAK_REFERRER_POLICIES:
        return [W113.message(obj="settings.SECURE_REFERRER_POLICY", policy=policies[-1])]
    return []


@prodkit_check(I114)
def check_cross_origin_opener_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I114: COOP unsafe-none."""
    if getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin") == "unsafe-none":
        return [I114.message(obj="settings.SECURE_CROSS_ORIGIN_OPENER_POLICY")]
    return []


def _proxy_known(where: Deployment) -> bool:
    return where.tls_proxy or bool(conf.PRODKIT_TRUSTED_PROXIES) or conf.PRODKIT_PROXY_HOPS > 0


@prodkit_check(W115, I116)
def check_forwarded_host_and_port(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W115/I116: X-Forwarded-Host/-Port believed with no proxy in front."""
    use_host = getattr(settings, "USE_X_FORWARDED_HOST", False)
    use_port = getattr(settings, "USE_X_FORWARDED_PORT", False)
    if not (use_host or use_port):
        return []
    where = deployment()
    if _proxy_known(where):
        return []
    found = []
    if use_host:
        found.append(
            W115.message(obj="settings.USE_X_FORWARDED_HOST", platform=where.platform.kind)
        )
    if use_port:
        found.append(
            I116.message(obj="settings.USE_X_FORWARDED_PORT", platform=where.platform.kind)
        )
    return found


def _network_problem(entry: str) -> tuple[str, bool]:
    """Return (what is wrong, is an error) for one PRODKIT_TRUSTED_PROXIES entry, or ("", False)."""
    if entry.strip() == "*":
        return f"entry {entry!r} trusts every address", True
    try:
        network = ipaddress.ip_network(entry.strip())
    except ValueError:
        return (
            f"entry {entry!r} is not an IP address or CIDR network (or has host bits set): "
            "TrustedProxyMiddleware fails on every request",
            True,
        )
    if network.prefixlen == 0:
        return f"entry {entry!r} trusts every address", True
    private = any(
        network.version == base.version and network.subnet_of(base)  # type: ignore[arg-type]
        for base in _PRIVATE_NETWORKS
    )
    if not private and network.prefixlen < MAX_PUBLIC_PREFIX[network.version]:
        return str(network), False
    return "", False


@prodkit_check(E117, W118)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E117: an entry that trusts everyone or cannot be parsed; W118: a wide public network."""
    value = getattr(settings, "PRODKIT_TRUSTED_PROXIES", ()) or ()
    obj = "settings.PRODKIT_TRUSTED_PROXIES"
    if isinstance(value, str):
        return [
            E117.message(
                obj=obj,
                reason=(
                    "is a string, not a list: each character is read as an address and "
                    "TrustedProxyMiddleware fails on every request"
                ),
            )
        ]
    found = []
    for entry in value:
        problem, error = _network_problem(str(entry))
        if error:
            found.append(E117.message(obj=obj, reason=problem))
        elif problem:
            network = ipaddress.ip_network(problem)
            found.append(W118.message(obj=obj, network=problem, size=f"{network.num_addresses:,}"))
    return found


@prodkit_check(W119)
def check_trusted_proxy_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W119: trusted proxies configured, TrustedProxyMiddleware missing."""
    if _index(middleware_paths(), TRUSTED_PROXY) is not None:
        return []
    if conf.PRODKIT_TRUSTED_PROXIES:
        setting = "PRODKIT_TRUSTED_PROXIES"
    elif conf.PRODKIT_PROXY_HOPS > 0:
        setting = "PRODKIT_PROXY_HOPS"
    else:
        return []
    return [W119.message(obj="settings.MIDDLEWARE", setting=setting)]


def _exempt(path: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        try:
            if re.search(str(pattern), path):
                return True
        except re.error:
            continue
    return False


@prodkit_check(W120)
def check_health_redirect(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W120: SECURE_SSL_REDIRECT applies to the health endpoints."""
    if not getattr(settings, "SECURE_SSL_REDIRECT", False):
        return []
    middleware = middleware_paths()
    security = _index(middleware, SECURITY)
    if security is None:
        return []
    health = _index(middleware, HEALTH)
    if health is not None and health < security:
        return []
    patterns = list(getattr(settings, "SECURE_REDIRECT_EXEMPT", []) or [])
    redirected = [f"/{path}" for path in _HEALTH_PATHS if not _exempt(path, patterns)]
    if not redirected:
        return []
    where = deployment()
    if _on_app_service(where):
        probe = (
            "App Service's health check requests them on each instance, does not follow "
            "redirects and counts anything but 2xx as a failure"
        )
        # Microsoft's Health check notes: a probe stuck on a redirect "can happen if you have
        # HTTPS redirect enabled but have HTTPS Only disabled".
        fix = (
            "Put HealthCheckMiddleware first (production_middleware() does), or exempt the paths "
            "(security_settings() sets SECURE_REDIRECT_EXEMPT). Or turn App Service's HTTPS Only "
            "on: Microsoft documents the probe meeting an app's own HTTPS redirect only while "
            "HTTPS Only is off."
        )
    elif where.tls_proxy:
        probe = (
            "the proxy's and the platform's probes reach the instance over plain HTTP and get a "
            "301 instead of the health answer"
        )
        fix = (
            "Put HealthCheckMiddleware before SecurityMiddleware (production_middleware() does) "
            "or exempt the paths (security_settings() sets SECURE_REDIRECT_EXEMPT). Behind a TLS "
            "proxy you can also let the proxy redirect HTTP to HTTPS and turn "
            "SECURE_SSL_REDIRECT off."
        )
    else:
        probe = (
            "a load balancer's plain-HTTP probe gets a 301 instead of the health answer "
            f"({where.platform.kind})"
        )
        fix = (
            "Put HealthCheckMiddleware before SecurityMiddleware (production_middleware() does), "
            "or exempt the paths: SECURE_REDIRECT_EXEMPT = [r'^healthz/?$', r'^readyz/?$'] "
            "(security_settings() sets it)."
        )
    return [
        W120.message(
            obj="settings.SECURE_REDIRECT_EXEMPT",
            paths=" and ".join(redirected),
            probe=probe,
            fix=fix,
        )
    ]
