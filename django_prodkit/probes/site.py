"""Probes of a deployed site over HTTP(S): what ``prodcheck --url https://site/`` runs.

The settings checks read ``settings.py``; these ask the running site what it really does,
behind whatever proxy, CDN or platform front end is in the way: does it believe a spoofed
``X-Forwarded-Proto`` or ``X-Forwarded-For``, which security headers and cookie flags reach a
browser, are static files compressed and cached, do the health endpoints answer.

Every request goes to the host of the URL given, and nowhere else: redirects are inspected,
followed only within the same origin (scheme, host and port). The requests run concurrently,
each in a daemon thread with the timeout, so a run costs about one timeout (two when the page
answers and its static file is fetched after it). A site that does not answer gives
``prodkit.E170`` alone. The health token is sent only over HTTPS or to a loopback host, never
in clear text over a network, and appears in no message, nor does a cookie's value.

Each probe gives an ``Outcome`` (kind ``url``) whose ``ids`` are the checks it could judge: a
probe that could not judge anything (no token for the ``X-Forwarded-For`` probe, a page that
redirects to another host) has none. The ``judge_*`` functions do the judging on responses
already received; ``probe_site`` fetches and calls them.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from django.core.checks import CheckMessage

from django_prodkit.checks.registry import Check, Outcome, define
from django_prodkit.health import LIVENESS_PATH, READINESS_PATH
from django_prodkit.redact import redact_text, redact_url

E170 = Check(
    id="prodkit.E170",
    title="the site cannot be reached",
    msg="The site could not be reached at {url}: {reason}.",
    hint=(
        "Check the URL, that the site runs and that this machine can reach it (DNS, firewall, "
        "TLS certificate); no other URL check ran."
    ),
    why=(
        "Every other URL check needs an answer. A refused connection, a timeout or a "
        "certificate the client does not accept is also what visitors get."
    ),
    live=True,
)
E171 = Check(
    id="prodkit.E171",
    title="a spoofed X-Forwarded-Proto is believed",
    msg=(
        "A plain HTTP request to {url} is redirected to HTTPS, but the same request with "
        "'X-Forwarded-Proto: https' is served ({status}): SECURE_PROXY_SSL_HEADER trusts a "
        "header any client can send."
    ),
    hint=(
        "Set SECURE_PROXY_SSL_HEADER only behind a proxy that overwrites X-Forwarded-Proto on "
        "every request (PRODKIT_BEHIND_TLS_PROXY=true there and unset elsewhere: "
        "host_settings_from_env() reads it), and let clients reach the app only through it."
    ),
    why=(
        "Django then takes any request carrying the header for HTTPS: the HTTPS redirect is "
        "skipped, secure cookies are sent over plain HTTP, and `request.is_secure()` lies to "
        "the code that relies on it."
    ),
    live=True,
)
W172 = Check(
    id="prodkit.W172",
    title="plain HTTP is not redirected to HTTPS",
    msg=(
        "The plain HTTP address {url} answers {status} instead of redirecting to HTTPS "
        "(SECURE_SSL_REDIRECT)."
    ),
    hint=(
        "Set SECURE_SSL_REDIRECT = True (security_settings(https=True), the default of "
        "production_settings()), or redirect in the proxy in front."
    ),
    why=(
        "Visitors who type the bare domain or follow an old http:// link use the site "
        "unencrypted, and on a first visit never get the Strict-Transport-Security header that "
        "would protect the next ones."
    ),
    live=True,
)
I173 = Check(
    id="prodkit.I173",
    title="the site was probed over plain HTTP",
    msg=(
        "{url} was probed over plain HTTP: the HTTPS checks (HSTS, Secure cookies, the HTTPS "
        "redirect) are limited."
    ),
    hint="Run prodcheck --url with the site's https:// address to check them too.",
    why=(
        "Browsers ignore Strict-Transport-Security over plain HTTP and a cookie's Secure flag "
        "only matters on HTTPS: those probes can only be judged on the address visitors use."
    ),
    live=True,
)
E174 = Check(
    id="prodkit.E174",
    title="a spoofed X-Forwarded-For is believed",
    msg=(
        "The app at {url} takes the address a client wrote into X-Forwarded-For itself "
        "({spoofed}) for the client's: PRODKIT_PROXY_HOPS or PRODKIT_TRUSTED_PROXIES trust "
        "more than the proxies in front."
    ),
    hint=(
        "Set PRODKIT_PROXY_HOPS to the number of proxies that append to X-Forwarded-For, or "
        "list their addresses in PRODKIT_TRUSTED_PROXIES (trusted_proxies_from_env() reads "
        "both); with neither, REMOTE_ADDR is the client."
    ),
    why=(
        "Any client can then pose as any address: rate limits, IP allow lists, audit logs and "
        "login throttling act on a value the attacker chose."
    ),
    live=True,
)
W175 = Check(
    id="prodkit.W175",
    title="no Strict-Transport-Security header",
    msg="The HTTPS page {url} {problem} (SECURE_HSTS_SECONDS).",
    hint=(
        "Set SECURE_HSTS_SECONDS with SecurityMiddleware in MIDDLEWARE: security_settings() "
        "does, ramped up with PRODKIT_HSTS=5m, 1d, 1w... up to 1y; or add the header in the "
        "proxy."
    ),
    why=(
        "Without HSTS a browser sent to http:// (a typed domain, an old link, an attacker on "
        "the network) first talks plain HTTP, where the request can be intercepted before the "
        "redirect to HTTPS."
    ),
    live=True,
)
W176 = Check(
    id="prodkit.W176",
    title="no Content-Security-Policy header",
    msg="The page {url} sends no Content-Security-Policy header (SECURE_CSP).",
    hint=(
        "On Django 6.0+ set SECURE_CSP with ContentSecurityPolicyMiddleware: "
        "security_settings(csp=...) and production_middleware() do, starting with "
        "PRODKIT_CSP=report-only. On older Django, send the header from the proxy."
    ),
    why=(
        "A Content-Security-Policy is the browser's last line against cross-site scripting: "
        "with one, an injected script or a script from a foreign host does not run."
    ),
    live=True,
)
I177 = Check(
    id="prodkit.I177",
    title="the Content-Security-Policy only reports",
    msg=(
        "The page {url} sends only Content-Security-Policy-Report-Only: violations are "
        "reported, not blocked (SECURE_CSP_REPORT_ONLY)."
    ),
    hint=(
        "Once the reports are clean, enforce the policy: PRODKIT_CSP=enforce "
        "(security_settings(csp='enforce') sets SECURE_CSP)."
    ),
    why=(
        "prodkit starts the policy in report-only mode so that nothing breaks; it protects "
        "nobody until it is enforced."
    ),
    live=True,
)
W178 = Check(
    id="prodkit.W178",
    title="no X-Content-Type-Options: nosniff",
    msg=(
        "The page {url} sends no 'X-Content-Type-Options: nosniff' header "
        "(SECURE_CONTENT_TYPE_NOSNIFF)."
    ),
    hint=(
        "Set SECURE_CONTENT_TYPE_NOSNIFF = True with SecurityMiddleware in MIDDLEWARE: "
        "security_settings() and production_middleware() do both."
    ),
    why=(
        "Without it browsers may guess a response's type from its content: an uploaded file "
        "served as text can run as a script or a stylesheet."
    ),
    live=True,
)
W179 = Check(
    id="prodkit.W179",
    title="no Referrer-Policy, or a weak one",
    msg="The page {url} {problem} (SECURE_REFERRER_POLICY).",
    hint=(
        "Set SECURE_REFERRER_POLICY = 'same-origin' (security_settings() does) or "
        "'strict-origin-when-cross-origin', with SecurityMiddleware in MIDDLEWARE."
    ),
    why=(
        "Full URLs sent to other sites leak paths and query strings: password-reset links, "
        "search terms, internal IDs."
    ),
    live=True,
)
W180 = Check(
    id="prodkit.W180",
    title="a cookie lacks Secure, HttpOnly or SameSite",
    msg="The page {url} sets the cookie '{cookie}' without {missing}.",
    hint=(
        "Set SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE (HTTPS sites), "
        "SESSION_COOKIE_HTTPONLY and the *_COOKIE_SAMESITE settings: security_settings() sets "
        "them all."
    ),
    why=(
        "A cookie without Secure also travels over plain HTTP, where anyone on the path reads "
        "it; a session cookie without HttpOnly can be stolen by any injected script; without "
        "SameSite a cookie rides along on requests other sites make."
    ),
    live=True,
)
I181 = Check(
    id="prodkit.I181",
    title="the server tells its version",
    msg="The page's {header} header tells the server's version ('{value}').",
    hint=(
        "Hide the version in the server or proxy (nginx: server_tokens off; Apache: "
        "ServerTokens Prod; drop X-Powered-By)."
    ),
    why=(
        "A version number tells attackers which known vulnerabilities to try first; it helps "
        "nobody else."
    ),
    live=True,
)
I182 = Check(
    id="prodkit.I182",
    title="the page redirects to another address",
    msg=(
        "{url} redirects ({status}) to {location}: the page checks (headers, cookies, static "
        "files) did not run."
    ),
    hint=(
        "Run prodcheck --url with the address the redirect leads to; prodcheck follows no "
        "redirect to another scheme, host or port."
    ),
    why=(
        "prodcheck sends requests only to the host it was given, and the headers of a redirect "
        "are not those of the page visitors end up on."
    ),
    live=True,
)
W370 = Check(
    id="prodkit.W370",
    title="a static file is served uncompressed",
    msg=(
        "The static file {url} is served uncompressed to a client that accepts gzip and "
        "Brotli (STORAGES['staticfiles'])."
    ),
    hint=(
        "Serve static files with whitenoise's CompressedManifestStaticFilesStorage "
        "(local_storages(), the default of production_settings()) and run collectstatic, or "
        "turn on compression in the proxy or CDN."
    ),
    why=(
        "CSS and JavaScript shrink to a fraction of their size when compressed; uncompressed "
        "they cost every visitor bandwidth and time on a first visit."
    ),
    live=True,
)
W371 = Check(
    id="prodkit.W371",
    title="a hashed static file is not cached for long",
    msg=(
        "The static file {url} has a content hash in its name but is sent with {caching} "
        "(expected a max-age of a year, or immutable)."
    ),
    hint=(
        "Serve static files with whitenoise and a manifest storage (local_storages()), which "
        "marks hashed names immutable; in a proxy or CDN send 'Cache-Control: public, "
        "max-age=31536000, immutable' for them."
    ),
    why=(
        "A hashed name changes whenever the content does, so the file can be cached for good; "
        "a short lifetime makes every visitor fetch or revalidate it again and again."
    ),
    live=True,
)
E372 = Check(
    id="prodkit.E372",
    title="a static file the page uses is missing",
    msg="The static file {url}, used by the page, {problem} (STATIC_URL, STATIC_ROOT).",
    hint=(
        "Run 'manage.py collectstatic --noinput' on every deploy with STATIC_ROOT where the "
        "server reads it, and check STATIC_URL."
    ),
    why=(
        "The page then renders without its styles or scripts. With a manifest storage this "
        "usually means collectstatic did not run for this release."
    ),
    live=True,
)
E770 = Check(
    id="prodkit.E770",
    title="the liveness endpoint does not answer 200",
    msg="The liveness endpoint {url} {problem} (PRODKIT_HEALTH_CHECKS, MIDDLEWARE).",
    hint=(
        "Put django_prodkit.middleware.HealthCheckMiddleware first in MIDDLEWARE "
        "(production_middleware() does) and let the proxy pass /healthz and /readyz to the app."
    ),
    why=(
        "A platform whose health probe points there restarts the instance in a loop or never "
        "sends it traffic; a monitor on it raises false alarms."
    ),
    live=True,
)
W771 = Check(
    id="prodkit.W771",
    title="the site says it is not ready",
    msg="The readiness endpoint {url} {problem} (PRODKIT_HEALTH_CHECKS).",
    hint=(
        "Ask /readyz with the health token (prodcheck --url with PRODKIT_HEALTH_TOKEN) which "
        "dependency fails, and fix its settings (DATABASE_URL, CACHE_URL, STORAGES)."
    ),
    why=(
        "A load balancer sends no traffic to an instance that is not ready: if every instance "
        "answers 503, the site is down although its processes run."
    ),
    live=True,
)
define(
    E170, E171, W172, I173, E174, W175, W176, I177, W178, W179, W180, I181, I182,
    W370, W371, E372, E770, W771,
)  # fmt: skip

# TEST-NET-3 (RFC 5737): documentation only, so no real client or proxy ever has it.
SPOOFED_CLIENT = "203.0.113.77"

USER_AGENT = "django-prodkit-prodcheck"

# Enough of a page to find its first stylesheet or script; health answers are small JSON.
PAGE_LIMIT = 1024 * 1024
HEALTH_LIMIT = 64 * 1024

# Same-origin redirects the page request follows (/ -> /en/ -> /accounts/login/?next=/en/).
MAX_REDIRECTS = 3

# A hashed static file may be cached for a year (RFC 9111 leaves the maximum open; a year is
# what every CDN and whitenoise's immutable files use).
ONE_YEAR = 31_536_000

# Below this a missing Content-Encoding is no finding: compression would save next to nothing,
# and whitenoise keeps no compressed copy that is not at least 5% smaller.
COMPRESS_MIN_BYTES = 256

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ENCODINGS = frozenset({"gzip", "br", "zstd", "deflate"})
# A content hash in a file name: Django's manifest storage (site.3f2a1b9c8d7e.css), bundlers
# (main-3f2a1b9c.js, app_3f2a1b9c5d.mjs).
_HASHED_NAME = re.compile(r"[._-][0-9a-f]{8,64}\.[A-Za-z0-9]+$")
_TEXT_ASSET = re.compile(r"\.(css|m?js|svg|json|map|txt|xml|html?)$", re.IGNORECASE)
_TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
# A version in a Server or X-Powered-By value: "nginx/1.25.3", "Apache/2.4 (Debian)", "PHP/8".
_VERSION = re.compile(r"/\s*v?\d|\bv?\d+\.\d+")
_MAX_AGE = re.compile(r"(?:^|[,;\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
# Policies that send the full URL (path and query) to other sites.
_WEAK_REFERRER_POLICIES = frozenset({"unsafe-url", "no-referrer-when-downgrade"})
_SESSION_COOKIE = re.compile(r"sess", re.IGNORECASE)


@dataclass(frozen=True)
class Response:
    """One HTTP answer: the ``url`` asked, ``status``, ``headers`` in order (repeats kept),
    the first bytes of ``body`` read, and the ``seconds`` it took."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    seconds: float = 0.0

    def header_values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in order."""
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def header(self, name: str) -> str | None:
        """The header ``name``, repeats joined with ", " as HTTP allows; None when absent."""
        values = self.header_values(name)
        return ", ".join(values) if values else None

    @property
    def location(self) -> str | None:
        """The absolute address a redirect points to; None when this is no redirect."""
        location = self.header("Location")
        if self.status not in _REDIRECTS or not location:
            return None
        return urljoin(self.url, location.strip())


@dataclass(frozen=True)
class Failure:
    """A request that got no HTTP answer: the ``url`` asked and why, in words."""

    url: str
    reason: str
    seconds: float = 0.0


Result = Response | Failure


def probe_site(url: str, *, timeout: float, health_token: str | None = None) -> list[Outcome]:
    """Probe the site at ``url`` (http:// or https://) and return one ``Outcome`` per probe.

    Each request has ``timeout`` seconds. ``health_token`` (the site's
    ``PRODKIT_HEALTH_TOKEN``) lets the health endpoints say which client address the app
    believes, which the ``X-Forwarded-For`` probe needs; it is sent only over HTTPS or to a
    loopback host. Raises ``ValueError`` for a URL that is not an http(s) URL with a host.
    """
    target = _Target.parse(url)
    started = time.perf_counter()
    token = health_token if health_token and may_send_token(target.url) else None
    health_headers = {"Authorization": f"Bearer {token}"} if token else {}
    fetches = {
        "page": _Fetch(target.url, _PAGE_HEADERS, timeout=timeout, limit=PAGE_LIMIT, follow=True),
        "healthz": _Fetch(
            target.origin + LIVENESS_PATH,
            {**health_headers, **({"X-Forwarded-For": SPOOFED_CLIENT} if token else {})},
            timeout=timeout,
            limit=HEALTH_LIMIT,
        ),
        "readyz": _Fetch(
            target.origin + READINESS_PATH, health_headers, timeout=timeout, limit=HEALTH_LIMIT
        ),
        "spoofed": _Fetch(target.http_url, {"X-Forwarded-Proto": "https"}, timeout=timeout),
    }
    if target.https:
        fetches["plain"] = _Fetch(target.http_url, {}, timeout=timeout)
    _run(fetches.values(), timeout)

    page = fetches["page"]
    if isinstance(page.last, Failure):
        outcome = judge_reachable(page.last)
        outcome.seconds = time.perf_counter() - started
        return [outcome]

    first = page.responses[0]
    plain = fetches["plain"].last if target.https else first
    outcomes = [
        _timed(judge_reachable(page.last), page.seconds),
        _timed(
            judge_https_redirect(target.url, plain, fetches["spoofed"].last),
            max(fetches["spoofed"].seconds, fetches["plain"].seconds if target.https else 0),
        ),
        _timed(
            judge_forwarded_for(fetches["healthz"].last if token else None),
            fetches["healthz"].seconds,
        ),
        _timed(judge_page(page.responses), page.seconds),
    ]
    final = page.last if page.last.location is None else None
    for judge in (judge_hsts, judge_csp, judge_nosniff, judge_referrer_policy):
        outcomes.append(_timed(judge(final), page.seconds))
    outcomes.append(_timed(judge_cookies(page.responses if final else []), page.seconds))
    outcomes.append(_timed(judge_server_header(final), page.seconds))

    asset_url = find_asset(final) if final is not None else None
    asset: Result | None = None
    asset_seconds = 0.0
    if asset_url is not None:
        fetch = _Fetch(asset_url, _ASSET_HEADERS, timeout=timeout)
        _run([fetch], timeout)
        asset, asset_seconds = fetch.last, fetch.seconds
    outcomes.append(_timed(judge_static(asset), asset_seconds))
    outcomes.append(_timed(judge_liveness(fetches["healthz"].last), fetches["healthz"].seconds))
    outcomes.append(_timed(judge_readiness(fetches["readyz"].last), fetches["readyz"].seconds))
    return outcomes


def may_send_token(url: str) -> bool:
    """Return True when the health token may go to ``url``: over HTTPS, or to a loopback
    host. Over plain HTTP anyone on the path could read it."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and _is_loopback(parts.hostname or "")
    )


