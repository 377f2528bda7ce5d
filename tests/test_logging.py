"""logging_config / logging_from_env applied with dictConfig, and the JSON formatter."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.log import configure_logging

from django_prodkit.env import Env
from django_prodkit.log import JsonFormatter, RequestIdFilter, request_id_var
from django_prodkit.settings.logging import PLAIN_FORMAT, logging_config, logging_from_env

PLAIN_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[(?P<request_id>[^\]]+)\] (?P<message>.*)"
)


def _from_pytest(handler):
    return type(handler).__module__.startswith("_pytest")


def _loggers():
    manager = logging.Logger.manager
    others = [lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger)]
    return [logging.getLogger(), *others]


@pytest.fixture(autouse=True)
def restore_logging():
    """Put every logger back as it was; pytest's own capture handlers are left to pytest."""
    saved = {
        logger: (
            logger.level,
            [h for h in logger.handlers if not _from_pytest(h)],
            logger.propagate,
            logger.disabled,
            logger.filters[:],
        )
        for logger in _loggers()
    }
    yield
    for logger in _loggers():
        level, handlers, propagate, disabled, filters = saved.get(
            logger, (logging.NOTSET, [], True, False, [])
        )
        for handler in logger.handlers:
            if not _from_pytest(handler) and handler not in handlers:
                handler.close()
        logger.handlers = [*handlers, *(h for h in logger.handlers if _from_pytest(h))]
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
        logger.filters = filters


@pytest.fixture
def request_id():
    token = request_id_var.set("req-42")
    yield "req-42"
    request_id_var.reset(token)


def lines(capsys):
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.splitlines()


def json_lines(capsys):
    return [json.loads(line) for line in lines(capsys)]


# --- the dict -------------------------------------------------------------------------------


def test_config_shape():
    config = logging_config()
    assert config["version"] == 1
    assert config["disable_existing_loggers"] is False
    assert config["handlers"] == {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    }
    assert config["filters"]["request_id"] == {"()": "django_prodkit.log.RequestIdFilter"}
    assert config["formatters"]["plain"] == {"format": PLAIN_FORMAT}
    assert config["root"] == {"level": "INFO", "handlers": ["stdout"]}
    assert config["loggers"]["django"]["level"] == "INFO"
    assert config["loggers"]["django.db.backends"]["level"] == "WARNING"
    # The Azure SDKs' request-by-request INFO lines are kept out.
    assert config["loggers"]["azure"]["level"] == "WARNING"
    for logger in config["loggers"].values():
        assert logger["handlers"] == []
        assert logger["propagate"] is True


def test_config_levels_and_json():
    config = logging_config(level="warning", json=True, django_level="ERROR", db_level="DEBUG")
    assert config["root"]["level"] == "WARNING"
    assert config["loggers"]["django"]["level"] == "ERROR"
    assert config["loggers"]["django.db.backends"]["level"] == "DEBUG"
    assert config["handlers"]["stdout"]["formatter"] == "json"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"level": "LOUD"}, "level", id="level"),
        pytest.param({"django_level": "VERBOSE"}, "django_level", id="django-level"),
        pytest.param({"db_level": "TRACE"}, "db_level", id="db-level"),
    ],
)
def test_config_rejects_unknown_levels(kwargs, argument):
    with pytest.raises(ImproperlyConfigured, match=f"logging_config\\(\\) {argument} must be"):
        logging_config(**kwargs)


# --- applied with dictConfig ------------------------------------------------------------------


def test_plain_lines(capsys, request_id):
    logging.config.dictConfig(logging_config())
    logging.getLogger("shop.orders").info("order %s paid", 7)
    token = request_id_var.set(None)
    logging.getLogger("shop").warning("outside")
    request_id_var.reset(token)
    first, second = (PLAIN_LINE.fullmatch(line) for line in lines(capsys))
    assert first.groupdict() == {
        "level": "INFO",
        "logger": "shop.orders",
        "request_id": "req-42",
        "message": "order 7 paid",
    }
    assert second["request_id"] == "-"


def test_json_lines(capsys, request_id):
    logging.config.dictConfig(logging_config(json=True))
    before = datetime.now(UTC)
    logging.getLogger("shop").info("hello %s", "wörld", extra={"order": 7, "tags": ["a", "b"]})
    [line] = json_lines(capsys)
    time = datetime.fromisoformat(line.pop("time"))
    assert time.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= time <= datetime.now(UTC)
    assert line == {
        "level": "INFO",
        "logger": "shop",
        "message": "hello wörld",
        "request_id": "req-42",
        "order": 7,
        "tags": ["a", "b"],
    }


