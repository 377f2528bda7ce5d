"""Checks 5xx: caches and sessions, with prodkit's presets and with hand-written settings."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.checks import caches
from django_prodkit.env import Env
from django_prodkit.settings import caches_from_env
from tests.checks import ids

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
REDIS = "django.core.cache.backends.redis.RedisCache"
DUMMY = "django.core.cache.backends.dummy.DummyCache"
FILE = "django.core.cache.backends.filebased.FileBasedCache"
DB = "django.core.cache.backends.db.DatabaseCache"


def _cache(backend, location=""):
    return {"default": {"BACKEND": backend, "LOCATION": location}}


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        pytest.param(LOCMEM, ["prodkit.W501"], id="locmem"),
        pytest.param("django_prodkit.cache.ResilientRedisCache", [], id="resilient-redis"),
        pytest.param(REDIS, [], id="redis"),
        pytest.param(DB, [], id="database"),
    ],
)
def test_w501_local_cache_with_several_workers(settings, several_processes, backend, expected):
    settings.CACHES = _cache(backend, "redis://127.0.0.1:6379/0")
    assert ids(caches.check_caches_are_shared()) == expected


def test_w501_local_cache_is_fine_with_one_process(settings):
    settings.CACHES = _cache(LOCMEM)
    assert caches.check_caches_are_shared() == []


def test_w501_names_every_local_alias_and_the_deployment(settings, several_instances):
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1"}}
    settings.CACHES["pages"] = {"BACKEND": LOCMEM}
    [message] = caches.check_caches_are_shared()
    assert "'pages'" in message.msg
    assert "3 instance(s) x 4 worker(s)" in message.msg
    assert message.obj == "settings.CACHES['pages']"
    assert "caches_from_env" in message.hint
    assert "docs/checks.md#prodkit-w501" in message.hint


def test_w501_platform_that_scales_out_counts_as_several(settings, monkeypatch):
    settings.PRODKIT_INSTANCES = None
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mysite")
    settings.CACHES = _cache(LOCMEM)
    assert ids(caches.check_caches_are_shared()) == ["prodkit.W501"]


def test_w501_workers_default_to_web_concurrency(settings, monkeypatch):
    settings.PRODKIT_WORKERS = None
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    settings.CACHES = _cache(LOCMEM)
    assert ids(caches.check_caches_are_shared()) == ["prodkit.W501"]
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert caches.check_caches_are_shared() == []


@pytest.mark.parametrize(
    ("backend", "expected"),
    [pytest.param(DUMMY, ["prodkit.W502"], id="dummy"), pytest.param(LOCMEM, [], id="locmem")],
)
def test_w502_dummy_cache(settings, backend, expected):
    settings.CACHES = _cache(backend)
    assert ids(caches.check_no_dummy_cache()) == expected


@pytest.mark.parametrize(
    ("engine", "backend", "expected"),
    [
        pytest.param("cache", LOCMEM, ["prodkit.E503"], id="cache-on-locmem"),
        pytest.param("cache", REDIS, [], id="cache-on-redis"),
        pytest.param("cached_db", LOCMEM, [], id="cached-db-is-w504"),
        pytest.param("db", LOCMEM, [], id="db"),
    ],
)
def test_e503_sessions_only_in_local_cache(settings, several_processes, engine, backend, expected):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    settings.CACHES = _cache(backend, "redis://127.0.0.1:6379/0")
    assert ids(caches.check_cache_sessions_shared()) == expected


@pytest.mark.parametrize(
    ("engine", "backend", "expected"),
    [
        pytest.param("cached_db", LOCMEM, ["prodkit.W504"], id="cached-db-on-locmem"),
        pytest.param("cached_db", REDIS, [], id="cached-db-on-redis"),
        pytest.param("db", LOCMEM, [], id="db"),
    ],
)
def test_w504_cached_db_through_local_cache(settings, several_processes, engine, backend, expected):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    settings.CACHES = _cache(backend, "redis://127.0.0.1:6379/0")
    assert ids(caches.check_cached_db_sessions_shared()) == expected


def test_w505_file_cache_on_several_instances(settings, several_instances, tmp_path):
    settings.CACHES = _cache(FILE, str(tmp_path))
    assert ids(caches.check_file_cache_instances()) == ["prodkit.W505"]


def test_w505_file_cache_on_one_instance_passes(settings, several_processes, tmp_path):
    settings.CACHES = _cache(FILE, str(tmp_path))
    assert caches.check_file_cache_instances() == []


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("redis://cache.example.com:6379/0", ["prodkit.W506"], id="remote-plain"),
        pytest.param(
            ["redis://127.0.0.1:6379", "redis://10.0.0.5:6379"], ["prodkit.W506"], id="replica-list"
        ),
        pytest.param("rediss://cache.example.com:6380/0", [], id="remote-tls"),
        pytest.param("redis://127.0.0.1:6379/0", [], id="loopback"),
        pytest.param("redis://localhost:6379/0", [], id="localhost"),
    ],
)
def test_w506_plain_redis_to_remote_host(settings, location, expected):
    settings.CACHES = _cache(REDIS, location)
    assert ids(caches.check_redis_tls()) == expected


def test_w506_message_shows_the_host_never_the_password(settings):
    settings.CACHES = _cache(REDIS, "redis://:hunter2-secret@cache.example.com:6379/0")
    [message] = caches.check_redis_tls()
    assert "cache.example.com" in message.msg
    assert "hunter2" not in f"{message.msg} {message.hint}"


@pytest.mark.parametrize(
    ("engine", "alias", "expected"),
    [
        pytest.param("cache", "sessions", ["prodkit.E507"], id="missing-alias"),
        pytest.param("cache", "default", [], id="present-alias"),
        pytest.param("db", "sessions", [], id="db-ignores-alias"),
        pytest.param("signed_cookies", "default", ["prodkit.I508"], id="signed-cookies"),
    ],
)
def test_e507_i508_session_engine(settings, engine, alias, expected):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    settings.SESSION_CACHE_ALIAS = alias
    settings.CACHES = _cache(REDIS, "redis://127.0.0.1:6379/0")
    assert ids(caches.check_session_engine()) == expected


def test_caches_from_env_default_is_caught_with_several_workers(settings, several_processes):
    settings.CACHES = caches_from_env(Env(environ={}))
    assert "prodkit.W501" in ids(caches.check_caches_are_shared())


def test_checks_reach_django_check_command(settings, several_processes):
    settings.CACHES = _cache(LOCMEM)
    with pytest.raises(SystemCheckError, match=r"prodkit\.W501"):
        call_command("check", deploy=True, tags=["prodkit"], fail_level="WARNING")


def test_silenced_system_checks_silence_prodkit_checks(settings, several_processes):
    settings.CACHES = _cache(LOCMEM)
    settings.SILENCED_SYSTEM_CHECKS = ["prodkit.W501"]
    found = run_checks(tags=["caches"], include_deployment_checks=True)
    assert "prodkit.W501" not in [m.id for m in found if not m.is_silenced()]