# --- judging: pure functions of responses already received ----------------------------------


def judge_reachable(page: Result) -> Outcome:
    """``url:reachable``: E170 when the page got no HTTP answer."""
    messages = []
    if isinstance(page, Failure):
        messages.append(
            E170.message(obj=redact_url(page.url), url=redact_url(page.url), reason=page.reason)
        )
    return _outcome("reachable", (E170,), messages)


def judge_https_redirect(url: str, plain: Result | None, spoofed: Result | None) -> Outcome:
    """``url:https-redirect``: is plain HTTP sent to HTTPS (W172), even when the request
    claims ``X-Forwarded-Proto: https`` (E171)? For an http:// ``url``, I173.

    ``plain`` and ``spoofed`` are the answers to the http:// form of ``url``, without and
    with the spoofed header; a ``Failure`` (nothing listens on port 80) judges nothing.
    """
    http_only = urlsplit(url).scheme == "http"
    specs: list[Check] = []
    messages: list[CheckMessage] = []
    if isinstance(plain, Response):
        redirected = _to_https(plain)
        if redirected and isinstance(spoofed, Response):
            specs.append(E171)
            if not _to_https(spoofed):
                messages.append(
                    E171.message(
                        obj=redact_url(spoofed.url),
                        url=redact_url(spoofed.url),
                        status=spoofed.status,
                    )
                )
        if not http_only:
            specs.append(W172)
            if not redirected:
                messages.append(
                    W172.message(
                        obj=redact_url(plain.url), url=redact_url(plain.url), status=_status(plain)
                    )
                )
    if http_only:
        specs.append(I173)
        messages.append(I173.message(obj=redact_url(url), url=redact_url(url)))
    return _outcome("https-redirect", specs, messages)


