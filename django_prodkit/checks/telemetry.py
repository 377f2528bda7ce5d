"""Checks 6xx: telemetry and logging.

Telemetry is judged from settings and environment variables only: the SDKs are never imported,
so the checks stay fast and work where the telemetry extras are not installed. Logging is judged
from ``LOGGING`` the way ``django.setup()`` applies it: Django's ``DEFAULT_LOGGING`` first, then
the project's dict, with ``dictConfig``'s rules for loggers it names, loggers it does not, and
``disable_existing_loggers``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage
from django.utils.log import DEFAULT_LOGGING

from django_prodkit.checks.context import deployment
from django_prodkit.checks.inspect import backend_is, middleware_paths
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.env import Env
from django_prodkit.health import HEALTH_PATHS
from django_prodkit.settings.telemetry import connection_string_problems

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
LEGACY_KEY = "APPINSIGHTS_INSTRUMENTATIONKEY"
# Set on App Service when its codeless Application Insights agent (OpenTelemetry) is on.
AGENT_VARIABLE = "ApplicationInsightsAgent_EXTENSION_VERSION"
OPENCENSUS_MIDDLEWARE = "opencensus.ext.django.middleware.OpencensusMiddleware"
PRODKIT_MIDDLEWARE = "django_prodkit.telemetry.middleware.TelemetryMiddleware"
HEALTH_MIDDLEWARE = "django_prodkit.middleware.HealthCheckMiddleware"
# opencensus-ext-django's default exclude list: only Google App Engine's health path.
_OPENCENSUS_DEFAULT_EXCLUDES = ("_ah/health",)

W601 = Check(
    id="prodkit.W601",
    title="no request telemetry on App Service",
    msg=(
        "No request telemetry is configured on App Service: APPLICATIONINSIGHTS_CONNECTION_STRING "
        "is not set and no OpenTelemetry exporter is."
    ),
    hint=(
        "Create an Application Insights resource, set APPLICATIONINSIGHTS_CONNECTION_STRING in the "
        "app's settings and install django-prodkit[opentelemetry] (azure-monitor-opentelemetry)."
    ),
    why=(
        "Without telemetry the only trace of a failing or slow request is a log line, if that. "
        "Application Insights shows failures, latency and dependencies per request, which is how "
        "a problem on one of several instances gets found."
    ),
)
I602 = Check(
    id="prodkit.I602",
    title="no request telemetry",
    msg=(
        "No request telemetry is configured: APPLICATIONINSIGHTS_CONNECTION_STRING is not set and "
        "no OpenTelemetry exporter (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER) is."
    ),
    hint=(
        "Set APPLICATIONINSIGHTS_CONNECTION_STRING (Azure Monitor, with "
        "django-prodkit[opentelemetry]) or OTEL_EXPORTER_OTLP_ENDPOINT (any OpenTelemetry "
        "collector)."
    ),
    why=(
        "Request telemetry (failures, latency, slow dependencies per request) is what tells a "
        "deployment that is merely up from one that works. Silence this if telemetry is wired "
        "in code prodkit cannot see."
    ),
)
E603 = Check(
    id="prodkit.E603",
    title="the Application Insights connection string is malformed",
    msg="APPLICATIONINSIGHTS_CONNECTION_STRING {problem} (value hidden).",
    hint=(
        "Copy the connection string whole from the Application Insights resource's Overview page: "
        "InstrumentationKey=GUID;IngestionEndpoint=https://REGION.in.applicationinsights.azure.com/"
        ";... without quotes around it."
    ),
    why=(
        "The exporter cannot send anything with a malformed connection string: every request "
        "is traced, queued and dropped, and the portal stays empty."
    ),
)
W604 = Check(
    id="prodkit.W604",
    title="telemetry sent by instrumentation key only",
    msg="Only APPINSIGHTS_INSTRUMENTATIONKEY is set, not APPLICATIONINSIGHTS_CONNECTION_STRING.",
    hint=(
        "Set APPLICATIONINSIGHTS_CONNECTION_STRING to the resource's connection string and remove "
        "APPINSIGHTS_INSTRUMENTATIONKEY."
    ),
    why=(
        "Azure Monitor ended support for ingestion by instrumentation key alone on 31 March "
        "2025; current SDKs read only the connection string, which also names the regional "
        "ingestion endpoint."
    ),
)
I605 = Check(
    id="prodkit.I605",
    title="the retired OpenCensus SDK is in use",
    msg="{where} configures OpenCensus, whose Azure Monitor SDK is retired.",
    hint=(
        "Move to OpenTelemetry: install django-prodkit[opentelemetry] "
        "(azure-monitor-opentelemetry), call configure_azure_monitor() and remove the OpenCensus "
        "middleware and settings."
    ),
    why=(
        "Microsoft ended support for the OpenCensus-based Azure Monitor SDK in September 2024. "
        "It receives no fixes, and new Application Insights features only reach the "
        "OpenTelemetry distribution."
    ),
)
W606 = Check(
    id="prodkit.W606",
    title="health checks are traced",
    msg="{sdk} traces the health endpoints ({paths}): every probe becomes a request item.",
    hint="Exclude the health paths from tracing. {fix}",
    why=(
        "The platform probes every instance every few seconds. Traced, each probe is a request "
        "in Application Insights: ingestion you pay for, a request rate that hides the real one, "
        "and sampling that drops real requests to make room for probes."
    ),
)
W607 = Check(
    id="prodkit.W607",
    title="logs go only to files",
    msg="LOGGING writes the django and root loggers only to files ({handlers}) and {deployment}.",
    hint=(
        "Log to stdout, where the platform collects it: "
        "LOGGING = django_prodkit.settings.logging_from_env(env)."
    ),
    why=(
        "A file inside a container is gone with the container and unseen by `docker logs`, "
        "`kubectl logs` and App Service's log stream (`az webapp log tail`), which show stdout "
        "and stderr. With several instances each one holds a different part of the story."
    ),
)
W608 = Check(
    id="prodkit.W608",
    title="LOGGING disables existing loggers",
    msg=(
        "LOGGING disables every logger configured before it: disable_existing_loggers is {value}."
    ),
    hint=(
        "Set 'disable_existing_loggers': False, or build LOGGING with "
        "django_prodkit.settings.logging_from_env(env)."
    ),
    why=(
        "dictConfig's default (True) silences every logger that exists and is not named in "
        "LOGGING: Django's own loggers such as django.request (the tracebacks of 500 errors) "
        "and those of libraries imported by the settings module."
    ),
)
W609 = Check(
    id="prodkit.W609",
    title="a logger at DEBUG level",
    msg="LOGGING sets the {logger} logger to {level}.",
    hint=(
        "Use INFO or WARNING in production (DJANGO_LOG_LEVEL=INFO with logging_from_env()); "
        "raise one named logger to DEBUG for a while when you need it."
    ),
    why=(
        "At DEBUG every library logs every call it makes, often with the request, the query or "
        "the headers that carry credentials. It slows each request, fills the log store you pay "
        "for and writes data into logs that should never be there."
    ),
)
W611 = Check(
    id="prodkit.W611",
    title="telemetry is configured but nothing traces requests",
    msg=(
        "PRODKIT_TELEMETRY_BACKEND is {backend} but TelemetryMiddleware is not in MIDDLEWARE: "
        "no request is traced."
    ),
    hint=(
        "Build MIDDLEWARE with django_prodkit.settings.production_middleware([...]), or add "
        "'django_prodkit.telemetry.middleware.TelemetryMiddleware' after RequestIdMiddleware."
    ),
    why=(
        "The backend only exports what the middleware records: without it the Application "
        "Insights resource stays empty while the deployment looks instrumented."
    ),
)
W610 = Check(
    id="prodkit.W610",
    title="errors of django.request go nowhere",
    msg="The tracebacks of server errors (logger django.request) are written nowhere: {reason}.",
    hint=(
        "Give the root logger a handler that writes to stdout and let django.request propagate "
        "to it: LOGGING = django_prodkit.settings.logging_from_env(env)."
    ),
    why=(
        "Django logs the traceback of every 500 to django.request. With DEBUG off, Django's "
        "default handlers print nothing (the console handler requires DEBUG) and mail only "
        "ADMINS, so an error reported by a user leaves no trace to debug. Sentry's SDK and "
        "Azure Monitor's OpenTelemetry distribution, which capture errors outside LOGGING, "
        "count as a destination."
    ),
)


def _env() -> Env:
    return Env()


# --- Telemetry ---------------------------------------------------------------------------------


def _opencensus_setting() -> Any:
    return getattr(settings, "OPENCENSUS", None)


def _opencensus_in_use() -> bool:
    return OPENCENSUS_MIDDLEWARE in middleware_paths() or _opencensus_setting() is not None


def _prodkit_backend() -> str:
    return str(getattr(settings, "PRODKIT_TELEMETRY_BACKEND", "off"))


def _prodkit_in_use() -> bool:
    """True when prodkit's own middleware traces requests (so the connection string is its,
    not the sign of azure-monitor-opentelemetry's automatic Django instrumentation)."""
    return _prodkit_backend() != "off" and PRODKIT_MIDDLEWARE in middleware_paths()