def test_json_without_request(capsys):
    logging.config.dictConfig(logging_config(json=True))
    logging.getLogger("shop").error("no request here")
    assert json_lines(capsys)[0]["request_id"] == "-"


def test_json_exception_is_one_line_with_traceback(capsys):
    logging.config.dictConfig(logging_config(json=True))
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("shop").exception("it broke")
    [raw] = lines(capsys)
    line = json.loads(raw)
    assert line["message"] == "it broke"
    assert line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in line["exception"]


def test_json_stack_info(capsys):
    logging.config.dictConfig(logging_config(json=True))
    logging.getLogger("shop").info("where am I", stack_info=True)
    assert json_lines(capsys)[0]["stack"].startswith("Stack (most recent call last):")


class Unserialisable:
    def __str__(self):
        return "<unserialisable>"


def test_json_extra_that_json_cannot_hold_is_a_string(capsys):
    logging.config.dictConfig(logging_config(json=True))
    loop = []
    loop.append(loop)
    extra = {
        "obj": Unserialisable(),
        "nested": {"obj": Unserialisable()},
        "loop": loop,
        "nan": float("nan"),
        "none": None,
        "ok": {"a": 1.5, "b": True},
    }
    logging.getLogger("shop").info("extras", extra=extra)
    line = json_lines(capsys)[0]
    assert line["obj"] == "<unserialisable>"
    assert line["nested"].startswith("{'obj': <tests.test_logging.Unserialisable object at")
    assert line["loop"] == "[[...]]"
    assert line["nan"] == "nan"
    assert line["none"] is None
    assert line["ok"] == {"a": 1.5, "b": True}


def test_json_keeps_request_id_given_in_extra(capsys, request_id):
    logging.config.dictConfig(logging_config(json=True))
    logging.getLogger("jobs").info("for an earlier request", extra={"request_id": "req-7"})
    assert json_lines(capsys)[0]["request_id"] == "req-7"


def test_json_drops_uvicorn_color_message():
    record = logging.makeLogRecord({"msg": "Started", "color_message": "\x1b[32mStarted\x1b[0m"})
    assert "color_message" not in json.loads(JsonFormatter().format(record))


def test_formatter_alone_reads_the_request_id(request_id):
    record = logging.makeLogRecord({"msg": "no filter ran"})
    assert json.loads(JsonFormatter().format(record))["request_id"] == "req-42"


def test_filter_keeps_every_record():
    record = logging.makeLogRecord({"msg": "x", "levelno": logging.DEBUG})
    assert RequestIdFilter().filter(record) is True
    assert record.request_id == "-"


@pytest.mark.parametrize(
    ("kwargs", "shown", "hidden"),
    [
        pytest.param({}, ["root info", "django info", "db warning"], ["db debug"], id="defaults"),
        pytest.param(
            {"level": "DEBUG"},
            ["root debug", "django debug", "db warning"],
            ["db debug", "db info"],
            id="debug-keeps-sql-out",
        ),
        pytest.param(
            {"level": "DEBUG", "db_level": "DEBUG"}, ["db debug"], [], id="sql-when-asked"
        ),
        pytest.param(
            {"level": "WARNING", "django_level": "DEBUG"},
            ["django debug", "root warning"],
            ["root info"],
            id="django-level",
        ),
    ],
)
def test_levels(capsys, kwargs, shown, hidden):
    logging.config.dictConfig(logging_config(**kwargs))
    loggers = {"root": "shop", "django": "django.request", "db": "django.db.backends"}
    for short, name in loggers.items():
        for level in ("debug", "info", "warning"):
            getattr(logging.getLogger(name), level)(f"{short} {level}")
    messages = [PLAIN_LINE.fullmatch(line)["message"] for line in lines(capsys)]
    assert set(shown) <= set(messages)
    assert not set(hidden) & set(messages)


# --- one line per event, whoever configured the logger first --------------------------------