def judge_forwarded_for(healthz: Result | None) -> Outcome:
    """``url:forwarded-for``: E174 when the app took the spoofed ``X-Forwarded-For`` entry
    for the client. ``healthz`` is the answer to an authorized ``/healthz`` carrying it (None:
    no token); an answer without ``client`` judges nothing."""
    client = _json(healthz).get("client") if isinstance(healthz, Response) else None
    if not isinstance(client, str) or healthz is None:
        return _outcome("forwarded-for", (), [])
    messages = []
    if client.strip() == SPOOFED_CLIENT:
        messages.append(
            E174.message(
                obj=redact_url(healthz.url), url=redact_url(healthz.url), spoofed=SPOOFED_CLIENT
            )
        )
    return _outcome("forwarded-for", (E174,), messages)


def judge_page(responses: Sequence[Response]) -> Outcome:
    """``url:page``: I182 when the page redirects where prodcheck does not follow (another
    scheme, host or port), except plain HTTP sent to HTTPS on the same host, which I173
    already covers."""
    if not responses:
        return _outcome("page", (), [])
    last = responses[-1]
    location = last.location
    messages = []
    if (
        location is not None
        and _origin(location) != _origin(last.url)
        and not _https_upgrade(last.url, location)
    ):
        messages.append(
            I182.message(
                obj=redact_url(last.url),
                url=redact_url(last.url),
                status=last.status,
                location=redact_url(location),
            )
        )
    return _outcome("page", (I182,), messages)


