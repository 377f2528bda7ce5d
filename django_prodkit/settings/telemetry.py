"""Telemetry settings: which backend sends request telemetry where, read from the environment.

``APPLICATIONINSIGHTS_CONNECTION_STRING`` (the variable every Application Insights SDK and App
Service itself use) names the resource; ``PRODKIT_TELEMETRY_BACKEND`` picks the code that sends
to it. Nothing here imports a telemetry SDK.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env
from django_prodkit.settings.platform import Platform, detect_platform

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
BACKENDS = ("off", "console", "azure", "opencensus", "opentelemetry")
# The backends that send to Application Insights and so need a connection string.
AZURE_BACKENDS = ("azure", "opencensus", "opentelemetry")
DEFAULT_INGESTION_ENDPOINT = "https://dc.services.visualstudio.com/"
# The Application Insights JavaScript SDK on Microsoft's CDN; a site with a strict CSP serves
# its own copy (npm @microsoft/applicationinsights-web, browser/es5/ai.3.gbl.min.js).
DEFAULT_BROWSER_SDK_URL = "https://js.monitor.azure.com/scripts/b/ai.3.gbl.min.js"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "OFF")

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def connection_string_fields(value: str) -> dict[str, str]:
    """Return a connection string's ``KEY=VALUE`` parts, keys lowercased (the SDKs ignore case)."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, item = part.partition("=")
        if sep:
            fields[key.strip().lower()] = item.strip()
    return fields


def connection_string_problems(value: str) -> list[str]:
    """Return what is wrong with an Application Insights connection string, never quoting it.

    Each problem is a phrase that follows the variable's name: ``has no InstrumentationKey``.
    Endpoints must be https, but for a collector on loopback (tests, a local agent).
    """
    text = value.strip()
    if text[:1] in {'"', "'"} or text[-1:] in {'"', "'"}:
        return ["is wrapped in quotes"]
    problems = []
    if any(part.strip() and "=" not in part for part in text.split(";")):
        problems.append("has a part that is not KEY=VALUE")
    pairs = connection_string_fields(text)
    key = pairs.get("instrumentationkey", "")
    if not key:
        problems.append("has no InstrumentationKey")
    elif not _GUID.fullmatch(key):
        problems.append("has an InstrumentationKey that is not a GUID")
    for article, name in (("an", "IngestionEndpoint"), ("a", "LiveEndpoint")):
        endpoint = pairs.get(name.lower())
        if endpoint is not None and not _good_endpoint(endpoint):
            problems.append(f"has {article} {name} that is not an https:// URL")
    return problems


def _good_endpoint(endpoint: str) -> bool:
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)


def ingestion_endpoint(connection_string: str) -> str:
    """Return the ingestion endpoint an Application Insights connection string names.

    ``IngestionEndpoint`` when given; else one built from ``EndpointSuffix`` (and
    ``Location``), as the SDKs do; else the global default.
    """
    fields = connection_string_fields(connection_string)
    if fields.get("ingestionendpoint"):
        return fields["ingestionendpoint"]
    suffix = fields.get("endpointsuffix", "").strip(".")
    if suffix:
        location = fields.get("location", "").strip(".")
        return f"https://{location + '.' if location else ''}dc.{suffix}/"
    return DEFAULT_INGESTION_ENDPOINT


def browser_telemetry_origin(settings: dict[str, Any]) -> str | None:
    """The origin the browser SDK sends to (``scheme://host[:port]``), for the CSP's
    ``connect-src``; None when ``settings`` (``telemetry_settings()``) send nowhere."""
    connection_string = settings.get("PRODKIT_TELEMETRY_CONNECTION_STRING")
    if settings.get("PRODKIT_TELEMETRY_BACKEND") not in AZURE_BACKENDS or not connection_string:
        return None
    parts = urlsplit(ingestion_endpoint(connection_string))
    return f"{parts.scheme}://{parts.netloc}"


