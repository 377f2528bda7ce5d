"""Settings for benchmarks/server.py: the example project's, with the middleware stack switched.

``PRODKIT_BENCH_STACK`` picks the stack: ``full`` (the example's own, prodkit's
``production_middleware``: unchanged), ``bare`` (the same project without prodkit's
middleware: Django's SecurityMiddleware and the example's own list, i.e. Django's default
stack, the floor the full stack is compared with), or ``servestatic`` (the full stack with
servestatic's ASGI-capable middleware in whitenoise's place).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.settings.middleware import SECURITY, WHITENOISE, production_middleware
from example_project.settings import *  # noqa: F403

SERVESTATIC = "servestatic.middleware.ServeStaticMiddleware"
_STACK = os.environ.get("PRODKIT_BENCH_STACK", "full")

if _STACK == "bare":
    _PRODKIT = set(production_middleware([])) - {SECURITY}
    MIDDLEWARE = [name for name in MIDDLEWARE if name not in _PRODKIT]  # noqa: F405
elif _STACK == "servestatic":
    MIDDLEWARE = [SERVESTATIC if name == WHITENOISE else name for name in MIDDLEWARE]
elif _STACK != "full":
    raise ImproperlyConfigured(
        f"PRODKIT_BENCH_STACK must be full, bare or servestatic, got {_STACK!r}."
    )