def judge_hsts(page: Response | None) -> Outcome:
    """``url:hsts``: W175 when an HTTPS page has no ``Strict-Transport-Security`` (or
    ``max-age=0``). Over plain HTTP, where browsers ignore it, nothing is judged."""
    if page is None or urlsplit(page.url).scheme != "https":
        return _outcome("hsts", (), [])
    value = page.header("Strict-Transport-Security")
    match = _MAX_AGE.search(value) if value else None
    problem = None
    if value is None:
        problem = "sends no Strict-Transport-Security header"
    elif match is None:
        problem = "sends Strict-Transport-Security without a max-age, which browsers ignore"
    elif int(match[1]) == 0:
        problem = "sends Strict-Transport-Security with max-age=0, which turns HSTS off"
    return _page_outcome("hsts", W175, page, problem=problem)


def judge_csp(page: Response | None) -> Outcome:
    """``url:csp``: W176 when the page has no Content-Security-Policy, I177 when it only
    reports."""
    if page is None:
        return _outcome("csp", (), [])
    messages = []
    if not (page.header("Content-Security-Policy") or "").strip():
        spec = I177 if (page.header("Content-Security-Policy-Report-Only") or "").strip() else W176
        messages.append(spec.message(obj=redact_url(page.url), url=redact_url(page.url)))
    return _outcome("csp", (W176, I177), messages)


