"""prodkit's own Django settings, read when used (never at import), defaults written here.

``from django_prodkit.conf import conf`` then ``conf.PRODKIT_HEALTH_TIMEOUT``: the value in
the project's settings, or the default below. Overriding a setting in a test (the
``settings`` fixture, ``override_settings``) takes effect on the next read.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from django_prodkit.settings.telemetry import DEFAULT_BROWSER_SDK_URL

DEFAULT_HEALTH_CHECKS = ("database", "cache", "storage")


class Settings:
    """prodkit's settings with their defaults; every read goes to ``django.conf.settings``."""

    @property
    def PRODKIT_HEALTH_TIMEOUT(self) -> float:
        """Seconds each readiness probe may take before it counts as failed."""
        return float(getattr(settings, "PRODKIT_HEALTH_TIMEOUT", 2.0))

    @property
    def PRODKIT_HEALTH_CACHE_SECONDS(self) -> float:
        """Seconds a readiness result is reused in this process (0 probes every time)."""
        return float(getattr(settings, "PRODKIT_HEALTH_CACHE_SECONDS", 1.0))

    @property
    def PRODKIT_HEALTH_TOKEN(self) -> str | None:
        """Bearer token that unlocks per-check details on the health endpoints; None: never."""
        token = getattr(settings, "PRODKIT_HEALTH_TOKEN", None)
        return str(token) if token else None

    @property
    def PRODKIT_HEALTH_CHECKS(self) -> tuple[str, ...]:
        """What ``/readyz`` probes: ``database``, ``cache``, ``storage``, each optionally
        ``:ALIAS`` (``cache:sessions``); the bare name means the ``default`` alias."""
        checks: Sequence[str] = getattr(settings, "PRODKIT_HEALTH_CHECKS", DEFAULT_HEALTH_CHECKS)
        return tuple(checks)

    @property
    def PRODKIT_TRUSTED_PROXIES(self) -> tuple[str, ...]:
        """IP addresses and CIDR networks of the proxies whose forwarding headers are believed."""
        return tuple(getattr(settings, "PRODKIT_TRUSTED_PROXIES", ()))

    @property
    def PRODKIT_PROXY_HOPS(self) -> int:
        """Number of proxies in front of the app; 0: only ``PRODKIT_TRUSTED_PROXIES`` decides."""
        return int(getattr(settings, "PRODKIT_PROXY_HOPS", 0))

    @property
    def PRODKIT_CLIENT_IP_HEADER(self) -> str | None:
        """A header a trusted proxy puts the client address in (App Service: ``X-Client-IP``),
        used when ``X-Forwarded-For`` gives none."""
        header = getattr(settings, "PRODKIT_CLIENT_IP_HEADER", None)
        return str(header) if header else None

    @property
    def PRODKIT_INSTANCES(self) -> int | None:
        """How many instances serve the site; None: 2 on App Service and Kubernetes, else 1.
        The checks use it to judge per-instance state (local media, SQLite)."""
        value = getattr(settings, "PRODKIT_INSTANCES", None)
        return None if value is None else int(value)

    @property
    def PRODKIT_WORKERS(self) -> int | None:
        """Worker processes per instance; None: the gunicorn config's (``WEB_CONCURRENCY``).
        The checks use it to judge per-process state (locmem caches)."""
        value = getattr(settings, "PRODKIT_WORKERS", None)
        return None if value is None else int(value)

    @property
    def PRODKIT_PROBE_TIMEOUT(self) -> float:
        """Seconds each ``prodcheck --live`` probe may take before it counts as failed."""
        return float(getattr(settings, "PRODKIT_PROBE_TIMEOUT", 5.0))

    @property
    def PRODKIT_ACCESS_LOG(self) -> bool:
        """Log each request (client, method, path, status, duration, request id)."""
        return bool(getattr(settings, "PRODKIT_ACCESS_LOG", True))

    @property
    def PRODKIT_PROTECTED_MODE(self) -> str:
        """How ``protected_file_response()`` hands a file over: ``auto``, ``nginx``,
        ``xsendfile``, ``sas`` or ``stream``."""
        return str(getattr(settings, "PRODKIT_PROTECTED_MODE", "auto"))

    @property
    def PRODKIT_PROTECTED_URL(self) -> str:
        """The internal nginx location ``X-Accel-Redirect`` points into."""
        return str(getattr(settings, "PRODKIT_PROTECTED_URL", "/_protected/"))

    @property
    def PRODKIT_PROTECTED_SAS_SECONDS(self) -> int:
        """Seconds a protected download's SAS URL stays valid: the browser follows the
        redirect at once, and a leaked URL should not outlive that by much."""
        return int(getattr(settings, "PRODKIT_PROTECTED_SAS_SECONDS", 60))

    @property
    def PRODKIT_STARTUP_CHECKS(self) -> bool:
        """When True the ASGI/WSGI entrypoints refuse to start on ERROR-level findings."""
        return bool(getattr(settings, "PRODKIT_STARTUP_CHECKS", False))

    @property
    def PRODKIT_TELEMETRY_BACKEND(self) -> str:
        """Where request telemetry goes: ``off``, ``console``, ``azure``, ``opencensus`` or
        ``opentelemetry`` (see ``django_prodkit.settings.telemetry_settings``)."""
        return str(getattr(settings, "PRODKIT_TELEMETRY_BACKEND", "off"))

    @property
    def PRODKIT_TELEMETRY_CONNECTION_STRING(self) -> str | None:
        """The Application Insights connection string the Azure backends send with."""
        value = getattr(settings, "PRODKIT_TELEMETRY_CONNECTION_STRING", None)
        return str(value) if value else None

    @property
    def PRODKIT_TELEMETRY_SAMPLE_RATE(self) -> float:
        """Share of operations kept, 0.0 to 1.0, decided per trace id (a trace whole)."""
        return float(getattr(settings, "PRODKIT_TELEMETRY_SAMPLE_RATE", 1.0))

    @property
    def PRODKIT_TELEMETRY_EXCLUDE(self) -> tuple[str, ...] | None:
        """Paths never traced: ``/exact``, ``/prefix/*``, ``^regex``; None: the health
        endpoints, ``STATIC_URL`` and ``MEDIA_URL``."""
        value = getattr(settings, "PRODKIT_TELEMETRY_EXCLUDE", None)
        return None if value is None else tuple(value)

    @property
    def PRODKIT_TELEMETRY_LOG_LEVEL(self) -> str:
        """Log records at this level and above become trace items (``OFF``: none)."""
        return str(getattr(settings, "PRODKIT_TELEMETRY_LOG_LEVEL", "WARNING")).upper()

    @property
    def PRODKIT_TELEMETRY_USER_ID(self) -> bool:
        """Send the signed-in user's primary key as the authenticated user id (never a name)."""
        return bool(getattr(settings, "PRODKIT_TELEMETRY_USER_ID", False))

    @property
    def PRODKIT_TELEMETRY_ROLE_NAME(self) -> str | None:
        """Cloud role name (App Service: the site name); None: the settings module's package."""
        value = getattr(settings, "PRODKIT_TELEMETRY_ROLE_NAME", None)
        return str(value) if value else None

    @property
    def PRODKIT_TELEMETRY_ROLE_INSTANCE(self) -> str | None:
        """Cloud role instance (App Service: the instance id); None: the host name."""
        value = getattr(settings, "PRODKIT_TELEMETRY_ROLE_INSTANCE", None)
        return str(value) if value else None

    @property
    def PRODKIT_TELEMETRY_QUEUE_SIZE(self) -> int:
        """Items a process holds for export at most; past it new items are dropped, counted."""
        return int(getattr(settings, "PRODKIT_TELEMETRY_QUEUE_SIZE", 8192))

    @property
    def PRODKIT_TELEMETRY_EXPORT_INTERVAL(self) -> float:
        """Seconds between exports (sooner when a batch fills)."""
        return float(getattr(settings, "PRODKIT_TELEMETRY_EXPORT_INTERVAL", 5.0))

    @property
    def PRODKIT_TELEMETRY_METRICS_INTERVAL(self) -> float:
        """Seconds between the process's performance counters (``azure`` backend)."""
        return float(getattr(settings, "PRODKIT_TELEMETRY_METRICS_INTERVAL", 60.0))

    @property
    def PRODKIT_TELEMETRY_SEND_TIMEOUT(self) -> float:
        """Seconds one send to the ingestion endpoint may take, connect and read."""
        return float(getattr(settings, "PRODKIT_TELEMETRY_SEND_TIMEOUT", 10.0))

    @property
    def PRODKIT_TELEMETRY_RETRIES(self) -> int:
        """Times a batch is sent again after a retryable failure (429, 5xx, no answer)."""
        return int(getattr(settings, "PRODKIT_TELEMETRY_RETRIES", 3))

    @property
    def PRODKIT_TELEMETRY_EXIT_TIMEOUT(self) -> float:
        """Seconds a stopping process waits for its last items to be sent."""
        return float(getattr(settings, "PRODKIT_TELEMETRY_EXIT_TIMEOUT", 5.0))

    @property
    def PRODKIT_TELEMETRY_MAX_LENGTH(self) -> int:
        """Characters kept of a property, URL or SQL text (Application Insights' limit)."""
        return int(getattr(settings, "PRODKIT_TELEMETRY_MAX_LENGTH", 8192))

    @property
    def PRODKIT_TELEMETRY_STORAGE_PATH(self) -> str | None:
        """Directory the SDK backends keep unsent items in for a retry; None: no disk writes."""
        value = getattr(settings, "PRODKIT_TELEMETRY_STORAGE_PATH", None)
        return str(value) if value else None

    @property
    def PRODKIT_TELEMETRY_BROWSER_SDK_URL(self) -> str:
        """Where the browser loads the Application Insights JavaScript SDK from."""
        return str(getattr(settings, "PRODKIT_TELEMETRY_BROWSER_SDK_URL", DEFAULT_BROWSER_SDK_URL))


conf = Settings()

__all__ = ["DEFAULT_HEALTH_CHECKS", "Settings", "conf"]
