"""Live checks 55x: the cache probe writes, reads back and deletes a random key."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.cache.backends.base import BaseCache

from django_prodkit.env import Env
from django_prodkit.probes import caches
from django_prodkit.probes.base import run_probes
from django_prodkit.settings import caches_from_env
from django_prodkit.settings.database import database_from_url
from tests.probes import PLANTED, ids, names, run_one, shown, use_databases
from tests.servers import own_memcached

REDIS = "django.core.cache.backends.redis.RedisCache"
RESILIENT_REDIS = "django_prodkit.cache.ResilientRedisCache"
MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
RESILIENT_MEMCACHED = "django_prodkit.cache.ResilientPyMemcacheCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
DUMMY = "django.core.cache.backends.dummy.DummyCache"
FILE = "django.core.cache.backends.filebased.FileBasedCache"
DB = "django.core.cache.backends.db.DatabaseCache"


class ForgetfulCache(BaseCache):
    """A cache that swallows its errors the way django-redis's IGNORE_EXCEPTIONS does: every
    write is lost and every read misses."""

    def __init__(self, location, params):
        super().__init__(params)

    def set(self, key, value, timeout=None, version=None):
        return None

    def get(self, key, default=None, version=None):
        return default

    def delete(self, key, version=None):
        return False


def use_cache(settings, backend, location="", **options):
    entry = {"BACKEND": backend, "LOCATION": location}
    if options:
        entry["OPTIONS"] = options
    settings.CACHES = {**settings.CACHES, "probe": entry}


def with_port(url, port):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


@pytest.mark.parametrize("backend", [REDIS, RESILIENT_REDIS], ids=["redis", "resilient-redis"])
def test_e550_redis_round_trip_passes(settings, redis_url, backend):
    use_cache(settings, backend, redis_url)
    outcome = run_one(caches, "cache:probe")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.E550",)


@pytest.mark.parametrize(
    ("backend", "error"),
    [
        pytest.param(REDIS, "Connection refused", id="redis"),
        # Beneath the resilience: the real error, not a silent miss.
        pytest.param(RESILIENT_REDIS, "Connection refused", id="resilient-redis"),
    ],
)
def test_e550_redis_refused(settings, redis_url, refused_port, backend, error):
    use_cache(settings, backend, with_port(redis_url, refused_port))
    started = time.monotonic()
    [message] = run_one(caches, "cache:probe").messages
    assert time.monotonic() - started < 2
    assert message.id == "prodkit.E550"
    assert f"The cache 'probe' ({backend} at redis://127.0.0.1:{refused_port}/15)" in message.msg
    assert error in message.msg
    assert message.obj == "settings.CACHES['probe']"


def test_e550_redis_password_never_shown(settings, redis_url):
    # The shared Redis has no such user: AUTH fails, and the password stays hidden.
    parts = urlsplit(redis_url)
    netloc = f"nobody:{PLANTED}@{parts.netloc}"
    use_cache(settings, REDIS, urlunsplit(parts._replace(netloc=netloc)))
    outcome = run_one(caches, "cache:probe")
    assert ids(outcome) == ["prodkit.E550"]
    assert "redis://nobody:***@127.0.0.1" in outcome.messages[0].msg
    assert PLANTED not in shown([outcome])


@pytest.mark.parametrize(
    "backend", [MEMCACHED, RESILIENT_MEMCACHED], ids=["memcached", "resilient-memcached"]
)
def test_e550_memcached(settings, backend, refused_port):
    with own_memcached() as server:
        use_cache(settings, backend, f"127.0.0.1:{server.port}")
        assert run_one(caches, "cache:probe").messages == []
    use_cache(settings, backend, f"127.0.0.1:{refused_port}")
    assert ids(run_one(caches, "cache:probe")) == ["prodkit.E550"]


def test_e550_hung_cache_server_costs_one_timeout(settings, hung):
    settings.CACHES = {
        **settings.CACHES,
        "redis": {"BACKEND": RESILIENT_REDIS, "LOCATION": f"redis://127.0.0.1:{hung}/0"},
        "memcached": {"BACKEND": MEMCACHED, "LOCATION": f"127.0.0.1:{hung}"},
    }
    started = time.monotonic()
    outcomes = run_probes(
        [p for p in caches.probes(1.0) if p.name in ("cache:redis", "cache:memcached")], 1.0
    )
    assert time.monotonic() - started <= 1.0 + 1
    assert [ids(o) for o in outcomes] == [["prodkit.E550"], ["prodkit.E550"]]
    for outcome in outcomes:
        assert "did not answer within 1 s" in outcome.messages[0].msg


def test_e550_value_that_does_not_come_back_is_a_failure(settings):
    use_cache(settings, f"{__name__}.ForgetfulCache")
    [message] = run_one(caches, "cache:probe").messages
    assert message.id == "prodkit.E550"
    assert "the value written did not come back" in message.msg


@pytest.mark.parametrize("backend", [LOCMEM, FILE], ids=["locmem", "file"])
def test_e550_local_caches_pass(settings, tmp_path, backend):
    use_cache(settings, backend, str(tmp_path / "cache") if backend == FILE else "probe")
    assert run_one(caches, "cache:probe").messages == []


def test_e550_file_cache_in_a_directory_that_cannot_be_made(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    use_cache(settings, FILE, str(blocker / "cache"))
    assert ids(run_one(caches, "cache:probe")) == ["prodkit.E550"]


def test_dummy_cache_is_not_probed(settings):
    use_cache(settings, DUMMY)
    assert "cache:probe" not in names(caches)


class CacheRouter:
    """Sends the database cache to the database 'probe'."""

    def db_for_read(self, model, **hints):
        return "probe" if model._meta.app_label == "django_cache" else None

    db_for_write = db_for_read


def test_e551_database_cache_table(settings, postgres_database):
    use_databases(settings, probe=database_from_url(postgres_database))
    settings.DATABASE_ROUTERS = [f"{__name__}.CacheRouter"]
    use_cache(settings, DB, "prodkit_cache")
    outcome = run_one(caches, "cache:probe")
    assert outcome.ids == ("prodkit.E550", "prodkit.E551")
    [message] = outcome.messages
    assert message.id == "prodkit.E551"
    assert "table 'prodkit_cache' does not exist in the database 'probe'" in message.msg
    assert "createcachetable --database=probe" in message.hint

    # The table createcachetable makes: now the round trip runs, and passes.
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE prodkit_cache (cache_key varchar(255) PRIMARY KEY,"
            " value text NOT NULL, expires timestamptz NOT NULL)"
        )
    assert run_one(caches, "cache:probe").messages == []


def test_e550_database_cache_on_an_unreachable_database(settings, refused_port):
    use_databases(
        settings, probe=database_from_url(f"postgres://u:{PLANTED}@127.0.0.1:{refused_port}/db")
    )
    settings.DATABASE_ROUTERS = [f"{__name__}.CacheRouter"]
    use_cache(settings, DB, "prodkit_cache")
    outcome = run_one(caches, "cache:probe")
    assert ids(outcome) == ["prodkit.E550"]
    assert PLANTED not in shown([outcome])


def test_hand_written_settings_are_probed(settings, refused_port):
    # CACHES written by hand, password inline, the way many projects write it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://:{PLANTED}@127.0.0.1:{refused_port}/0",
            "OPTIONS": {"socket_timeout": 30},
        }
    }
    outcome = run_one(caches, "cache:default")
    assert ids(outcome) == ["prodkit.E550"]
    assert PLANTED not in shown([outcome])
    assert settings.CACHES["default"]["OPTIONS"] == {"socket_timeout": 30}


def test_caches_from_env_output_passes(settings, redis_url):
    settings.CACHES = caches_from_env(Env({"CACHE_URL": redis_url}))
    assert [run_one(caches, name).messages for name in names(caches)] == [[]] * len(names(caches))


def test_caches_from_env_output_is_caught_when_redis_is_down(settings, redis_url, refused_port):
    settings.CACHES = caches_from_env(Env({"CACHE_URL": with_port(redis_url, refused_port)}))
    assert ids(run_one(caches, "cache:default")) == ["prodkit.E550"]