@prodkit_check(W611)
def check_telemetry_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W611: a telemetry backend is set and the middleware that feeds it is missing."""
    backend = _prodkit_backend()
    if backend != "off" and PRODKIT_MIDDLEWARE not in middleware_paths():
        return [W611.message(obj="settings.MIDDLEWARE", backend=backend)]
    return []


def _otel_exporter_set(env: Env) -> bool:
    """True when an environment variable configures an OpenTelemetry exporter."""
    exporter = (env.raw("OTEL_TRACES_EXPORTER") or "").strip().lower()
    return (
        env.is_set("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.is_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.is_set(AGENT_VARIABLE)
        or exporter not in {"", "none"}
    )


def _otel_django_disabled(env: Env) -> bool:
    """True when the environment turns OpenTelemetry's Django instrumentation off."""
    disabled = (env.raw("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS") or "").split(",")
    return env.raw("OTEL_PYTHON_DJANGO_INSTRUMENT") == "False" or "django" in {
        name.strip().lower() for name in disabled
    }


@prodkit_check(W601, I602)
def check_telemetry_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W601 (App Service) / I602 (elsewhere): no request telemetry is configured."""
    env = _env()
    if (
        env.is_set(CONNECTION_STRING)
        or env.is_set(LEGACY_KEY)
        or _otel_exporter_set(env)
        or _opencensus_in_use()
    ):
        return []
    if deployment(env).platform.kind == "appservice":
        return [W601.message(obj=f"os.environ[{CONNECTION_STRING!r}]")]
    return [I602.message(obj=f"os.environ[{CONNECTION_STRING!r}]")]


@prodkit_check(E603)
def check_connection_string(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E603: the Application Insights connection string is malformed."""
    value = _env().raw(CONNECTION_STRING)
    if value is None:
        return []
    problems = connection_string_problems(value)
    if not problems:
        return []
    return [E603.message(obj=f"os.environ[{CONNECTION_STRING!r}]", problem=", ".join(problems))]


