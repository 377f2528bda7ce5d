"""Checks 9xx: background work, with prodkit's presets and with hand-written settings."""

from __future__ import annotations

import django
import pytest
from django.core.checks import run_checks

from django_prodkit.checks import tasks
from django_prodkit.env import Env
from django_prodkit.settings import caches_from_env, detect_platform, local_storages
from tests.checks import ids

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
REDIS = "django.core.cache.backends.redis.RedisCache"
FILES = "django.core.files.storage.FileSystemStorage"
AZURE = "storages.backends.azure_storage.AzureStorage"
BROKER = "rediss://:planted-SECRET-key@cache.redis.cache.windows.net:6380/1"
WORKER_BACKEND = "django_tasks.backends.database.DatabaseBackend"
has_tasks = pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks is new in 6.0")


@pytest.fixture(autouse=True)
def _no_broker_variable(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def _tasks(settings, backend):
    settings.TASKS = {"default": {"BACKEND": backend}}


def _cache(settings, backend):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/0"}}


def _media(settings, backend):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": backend}}


def _tasks_messages():
    return [
        m
        for m in run_checks(tags=["tasks"], include_deployment_checks=True)
        if m.id and m.id.startswith("prodkit.")
    ]


# --- W901: tasks run inline or never -----------------------------------------------------------


@has_tasks
@pytest.mark.parametrize(
    ("backend", "effect"),
    [
        pytest.param("django.tasks.backends.immediate.ImmediateBackend", "inside", id="immediate"),
        pytest.param("django.tasks.backends.dummy.DummyBackend", "never run", id="dummy"),
    ],
)
def test_w901_django_tasks_backend(settings, backend, effect):
    _tasks(settings, backend)
    [message] = tasks.check_tasks_backend()
    assert message.id == "prodkit.W901"
    assert effect in message.msg
    assert message.obj == "settings.TASKS['default']"


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        pytest.param(
            "django_tasks.backends.immediate.ImmediateBackend", ["prodkit.W901"], id="backport"
        ),
        pytest.param("django_tasks.backends.dummy.DummyBackend", ["prodkit.W901"], id="dummy"),
        pytest.param(WORKER_BACKEND, [], id="database-backend"),
    ],
)
def test_w901_backport_tasks_backend(settings, backend, expected):
    _tasks(settings, backend)
    assert ids(tasks.check_tasks_backend()) == expected


def test_w901_no_tasks_setting_passes():
    """On Django 5.2 there is no TASKS; on 6.0 its untouched default is not reported."""
    assert tasks.check_tasks_backend() == []


# --- W902: Celery broker -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("celery", "expected", "problem"),
    [
        pytest.param({"CELERY_TIMEZONE": "UTC"}, ["prodkit.W902"], "is not set", id="unset"),
        pytest.param(
            {"CELERY_BROKER_URL": "memory://"}, ["prodkit.W902"], "memory://", id="memory"
        ),
        pytest.param({"BROKER_URL": "memory://localhost/"}, ["prodkit.W902"], "memory", id="old"),
        pytest.param({"CELERY_BROKER_URL": BROKER}, [], None, id="redis"),
        pytest.param(
            {"CELERY_BROKER_URL": ["memory://", "amqp://h"]}, ["prodkit.W902"], "memory", id="list"
        ),
        pytest.param(
            {"CELERY_BROKER_URL": None, "CELERY_TASK_ALWAYS_EAGER": True}, [], None, id="eager"
        ),
        pytest.param({}, [], None, id="no-celery"),
    ],
)
def test_w902_celery_broker(settings, celery, expected, problem):
    for name, value in celery.items():
        setattr(settings, name, value)
    messages = tasks.check_celery_broker()
    assert ids(messages) == expected
    if problem:
        assert problem in messages[0].msg


def test_w902_broker_variable_wins(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "memory://"
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER)
    assert tasks.check_celery_broker() == []


def test_w902_broker_variable_alone_configures_celery(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    assert ids(tasks.check_celery_broker()) == ["prodkit.W902"]


# --- W903: eager tasks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("CELERY_TASK_ALWAYS_EAGER", True, ["prodkit.W903"], id="eager"),
        pytest.param("CELERY_ALWAYS_EAGER", True, ["prodkit.W903"], id="old-name"),
        pytest.param("CELERY_TASK_ALWAYS_EAGER", False, [], id="not-eager"),
    ],
)
def test_w903_celery_eager(settings, name, value, expected):
    setattr(settings, name, value)
    messages = tasks.check_celery_eager()
    assert ids(messages) == expected
    assert [m.obj for m in messages] == [f"settings.{name}"] * len(expected)


