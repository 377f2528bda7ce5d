"""Checks 6xx: telemetry and logging, with prodkit's presets and with hand-written settings."""

from __future__ import annotations

import os

import pytest
from django.core.checks import run_checks

from django_prodkit.checks import telemetry
from django_prodkit.env import Env
from django_prodkit.settings import (
    detect_platform,
    logging_config,
    logging_from_env,
    production_middleware,
)
from tests.checks import ids

CONNECTION = (
    "InstrumentationKey=00000000-1111-2222-3333-444444444444;"
    "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;"
    "LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/"
)
OPENCENSUS = telemetry.OPENCENSUS_MIDDLEWARE
HEALTH = telemetry.HEALTH_MIDDLEWARE
COMMON = "django.middleware.common.CommonMiddleware"
FILE_HANDLER = {"class": "logging.FileHandler", "filename": "/var/log/django/site.log"}
STREAM_HANDLER = {"class": "logging.StreamHandler"}
TELEMETRY_VARIABLES = (
    telemetry.CONNECTION_STRING,
    telemetry.LEGACY_KEY,
    telemetry.AGENT_VARIABLE,
)


@pytest.fixture(autouse=True)
def _no_telemetry(settings, monkeypatch):
    """No telemetry variable from the machine, no OpenCensus, production logging defaults."""
    for name in [*TELEMETRY_VARIABLES, *(n for n in os.environ if n.startswith("OTEL_"))]:
        monkeypatch.delenv(name, raising=False)
    settings.DEBUG = False
    settings.ADMINS = []
    settings.LOGGING = logging_from_env(Env(environ={}))


def _telemetry_messages():
    return [
        m
        for m in run_checks(tags=["telemetry"], include_deployment_checks=True)
        if m.id and m.id.startswith("prodkit.")
    ]


def _text(messages):
    return " ".join(f"{m.msg} {m.hint} {m.obj}" for m in messages)


# --- W601 / I602: no telemetry -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"WEBSITE_SITE_NAME": "mysite"}, ["prodkit.W601"], id="app-service"),
        pytest.param({}, ["prodkit.I602"], id="local"),
        pytest.param({"container": "docker"}, ["prodkit.I602"], id="container"),
        pytest.param(
            {"WEBSITE_SITE_NAME": "mysite", "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION},
            [],
            id="app-service-connection-string",
        ),
        pytest.param(
            {"WEBSITE_SITE_NAME": "mysite", "ApplicationInsightsAgent_EXTENSION_VERSION": "~3"},
            [],
            id="app-service-agent",
        ),
        pytest.param({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, [], id="otlp"),
        pytest.param({"OTEL_TRACES_EXPORTER": "console"}, [], id="otel-console-exporter"),
        pytest.param({"OTEL_TRACES_EXPORTER": "none"}, ["prodkit.I602"], id="otel-exporter-none"),
        pytest.param({"APPINSIGHTS_INSTRUMENTATIONKEY": "x"}, [], id="legacy-key-is-w604"),
    ],
)
def test_w601_i602_no_request_telemetry(monkeypatch, variables, expected):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert ids(telemetry.check_telemetry_configured()) == expected


def test_w601_opencensus_counts_as_telemetry(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    settings.MIDDLEWARE = [OPENCENSUS, COMMON]
    assert telemetry.check_telemetry_configured() == []


def test_w601_message_names_the_variable(monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    [message] = telemetry.check_telemetry_configured()
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in message.msg
    assert message.obj == "os.environ['APPLICATIONINSIGHTS_CONNECTION_STRING']"
    assert "docs/checks.md#prodkit-w601" in message.hint


# --- E603: malformed connection string ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(CONNECTION, None, id="valid"),
        pytest.param(
            CONNECTION.lower().replace("instrumentationkey", "instrumentationKEY"),
            None,
            id="keys-any-case",
        ),
        pytest.param(f"{CONNECTION};", None, id="trailing-semicolon"),
        pytest.param(
            "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
            "has no InstrumentationKey",
            id="no-key",
        ),
        pytest.param(
            "00000000-1111-2222-3333-444444444444",
            "has a part that is not KEY=VALUE, has no InstrumentationKey",
            id="bare-instrumentation-key",
        ),
        pytest.param(
            "InstrumentationKey=my-app-key",
            "has an InstrumentationKey that is not a GUID",
            id="key-not-guid",
        ),
        pytest.param(
            CONNECTION.replace("https://westeurope-5", "http://westeurope-5"),
            "has an IngestionEndpoint that is not an https:// URL",
            id="plain-http-endpoint",
        ),
        pytest.param(
            CONNECTION.replace("https://westeurope.live", "westeurope.live"),
            "has a LiveEndpoint that is not an https:// URL",
            id="endpoint-without-scheme",
        ),
        pytest.param(f'"{CONNECTION}"', "is wrapped in quotes", id="quoted"),
    ],
)
def test_e603_malformed_connection_string(monkeypatch, value, problem):
    monkeypatch.setenv(telemetry.CONNECTION_STRING, value)
    messages = telemetry.check_connection_string()
    if problem is None:
        assert messages == []
    else:
        assert ids(messages) == ["prodkit.E603"]
        assert f"APPLICATIONINSIGHTS_CONNECTION_STRING {problem} (value hidden)." == (
            messages[0].msg
        )