def judge_nosniff(page: Response | None) -> Outcome:
    """``url:nosniff``: W178 without ``X-Content-Type-Options: nosniff``."""
    if page is None:
        return _outcome("nosniff", (), [])
    ok = (page.header("X-Content-Type-Options") or "").strip().lower() == "nosniff"
    return _page_outcome("nosniff", W178, page, problem=None if ok else "missing")


def judge_referrer_policy(page: Response | None) -> Outcome:
    """``url:referrer-policy``: W179 without a Referrer-Policy, or with one that sends full
    URLs to other sites. Of several values the last one the browser knows counts."""
    if page is None:
        return _outcome("referrer-policy", (), [])
    value = page.header("Referrer-Policy")
    known = [
        token
        for token in (part.strip().lower() for part in (value or "").split(","))
        if token in _REFERRER_POLICIES
    ]
    problem = None
    if not known:
        problem = (
            "sends no Referrer-Policy header"
            if value is None
            else "sends no Referrer-Policy a browser knows"
        )
    elif known[-1] in _WEAK_REFERRER_POLICIES:
        problem = f"sends Referrer-Policy '{known[-1]}', which gives full URLs to other sites"
    return _page_outcome("referrer-policy", W179, page, problem=problem)


def judge_cookies(responses: Sequence[Response]) -> Outcome:
    """``url:cookies``: W180 for each cookie set without ``Secure`` (on HTTPS), ``HttpOnly``
    (a session cookie) or ``SameSite``. Deleted cookies and cookie values are ignored."""
    messages = []
    seen: set[str] = set()
    for response in responses:
        secure_site = urlsplit(response.url).scheme == "https"
        for header in response.header_values("Set-Cookie"):
            name, attributes = _parse_cookie(header)
            if not name or name in seen or _deleted(attributes):
                continue
            seen.add(name)
            missing = []
            if secure_site and "secure" not in attributes:
                missing.append("Secure")
            if "httponly" not in attributes and _is_session_cookie(name):
                missing.append("HttpOnly")
            if not attributes.get("samesite"):
                missing.append("SameSite")
            if missing:
                messages.append(
                    W180.message(
                        obj=redact_url(response.url),
                        url=redact_url(response.url),
                        cookie=name,
                        missing=" or ".join(missing),
                    )
                )
    return _outcome("cookies", (W180,) if responses else (), messages)