@prodkit_check(W604)
def check_legacy_instrumentation_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W604: only the legacy instrumentation key is set."""
    env = _env()
    if env.is_set(LEGACY_KEY) and not env.is_set(CONNECTION_STRING):
        return [W604.message(obj=f"os.environ[{LEGACY_KEY!r}]")]
    return []


@prodkit_check(I605)
def check_opencensus_retired(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I605: the retired OpenCensus SDK is configured."""
    if OPENCENSUS_MIDDLEWARE in middleware_paths():
        return [I605.message(obj="settings.MIDDLEWARE", where="MIDDLEWARE")]
    if _opencensus_setting() is not None:
        return [I605.message(obj="settings.OPENCENSUS", where="The OPENCENSUS setting")]
    return []


def _health_first(middleware: list[str], position: int) -> bool:
    """True when HealthCheckMiddleware answers before a tracer at ``position`` is reached."""
    return HEALTH_MIDDLEWARE in middleware and middleware.index(HEALTH_MIDDLEWARE) < position


def _opencensus_excluded(path: str, excludes: Sequence[Any]) -> bool:
    # opencensus.trace.utils.disable_tracing_url: the path without its leading "/", by prefix.
    return any(path.lstrip("/").startswith(str(entry)) for entry in excludes)


def _otel_excluded(path: str, patterns: str) -> bool:
    # opentelemetry.util.http.ExcludeList: the entries joined by "|", searched in the full URL.
    entries = [entry.strip() for entry in patterns.split(",")] if patterns else []
    if not entries:
        return False
    try:
        return re.search("|".join(entries), f"http://localhost{path}") is not None
    except re.error:
        return False