def test_e603_unset_passes():
    assert telemetry.check_connection_string() == []


def test_e603_never_shows_the_connection_string(monkeypatch):
    planted = "InstrumentationKey=planted-SECRET-key;IngestionEndpoint=http://SECRET.example/"
    monkeypatch.setenv(telemetry.CONNECTION_STRING, planted)
    messages = _telemetry_messages()
    assert "prodkit.E603" in ids(messages)
    assert "SECRET" not in _text(messages)
    assert "planted" not in _text(messages)


# --- W604: legacy instrumentation key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"APPINSIGHTS_INSTRUMENTATIONKEY": "k"}, ["prodkit.W604"], id="key-only"),
        pytest.param(
            {
                "APPINSIGHTS_INSTRUMENTATIONKEY": "k",
                "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
            },
            [],
            id="both",
        ),
        pytest.param({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION}, [], id="connection"),
        pytest.param({}, [], id="neither"),
    ],
)
def test_w604_legacy_instrumentation_key(monkeypatch, variables, expected):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert ids(telemetry.check_legacy_instrumentation_key()) == expected


def test_w604_never_shows_the_key(monkeypatch):
    monkeypatch.setenv(telemetry.LEGACY_KEY, "planted-SECRET-ikey")
    messages = _telemetry_messages()
    assert "prodkit.W604" in ids(messages)
    assert "SECRET" not in _text(messages)


# --- I605: OpenCensus --------------------------------------------------------------------------


def test_i605_opencensus_middleware(settings):
    settings.MIDDLEWARE = [COMMON, OPENCENSUS]
    [message] = telemetry.check_opencensus_retired()
    assert message.id == "prodkit.I605"
    assert message.obj == "settings.MIDDLEWARE"
    assert "azure-monitor-opentelemetry" in message.hint


def test_i605_opencensus_setting(settings):
    settings.OPENCENSUS = {"TRACE": {"SAMPLER": "opencensus.trace.samplers.AlwaysOnSampler()"}}
    assert ids(telemetry.check_opencensus_retired()) == ["prodkit.I605"]


def test_i605_passes_without_opencensus(settings):
    settings.MIDDLEWARE = [HEALTH, COMMON]
    assert telemetry.check_opencensus_retired() == []


# --- W606: health endpoints traced -------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({}, ["prodkit.W606"], id="connection-string-no-exclusions"),
        pytest.param({"OTEL_PYTHON_EXCLUDED_URLS": "/healthz,/readyz"}, [], id="excluded"),
        pytest.param({"OTEL_PYTHON_EXCLUDED_URLS": "healthz, readyz"}, [], id="excluded-spaces"),
        pytest.param({"OTEL_PYTHON_EXCLUDED_URLS": "/healthz"}, ["prodkit.W606"], id="one-left"),
        pytest.param(
            {
                "OTEL_PYTHON_EXCLUDED_URLS": "/healthz,/readyz",
                "OTEL_PYTHON_DJANGO_EXCLUDED_URLS": "/x",
            },
            ["prodkit.W606"],
            id="django-variable-wins",
        ),
        pytest.param(
            {"OTEL_PYTHON_DJANGO_EXCLUDED_URLS": "/(healthz|readyz)$"}, [], id="django-variable"
        ),
        pytest.param({"OTEL_PYTHON_EXCLUDED_URLS": "(unclosed"}, ["prodkit.W606"], id="bad-regex"),
        pytest.param({"OTEL_PYTHON_DJANGO_INSTRUMENT": "False"}, [], id="django-not-instrumented"),
        pytest.param(
            {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "psycopg2, django"}, [], id="disabled"
        ),
        pytest.param({"OTEL_PYTHON_DJANGO_MIDDLEWARE_POSITION": "1"}, [], id="tracer-after-health"),
    ],
)
def test_w606_opentelemetry_traces_health(settings, monkeypatch, variables, expected):
    settings.MIDDLEWARE = production_middleware([COMMON])
    monkeypatch.setenv(telemetry.CONNECTION_STRING, CONNECTION)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert ids(telemetry.check_health_not_traced()) == expected