def judge_server_header(page: Response | None) -> Outcome:
    """``url:server-header``: I181 when ``Server`` or ``X-Powered-By`` carries a version."""
    if page is None:
        return _outcome("server-header", (), [])
    messages = []
    for header in ("Server", "X-Powered-By"):
        value = page.header(header)
        if value and _VERSION.search(value):
            messages.append(
                I181.message(obj=redact_url(page.url), header=header, value=_clip(value))
            )
    return _outcome("server-header", (I181,), messages)


def judge_static(asset: Result | None) -> Outcome:
    """``url:static``: E372 when the page's static file does not answer, W370 when a text
    file is not compressed, W371 when a hashed name is not cached for long. None (no static
    file found in the page) judges nothing."""
    if asset is None:
        return _outcome("static", (), [])
    obj = url = redact_url(asset.url)
    if isinstance(asset, Failure):
        return _outcome(
            "static",
            (E372,),
            [E372.message(obj=obj, url=url, problem=f"could not be fetched: {asset.reason}")],
        )
    if asset.status >= 400:
        problem = f"answers {asset.status}"
        return _outcome("static", (E372,), [E372.message(obj=obj, url=url, problem=problem)])
    if asset.status >= 300:
        return _outcome("static", (E372,), [])
    messages = []
    if _is_text(asset) and not _compressed(asset) and _size(asset) >= COMPRESS_MIN_BYTES:
        messages.append(W370.message(obj=obj, url=url))
    if _HASHED_NAME.search(urlsplit(asset.url).path) and not _cached_long(asset):
        cache_control = asset.header("Cache-Control")
        caching = (
            f"'Cache-Control: {_clip(cache_control)}'"
            if cache_control
            else "no Cache-Control header"
        )
        messages.append(W371.message(obj=obj, url=url, caching=caching))
    return _outcome("static", (W370, W371, E372), messages)


def judge_liveness(healthz: Result) -> Outcome:
    """``url:healthz``: E770 unless ``/healthz`` answers 200."""
    problem = None
    if isinstance(healthz, Failure):
        problem = f"could not be reached: {healthz.reason}"
    elif healthz.status != 200:
        problem = f"answers {_status(healthz)}"
    return _page_outcome("healthz", E770, healthz, problem=problem)


