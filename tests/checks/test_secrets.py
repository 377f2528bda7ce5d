"""Checks 0xx: secrets and debug, with prodkit's helpers and with hand-written settings."""

from __future__ import annotations

import secrets
import sys
import types

import django
import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils.log import AdminEmailHandler

from django_prodkit.checks import secrets as checks
from django_prodkit.env import Env
from django_prodkit.settings import logging_config, production_settings
from tests.checks import ids

# Planted in settings by the tests below; no message may ever show them.
PLANTED_KEY = "planted-" + secrets.token_urlsafe(48)
PLANTED_DB_PASSWORD = "postgres"

ADMINS = [("Ops", "ops@example.com")] if django.VERSION < (6, 0) else ["ops@example.com"]
MAIL_ADMINS = {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR"}
CONSOLE = {"class": "logging.StreamHandler"}


class TeamMailHandler(AdminEmailHandler):
    """A project's own subclass of Django's handler."""


@pytest.fixture(autouse=True)
def _no_error_tracker(monkeypatch):
    for name in checks.ERROR_TRACKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _texts(messages) -> str:
    return " ".join(f"{m.msg} {m.hint} {m.obj}" for m in messages)


def _area():
    return run_checks(tags=["secrets"], include_deployment_checks=True)


def random_key() -> str:
    return secrets.token_urlsafe(50)


# --- E001 DEBUG -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("debug", "expected"),
    [
        pytest.param(True, ["prodkit.E001"], id="debug-on"),
        pytest.param(False, [], id="debug-off"),
    ],
)
def test_e001_debug(settings, debug, expected):
    settings.DEBUG = debug
    assert ids(checks.check_debug()) == expected


# --- E002 weak key, E003 public key ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("short-but-random-Xy7", "20 characters", id="short"),
        pytest.param("ab" * 40, "only 2 distinct", id="repetitive"),
        pytest.param(
            "django-insecure-" + "k" * 10 + random_key(), "django-insecure-", id="startproject"
        ),
        pytest.param(b"\x00\x01" * 30, "only 2 distinct", id="bytes"),
    ],
)
def test_e002_weak_secret_key(settings, key, reason):
    settings.SECRET_KEY = key
    [message] = [m for m in checks.check_secret_key() if m.id == "prodkit.E002"]
    assert reason in message.msg
    assert message.obj == "settings.SECRET_KEY"


def test_e002_e003_random_key_passes(settings):
    settings.SECRET_KEY = random_key()
    assert checks.check_secret_key() == []


def test_e002_names_prodkits_development_key(settings, tmp_path):
    generated = production_settings(
        Env(environ={"DJANGO_DEBUG": "true", "DJANGO_ALLOWED_HOSTS": "localhost"}),
        base_dir=tmp_path,
        default_database="sqlite:///:memory:",
    )
    settings.SECRET_KEY = generated["SECRET_KEY"]
    [message] = checks.check_secret_key()
    assert message.id == "prodkit.E002"
    assert "prodkit's development key" in message.msg
    assert "DJANGO_DEBUG=true" in message.msg
    assert generated["SECRET_KEY"] not in _texts([message])


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("changeme", ["prodkit.E002", "prodkit.E003"], id="short-placeholder"),
        pytest.param(
            "change-me-to-a-long-random-string-before-going-to-production-0123456789",
            ["prodkit.E003"],
            id="long-placeholder",
        ),
        pytest.param(
            "Your-Secret-Key-Here-" + "q" * 10 + random_key(),
            ["prodkit.E003"],
            id="your-secret-key",
        ),
    ],
)
def test_e003_placeholder_keys(settings, key, expected):
    settings.SECRET_KEY = key
    found = checks.check_secret_key()
    assert ids(found) == expected
    assert key not in _texts(found)


@pytest.mark.parametrize(
    "file_name", [".env.example", ".env.sample", "env.example", ".env.template"]
)
def test_e003_key_copied_from_example_file(settings, tmp_path, file_name):
    key = random_key()
    (tmp_path / file_name).write_text(f"DJANGO_DEBUG=false\nDJANGO_SECRET_KEY='{key}'\n")
    settings.BASE_DIR = tmp_path
    settings.SECRET_KEY = key
    [message] = checks.check_secret_key()
    assert message.id == "prodkit.E003"
    assert file_name in message.msg
    assert key not in _texts([message])