def test_w606_message_names_paths_and_the_variable(settings, monkeypatch):
    settings.MIDDLEWARE = production_middleware([COMMON])
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/healthz")
    [message] = telemetry.check_health_not_traced()
    assert "(/readyz)" in message.msg
    assert "OTEL_PYTHON_EXCLUDED_URLS=/healthz,/readyz" in message.hint


def test_w606_no_telemetry_passes(settings):
    settings.MIDDLEWARE = production_middleware([COMMON])
    assert telemetry.check_health_not_traced() == []


@pytest.mark.parametrize(
    ("middleware", "excludes", "expected"),
    [
        pytest.param([OPENCENSUS, HEALTH, COMMON], None, ["prodkit.W606"], id="default-excludes"),
        pytest.param([OPENCENSUS, COMMON], ["healthz", "readyz"], [], id="excluded"),
        pytest.param(
            [OPENCENSUS, COMMON], ["/healthz", "/readyz"], ["prodkit.W606"], id="leading-slash"
        ),
        pytest.param([HEALTH, OPENCENSUS, COMMON], None, [], id="health-answers-first"),
        pytest.param(production_middleware([OPENCENSUS]), None, [], id="production-middleware"),
    ],
)
def test_w606_opencensus_traces_health(settings, middleware, excludes, expected):
    settings.MIDDLEWARE = middleware
    trace = {"EXPORTER": "opencensus.ext.azure.trace_exporter.AzureExporter()"}
    if excludes is not None:
        trace["EXCLUDELIST_PATHS"] = excludes
    settings.OPENCENSUS = {"TRACE": trace}
    assert ids(telemetry.check_health_not_traced()) == expected


def test_w606_opencensus_with_connection_string_is_not_opentelemetry(settings, monkeypatch):
    monkeypatch.setenv(telemetry.CONNECTION_STRING, CONNECTION)
    settings.MIDDLEWARE = [HEALTH, OPENCENSUS, COMMON]
    assert telemetry.check_health_not_traced() == []


# --- W607: logs only in files ------------------------------------------------------------------


def _files_only():
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"file": FILE_HANDLER},
        "root": {"handlers": ["file"], "level": "INFO"},
    }


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        pytest.param({"container": "docker"}, ["prodkit.W607"], id="container"),
        pytest.param({"WEBSITE_SITE_NAME": "mysite"}, ["prodkit.W607"], id="app-service"),
        pytest.param({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, ["prodkit.W607"], id="kubernetes"),
        pytest.param({}, [], id="one-local-machine"),
    ],
)
def test_w607_files_only(settings, monkeypatch, platform, expected):
    if not platform and detect_platform(Env()).kind != "local":
        pytest.skip("this machine is itself a container")
    for name, value in platform.items():
        monkeypatch.setenv(name, value)
    settings.LOGGING = _files_only()
    assert ids(telemetry.check_logs_not_only_in_files()) == expected


def test_w607_files_only_on_several_local_instances(settings, several_instances):
    settings.LOGGING = _files_only()
    [message] = telemetry.check_logs_not_only_in_files()
    assert "(file)" in message.msg
    assert "3 instance(s) x 4 worker(s)" in message.msg


@pytest.mark.parametrize(
    "handlers",
    [
        pytest.param({"file": FILE_HANDLER, "console": STREAM_HANDLER}, id="file-and-stream"),
        pytest.param({"console": STREAM_HANDLER}, id="stream"),
        pytest.param(
            {"file": FILE_HANDLER, "syslog": {"class": "logging.handlers.SysLogHandler"}},
            id="file-and-syslog",
        ),
    ],
)
def test_w607_a_stream_passes(settings, monkeypatch, handlers):
    monkeypatch.setenv("container", "docker")
    config = _files_only()
    config["handlers"] = handlers
    config["root"]["handlers"] = list(handlers)
    settings.LOGGING = config
    assert telemetry.check_logs_not_only_in_files() == []