def judge_readiness(readyz: Result) -> Outcome:
    """``url:readyz``: W771 unless ``/readyz`` answers 200; with the token the failing
    dependencies are named."""
    problem = None
    if isinstance(readyz, Failure):
        problem = f"could not be reached: {readyz.reason}"
    elif readyz.status != 200:
        checks = _json(readyz).get("checks")
        failing = (
            [
                f"{name} ({detail.get('error', 'unavailable')})"
                for name, detail in checks.items()
                if isinstance(detail, dict)
                and detail.get("status") != "ok"
                and detail.get("required", True)
            ]
            if isinstance(checks, dict)
            else []
        )
        problem = f"answers {_status(readyz)}"
        if failing:
            problem += f"; failing: {_clip(', '.join(failing))}"
    return _page_outcome("readyz", W771, readyz, problem=problem)


def find_asset(page: Response) -> str | None:
    """The absolute URL of one stylesheet or script the HTML ``page`` uses on its own origin:
    a hashed name first, stylesheets before scripts. None when there is none."""
    if "html" not in (page.header("Content-Type") or "text/html").lower():
        return None
    body = page.body
    if (page.header("Content-Encoding") or "").strip().lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return None
    finder = _AssetFinder()
    with contextlib.suppress(Exception):  # a broken page yields what was found before it
        finder.feed(body.decode("utf-8", errors="replace"))
        finder.close()
    origin = _origin(page.url)
    candidates = [
        absolute
        for src in [*finder.stylesheets, *finder.scripts]
        if _origin(absolute := urljoin(page.url, src.strip())) == origin
    ]
    hashed = [c for c in candidates if _HASHED_NAME.search(urlsplit(c).path)]
    found = hashed or candidates
    return found[0] if found else None


# --- requests ---------------------------------------------------------------------------------

_PAGE_HEADERS = {
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    # The HTML is read to find a static file: ask for it uncompressed.
    "Accept-Encoding": "identity",
}
_ASSET_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, br"}
# RFC 3986 characters a path may hold as they are ("%" keeps escapes already made).
_PATH_SAFE = "/%:@!$&'()*+,;=~"
# Time for a request that hit its socket timeout to report it before the run cuts it.
_GRACE = 0.25


@dataclass(frozen=True)
class _Target:
    url: str
    origin: str
    http_url: str
    https: bool

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                f"{redact_url(url)} is not a URL prodcheck can probe: expected a form like "
                "https://www.example.com/."
            )
        host = parts.hostname
        netloc = _netloc(host, parts.port)
        path = parts.path or "/"
        # Without user info (never sent) or fragment (never sent either).
        page = urlunsplit((parts.scheme, netloc, path, parts.query, ""))
        if parts.scheme == "https":
            # The http:// form a visitor reaches by typing the name: the same host, port 80.
            http_url = urlunsplit(("http", _netloc(host, None), path, parts.query, ""))
        else:
            http_url = page
        return cls(
            url=page,
            origin=f"{parts.scheme}://{netloc}",
            http_url=http_url,
            https=parts.scheme == "https",
        )


