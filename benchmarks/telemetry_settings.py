"""Settings for benchmarks/telemetry.py: every variant's, the tracing middleware one variable away.

benchmarks/server_settings.py's (``PRODKIT_BENCH_STACK`` picks the middleware stack: ``full``
or ``bare``) with ``ROOT_URLCONF`` pointing at benchmarks/telemetry_urls.py: the example's
URLs plus the trivial view ``/bench/ping/``.

``PRODKIT_BENCH_TRACER`` adds a tracing middleware to the stack: ``none`` (the default),
``prodkit`` or ``stock``. ``prodkit`` puts ``TelemetryMiddleware`` right after
``SecurityMiddleware``, where ``production_middleware()`` puts it relative to Django's: on
the bare stack, the telemetry variants differ from ``bare`` by that middleware alone.

``stock`` (the ``stock`` variant, on the bare stack) puts
opencensus-ext-django's ``OpencensusMiddleware`` first in ``MIDDLEWARE`` and writes
``OPENCENSUS`` as opencensus-ext-azure's documentation shows: every request sampled,
exported by ``AzureExporter`` to the connection string in
``APPLICATIONINSIGHTS_CONNECTION_STRING``.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from benchmarks.server_settings import *  # noqa: F403
from django_prodkit.settings.middleware import SECURITY, TELEMETRY

ROOT_URLCONF = "benchmarks.telemetry_urls"


_TRACER = os.environ.get("PRODKIT_BENCH_TRACER", "none")
if _TRACER not in ("none", "prodkit", "stock"):
    raise ImproperlyConfigured(
        f"PRODKIT_BENCH_TRACER must be none, prodkit or stock, got {_TRACER!r}."
    )

if _TRACER == "prodkit" and TELEMETRY not in MIDDLEWARE:  # noqa: F405
    _AT = MIDDLEWARE.index(SECURITY) + 1  # noqa: F405
    MIDDLEWARE = [*MIDDLEWARE[:_AT], TELEMETRY, *MIDDLEWARE[_AT:]]  # noqa: F405

if _TRACER == "stock":
    _CONNECTION_STRING = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "")
    if not _CONNECTION_STRING:
        raise ImproperlyConfigured(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is not set: with PRODKIT_BENCH_TRACER=stock "
            "the stock tracing exports to the collector it names."
        )
    MIDDLEWARE = ["opencensus.ext.django.middleware.OpencensusMiddleware", *MIDDLEWARE]
    OPENCENSUS = {
        "TRACE": {
            "SAMPLER": "opencensus.trace.samplers.ProbabilitySampler(rate=1.0)",
            "EXPORTER": "opencensus.ext.azure.trace_exporter.AzureExporter("
            f'connection_string="{_CONNECTION_STRING}")',
        }
    }