def test_w607_rotating_files_and_mail_only_are_caught(settings, monkeypatch):
    monkeypatch.setenv("container", "docker")
    settings.ADMINS = ["ops@example.com"]
    settings.LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "rotating": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": "/app/logs/site.log",
            },
            "mail": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR"},
        },
        "loggers": {"django": {"handlers": ["rotating", "mail"], "propagate": False}},
    }
    assert ids(telemetry.check_logs_not_only_in_files()) == ["prodkit.W607"]


def test_w607_logging_from_env_passes_in_a_container(settings, monkeypatch):
    monkeypatch.setenv("container", "docker")
    settings.LOGGING = logging_from_env(Env(environ={"PRODKIT_LOG_FORMAT": "json"}))
    assert telemetry.check_logs_not_only_in_files() == []


# --- W608: disable_existing_loggers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("logging", "expected", "obj"),
    [
        pytest.param(
            {"version": 1, "root": {"handlers": []}},
            ["prodkit.W608"],
            "settings.LOGGING",
            id="missing-key",
        ),
        pytest.param(
            {"version": 1, "disable_existing_loggers": True},
            ["prodkit.W608"],
            "settings.LOGGING['disable_existing_loggers']",
            id="true",
        ),
        pytest.param({"version": 1, "disable_existing_loggers": False}, [], None, id="false"),
        pytest.param({}, [], None, id="django-defaults"),
    ],
)
def test_w608_disable_existing_loggers(settings, logging, expected, obj):
    settings.LOGGING = logging
    messages = telemetry.check_existing_loggers_kept()
    assert ids(messages) == expected
    assert [m.obj for m in messages] == ([obj] if obj else [])


def test_w608_ignored_with_custom_logging_config(settings):
    settings.LOGGING_CONFIG = None
    settings.LOGGING = {"version": 1}
    assert telemetry.check_existing_loggers_kept() == []


# --- W609: DEBUG level -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(logging_config(level="DEBUG"), ["root", "django"], id="preset-debug"),
        pytest.param(logging_config(django_level="DEBUG"), ["django"], id="preset-django-debug"),
        pytest.param(
            {"version": 1, "disable_existing_loggers": False, "root": {"level": 10}},
            ["root"],
            id="numeric-root",
        ),
        pytest.param(
            {"version": 1, "disable_existing_loggers": False, "root": {"level": "NOTSET"}},
            ["root"],
            id="root-notset",
        ),
        pytest.param(logging_config(), [], id="preset-info"),
        pytest.param(
            logging_config(level="INFO", db_level="DEBUG"), [], id="db-debug-is-not-django"
        ),
    ],
)
def test_w609_debug_level(settings, config, expected):
    settings.LOGGING = config
    messages = telemetry.check_no_debug_logging()
    assert ids(messages) == ["prodkit.W609"] * len(expected)
    assert [m.msg.split(" logger")[0].rsplit(" ", 1)[1] for m in messages] == expected


def test_w609_logging_from_env_passes_and_is_caught_at_debug(settings):
    settings.LOGGING = logging_from_env(Env(environ={}))
    assert telemetry.check_no_debug_logging() == []
    settings.LOGGING = logging_from_env(Env(environ={"DJANGO_LOG_LEVEL": "debug"}))
    assert ids(telemetry.check_no_debug_logging()) == ["prodkit.W609", "prodkit.W609"]


# --- W610: django.request errors go nowhere ----------------------------------------------------


@pytest.mark.parametrize(
    ("logging", "admins", "expected"),
    [
        pytest.param({}, [], ["prodkit.W610"], id="django-defaults-no-admins"),
        pytest.param({}, ["ops@example.com"], [], id="django-defaults-mail-admins"),
        pytest.param(
            {
                "version": 1,
                "handlers": {"console": STREAM_HANDLER},
                "root": {"handlers": ["console"], "level": "INFO"},
            },
            [],
            ["prodkit.W610"],
            id="root-only-disables-django-request",
        ),
        pytest.param(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"console": STREAM_HANDLER},
                "root": {"handlers": ["console"], "level": "INFO"},
            },
            [],
            [],
            id="root-only-keeps-existing",
        ),
        pytest.param(
            {
                "version": 1,
                "handlers": {"console": STREAM_HANDLER},
                "loggers": {"django": {"handlers": ["console"]}},
            },
            [],
            [],
            id="django-named-keeps-its-children",
        ),
        pytest.param(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"null": {"class": "logging.NullHandler"}},
                "loggers": {"django.request": {"handlers": ["null"], "propagate": False}},
            },
            [],
            ["prodkit.W610"],
            id="null-handler",
        ),
        pytest.param(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "loggers": {"django": {"handlers": [], "propagate": True}},
            },
            [],
            [],
            id="no-handler-at-all-goes-to-stderr",
        ),
        pytest.param(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"console": STREAM_HANDLER},
                "root": {"handlers": ["console"]},
                "loggers": {"django": {"level": "CRITICAL"}},
            },
            [],
            ["prodkit.W610"],
            id="level-above-error",
        ),
        pytest.param(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "filters": {"debug_only": {"()": "django.utils.log.RequireDebugTrue"}},
                "handlers": {"console": {**STREAM_HANDLER, "filters": ["debug_only"]}},
                "root": {"handlers": ["console"]},
                "loggers": {"django": {"handlers": [], "propagate": True}},
            },
            [],
            ["prodkit.W610"],
            id="debug-only-handler",
        ),
    ],
)
def test_w610_request_errors_go_nowhere(settings, logging, admins, expected):
    settings.LOGGING = logging
    settings.ADMINS = admins
    assert ids(telemetry.check_request_errors_logged()) == expected