def telemetry_settings(
    *,
    backend: str = "off",
    connection_string: str | None = None,
    sample_rate: float = 1.0,
    exclude: tuple[str, ...] | list[str] | None = None,
    log_level: str = "WARNING",
    user_id: bool = False,
    role_name: str | None = None,
    role_instance: str | None = None,
    browser_sdk_url: str = DEFAULT_BROWSER_SDK_URL,
    queue_size: int = 8192,
    export_interval: float = 5.0,
    send_timeout: float = 10.0,
    retries: int = 3,
    exit_timeout: float = 5.0,
    storage_path: str | None = None,
) -> dict[str, Any]:
    """Return the ``PRODKIT_TELEMETRY_*`` settings ``TelemetryMiddleware`` reads.

    ``backend``: ``off`` (nothing imported, nothing sent), ``console`` (one JSON line per
    item on stdout, for development), ``azure`` (prodkit's own Application Insights exporter),
    ``opencensus`` (opencensus-ext-azure's ``AzureExporter``) or ``opentelemetry``
    (azure-monitor-opentelemetry). ``exclude`` replaces the default exclusions (the health
    endpoints, ``STATIC_URL`` and ``MEDIA_URL``): ``/exact``, ``/prefix/*`` or ``^regex``.
    A malformed connection string does not stop the site (telemetry never should): check
    ``prodkit.E603`` reports it, and what cannot be delivered is dropped and counted.
    The exporter holds at most ``queue_size`` items, sends every ``export_interval`` seconds,
    gives a send ``send_timeout`` seconds and ``retries`` more tries, and waits at most
    ``exit_timeout`` seconds at process exit. ``storage_path`` lets the SDK backends keep
    unsent items on disk; without it nothing is written.
    """
    if backend not in BACKENDS:
        raise ImproperlyConfigured(
            f"PRODKIT_TELEMETRY_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}."
        )
    if backend in AZURE_BACKENDS and not connection_string:
        raise ImproperlyConfigured(
            f"PRODKIT_TELEMETRY_BACKEND={backend} sends to Application Insights but "
            f"{CONNECTION_STRING} is not set. Set it to the resource's connection string, "
            "or set PRODKIT_TELEMETRY_BACKEND=off."
        )
    if not 0.0 <= sample_rate <= 1.0:
        raise ImproperlyConfigured(
            f"PRODKIT_TELEMETRY_SAMPLE_RATE must be between 0.0 and 1.0, got {sample_rate!r}."
        )
    if log_level.upper() not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"PRODKIT_TELEMETRY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
            f"got {log_level!r}."
        )
    for entry in exclude or ():
        if entry.startswith("^"):
            try:
                re.compile(entry)
            except re.error as exc:
                raise ImproperlyConfigured(
                    f"PRODKIT_TELEMETRY_EXCLUDE entry {entry!r} is not a regular expression: {exc}."
                ) from None
        elif not entry.startswith("/"):
            raise ImproperlyConfigured(
                f"PRODKIT_TELEMETRY_EXCLUDE entry {entry!r} must start with / (a path or a "
                "prefix ending in *) or ^ (a regular expression)."
            )
    return {
        "PRODKIT_TELEMETRY_BACKEND": backend,
        "PRODKIT_TELEMETRY_CONNECTION_STRING": connection_string,
        "PRODKIT_TELEMETRY_SAMPLE_RATE": sample_rate,
        "PRODKIT_TELEMETRY_EXCLUDE": None if exclude is None else tuple(exclude),
        "PRODKIT_TELEMETRY_LOG_LEVEL": log_level.upper(),
        "PRODKIT_TELEMETRY_USER_ID": user_id,
        "PRODKIT_TELEMETRY_ROLE_NAME": role_name,
        "PRODKIT_TELEMETRY_ROLE_INSTANCE": role_instance,
        "PRODKIT_TELEMETRY_BROWSER_SDK_URL": browser_sdk_url,
        "PRODKIT_TELEMETRY_QUEUE_SIZE": queue_size,
        "PRODKIT_TELEMETRY_EXPORT_INTERVAL": export_interval,
        "PRODKIT_TELEMETRY_SEND_TIMEOUT": send_timeout,
        "PRODKIT_TELEMETRY_RETRIES": retries,
        "PRODKIT_TELEMETRY_EXIT_TIMEOUT": exit_timeout,
        "PRODKIT_TELEMETRY_STORAGE_PATH": storage_path,
    }


