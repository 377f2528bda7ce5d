"""Checks 7xx: server and e-mail, with prodkit's presets and with hand-written settings."""

from __future__ import annotations

import os
import warnings

import pytest
from django.core.checks import run_checks

from django_prodkit.checks import server
from django_prodkit.env import Env
from django_prodkit.settings import detect_platform, email_from_env, email_from_url
from django_prodkit.settings.email import HAS_MAILERS, LEGACY_SETTINGS
from django_prodkit.settings.server import cpu_cores
from tests.checks import ids

SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
PASSWORD = "planted-SECRET-password"
USER = "planted-SECRET-user"
# Django's own defaults for the EMAIL_* settings, by MAILERS option name.
DEFAULTS = {
    "host": "localhost",
    "port": 25,
    "username": "",
    "password": "",
    "use_tls": False,
    "use_ssl": False,
    "timeout": None,
    "file_path": None,
}
SERVER_VARIABLES = ("PRODKIT_TIMEOUT", "GUNICORN_CMD_ARGS")


def application(environ, start_response):
    """A WSGI application for WSGI_APPLICATION to point at."""
    start_response("200 OK", [])
    return [b""]


not_an_application = 42


@pytest.fixture(autouse=True)
def _clean(settings, monkeypatch):
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings.ADMINS = []
    settings.MANAGERS = []


def _apply(settings, config):
    """Put a settings dict (a helper's output) into the settings."""
    for name, value in config.items():
        setattr(settings, name, value)


def _mail(settings, backend=SMTP, **options):
    """Configure the default mailer as this Django reads it: MAILERS on 6.1, EMAIL_* before."""
    if HAS_MAILERS:
        settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND = backend
        for option, name in LEGACY_SETTINGS.items():
            setattr(settings, name, options.get(option, DEFAULTS[option]))


def _server_messages():
    return [
        m
        for m in run_checks(tags=["server"], include_deployment_checks=True)
        if m.id and m.id.startswith("prodkit.")
    ]


def _text(messages):
    return " ".join(f"{m.msg} {m.hint} {m.obj}" for m in messages)


def _in_a_container():
    return detect_platform(Env()).kind != "local"


# --- E701 / E702: entrypoints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param("tests.checks.test_server.application", None, id="callable"),
        pytest.param(None, None, id="unset"),
        pytest.param(
            "mysite.wsgi.application", "does not import (ModuleNotFoundError", id="module"
        ),
        pytest.param(
            "tests.checks.test_server.app", "does not import (ImportError", id="attribute"
        ),
        pytest.param(
            "tests.checks.test_server.not_an_application",
            "names a int, not a callable application",
            id="not-callable",
        ),
    ],
)
def test_e701_e702_entrypoints(settings, path, problem):
    settings.WSGI_APPLICATION = path
    settings.ASGI_APPLICATION = path
    wsgi, asgi = server.check_wsgi_application(), server.check_asgi_application()
    if problem is None:
        assert wsgi == asgi == []
        return
    assert ids(wsgi) == ["prodkit.E701"]
    assert ids(asgi) == ["prodkit.E702"]
    assert problem in wsgi[0].msg
    assert wsgi[0].obj == "settings.WSGI_APPLICATION"
    assert asgi[0].obj == "settings.ASGI_APPLICATION"


def test_e701_prodkit_entrypoint_imports(settings):
    import django_prodkit.wsgi  # noqa: F401 - already set up here: importing adds nothing

    settings.WSGI_APPLICATION = "django_prodkit.wsgi.application"
    assert server.check_wsgi_application() == []