def test_e003_example_file_beside_the_project_directory(settings, tmp_path):
    key = random_key()
    (tmp_path / ".env.example").write_text(f"export SECRET_KEY={key}\n")
    settings.BASE_DIR = tmp_path / "project"
    settings.SECRET_KEY = key
    assert ids(checks.check_secret_key()) == ["prodkit.E003"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("DJANGO_SECRET_KEY=\n", id="empty-value"),
        pytest.param(f"DJANGO_SECRET_KEY={random_key()}\n", id="other-value"),
    ],
)
def test_e003_example_file_with_another_value_passes(settings, tmp_path, content):
    (tmp_path / ".env.example").write_text(content)
    settings.BASE_DIR = tmp_path
    settings.SECRET_KEY = random_key()
    assert checks.check_secret_key() == []


def test_e003_without_base_dir(settings):
    del settings.BASE_DIR
    settings.SECRET_KEY = random_key()
    assert checks.check_secret_key() == []


# --- W004, W005, I006 fallbacks -------------------------------------------------------------


def test_w004_current_key_among_fallbacks(settings):
    key = random_key()
    settings.SECRET_KEY = key
    settings.SECRET_KEY_FALLBACKS = [key]
    found = checks.check_secret_key_fallbacks()
    assert ids(found) == ["prodkit.W004"]
    assert key not in _texts(found)


def test_w004_w005_i006_a_proper_rotation_passes(settings):
    settings.SECRET_KEY = random_key()
    settings.SECRET_KEY_FALLBACKS = [random_key()]
    assert checks.check_secret_key_fallbacks() == []


def test_w005_public_fallbacks(settings, tmp_path):
    example_key = random_key()
    (tmp_path / ".env.example").write_text(f"DJANGO_SECRET_KEY={example_key}\n")
    settings.BASE_DIR = tmp_path
    settings.SECRET_KEY = random_key()
    development = production_settings(
        Env(environ={"DJANGO_DEBUG": "true", "DJANGO_ALLOWED_HOSTS": "localhost"}),
        base_dir=tmp_path,
        default_database="sqlite:///:memory:",
    )["SECRET_KEY"]
    fallbacks = [
        random_key(),
        development,
        "replace-me-with-the-old-key-" + random_key(),
        example_key,
    ]
    settings.SECRET_KEY_FALLBACKS = fallbacks
    found = [m for m in checks.check_secret_key_fallbacks() if m.id != "prodkit.I006"]
    assert ids(found) == ["prodkit.W005"] * 3
    assert [m.obj for m in found] == [f"settings.SECRET_KEY_FALLBACKS[{i}]" for i in (1, 2, 3)]
    assert "development key" in found[0].msg
    assert ".env.example" in found[2].msg
    for key in fallbacks:
        assert key not in _texts(found)


@pytest.mark.parametrize(
    ("count", "expected"),
    [pytest.param(4, ["prodkit.I006"], id="four"), pytest.param(3, [], id="three")],
)
def test_i006_many_fallbacks(settings, count, expected):
    settings.SECRET_KEY = random_key()
    settings.SECRET_KEY_FALLBACKS = [random_key() for _ in range(count)]
    assert ids(checks.check_secret_key_fallbacks()) == expected


# --- E007, E008 ALLOWED_HOSTS ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("hosts", "debug", "expected"),
    [
        pytest.param(["*"], False, ["prodkit.E007"], id="wildcard"),
        pytest.param(["www.example.com", "*"], True, ["prodkit.E007"], id="wildcard-in-debug"),
        pytest.param([], False, ["prodkit.E008"], id="empty"),
        pytest.param([], True, [], id="empty-in-debug"),
        pytest.param([".example.com"], False, [], id="subdomains"),
        pytest.param(["www.example.com"], False, [], id="listed"),
    ],
)
def test_e007_e008_allowed_hosts(settings, hosts, debug, expected):
    settings.ALLOWED_HOSTS = hosts
    settings.DEBUG = debug
    assert ids(checks.check_allowed_hosts()) == expected