def telemetry_from_env(
    env: Env | None = None, *, platform: Platform | None = None
) -> dict[str, Any]:
    """Return ``telemetry_settings()`` from the environment.

    ``PRODKIT_TELEMETRY_BACKEND`` defaults to ``azure`` when
    ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set and ``off`` otherwise. Also read:
    ``PRODKIT_TELEMETRY_SAMPLE_RATE``, ``PRODKIT_TELEMETRY_EXCLUDE`` (comma-separated),
    ``PRODKIT_TELEMETRY_LOG_LEVEL``, ``PRODKIT_TELEMETRY_USER_ID``,
    ``PRODKIT_TELEMETRY_BROWSER_SDK_URL`` and, for the exporter, ``PRODKIT_TELEMETRY_``
    ``QUEUE_SIZE``, ``EXPORT_INTERVAL``, ``SEND_TIMEOUT``, ``RETRIES``, ``EXIT_TIMEOUT`` and
    ``STORAGE_PATH``; the cloud role is App Service's
    ``WEBSITE_SITE_NAME`` and ``WEBSITE_INSTANCE_ID`` (or the container's host name) unless
    ``PRODKIT_TELEMETRY_ROLE_NAME`` says otherwise. App Service is known from its variables;
    the instance metadata endpoint is never asked.
    """
    env = env or Env()
    platform = platform or detect_platform(env)
    connection_string = env.secret(CONNECTION_STRING, default=None)
    return telemetry_settings(
        backend=env.str(
            "PRODKIT_TELEMETRY_BACKEND",
            default="azure" if connection_string else "off",
            choices=BACKENDS,
        ),
        connection_string=connection_string,
        sample_rate=env.float("PRODKIT_TELEMETRY_SAMPLE_RATE", default=1.0, min=0.0, max=1.0),
        exclude=env.list("PRODKIT_TELEMETRY_EXCLUDE", default=None) or None,
        log_level=env.str("PRODKIT_TELEMETRY_LOG_LEVEL", default="WARNING").upper(),
        user_id=env.bool("PRODKIT_TELEMETRY_USER_ID", default=False),
        role_name=env.str("PRODKIT_TELEMETRY_ROLE_NAME", default=None) or platform.site_name,
        role_instance=platform.instance_id,
        browser_sdk_url=env.str(
            "PRODKIT_TELEMETRY_BROWSER_SDK_URL", default=DEFAULT_BROWSER_SDK_URL
        ),
        queue_size=env.int("PRODKIT_TELEMETRY_QUEUE_SIZE", default=8192, min=1),
        export_interval=env.float("PRODKIT_TELEMETRY_EXPORT_INTERVAL", default=5.0, min=0.01),
        send_timeout=env.float("PRODKIT_TELEMETRY_SEND_TIMEOUT", default=10.0, min=0.1),
        retries=env.int("PRODKIT_TELEMETRY_RETRIES", default=3, min=0),
        exit_timeout=env.float("PRODKIT_TELEMETRY_EXIT_TIMEOUT", default=5.0, min=0.0),
        storage_path=env.str("PRODKIT_TELEMETRY_STORAGE_PATH", default=None),
    )


__all__ = [
    "AZURE_BACKENDS",
    "BACKENDS",
    "CONNECTION_STRING",
    "DEFAULT_BROWSER_SDK_URL",
    "DEFAULT_INGESTION_ENDPOINT",
    "browser_telemetry_origin",
    "connection_string_fields",
    "connection_string_problems",
    "ingestion_endpoint",
    "telemetry_from_env",
    "telemetry_settings",
]
