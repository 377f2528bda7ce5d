"""Settings for benchmarks/telemetry.py: every variant's, stock tracing one variable away.

benchmarks/server_settings.py's (``PRODKIT_BENCH_STACK`` picks the middleware stack: ``full``
or ``bare``) with ``ROOT_URLCONF`` pointing at benchmarks/telemetry_urls.py: the example's
URLs plus the trivial view ``/bench/ping/``.

``PRODKIT_BENCH_TELEMETRY=true`` puts prodkit's ``TelemetryMiddleware`` right after
``SecurityMiddleware``, where ``production_middleware()`` puts it relative to Django's: on
the bare stack, the telemetry variants differ from ``bare`` by that middleware alone.

``PRODKIT_BENCH_STOCK=true`` (the ``stock`` variant, on the bare stack) puts
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


def _switch(name: str) -> bool:
    value = os.environ.get(name, "false")
    if value not in ("true", "false"):
        raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}.")
    return value == "true"


if _switch("PRODKIT_BENCH_TELEMETRY") and TELEMETRY not in MIDDLEWARE:  # noqa: F405
    _AT = MIDDLEWARE.index(SECURITY) + 1  # noqa: F405
    MIDDLEWARE = [*MIDDLEWARE[:_AT], TELEMETRY, *MIDDLEWARE[_AT:]]  # noqa: F405

if _switch("PRODKIT_BENCH_STOCK"):
    _CONNECTION_STRING = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "")
    if not _CONNECTION_STRING:
        raise ImproperlyConfigured(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is not set: with PRODKIT_BENCH_STOCK=true "
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
