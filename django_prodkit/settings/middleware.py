"""Put prodkit's middleware into a project's ``MIDDLEWARE`` list in the right places."""

from __future__ import annotations

from collections.abc import Sequence

from django_prodkit.settings.security import HAS_BUILTIN_CSP

HEALTH = "django_prodkit.middleware.HealthCheckMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
TRUSTED_PROXY = "django_prodkit.middleware.TrustedProxyMiddleware"
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
REQUEST_ID = "django_prodkit.middleware.RequestIdMiddleware"
CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"
# Django's docs: the cache-update middleware must run last on the response, so it stays first.
# Health answers pass it unstored: it only stores what FetchFromCacheMiddleware (last in the
# list, never reached by them) marked, and they say Cache-Control: no-store besides.
TELEMETRY = "django_prodkit.telemetry.middleware.TelemetryMiddleware"
UPDATE_CACHE = "django.middleware.cache.UpdateCacheMiddleware"


def production_middleware(middleware: Sequence[str]) -> list[str]:
    """Return ``middleware`` with prodkit's additions in place; idempotent.

    The health endpoints come first: the platform's probe uses the instance's internal
    address and plain HTTP, which host validation and the HTTPS redirect would refuse.
    Then ``SecurityMiddleware`` (it redirects to HTTPS before anything else runs), the
    trusted-proxy middleware (so the request id, every log line and every later middleware
    see the client's address, not the proxy's), the request id (so every later log line
    carries it), whitenoise (static files answered before sessions and auth do any work),
    on Django >= 6.0 the CSP middleware, then telemetry (after whitenoise, so static files
    cost it nothing; it removes itself when ``PRODKIT_TELEMETRY_BACKEND`` is off).
    """
    wanted = [
        HEALTH,
        SECURITY,
        TRUSTED_PROXY,
        REQUEST_ID,
        WHITENOISE,
        *([CSP] if HAS_BUILTIN_CSP else []),
        TELEMETRY,
    ]
    first = [UPDATE_CACHE] if UPDATE_CACHE in middleware else []
    rest = [name for name in middleware if name not in wanted and name not in first]
    return [*first, *wanted, *rest]
