"""Put prodkit's middleware into a project's ``MIDDLEWARE`` list in the right places."""

from __future__ import annotations

from collections.abc import Sequence

from django_prodkit.settings.security import HAS_BUILTIN_CSP

SECURITY = "django.middleware.security.SecurityMiddleware"
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
REQUEST_ID = "django_prodkit.middleware.RequestIdMiddleware"
CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"
# Django's docs: the cache-update middleware must run last on the response, so it stays first.
UPDATE_CACHE = "django.middleware.cache.UpdateCacheMiddleware"


def production_middleware(middleware: Sequence[str]) -> list[str]:
    """Return ``middleware`` with prodkit's additions in place; idempotent.

    ``SecurityMiddleware`` comes first (it redirects to HTTPS before anything runs), then the
    request id (so every later log line carries it), then whitenoise (static files answered
    before sessions and auth do any work), then on Django >= 6.0 the CSP middleware.
    """
    wanted = [SECURITY, REQUEST_ID, WHITENOISE, *([CSP] if HAS_BUILTIN_CSP else [])]
    first = [UPDATE_CACHE] if UPDATE_CACHE in middleware else []
    rest = [name for name in middleware if name not in wanted and name not in first]
    return [*first, *wanted, *rest]