def _opencensus_traced_paths() -> list[str]:
    middleware = middleware_paths()
    if OPENCENSUS_MIDDLEWARE not in middleware:
        return []
    if _health_first(middleware, middleware.index(OPENCENSUS_MIDDLEWARE)):
        return []
    config = _opencensus_setting()
    trace = config.get("TRACE", {}) if isinstance(config, Mapping) else {}
    excludes = trace.get("EXCLUDELIST_PATHS") if isinstance(trace, Mapping) else None
    if excludes is None:
        excludes = _OPENCENSUS_DEFAULT_EXCLUDES
    elif isinstance(excludes, str):
        excludes = [excludes]
    return [path for path in HEALTH_PATHS if not _opencensus_excluded(path, excludes)]


def _otel_position(env: Env, middleware: list[str]) -> int:
    # opentelemetry-instrumentation-django inserts its middleware here (0 unless told).
    try:
        position = int(env.raw("OTEL_PYTHON_DJANGO_MIDDLEWARE_POSITION") or 0)
    except ValueError:
        return 0
    return position if 0 <= position <= len(middleware) else 0


def _otel_traced_paths(env: Env) -> list[str]:
    connection = (
        env.is_set(CONNECTION_STRING) and not _opencensus_in_use() and not _prodkit_in_use()
    )
    if not (connection or _otel_exporter_set(env)) or _otel_django_disabled(env):
        return []
    middleware = middleware_paths()
    if _health_first(middleware, _otel_position(env, middleware)):
        return []
    name = "OTEL_PYTHON_DJANGO_EXCLUDED_URLS"
    patterns = env.raw(name) if env.raw(name) is not None else env.raw("OTEL_PYTHON_EXCLUDED_URLS")
    return [path for path in HEALTH_PATHS if not _otel_excluded(path, patterns or "")]