# --- W703: server timeout ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected", "obj"),
    [
        pytest.param({"PRODKIT_TIMEOUT": "230"}, ["prodkit.W703"], "PRODKIT_TIMEOUT", id="230"),
        pytest.param({"PRODKIT_TIMEOUT": "600"}, ["prodkit.W703"], "PRODKIT_TIMEOUT", id="600"),
        pytest.param({"PRODKIT_TIMEOUT": "229"}, [], None, id="229"),
        pytest.param({}, [], None, id="default-220"),
        pytest.param(
            {"GUNICORN_CMD_ARGS": "--workers 3 --timeout 300"},
            ["prodkit.W703"],
            "GUNICORN_CMD_ARGS",
            id="gunicorn-args",
        ),
        pytest.param(
            {"GUNICORN_CMD_ARGS": "--timeout=0"},
            ["prodkit.W703"],
            "GUNICORN_CMD_ARGS",
            id="gunicorn-no-timeout",
        ),
        pytest.param(
            {"GUNICORN_CMD_ARGS": "-t 120", "PRODKIT_TIMEOUT": "300"}, [], None, id="gunicorn-wins"
        ),
        pytest.param({"GUNICORN_CMD_ARGS": "--bind 'unclosed"}, [], None, id="unparsable-args"),
    ],
)
def test_w703_timeout_on_app_service(monkeypatch, variables, expected, obj):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    messages = server.check_server_timeout()
    assert ids(messages) == expected
    assert [m.obj for m in messages] == ([f"os.environ[{obj!r}]"] if obj else [])


def test_w703_long_timeout_elsewhere_passes(monkeypatch):
    monkeypatch.setenv("PRODKIT_TIMEOUT", "600")
    assert server.check_server_timeout() == []


def test_w703_message_says_the_limit(monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    monkeypatch.setenv("PRODKIT_TIMEOUT", "300")
    [message] = server.check_server_timeout()
    assert "300 s" in message.msg
    assert "230 s" in message.msg


# --- W704 / I705: worker count -----------------------------------------------------------------


def test_w704_too_many_workers(settings):
    cores = cpu_cores()
    settings.PRODKIT_WORKERS = 4 * cores + 1
    [message] = server.check_worker_count()
    assert message.id == "prodkit.W704"
    assert message.obj == "settings.PRODKIT_WORKERS"
    assert f"{4 * cores + 1} worker processes on {cores} CPU core(s)" in message.msg


def test_w704_four_per_core_passes(settings):
    settings.PRODKIT_WORKERS = 4 * cpu_cores()
    assert server.check_worker_count() == []


def test_w704_from_web_concurrency(settings, monkeypatch):
    settings.PRODKIT_WORKERS = None
    monkeypatch.setenv("WEB_CONCURRENCY", str(4 * cpu_cores() + 1))
    [message] = server.check_worker_count()
    assert message.id == "prodkit.W704"
    assert message.obj == "os.environ['WEB_CONCURRENCY']"


def test_w704_i705_gunicorn_default_passes(settings):
    settings.PRODKIT_WORKERS = None
    assert server.check_worker_count() == []


def test_i705_one_worker_on_several_cores(settings):
    if cpu_cores() < 2:
        pytest.skip("this machine gives the process one core")
    settings.PRODKIT_WORKERS = 1
    assert ids(server.check_worker_count()) == ["prodkit.I705"]


def test_i705_two_workers_pass(settings):
    settings.PRODKIT_WORKERS = 2
    assert server.check_worker_count() == []


@pytest.mark.parametrize(
    ("files", "cap"),
    [
        pytest.param({"cpu.max": "150000 100000\n"}, 2, id="v2-one-and-a-half"),
        pytest.param({"cpu.max": "100000 100000\n"}, 1, id="v2-one"),
        pytest.param({"cpu.max": "max 100000\n"}, None, id="v2-no-limit"),
        pytest.param(
            {"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"},
            1,
            id="v1-half",
        ),
        pytest.param(
            {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
            None,
            id="v1-no-limit",
        ),
        pytest.param({}, None, id="no-cgroup"),
    ],
)
def test_cpu_cores_follow_the_container_quota(tmp_path, files, cap):
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    available = len(os.sched_getaffinity(0))
    assert cpu_cores(tmp_path) == (available if cap is None else min(available, cap))


# --- W706: e-mail not sent ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("console://", ["prodkit.W706"], id="console"),
        pytest.param("locmem://", ["prodkit.W706"], id="locmem"),
        pytest.param("dummy://", ["prodkit.W706"], id="dummy"),
        pytest.param("file:///var/mail/site", ["prodkit.W706"], id="file"),
        pytest.param("submission://mailer:pw@smtp.example.com", [], id="submission"),
        pytest.param("sendgrid://SG.key@", [], id="sendgrid"),
    ],
)
def test_w706_mail_is_not_sent(settings, url, expected):
    _apply(settings, email_from_url(url))
    messages = server.check_mail_is_sent()
    assert ids(messages) == expected
    setting = "MAILERS['default']" if HAS_MAILERS else "EMAIL_BACKEND"
    assert [m.obj for m in messages] == [f"settings.{setting}"] * len(expected)