def test_w610_says_why(settings):
    settings.LOGGING = {"version": 1, "root": {"handlers": []}}
    [message] = telemetry.check_request_errors_logged()
    assert "disabled" in message.msg
    settings.LOGGING = {}
    [message] = telemetry.check_request_errors_logged()
    assert "(console, mail_admins)" in message.msg
    assert "ADMINS empty" in message.msg


def test_w610_azure_monitor_handler_counts(settings, monkeypatch):
    monkeypatch.setenv(telemetry.CONNECTION_STRING, CONNECTION)
    settings.LOGGING = {}
    assert telemetry.check_request_errors_logged() == []


def test_w610_logging_from_env_passes(settings):
    settings.LOGGING = logging_from_env(Env(environ={}))
    assert telemetry.check_request_errors_logged() == []


# --- The whole area ----------------------------------------------------------------------------


def test_prodkit_presets_pass_the_logging_checks(settings, monkeypatch, several_instances):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    monkeypatch.setenv(telemetry.CONNECTION_STRING, CONNECTION)
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/healthz,/readyz")
    settings.MIDDLEWARE = production_middleware([COMMON])
    settings.LOGGING = logging_from_env(Env(environ={}))
    assert _telemetry_messages() == []


def test_hand_written_logging_is_caught(settings, monkeypatch):
    """The file-logging example of Django's docs, deployed in a container."""
    monkeypatch.setenv("container", "docker")
    settings.LOGGING = {
        "version": 1,
        "handlers": {
            "file": {
                "level": "DEBUG",
                "class": "logging.FileHandler",
                "filename": "/path/to/django/debug.log",
            },
        },
        "loggers": {
            "django": {
                "handlers": ["file"],
                "level": "DEBUG",
                "propagate": True,
            },
        },
    }
    found = set(ids(_telemetry_messages()))
    assert {"prodkit.W607", "prodkit.W608", "prodkit.W609", "prodkit.I602"} <= found
    assert "prodkit.W610" not in found


def test_telemetry_checks_reach_django_check_framework(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    settings.SILENCED_SYSTEM_CHECKS = ["prodkit.W608"]
    settings.LOGGING = {"version": 1, "root": {"handlers": []}}
    found = run_checks(tags=["telemetry"], include_deployment_checks=True)
    visible = [m.id for m in found if not m.is_silenced()]
    assert "prodkit.W601" in visible
    assert "prodkit.W610" in visible
    assert "prodkit.W608" not in visible


@pytest.mark.parametrize(
    ("backend", "with_middleware", "expected"),
    [
        pytest.param("azure", False, ["prodkit.W611"], id="azure-without-middleware"),
        pytest.param("azure", True, [], id="azure-with-middleware"),
        pytest.param("off", False, [], id="off"),
    ],
)
def test_w611_backend_without_middleware(settings, backend, with_middleware, expected):
    settings.PRODKIT_TELEMETRY_BACKEND = backend
    settings.MIDDLEWARE = production_middleware([]) if with_middleware else [COMMON]
    assert ids(telemetry.check_telemetry_middleware()) == expected


def test_w606_prodkit_telemetry_is_not_taken_for_opentelemetry(settings, monkeypatch):
    # The connection string feeds prodkit's middleware, which never traces the health paths
    # (HealthCheckMiddleware answers first and they are excluded besides).
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", CONNECTION)
    settings.PRODKIT_TELEMETRY_BACKEND = "azure"
    settings.MIDDLEWARE = [COMMON, telemetry.PRODKIT_MIDDLEWARE]
    assert ids(telemetry.check_health_not_traced()) == []