@prodkit_check(W606)
def check_health_not_traced(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W606: the health endpoints are traced by OpenCensus or OpenTelemetry."""
    found = []
    traced = _opencensus_traced_paths()
    if traced:
        found.append(
            W606.message(
                obj="settings.OPENCENSUS",
                sdk="OpenCensus",
                paths=", ".join(traced),
                fix=(
                    "Add 'healthz' and 'readyz' (no leading slash) to "
                    "OPENCENSUS['TRACE']['EXCLUDELIST_PATHS'], or put "
                    "HealthCheckMiddleware before the OpenCensus middleware "
                    "(production_middleware() puts it first)."
                ),
            )
        )
    env = _env()
    traced = _otel_traced_paths(env)
    if traced:
        found.append(
            W606.message(
                obj="os.environ['OTEL_PYTHON_EXCLUDED_URLS']",
                sdk="OpenTelemetry's Django instrumentation",
                paths=", ".join(traced),
                fix=(
                    "Set OTEL_PYTHON_EXCLUDED_URLS=/healthz,/readyz (regular expressions "
                    "searched in the URL; OTEL_PYTHON_DJANGO_EXCLUDED_URLS wins when set)."
                ),
            )
        )
    return found


# --- Logging -----------------------------------------------------------------------------------

_DICT_CONFIG = "logging.config.dictConfig"
_REQUIRE_DEBUG_TRUE = "django.utils.log.RequireDebugTrue"
_REQUIRE_DEBUG_FALSE = "django.utils.log.RequireDebugFalse"
_ADMIN_EMAIL_HANDLER = "django.utils.log.AdminEmailHandler"
_FILE_HANDLER = "logging.FileHandler"
_NULL_HANDLER = "logging.NullHandler"
# Loggers that exist when django.setup() applies LOGGING (Django creates them on import).
_EXISTING = ("django", "django.server", "django.request")


@dataclass(frozen=True)
class _Handler:
    """A handler as configured: its name, its dict and the filter dicts it can refer to."""

    name: str
    config: Any
    filters: Mapping[str, Any]


@dataclass
class _Logger:
    """A logger's state after configuration, as far as the checks need it."""

    level: int = logging.NOTSET
    handlers: list[_Handler] = field(default_factory=list)
    propagate: bool = True
    disabled: bool = False


def _level(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return logging.getLevelNamesMapping().get(value.strip().upper())
    return None


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}


def _handlers(config: Mapping[str, Any], names: Any) -> list[_Handler]:
    handlers, filters = _section(config, "handlers"), _section(config, "filters")
    if isinstance(names, str) or not isinstance(names, Sequence):
        return []
    return [_Handler(str(name), handlers.get(name), filters) for name in names]


def _configured(config: Mapping[str, Any], entry: Any, prior: _Logger) -> _Logger:
    """The state ``dictConfig`` gives a logger named in ``config``: the level and propagate
    flag are kept when not given, the handlers replaced, the logger enabled."""
    entry = entry if isinstance(entry, Mapping) else {}
    level = _level(entry.get("level"))
    propagate = entry.get("propagate")
    return _Logger(
        level=prior.level if level is None else level,
        handlers=_handlers(config, entry.get("handlers")),
        propagate=prior.propagate if propagate is None else bool(propagate),
    )


@dataclass
class _Logging:
    """The loggers the checks look at, after ``DEFAULT_LOGGING`` and then ``LOGGING``."""

    user: Mapping[str, Any]
    loggers: dict[str, _Logger]
    root: _Logger

    def chain(self, name: str) -> list[_Logger]:
        """The logger ``name``, its modelled ancestors, then root."""
        parts = name.split(".")
        names = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        return [*(self.loggers[n] for n in names if n in self.loggers), self.root]


def _logging() -> _Logging | None:
    """Return the logging configuration ``django.setup()`` builds, or None when it is not
    plain ``dictConfig`` (``LOGGING_CONFIG`` changed or None, an incremental ``LOGGING``)."""
    if getattr(settings, "LOGGING_CONFIG", _DICT_CONFIG) != _DICT_CONFIG:
        return None
    user = getattr(settings, "LOGGING", None) or {}
    if not isinstance(user, Mapping) or user.get("incremental"):
        return None
    loggers = {
        name: _configured(DEFAULT_LOGGING, entry, _Logger())
        for name, entry in DEFAULT_LOGGING["loggers"].items()
    }
    loggers.setdefault("django.request", _Logger())
    root = _Logger(level=logging.WARNING)
    if not user:  # Django applies only DEFAULT_LOGGING
        return _Logging(user, loggers, root)
    named = _section(user, "loggers")
    disable = bool(user.get("disable_existing_loggers", True))
    result = {}
    for name, prior in loggers.items():
        if name in named:
            result[name] = _configured(user, named[name], prior)
        elif any(name.startswith(f"{parent}.") for parent in named if parent in _EXISTING):
            # dictConfig resets the existing children of a named logger.
            result[name] = _Logger()
        else:
            result[name] = _Logger(prior.level, prior.handlers, prior.propagate, disable)
    if isinstance(user.get("root"), Mapping):
        root = _configured(user, user["root"], root)
    return _Logging(user, result, root)


def _class(handler: _Handler) -> Any:
    config = handler.config
    return (config.get("class") or config.get("()")) if isinstance(config, Mapping) else None


def _is(handler: _Handler, base: str) -> bool:
    cls = _class(handler)
    if isinstance(cls, type):
        cls = f"{cls.__module__}.{cls.__qualname__}"
    return isinstance(cls, str) and backend_is(cls, base)


def _writes(handler: _Handler, levelno: int) -> bool:
    """True when ``handler`` writes a record of ``levelno`` somewhere, with this DEBUG."""
    config = handler.config
    if not isinstance(config, Mapping):
        return True  # not a dict we can read: assume it writes
    if (_level(config.get("level")) or logging.NOTSET) > levelno or _is(handler, _NULL_HANDLER):
        return False
    debug = bool(getattr(settings, "DEBUG", False))
    for name in config.get("filters") or ():
        entry = handler.filters.get(name) if isinstance(name, str) else None
        factory = entry.get("()") if isinstance(entry, Mapping) else None
        if (factory == _REQUIRE_DEBUG_TRUE and not debug) or (
            factory == _REQUIRE_DEBUG_FALSE and debug
        ):
            return False
    if _is(handler, _ADMIN_EMAIL_HANDLER):
        return bool(getattr(settings, "ADMINS", None))
    return True


def _reached(model: _Logging, name: str, levelno: int) -> list[_Handler] | None:
    """The handlers a record of ``levelno`` on logger ``name`` is given to, in order, or None
    when the logger drops it (disabled, or its effective level is above ``levelno``)."""
    chain = model.chain(name)
    if chain[0].disabled:
        return None
    level = next((lg.level for lg in chain if lg.level != logging.NOTSET), logging.NOTSET)
    if level > levelno:
        return None
    handlers: list[_Handler] = []
    for logger in chain:
        handlers.extend(logger.handlers)
        if not logger.propagate:
            break
    return handlers


@prodkit_check(W607)
def check_logs_not_only_in_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W607: the django and root loggers write only to files, in a container or on several
    instances."""
    where = deployment()
    model = _logging()
    if model is None or (where.platform.kind == "local" and not where.several_instances):
        return []
    reached = [*(_reached(model, "django", logging.ERROR) or []), *model.root.handlers]
    writing = {
        h.name: h for h in reached if _writes(h, logging.ERROR) and not _is(h, _ADMIN_EMAIL_HANDLER)
    }
    if not writing or not all(_is(h, _FILE_HANDLER) for h in writing.values()):
        return []
    return [
        W607.message(
            obj="settings.LOGGING['handlers']",
            handlers=", ".join(sorted(writing)),
            deployment=f"{where.describe()} serve the site",
        )
    ]


@prodkit_check(W608)
def check_existing_loggers_kept(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W608: LOGGING disables the loggers configured before it."""
    model = _logging()
    if model is None or not model.user:
        return []
    value = model.user.get("disable_existing_loggers")
    if value is None:
        return [
            W608.message(
                obj="settings.LOGGING",
                value="True (the default when the key is missing)",
            )
        ]
    if value:
        return [W608.message(obj="settings.LOGGING['disable_existing_loggers']", value="True")]
    return []


@prodkit_check(W609)
def check_no_debug_logging(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W609: the root or the django logger at DEBUG level."""
    model = _logging()
    if model is None or not model.user:
        return []
    found = []
    root = model.user.get("root")
    level = _level(root.get("level")) if isinstance(root, Mapping) else None
    if level is not None and level <= logging.DEBUG:
        found.append(
            W609.message(
                obj="settings.LOGGING['root']", logger="root", level=logging.getLevelName(level)
            )
        )
    entry = _section(model.user, "loggers").get("django")
    level = _level(entry.get("level")) if isinstance(entry, Mapping) else None
    if level is not None and logging.NOTSET < level <= logging.DEBUG:
        found.append(
            W609.message(
                obj="settings.LOGGING['loggers']['django']",
                logger="django",
                level=logging.getLevelName(level),
            )
        )
    return found


def _runtime_error_capture() -> bool:
    """True when something outside LOGGING receives logged errors: Sentry's SDK (its logging
    integration sees every record a logger emits), prodkit's telemetry (exception items from
    ``got_request_exception``) or Azure Monitor's OpenTelemetry distribution
    (``configure_azure_monitor()`` adds a handler to the root logger)."""
    env = _env()
    return (
        "sentry_sdk" in sys.modules
        or _prodkit_in_use()
        or (env.is_set(CONNECTION_STRING) and not _opencensus_in_use())
    )


@prodkit_check(W610)
def check_request_errors_logged(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W610: the errors Django logs to django.request reach no handler that writes them."""
    model = _logging()
    if model is None:
        return []
    chain = model.chain("django.request")
    handlers = _reached(model, "django.request", logging.ERROR)
    if handlers is None:
        reason = (
            "the logger is disabled (disable_existing_loggers is True and LOGGING names neither "
            "it nor 'django')"
            if chain[0].disabled
            else "its effective level is above ERROR"
        )
    elif not handlers or any(_writes(h, logging.ERROR) for h in handlers):
        # No handler at all: Python's last-resort handler prints to stderr.
        return []
    elif _runtime_error_capture():
        return []
    else:
        names = ", ".join(dict.fromkeys(h.name for h in handlers))
        reason = f"every handler it reaches ({names}) drops them with DEBUG={settings.DEBUG}"
        if any(_is(h, _ADMIN_EMAIL_HANDLER) for h in handlers):
            reason += " and ADMINS empty"
    return [W610.message(obj="settings.LOGGING", reason=reason)]