@dataclass
class _Fetch:
    """GETs ``url`` in a daemon thread (following same-origin redirects with ``follow``);
    ``cut()`` ends it from another thread once the run's time is up."""

    url: str
    headers: dict[str, str]
    timeout: float
    limit: int = 0
    follow: bool = False
    responses: list[Response] = field(default_factory=list)
    failure: Failure | None = None
    done: bool = False
    _cut: bool = False
    _connection: http.client.HTTPConnection | None = None
    _thread: threading.Thread | None = None

    @property
    def last(self) -> Result:
        """The last answer, or the failure that ended the fetch."""
        if self.failure is not None or not self.responses:
            return self.failure or Failure(self.url, "not fetched")
        return self.responses[-1]

    @property
    def seconds(self) -> float:
        """Seconds the answers (or the failure) took."""
        return sum(r.seconds for r in self.responses) + (
            self.failure.seconds if self.failure else 0
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prodkit-probe", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(max(timeout, 0.0))

    def cut(self) -> None:
        """Stop the fetch: its socket is shut, which wakes a thread blocked reading it."""
        self._cut = True
        connection = self._connection
        sock = connection.sock if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        url = self.url
        try:
            for _ in range(1 + (MAX_REDIRECTS if self.follow else 0)):
                result = self._get(url)
                if isinstance(result, Failure):
                    self.failure = result
                    return
                self.responses.append(result)
                location = result.location
                if not self.follow or location is None or _origin(location) != _origin(url):
                    return
                url = location
        finally:
            self.done = True

    def _get(self, url: str) -> Result:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            # A fresh default context: the system's CAs (and SSL_CERT_FILE), hostname checked.
            context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        started = time.perf_counter()
        self._connection = connection
        try:
            if self._cut:
                raise TimeoutError
            # A space or a non-ASCII letter in the URL given must not make the request invalid.
            path = quote(parts.path or "/", safe=_PATH_SAFE)
            if parts.query:
                path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
            connection.request(
                "GET",
                path,
                headers={"User-Agent": USER_AGENT, "Connection": "close", **self.headers},
            )
            answer = connection.getresponse()
            body = answer.read(self.limit) if self.limit else b""
            return Response(
                url=url,
                status=answer.status,
                headers=tuple(answer.getheaders()),
                body=body,
                seconds=time.perf_counter() - started,
            )
        except Exception as exc:  # every way a request can fail becomes a reason in words
            reason = (
                f"no answer within {self.timeout:g} s" if self._cut else _reason(exc, self.timeout)
            )
            return Failure(url, reason, time.perf_counter() - started)
        finally:
            connection.close()


def _run(fetches: Iterable[_Fetch], timeout: float) -> None:
    """Run ``fetches`` concurrently; cut those still running one timeout later."""
    jobs = list(fetches)
    deadline = time.monotonic() + timeout + _GRACE
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(deadline - time.monotonic())
    late = [job for job in jobs if not job.done]
    for job in late:
        job.cut()
    for job in late:
        job.join(_GRACE)
        if not job.done:
            job.failure = Failure(job.url, f"no answer within {timeout:g} s", timeout)


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "the connection was closed without an answer"
    if isinstance(exc, http.client.HTTPException):
        return f"the answer is not valid HTTP ({type(exc).__name__})"
    detail = getattr(exc, "strerror", None) or str(exc)
    return redact_text(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


class _AssetFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link" and "stylesheet" in values.get("rel", "").lower().split():
            if values.get("href"):
                self.stylesheets.append(values["href"])
        elif tag == "script" and values.get("src"):
            self.scripts.append(values["src"])


# --- small helpers ----------------------------------------------------------------------------


def _outcome(name: str, specs: Sequence[Check], messages: list[CheckMessage]) -> Outcome:
    return Outcome(f"url:{name}", tuple(spec.id for spec in specs), messages, kind="url")


def _page_outcome(name: str, spec: Check, response: Result, *, problem: str | None) -> Outcome:
    messages = []
    if problem is not None:
        messages.append(
            spec.message(
                obj=redact_url(response.url), url=redact_url(response.url), problem=problem
            )
        )
    return _outcome(name, (spec,), messages)


def _timed(outcome: Outcome, seconds: float) -> Outcome:
    outcome.seconds = seconds
    return outcome


def _clip(value: str, limit: int = 80) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _status(response: Response) -> str:
    location = response.location
    return f"{response.status} to {redact_url(location)}" if location else str(response.status)


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return (parts.scheme, parts.hostname.lower(), port or default)


def _to_https(response: Response) -> bool:
    location = response.location
    return location is not None and urlsplit(location).scheme == "https"


def _https_upgrade(url: str, location: str) -> bool:
    source, target = urlsplit(url), urlsplit(location)
    return (
        source.scheme == "http"
        and target.scheme == "https"
        and (source.hostname or "").lower() == (target.hostname or "").lower()
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json(response: Response) -> dict[str, object]:
    try:
        data = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _parse_cookie(header: str) -> tuple[str, dict[str, str]]:
    """A Set-Cookie value's name and attributes (lower-cased names); the value is dropped."""
    first, *rest = header.split(";")
    name = first.partition("=")[0].strip()
    attributes = {}
    for part in rest:
        key, _, value = part.partition("=")
        attributes[key.strip().lower()] = value.strip()
    return name, attributes


def _deleted(attributes: dict[str, str]) -> bool:
    if attributes.get("max-age", "").lstrip("-").isdigit() and int(attributes["max-age"]) <= 0:
        return True
    return "1970" in attributes.get("expires", "")


def _is_session_cookie(name: str) -> bool:
    return bool(_SESSION_COOKIE.search(name))


def _is_text(response: Response) -> bool:
    content_type = (response.header("Content-Type") or "").lower()
    return content_type.startswith(_TEXT_TYPES) or bool(
        _TEXT_ASSET.search(urlsplit(response.url).path)
    )


def _compressed(response: Response) -> bool:
    encodings = (response.header("Content-Encoding") or "").lower().replace(" ", "").split(",")
    return any(encoding in _ENCODINGS for encoding in encodings)


def _size(response: Response) -> int:
    length = response.header("Content-Length")
    # Unknown (chunked): large enough to matter.
    return int(length) if length and length.strip().isdigit() else COMPRESS_MIN_BYTES


def _cached_long(response: Response) -> bool:
    cache_control = response.header("Cache-Control") or ""
    directives = {part.strip().lower().partition("=")[0] for part in cache_control.split(",")}
    if "immutable" in directives:
        return True
    match = _MAX_AGE.search(cache_control)
    return match is not None and int(match[1]) >= ONE_YEAR