def test_w706_email_from_env_default_is_caught(settings):
    _apply(settings, email_from_env(Env(environ={})))
    assert ids(server.check_mail_is_sent()) == ["prodkit.W706"]


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS is new in Django 6.1")
def test_w706_only_the_default_mailer_counts(settings):
    settings.MAILERS = {
        "default": {"BACKEND": SMTP, "OPTIONS": {"host": "smtp.example.com", "timeout": 5}},
        "debug": {"BACKEND": CONSOLE},
    }
    assert server.check_mail_is_sent() == []


@pytest.mark.skipif(not HAS_MAILERS, reason="EMAIL_* are deprecated from Django 6.1")
# Setting EMAIL_BACKEND here, and the fixture's restoring it, warn: that is Django's warning.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::PendingDeprecationWarning")
def test_w706_legacy_settings_on_61_are_read_without_a_warning(settings):
    del settings.MAILERS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        settings.EMAIL_BACKEND = CONSOLE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = [*server.check_mail_is_sent(), *server.check_smtp_timeout()]
    assert ids(messages) == ["prodkit.W706"]
    assert [str(w.message) for w in caught] == []


# --- W707 / W708: sender addresses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("webmaster@localhost", ["prodkit.W707"], id="django-default"),
        pytest.param("Site <noreply@site.internal>", ["prodkit.W707"], id="internal"),
        pytest.param("noreply@mybox", ["prodkit.W707"], id="no-dot"),
        pytest.param("Site <noreply@example.com>", [], id="named"),
        pytest.param("noreply@mail.example.org", [], id="plain"),
    ],
)
def test_w707_default_from_email(settings, address, expected):
    settings.DEFAULT_FROM_EMAIL = address
    assert ids(server.check_default_from_email()) == expected


def test_w707_email_from_env_sets_the_sender(settings):
    env = Env(environ={"EMAIL_URL": "submission://u:p@smtp.example.com?from=noreply@example.com"})
    _apply(settings, email_from_env(env))
    assert server.check_default_from_email() == []


@pytest.mark.parametrize(
    ("address", "admins", "managers", "expected"),
    [
        pytest.param("root@localhost", ["ops@example.com"], [], ["prodkit.W708"], id="admins"),
        pytest.param("root@localhost", [], ["ed@example.com"], ["prodkit.W708"], id="managers"),
        pytest.param("root@localhost", [], [], [], id="nobody-to-mail"),
        pytest.param("errors@example.com", ["ops@example.com"], [], [], id="real-address"),
    ],
)
def test_w708_server_email(settings, address, admins, managers, expected):
    settings.SERVER_EMAIL = address
    settings.ADMINS = admins
    settings.MANAGERS = managers
    assert ids(server.check_server_email()) == expected


# --- W709: SMTP timeout ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"host": "smtp.example.com"}, ["prodkit.W709"], id="remote-no-timeout"),
        pytest.param({"host": "smtp.example.com", "timeout": 10}, [], id="remote-timeout"),
        pytest.param({"host": "localhost"}, [], id="local-relay"),
        pytest.param({}, [], id="django-default-localhost"),
    ],
)
def test_w709_smtp_timeout(settings, options, expected):
    _mail(settings, **options)
    messages = server.check_smtp_timeout()
    assert ids(messages) == expected
    if messages:
        assert "smtp.example.com" in messages[0].msg
        setting = "'timeout'" if HAS_MAILERS else "EMAIL_TIMEOUT"
        assert setting in messages[0].msg


def test_w709_email_from_url_sets_a_timeout(settings):
    _apply(settings, email_from_url("submission://u:p@smtp.example.com"))
    assert server.check_smtp_timeout() == []