def test_django_defaults_are_replaced_not_doubled(capsys):
    # What Django does at setup: its DEFAULT_LOGGING first, then settings.LOGGING.
    configure_logging("logging.config.dictConfig", logging_config())
    logging.getLogger("django.server").info('"GET / HTTP/1.1" 200 5')
    logging.getLogger("django.request").error("Internal Server Error: /")
    out = lines(capsys)
    assert [PLAIN_LINE.fullmatch(line)["logger"] for line in out] == [
        "django.server",
        "django.request",
    ]
    # mail_admins and the DEBUG-only console handler are gone; root's stdout handler remains.
    assert logging.getLogger("django").handlers == []


def test_gunicorn_and_uvicorn_worker_loggers_reach_stdout_once(capsys):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    config.set("accesslog", "-")
    config.set("errorlog", "-")
    gunicorn_log = Logger(config)  # gives gunicorn.error/access own handlers, propagate=False
    # What uvicorn_worker.UvicornWorker.__init__ does with gunicorn's handlers.
    for name, source in (
        ("uvicorn.error", "gunicorn.error"),
        ("uvicorn.access", "gunicorn.access"),
    ):
        logger = logging.getLogger(name)
        logger.handlers = logging.getLogger(source).handlers
        logger.propagate = False

    logging.config.dictConfig(logging_config(json=True, server_access_log=True))
    gunicorn_log.info("Booting worker with pid: 1")
    logging.getLogger("gunicorn.access").info('"GET / HTTP/1.1" 200')
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", "/", "1.1", 200
    )

    assert [(line["logger"], line["message"]) for line in json_lines(capsys)] == [
        ("gunicorn.error", "Booting worker with pid: 1"),
        ("gunicorn.access", '"GET / HTTP/1.1" 200'),
        ("uvicorn.error", "Application startup complete."),
        ("uvicorn.access", '1.2.3.4 - "GET / HTTP/1.1" 200'),
    ]


def test_uvicorn_own_config_is_replaced_not_doubled(capsys):
    from uvicorn.config import LOGGING_CONFIG, Config

    Config(app="tests.urls_middleware:urlpatterns", log_config=LOGGING_CONFIG)
    logging.config.dictConfig(logging_config(json=True, server_access_log=True))
    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "Started server process \x1b[36m1\x1b[0m"}
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", "/", "1.1", 200
    )
    out = json_lines(capsys)
    assert [line["logger"] for line in out] == ["uvicorn.error", "uvicorn.access"]
    assert "color_message" not in out[0]


def test_server_access_logs_are_dropped_by_default(capsys):
    """RequestIdMiddleware logs each request; uvicorn's line would double it."""
    logging.config.dictConfig(logging_config(json=True))
    logging.getLogger("uvicorn.access").info('1.2.3.4 - "GET / HTTP/1.1" 200')
    logging.getLogger("gunicorn.access").info('"GET / HTTP/1.1" 200')
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.access").warning("kept: not an access line")
    assert [line["message"] for line in json_lines(capsys)] == [
        "Application startup complete.",
        "kept: not an access line",
    ]


def test_env_server_access_log():
    env = Env({"PRODKIT_SERVER_ACCESS_LOG": "true"})
    assert logging_from_env(env) == logging_config(server_access_log=True)


# --- from the environment -------------------------------------------------------------------


def test_env_defaults():
    assert logging_from_env(Env({})) == logging_config()


def test_env_values():
    env = Env(
        {"DJANGO_LOG_LEVEL": "debug", "PRODKIT_LOG_FORMAT": "json", "DJANGO_DB_LOG_LEVEL": "INFO"}
    )
    assert logging_from_env(env) == logging_config(level="DEBUG", json=True, db_level="INFO")


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        pytest.param(
            {"DJANGO_LOG_LEVEL": "LOUD"},
            r"^DJANGO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
            r"got 'LOUD'\.$",
            id="level",
        ),
        pytest.param({"DJANGO_DB_LOG_LEVEL": "SQL"}, "^DJANGO_DB_LOG_LEVEL must be", id="db-level"),
        pytest.param(
            {"PRODKIT_LOG_FORMAT": "xml"},
            r"^PRODKIT_LOG_FORMAT must be one of plain, json, got 'xml'\.$",
            id="format",
        ),
    ],
)
def test_env_errors_name_the_variable(environ, match):
    with pytest.raises(ImproperlyConfigured, match=match):
        logging_from_env(Env(environ))


def test_env_prefix():
    with pytest.raises(ImproperlyConfigured, match=r"^APP_DJANGO_LOG_LEVEL must be"):
        logging_from_env(Env({"APP_DJANGO_LOG_LEVEL": "LOUD"}, prefix="APP_"))