# --- W009 error reporting -------------------------------------------------------------------


def _logging(**config):
    return {"version": 1, **config}


@pytest.mark.parametrize(
    ("admins", "logging_setting", "expected"),
    [
        pytest.param([], {}, ["prodkit.W009"], id="no-admins"),
        pytest.param(ADMINS, {}, [], id="admins-default-logging"),
        pytest.param(ADMINS, logging_config(), ["prodkit.W009"], id="prodkit-stdout-preset"),
        pytest.param(
            ADMINS,
            _logging(
                handlers={"mail_admins": MAIL_ADMINS},
                loggers={"django": {"handlers": ["mail_admins"]}},
            ),
            [],
            id="mail-admins-on-django",
        ),
        pytest.param(
            ADMINS,
            _logging(
                handlers={"team": {"class": f"{__name__}.TeamMailHandler"}},
                root={"handlers": ["team"]},
                disable_existing_loggers=False,
            ),
            [],
            id="subclass-on-root",
        ),
        pytest.param(
            ADMINS,
            _logging(handlers={"console": CONSOLE}, root={"handlers": ["console"]}),
            ["prodkit.W009"],
            id="django-loggers-disabled",
        ),
        pytest.param(
            ADMINS,
            _logging(
                handlers={"console": CONSOLE},
                root={"handlers": ["console"]},
                disable_existing_loggers=False,
            ),
            [],
            id="django-default-kept",
        ),
        pytest.param(
            ADMINS,
            _logging(
                handlers={"console": CONSOLE},
                loggers={"django.request": {"handlers": ["console"], "propagate": False}},
                disable_existing_loggers=False,
            ),
            ["prodkit.W009"],
            id="request-logger-stops-propagation",
        ),
    ],
)
def test_w009_errors_reach_someone(settings, admins, logging_setting, expected):
    settings.ADMINS = admins
    settings.LOGGING = logging_setting
    assert ids(checks.check_error_reporting()) == expected


def test_w009_message_says_which_part_is_missing(settings):
    settings.ADMINS = ADMINS
    settings.LOGGING = logging_config()
    [message] = checks.check_error_reporting()
    assert "LOGGING sends errors to no AdminEmailHandler" in message.msg
    assert message.obj == "settings.LOGGING"


@pytest.mark.parametrize("variable", checks.ERROR_TRACKER_VARIABLES)
def test_w009_an_error_tracker_is_enough(settings, monkeypatch, variable):
    settings.ADMINS = []
    monkeypatch.setenv(variable, "https://collector.example.com")
    assert checks.check_error_reporting() == []


def test_w009_custom_logging_config_is_not_second_guessed(settings):
    settings.ADMINS = ADMINS
    settings.LOGGING_CONFIG = None
    settings.LOGGING = {}
    assert checks.check_error_reporting() == []


# --- W010, W011, W012 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(True, ["prodkit.W010"], id="on"), pytest.param(False, [], id="off")],
)
def test_w010_debug_propagate_exceptions(settings, value, expected):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = value
    assert ids(checks.check_debug_propagate_exceptions()) == expected


@pytest.mark.parametrize(
    ("entry", "package"),
    [
        pytest.param(
            "debug_toolbar.middleware.DebugToolbarMiddleware", "debug_toolbar", id="toolbar"
        ),
        pytest.param("silk.middleware.SilkyMiddleware", "silk", id="silk"),
        pytest.param(
            "django_browser_reload.middleware.BrowserReloadMiddleware",
            "django_browser_reload",
            id="browser-reload",
        ),
    ],
)
def test_w011_development_middleware(settings, entry, package):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, entry]
    [message] = checks.check_development_tools()
    assert message.id == "prodkit.W011"
    assert package in message.msg
    assert message.obj == "settings.MIDDLEWARE"