def test_w709_other_backends_pass(settings):
    _mail(settings, backend=CONSOLE, host="smtp.example.com")
    assert server.check_smtp_timeout() == []


# --- W710 / E711: TLS --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"host": "smtp.example.com", "username": USER, "password": PASSWORD},
            ["prodkit.W710"],
            id="login-in-clear",
        ),
        pytest.param(
            {"host": "smtp.example.com", "username": USER, "password": PASSWORD, "use_tls": True},
            [],
            id="starttls",
        ),
        pytest.param(
            {"host": "smtp.example.com", "username": USER, "password": PASSWORD, "use_ssl": True},
            [],
            id="implicit-tls",
        ),
        pytest.param(
            {"host": "127.0.0.1", "username": USER, "password": PASSWORD}, [], id="local-relay"
        ),
        pytest.param({"host": "smtp.example.com"}, [], id="no-login"),
        pytest.param(
            {"host": "smtp.example.com", "use_tls": True, "use_ssl": True},
            ["prodkit.E711"],
            id="both",
        ),
    ],
)
def test_w710_e711_smtp_tls(settings, options, expected):
    _mail(settings, timeout=5, **options)
    assert ids(server.check_smtp_tls()) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("smtp://u:p@smtp.example.com", ["prodkit.W710"], id="smtp-is-caught"),
        pytest.param("smtp://u:p@smtp.example.com?tls=true", [], id="smtp-tls"),
        pytest.param("submission://u:p@smtp.example.com", [], id="submission"),
        pytest.param("smtps://u:p@smtp.example.com", [], id="smtps"),
    ],
)
def test_w710_email_from_url(settings, url, expected):
    _apply(settings, email_from_url(url))
    assert ids(server.check_smtp_tls()) == expected


# --- I712: port 25 from the cloud --------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "host", "expected"),
    [
        pytest.param(25, "smtp.example.com", ["prodkit.I712"], id="port-25"),
        pytest.param(None, "smtp.example.com", ["prodkit.I712"], id="default-port"),
        pytest.param(587, "smtp.example.com", [], id="port-587"),
        pytest.param(25, "localhost", [], id="local-relay"),
    ],
)
def test_i712_port_25_on_app_service(settings, monkeypatch, port, host, expected):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    options = {"host": host, "timeout": 5, **({"port": port} if port else {})}
    _mail(settings, **options)
    messages = server.check_smtp_port_25()
    assert ids(messages) == expected
    if messages:
        assert "appservice" in messages[0].msg


def test_i712_port_25_on_a_local_machine_passes(settings):
    if _in_a_container():
        pytest.skip("this machine is itself a container")
    _mail(settings, host="smtp.example.com", port=25, timeout=5)
    assert server.check_smtp_port_25() == []


# --- The whole area ----------------------------------------------------------------------------


def test_no_secret_in_any_server_message(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    _mail(settings, host="smtp.example.com", username=USER, password=PASSWORD)
    messages = _server_messages()
    assert {"prodkit.W709", "prodkit.W710", "prodkit.I712"} <= set(ids(messages))
    assert "SECRET" not in _text(messages)
    assert "planted" not in _text(messages)


def test_production_mail_passes(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    settings.WSGI_APPLICATION = "tests.checks.test_server.application"
    settings.ADMINS = ["ops@example.com"]
    env = Env(
        environ={
            "EMAIL_URL": (
                "submission://mailer:pw@smtp.example.com"
                "?from=noreply@example.com&server_email=errors@example.com"
            )
        }
    )
    _apply(settings, email_from_env(env))
    settings.PRODKIT_WORKERS = 2 * cpu_cores() + 1
    assert _server_messages() == []


def test_hand_written_settings_are_caught(settings):
    """A settings module as startproject and a tutorial leave it, with the project renamed."""
    settings.WSGI_APPLICATION = "mysite.wsgi.application"
    if HAS_MAILERS:
        settings.MAILERS = {"default": {"BACKEND": CONSOLE}}
    else:
        settings.EMAIL_BACKEND = CONSOLE
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    found = set(ids(_server_messages()))
    assert {"prodkit.E701", "prodkit.W706", "prodkit.W707"} <= found