# --- W904: worker and local-memory cache -------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "cache", "expected"),
    [
        pytest.param({"CELERY_BROKER_URL": BROKER}, LOCMEM, ["prodkit.W904"], id="celery-locmem"),
        pytest.param({"CELERY_BROKER_URL": BROKER}, REDIS, [], id="celery-redis"),
        pytest.param(
            {"CELERY_BROKER_URL": BROKER, "CELERY_TASK_ALWAYS_EAGER": True},
            LOCMEM,
            [],
            id="celery-eager",
        ),
        pytest.param(
            {"TASKS": {"default": {"BACKEND": WORKER_BACKEND}}},
            LOCMEM,
            ["prodkit.W904"],
            id="tasks-worker-locmem",
        ),
        pytest.param(
            {"TASKS": {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}},
            LOCMEM,
            [],
            id="tasks-immediate",
        ),
        pytest.param({}, LOCMEM, [], id="no-worker"),
    ],
)
def test_w904_worker_and_local_cache(settings, setup, cache, expected):
    for name, value in setup.items():
        setattr(settings, name, value)
    _cache(settings, cache)
    assert ids(tasks.check_worker_cache()) == expected


def test_w904_caches_from_env_default_is_caught(settings):
    settings.CELERY_BROKER_URL = BROKER
    settings.CACHES = caches_from_env(Env(environ={}))
    [message] = tasks.check_worker_cache()
    assert message.id == "prodkit.W904"
    assert "(Celery)" in message.msg


def test_w904_caches_from_env_redis_passes(settings):
    settings.CELERY_BROKER_URL = BROKER
    settings.CACHES = caches_from_env(Env(environ={"CACHE_URL": "redis://127.0.0.1:6379/0"}))
    assert tasks.check_worker_cache() == []


# --- W905: worker and local media --------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "media", "expected"),
    [
        pytest.param({"WEBSITE_SITE_NAME": "mysite"}, FILES, ["prodkit.W905"], id="app-service"),
        pytest.param({"container": "docker"}, FILES, ["prodkit.W905"], id="container"),
        pytest.param({"WEBSITE_SITE_NAME": "mysite"}, AZURE, [], id="blob-storage"),
    ],
)
def test_w905_worker_and_local_media(settings, monkeypatch, platform, media, expected):
    for name, value in platform.items():
        monkeypatch.setenv(name, value)
    settings.CELERY_BROKER_URL = BROKER
    _media(settings, media)
    assert ids(tasks.check_worker_media()) == expected


def test_w905_several_instances(settings, several_instances):
    settings.TASKS = {"default": {"BACKEND": WORKER_BACKEND}}
    _media(settings, FILES)
    [message] = tasks.check_worker_media()
    assert message.id == "prodkit.W905"
    assert "3 instance(s) x 4 worker(s)" in message.msg
    assert WORKER_BACKEND in message.msg


def test_w905_one_local_machine_passes(settings):
    if detect_platform(Env()).kind != "local":
        pytest.skip("this machine is itself a container")
    settings.CELERY_BROKER_URL = BROKER
    _media(settings, FILES)
    assert tasks.check_worker_media() == []


def test_w905_no_worker_passes(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    _media(settings, FILES)
    assert tasks.check_worker_media() == []


def test_w905_local_storages_is_caught_with_a_worker(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("container", "docker")
    settings.CELERY_BROKER_URL = BROKER
    storages = local_storages(static_root=tmp_path / "static", media_root=tmp_path / "media")
    settings.STORAGES = storages["STORAGES"]
    assert ids(tasks.check_worker_media()) == ["prodkit.W905"]


# --- The whole area ----------------------------------------------------------------------------


def test_hand_written_celery_settings_are_caught(settings, monkeypatch):
    """Celery's "First steps with Django" settings, deployed to App Service as they are."""
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    settings.CELERY_BROKER_URL = BROKER
    settings.CELERY_RESULT_BACKEND = BROKER
    settings.CELERY_TIMEZONE = "UTC"
    settings.CELERY_TASK_TRACK_STARTED = True
    settings.CELERY_TASK_TIME_LIMIT = 30 * 60
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.STORAGES = {
        "default": {"BACKEND": FILES},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    messages = _tasks_messages()
    assert set(ids(messages)) == {"prodkit.W904", "prodkit.W905"}
    text = " ".join(f"{m.msg} {m.hint} {m.obj}" for m in messages)
    assert "SECRET" not in text
    assert "planted" not in text


def test_no_background_work_reports_nothing():
    assert _tasks_messages() == []