def test_w011_development_app(settings, monkeypatch, tmp_path):
    # A stand-in package named like django-extensions, so INSTALLED_APPS really loads it.
    package = types.ModuleType("django_extensions")
    package.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, "django_extensions", package)
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_extensions"]
    found = checks.check_development_tools()
    assert ids(found) == ["prodkit.W011"]
    assert found[0].obj == "settings.INSTALLED_APPS"


def test_w011_production_apps_pass(settings):
    assert checks.check_development_tools() == []


def _database(host, password, user="app"):
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "app",
            "USER": user,
            "PASSWORD": password,
            "HOST": host,
        }
    }


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize(
    ("host", "password", "user", "expected"),
    [
        pytest.param("db.example.com", "postgres", "app", ["prodkit.W012"], id="default-password"),
        pytest.param("10.0.0.4", "Password", "app", ["prodkit.W012"], id="any-case"),
        pytest.param("db.example.com", "app", "app", ["prodkit.W012"], id="user-name"),
        pytest.param("db.example.com", random_key(), "app", [], id="generated"),
        pytest.param("127.0.0.1", "postgres", "app", [], id="loopback"),
        pytest.param("", "postgres", "app", [], id="local-socket"),
        pytest.param("/var/run/postgresql", "postgres", "app", [], id="socket-path"),
    ],
)
def test_w012_database_password(settings, host, password, user, expected):
    settings.DATABASES = _database(host, password, user)
    found = checks.check_database_passwords()
    assert ids(found) == expected
    assert all(password not in _texts([m]) for m in found)


# --- the area as a whole --------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_hand_written_settings_are_caught(settings):
    """Settings the way a project writes them by hand, straight from a tutorial."""
    settings.DEBUG = True
    settings.SECRET_KEY = "django-insecure-)h2n@w#5_9^v(x3t8m!r$1k&q7z0p6b4y-e+j*c%u=s2d"
    settings.ALLOWED_HOSTS = ["*"]
    settings.ADMINS = []
    settings.MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "debug_toolbar.middleware.DebugToolbarMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
    ]
    settings.DATABASES = _database("db.internal.example.com", PLANTED_DB_PASSWORD, "postgres")
    found = set(ids(_area()))
    assert {
        "prodkit.E001",
        "prodkit.E002",
        "prodkit.E007",
        "prodkit.W009",
        "prodkit.W011",
        "prodkit.W012",
    } <= found


def test_production_settings_from_a_proper_environment_pass(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=00000000")
    generated = production_settings(
        Env(environ={"DJANGO_SECRET_KEY": random_key(), "DJANGO_ALLOWED_HOSTS": "www.example.com"}),
        base_dir=tmp_path,
        default_database="sqlite:///:memory:",
    )
    for name in ("DEBUG", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "ALLOWED_HOSTS", "LOGGING"):
        setattr(settings, name, generated[name])
    assert _area() == []


def test_production_settings_in_debug_are_caught(settings, tmp_path):
    generated = production_settings(
        Env(environ={"DJANGO_DEBUG": "true"}),
        base_dir=tmp_path,
        default_database="sqlite:///:memory:",
    )
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"):
        setattr(settings, name, generated[name])
    assert {"prodkit.E001", "prodkit.E002"} <= set(ids(_area()))


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_no_secret_appears_in_any_message(settings, tmp_path):
    (tmp_path / ".env.example").write_text(f"DJANGO_SECRET_KEY={PLANTED_KEY}\n")
    settings.BASE_DIR = tmp_path
    settings.SECRET_KEY = PLANTED_KEY
    settings.SECRET_KEY_FALLBACKS = [PLANTED_KEY, "changeme-" + PLANTED_KEY]
    settings.DATABASES = _database("db.example.com", PLANTED_DB_PASSWORD)
    found = _area()
    assert {"prodkit.E003", "prodkit.W004", "prodkit.W005", "prodkit.W012"} <= set(ids(found))
    text = _texts(found)
    assert PLANTED_KEY not in text
    assert PLANTED_DB_PASSWORD not in text


def test_checks_reach_django_check_command(settings):
    settings.ALLOWED_HOSTS = ["*"]
    with pytest.raises(SystemCheckError, match=r"prodkit\.E007"):
        call_command("check", deploy=True, tags=["secrets"])
