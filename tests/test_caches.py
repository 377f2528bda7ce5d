"""The CACHES entries prodkit builds: their shape, their errors, and real servers behind them.

Redis is the shared server (database 15, a fresh key prefix per test, never flushed) or one
of our own (TLS, passwords); memcached is always our own; PostgreSQL gets a throwaway
database per test.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import redis
from django.core.cache import CacheHandler
from django.core.exceptions import ImproperlyConfigured
from redis.connection import parse_url

from django_prodkit.env import Env
from django_prodkit.settings import production_settings
from django_prodkit.settings.caches import (
    CULLED_OPTIONS,
    MEMCACHED_OPTIONS,
    REDIS_OPTIONS,
    REDIS_TLS_OPTIONS,
    cache_from_azure_connection_string,
    cache_from_url,
    cache_middleware_settings,
    caches_from_env,
    session_engine_for,
    session_settings,
)
from tests.example import example_env, manage
from tests.servers import Server, free_port, own_memcached, require_binary

REDIS = "django.core.cache.backends.redis.RedisCache"
MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
RESILIENT_REDIS = "django_prodkit.cache.ResilientRedisCache"
RESILIENT_MEMCACHED = "django_prodkit.cache.ResilientPyMemcacheCache"
SECRET = "Sup3r-Secret-Pw"


def build(config):
    """Return a cache object for one CACHES entry, outside settings.CACHES."""
    return CacheHandler({"default": config})["default"]


# --- URL forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "backend", "location"),
    [
        pytest.param("redis://127.0.0.1:6379/1", REDIS, "redis://127.0.0.1:6379/1", id="redis"),
        pytest.param(
            "rediss://:k@cache.example.com:6380/0",
            REDIS,
            "rediss://:k@cache.example.com:6380/0",
            id="rediss",
        ),
        pytest.param("REDIS://localhost", REDIS, "redis://localhost", id="scheme-any-case"),
        pytest.param(
            "memcached://10.0.0.5:11211", MEMCACHED, ["10.0.0.5:11211"], id="memcached-one"
        ),
        pytest.param(
            "memcached://a:11211,b,[::1]:11212",
            MEMCACHED,
            ["a:11211", "b:11211", "[::1]:11212"],
            id="memcached-several",
        ),
        pytest.param(
            "db://prodkit_cache",
            "django.core.cache.backends.db.DatabaseCache",
            "prodkit_cache",
            id="db",
        ),
        pytest.param(
            "file:///var/cache/my%20app",
            "django.core.cache.backends.filebased.FileBasedCache",
            "/var/cache/my app",
            id="file",
        ),
        pytest.param("locmem://", "django.core.cache.backends.locmem.LocMemCache", "", id="locmem"),
        pytest.param(
            "locmem://one", "django.core.cache.backends.locmem.LocMemCache", "one", id="locmem-name"
        ),
        pytest.param("dummy://", "django.core.cache.backends.dummy.DummyCache", None, id="dummy"),
    ],
)
def test_url_picks_backend_and_location(url, backend, location):
    config = cache_from_url(url)
    assert config["BACKEND"] == backend
    assert config.get("LOCATION") == location
    assert (config["KEY_PREFIX"], config["VERSION"], config["TIMEOUT"]) == ("", 1, 300)


def test_redis_gets_production_options_and_tls_checks_only_with_rediss():
    plain = cache_from_url("redis://127.0.0.1:6379/0")
    tls = cache_from_url("rediss://:k@cache.example.com:6380/0")
    assert plain["OPTIONS"] == REDIS_OPTIONS
    assert tls["OPTIONS"] == {**REDIS_OPTIONS, **REDIS_TLS_OPTIONS}
    assert tls["OPTIONS"]["ssl_cert_reqs"] == "required"
    assert tls["OPTIONS"]["ssl_check_hostname"] is True
    assert 1 <= tls["OPTIONS"]["socket_timeout"] <= 2


def test_redis_options_are_ones_redis_py_accepts():
    # Django hands OPTIONS to ConnectionPool.from_url(); an unknown keyword fails only there.
    for url in ("redis://127.0.0.1:6379/0", "rediss://:k@cache.example.com:6380/0"):
        pool = redis.ConnectionPool.from_url(cache_from_url(url)["LOCATION"], **REDIS_OPTIONS)
        connection = pool.make_connection()
        assert connection.socket_timeout == REDIS_OPTIONS["socket_timeout"]
        assert pool.max_connections == REDIS_OPTIONS["max_connections"]


@pytest.mark.parametrize("url", ["db://t", "file:///tmp/c", "locmem://"])
def test_self_culling_caches_hold_more_than_djangos_300_entries(url):
    assert cache_from_url(url)["OPTIONS"] == CULLED_OPTIONS


def test_memcached_gets_pool_and_timeouts():
    config = cache_from_url("memcached://10.0.0.5:11211")
    assert config["OPTIONS"] == MEMCACHED_OPTIONS
    assert config["OPTIONS"]["use_pooling"] is True
    assert config["OPTIONS"]["no_delay"] is True


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        pytest.param("rediss://:k@cache.example.com:6380/0", RESILIENT_REDIS, id="redis"),
        pytest.param("memcached://10.0.0.5", RESILIENT_MEMCACHED, id="memcached"),
        pytest.param("locmem://", "django.core.cache.backends.locmem.LocMemCache", id="locmem"),
    ],
)
def test_resilient_swaps_network_backends_only(url, backend):
    resilient = cache_from_url(url, resilient=True)
    assert resilient["BACKEND"] == backend
    assert {k: v for k, v in resilient.items() if k != "BACKEND"} == {
        k: v for k, v in cache_from_url(url).items() if k != "BACKEND"
    }


def test_key_prefix_version_and_timeout_are_passed_on():
    config = cache_from_url("locmem://", key_prefix="app", version=3, timeout=None)
    assert (config["KEY_PREFIX"], config["VERSION"], config["TIMEOUT"]) == ("app", 3, None)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("p@ss", id="at"),
        pytest.param("a:b", id="colon"),
        pytest.param("comma,semi;colon", id="list-separators"),
        pytest.param("sl/ash?q#h", id="url-specials"),
        pytest.param("100%real", id="percent"),
        pytest.param("Ab3+/Xy9=", id="base64"),
        pytest.param("ünï cödé", id="unicode-space"),
    ],
)
def test_password_reaches_redis_py_as_written(password):
    url = f"rediss://:{quote(password, safe='')}@cache.example.com:6380/0"
    location = cache_from_url(url)["LOCATION"]
    # Django splits LOCATION on "," and ";": neither may be left raw.
    assert "," not in location
    assert ";" not in location
    assert parse_url(location)["password"] == password


def test_raw_at_in_password_is_decoded_as_redis_py_does():
    location = cache_from_url("rediss://:p@ss@cache.example.com:6380/0")["LOCATION"]
    assert parse_url(location)["password"] == "p@ss"
    assert parse_url(location)["host"] == "cache.example.com"


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("127.0.0.1", id="ipv4-loopback"),
        pytest.param("127.8.9.10", id="ipv4-loopback-net"),
        pytest.param("[::1]", id="ipv6-loopback"),
        pytest.param("localhost", id="localhost"),
        pytest.param("", id="no-host"),
    ],
)
def test_plaintext_redis_to_this_machine_is_allowed(host):
    assert cache_from_url(f"redis://{host}:6379/0")["BACKEND"] == REDIS


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"redis://:{SECRET}@cache.example.com:6379/0", id="dns-name"),
        pytest.param(f"redis://:{SECRET}@10.1.2.3:6379/0", id="private-ip"),
        pytest.param(f"redis://:{SECRET}@redis:6379/0", id="compose-service"),
        pytest.param(f"redis://:{SECRET}@name.redis.cache.windows.net:6380/0", id="azure"),
    ],
)
def test_plaintext_redis_to_another_host_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match=r"CACHE_URL .* without TLS") as info:
        cache_from_url(url)
    assert SECRET not in str(info.value)
    assert "PRODKIT_CACHE_ALLOW_PLAINTEXT" in str(info.value)
    assert cache_from_url(url, allow_plaintext=True)["LOCATION"] == url


def test_plaintext_refusal_points_azure_users_at_the_tls_port():
    with pytest.raises(ImproperlyConfigured, match="TLS on port 6380"):
        cache_from_url("redis://:k@name.redis.cache.windows.net:6379/0")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(f"redis://:{SECRET}@h/cache", "database 'cache'", id="named-db"),
        pytest.param(f"rediss://:{SECRET}@h:99999/0", "not a Redis URL", id="bad-port"),
        pytest.param(f"rediss://:{SECRET[:4]}/x{SECRET[4:]}@h/0", "'@' after", id="raw-slash"),
        pytest.param(f"rediss://:{SECRET}#x@h/0", "raw '#'", id="raw-hash"),
        pytest.param(f"mongodb://u:{SECRET}@h/0", "scheme mongodb://", id="scheme"),
        pytest.param(f"{SECRET}", "not a cache URL", id="no-scheme"),
        pytest.param(
            f"h:6380,password={SECRET},ssl=True", "AZURE_REDIS_CONNECTIONSTRING", id="azure-form"
        ),
        pytest.param("memcached://h:port", "invalid port", id="memcached-port"),
        pytest.param("memcached://", "no memcached server", id="memcached-empty"),
        pytest.param(f"memcached://u:{SECRET}@h", "not a memcached URL", id="memcached-user"),
        pytest.param("db://", "db://TABLE_NAME", id="db-empty"),
        pytest.param("db://bad-name;drop", "db://TABLE_NAME", id="db-bad-name"),
        pytest.param("file://relative/dir", "absolute directory", id="file-relative"),
        pytest.param("locmem://a/b", "locmem://NAME", id="locmem-path"),
    ],
)
def test_bad_urls_name_the_variable_and_hide_the_password(url, message):
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL") as info:
        cache_from_url(url)
    assert message in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET[4:] not in str(info.value)


def test_source_names_the_variable_in_errors():
    with pytest.raises(ImproperlyConfigured, match=r"^MY_CACHE uses the scheme"):
        cache_from_url("nope://x", source="MY_CACHE")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"timeout": -1}, "seconds >= 0", id="negative-timeout"),
        pytest.param({"version": "2"}, "version", id="version-string"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        cache_from_url("locmem://", **kwargs)


# --- Azure Cache for Redis connection strings ------------------------------------------------

AZURE_HOST = "myname.redis.cache.windows.net"


def test_azure_portal_connection_string_becomes_a_tls_url():
    key = "Ab3+/Xy9kL0=="
    config = cache_from_azure_connection_string(
        f"{AZURE_HOST}:6380,password={key},ssl=True,abortConnect=False"
    )
    assert config["LOCATION"] == f"rediss://:{quote(key, safe='')}@{AZURE_HOST}:6380/0"
    assert parse_url(config["LOCATION"])["password"] == key
    assert config["OPTIONS"] == {**REDIS_OPTIONS, **REDIS_TLS_OPTIONS}


def test_azure_connection_string_keys_are_case_insensitive_and_database_is_read():
    config = cache_from_azure_connection_string(
        f" {AZURE_HOST}:6380 , Password=k , SSL=true , DefaultDatabase=3 , syncTimeout=5000 "
    )
    assert config["LOCATION"] == f"rediss://:k@{AZURE_HOST}:6380/3"


def test_azure_connection_string_without_port_uses_the_tls_port():
    config = cache_from_azure_connection_string(f"{AZURE_HOST},password=k,ssl=True")
    assert config["LOCATION"] == f"rediss://:k@{AZURE_HOST}:6380/0"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f"{AZURE_HOST}:6379,password={SECRET},ssl=False", id="ssl-false"),
        pytest.param(f"{AZURE_HOST}:6379,password={SECRET}", id="ssl-missing"),
    ],
)
def test_azure_connection_string_without_tls_needs_allow_plaintext(value):
    with pytest.raises(ImproperlyConfigured, match="without TLS") as info:
        cache_from_azure_connection_string(value)
    assert SECRET not in str(info.value)
    config = cache_from_azure_connection_string(value, allow_plaintext=True)
    assert config["LOCATION"] == f"redis://:{SECRET}@{AZURE_HOST}:6379/0"


def test_azure_connection_string_may_be_a_url():
    url = f"rediss://:k@{AZURE_HOST}:6380/0"
    assert cache_from_azure_connection_string(url) == cache_from_url(
        url, source="AZURE_REDIS_CONNECTIONSTRING"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(f"password={SECRET},ssl=True", "exactly one HOST:PORT", id="no-host"),
        pytest.param(f"a:6380,b:6380,password={SECRET}", "exactly one HOST:PORT", id="two-hosts"),
        pytest.param(f"{AZURE_HOST}:6380,password={SECRET},ssl=maybe", "ssl", id="bad-ssl"),
        pytest.param(f"{AZURE_HOST}:x,password={SECRET}", "invalid port", id="bad-port"),
        pytest.param(
            f"{AZURE_HOST}:6380,password={SECRET},defaultDatabase=one", "defaultDatabase", id="db"
        ),
    ],
)
def test_bad_azure_connection_strings_hide_the_password(value, message):
    with pytest.raises(ImproperlyConfigured, match="AZURE_REDIS_CONNECTIONSTRING") as info:
        cache_from_azure_connection_string(value)
    assert message in str(info.value)
    assert SECRET not in str(info.value)


# --- The environment -------------------------------------------------------------------------


def test_nothing_set_gives_local_memory_caches_kept_apart():
    caches = caches_from_env(Env({}))
    assert set(caches) == {"default", "pages"}
    assert caches["default"]["BACKEND"] == caches["pages"]["BACKEND"]
    assert caches["default"]["BACKEND"].endswith("LocMemCache")
    assert caches["default"]["LOCATION"] != caches["pages"]["LOCATION"]
    assert caches["pages"]["KEY_PREFIX"] == "pages"


def test_cache_url_gives_default_and_a_resilient_pages_alias_on_the_same_server():
    caches = caches_from_env(Env({"CACHE_URL": "rediss://:k@cache.example.com:6380/0"}))
    assert caches["default"]["BACKEND"] == REDIS
    assert caches["pages"]["BACKEND"] == RESILIENT_REDIS
    assert caches["pages"]["LOCATION"] == caches["default"]["LOCATION"]
    assert caches["pages"]["KEY_PREFIX"] == "pages"


@pytest.mark.parametrize(
    ("url", "pages_location"),
    [
        pytest.param("db://app_cache", "app_cache_pages", id="db-own-table"),
        pytest.param("file:///srv/cache", "/srv/cache/pages", id="file-subdirectory"),
        pytest.param("locmem://app", "app-pages", id="locmem-own-store"),
        pytest.param("memcached://m1,m2", ["m1:11211", "m2:11211"], id="memcached-same"),
    ],
)
def test_pages_alias_is_the_same_kind_of_cache(url, pages_location):
    caches = caches_from_env(Env({"CACHE_URL": url}))
    assert caches["pages"]["LOCATION"] == pages_location
    assert (
        caches["pages"]["BACKEND"].rsplit(".", 1)[-1].removeprefix("Resilient")
        == caches["default"]["BACKEND"].rsplit(".", 1)[-1]
    )


def test_prodkit_cache_variables_tune_both_aliases():
    caches = caches_from_env(
        Env(
            {
                "CACHE_URL": "redis://10.0.0.9:6379/2",
                "PRODKIT_CACHE_ALLOW_PLAINTEXT": "true",
                "PRODKIT_CACHE_KEY_PREFIX": "shop",
                "PRODKIT_CACHE_VERSION": "4",
                "PRODKIT_CACHE_TIMEOUT": "60",
                "PRODKIT_CACHE_RESILIENT": "true",
            }
        )
    )
    assert caches["default"]["BACKEND"] == RESILIENT_REDIS
    assert (caches["default"]["KEY_PREFIX"], caches["pages"]["KEY_PREFIX"]) == (
        "shop",
        "shop:pages",
    )
    assert {caches[a]["VERSION"] for a in caches} == {4}
    assert {caches[a]["TIMEOUT"] for a in caches} == {60}


def test_plaintext_from_the_environment_names_the_switch():
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_CACHE_ALLOW_PLAINTEXT"):
        caches_from_env(Env({"CACHE_URL": "redis://10.0.0.9:6379/2"}))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("PRODKIT_CACHE_TIMEOUT", "-5", id="timeout"),
        pytest.param("PRODKIT_CACHE_VERSION", "zero", id="version"),
        pytest.param("PRODKIT_CACHE_RESILIENT", "ture", id="resilient"),
    ],
)
def test_bad_prodkit_cache_variables_are_named(variable, value):
    with pytest.raises(ImproperlyConfigured, match=variable):
        caches_from_env(Env({variable: value}))


def test_env_prefix_applies_to_cache_url_not_to_azure_names():
    env = Env({"APP_CACHE_URL": "dummy://", "CACHE_URL": "nope://"}, prefix="APP_")
    assert caches_from_env(env)["default"]["BACKEND"].endswith("DummyCache")
    with pytest.raises(ImproperlyConfigured, match=r"^APP_CACHE_URL uses"):
        caches_from_env(Env({"APP_CACHE_URL": "nope://x"}, prefix="APP_"))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f"rediss://:{quote(SECRET)}@{AZURE_HOST}:6380/0", id="python-client-url"),
        pytest.param(
            f"{AZURE_HOST}:6380,password={SECRET},ssl=True,defaultDatabase=0", id="dotnet-client"
        ),
    ],
)
def test_service_connector_connection_string_is_read(value):
    caches = caches_from_env(Env({"AZURE_REDIS_CONNECTIONSTRING": value}))
    assert caches["default"]["LOCATION"] == f"rediss://:{SECRET}@{AZURE_HOST}:6380/0"
    assert caches["pages"]["BACKEND"] == RESILIENT_REDIS


def test_service_connector_separate_variables_are_read():
    key = "Ab3+/Xy9kL0=="
    environ = {
        "AZURE_REDIS_HOST": AZURE_HOST,
        "AZURE_REDIS_PORT": "6380",
        "AZURE_REDIS_DATABASE": "2",
        "AZURE_REDIS_PASSWORD": key,
        "AZURE_REDIS_SSL": "true",
    }
    location = caches_from_env(Env(environ))["default"]["LOCATION"]
    assert location == f"rediss://:{quote(key, safe='')}@{AZURE_HOST}:6380/2"
    assert parse_url(location)["password"] == key
    del environ["AZURE_REDIS_PORT"], environ["AZURE_REDIS_SSL"], environ["AZURE_REDIS_DATABASE"]
    assert caches_from_env(Env(environ))["default"]["LOCATION"].endswith(":6380/0")


def test_service_connector_without_tls_needs_allow_plaintext():
    environ = {
        "AZURE_REDIS_HOST": "10.0.0.4",
        "AZURE_REDIS_PASSWORD": SECRET,
        "AZURE_REDIS_SSL": "false",
    }
    with pytest.raises(ImproperlyConfigured, match=r"AZURE_REDIS_HOST .* without TLS") as info:
        caches_from_env(Env(environ))
    assert SECRET not in str(info.value)
    environ["PRODKIT_CACHE_ALLOW_PLAINTEXT"] = "true"
    assert caches_from_env(Env(environ))["default"]["LOCATION"].startswith("redis://")


def test_managed_identity_connection_is_refused_with_a_way_out():
    environ = {"AZURE_REDIS_HOST": AZURE_HOST, "AZURE_REDIS_CLIENTID": "abc"}
    with pytest.raises(ImproperlyConfigured, match=r"Entra ID .* CACHE_URL"):
        caches_from_env(Env(environ))


def test_two_service_connector_forms_are_ambiguous_but_cache_url_wins():
    environ = {
        "AZURE_REDIS_CONNECTIONSTRING": f"rediss://:k@{AZURE_HOST}:6380/0",
        "AZURE_REDIS_HOST": AZURE_HOST,
        "AZURE_REDIS_PASSWORD": "k",
    }
    with pytest.raises(ImproperlyConfigured, match="both set"):
        caches_from_env(Env(environ))
    environ["CACHE_URL"] = "dummy://"
    assert caches_from_env(Env(environ))["default"]["BACKEND"].endswith("DummyCache")


# --- Presets ---------------------------------------------------------------------------------


def test_session_preset_is_cached_db_on_the_default_cache():
    assert session_settings() == {
        "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
        "SESSION_CACHE_ALIAS": "default",
    }
    assert session_settings(engine="cache", cache_alias="sessions")["SESSION_ENGINE"] == (
        "django.contrib.sessions.backends.cache"
    )
    with pytest.raises(ImproperlyConfigured, match="cached_db"):
        session_settings(engine="redis")


def test_cache_middleware_preset_uses_the_pages_alias():
    assert cache_middleware_settings() == {
        "CACHE_MIDDLEWARE_ALIAS": "pages",
        "CACHE_MIDDLEWARE_SECONDS": 60,
        "CACHE_MIDDLEWARE_KEY_PREFIX": "site",
    }
    with pytest.raises(ImproperlyConfigured, match="seconds"):
        cache_middleware_settings(seconds=-1)


def test_production_settings_carry_caches_and_sessions(tmp_path):
    env = Env(
        {
            "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "CACHE_URL": "memcached://10.0.0.5",
        }
    )
    result = production_settings(env, base_dir=tmp_path, default_database="sqlite:///x.db")
    assert result["CACHES"] == caches_from_env(env)
    assert result["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"


def test_the_suite_runs_on_local_memory_with_database_sessions(settings):
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        pytest.param("rediss://:k@cache.example.com:6380/0", "cached_db", id="redis"),
        pytest.param("memcached://10.0.0.5", "cached_db", id="memcached"),
        pytest.param("locmem://", "db", id="locmem-one-per-process"),
        pytest.param("file:///tmp/c", "db", id="file"),
        pytest.param("db://cache", "db", id="db"),
        pytest.param("dummy://", "db", id="dummy"),
    ],
)
def test_sessions_are_cached_only_in_a_cache_every_process_shares(url, engine):
    assert session_engine_for(cache_from_url(url)) == engine
    assert session_engine_for(cache_from_url(url, resilient=True)) == engine


# --- Real servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def memcached_server() -> Iterator[Server]:
    with own_memcached() as server:
        yield server


@pytest.fixture
def cache_for(request, tmp_path):
    """Build a cache of a kind on its real server, with keys of its own; clean up after."""
    built = []

    def make(kind):
        prefix = f"t{uuid.uuid4().hex[:12]}"
        resilient = kind.startswith("resilient-")
        if kind.endswith("redis"):
            url = request.getfixturevalue("redis_url")
        elif kind.endswith("memcached"):
            url = f"memcached://127.0.0.1:{request.getfixturevalue('memcached_server').port}"
        elif kind == "file":
            url = f"file://{tmp_path / 'cache'}"
        else:
            url = f"locmem://{prefix}"
        cache = build(cache_from_url(url, key_prefix=prefix, resilient=resilient))
        built.append(cache)
        return cache

    yield make
    for cache in built:
        # Only this test's keys: the shared Redis is never flushed.
        cache.delete_many([*KEYS, "short", "n", "obj", "other"])
        cache.close()


KEYS = [f"key-{i}" for i in range(300)]


@pytest.mark.parametrize(
    "kind", ["redis", "resilient-redis", "memcached", "resilient-memcached", "file", "locmem"]
)
def test_cache_stores_expires_and_handles_many_keys(cache_for, kind):
    cache = cache_for(kind)
    started = time.monotonic()
    cache.set("short", "lived", timeout=1)
    assert cache.get("short") == "lived"

    cache.set("obj", {"a": [1, 2]})
    assert cache.get("obj") == {"a": [1, 2]}
    assert cache.add("obj", "other") is False
    assert cache.add("other", "value") is True
    assert cache.delete("obj") is True
    assert cache.get("obj", "missing") == "missing"
    assert "obj" not in cache

    cache.set("n", 1)
    assert cache.incr("n", 5) == 6
    assert cache.decr("n") == 5
    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-set")

    data = {key: i for i, key in enumerate(KEYS)}
    assert cache.set_many(data) == []
    assert cache.get_many(KEYS) == data
    cache.delete_many(KEYS[:100])
    assert cache.get_many(KEYS) == {k: data[k] for k in KEYS[100:]}

    # memcached counts expiry in whole seconds: 2 s covers a key set with a 1 s timeout.
    time.sleep(max(0.0, started + 2.0 - time.monotonic()))
    assert cache.get("short") is None


def test_dummy_cache_stores_nothing():
    cache = build(cache_from_url("dummy://"))
    cache.set("a", 1)
    assert cache.get("a") is None


def test_caches_with_different_prefixes_do_not_see_each_other(redis_url):
    one = build(cache_from_url(redis_url, key_prefix=f"a{uuid.uuid4().hex}"))
    two = build(cache_from_url(redis_url, key_prefix=f"b{uuid.uuid4().hex}"))
    try:
        one.set("same", 1)
        assert two.get("same") is None
    finally:
        one.delete("same")


# --- Passwords and TLS on Redis servers of our own ------------------------------------------


def redis_argv(port, *extra):
    binary = require_binary("redis-server", "redis-server")
    return [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra]


@pytest.fixture
def redis_with_password() -> Iterator[tuple[int, str]]:
    password = "p@ss:/?%,;+=w0rd"
    port = free_port()
    server = Server(redis_argv(port, "--port", str(port), "--requirepass", password), port)
    server.start()
    try:
        yield port, password
    finally:
        server.stop()


def round_trip(config):
    cache = build(config)
    try:
        cache.set("k", "v")
        return cache.get("k")
    finally:
        cache.close()


def test_percent_encoded_password_logs_in(redis_with_password):
    port, password = redis_with_password
    assert round_trip(cache_from_url(f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"))
    with pytest.raises(redis.AuthenticationError):
        round_trip(cache_from_url(f"redis://:wrong@127.0.0.1:{port}/0"))


def test_azure_forms_log_in(redis_with_password):
    port, password = redis_with_password
    # StackExchange.Redis strings cannot carry a comma; Azure keys (base64) never hold one.
    base64_key = "Ab3+/Xy9kL0=="
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    client.config_set("requirepass", base64_key)
    client.close()
    value = f"127.0.0.1:{port},password={base64_key},ssl=False,abortConnect=False"
    assert round_trip(cache_from_azure_connection_string(value)) == "v"
    environ = {
        "AZURE_REDIS_HOST": "127.0.0.1",
        "AZURE_REDIS_PORT": str(port),
        "AZURE_REDIS_PASSWORD": base64_key,
        "AZURE_REDIS_SSL": "false",
    }
    assert round_trip(caches_from_env(Env(environ))["default"]) == "v"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """A Redis speaking only TLS, with a self-signed certificate for the name localhost."""
    openssl = require_binary("openssl", "openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    tls = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert)]
    tls += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    server = Server(redis_argv(port, *tls), port)
    server.start()
    try:
        yield port, cert
    finally:
        server.stop()


def test_rediss_connects_with_certificate_checks(tls_redis):
    port, cert = tls_redis
    config = cache_from_url(f"rediss://localhost:{port}/0")
    config["OPTIONS"]["ssl_ca_certs"] = str(cert)
    assert round_trip(config) == "v"


def test_rediss_refuses_an_untrusted_certificate(tls_redis):
    port, _ = tls_redis
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        round_trip(cache_from_url(f"rediss://localhost:{port}/0"))


def test_rediss_checks_the_host_name(tls_redis):
    # The certificate names localhost, not 127.0.0.1.
    port, cert = tls_redis
    config = cache_from_url(f"rediss://127.0.0.1:{port}/0")
    config["OPTIONS"]["ssl_ca_certs"] = str(cert)
    with pytest.raises(redis.ConnectionError, match=r"mismatch|doesn't match"):
        round_trip(config)


# --- The database cache on PostgreSQL, and its table after migrate ---------------------------


@pytest.fixture
def cache_env(postgres_database, tmp_path):
    """The example project on a fresh PostgreSQL database, with a database cache."""
    return example_env(tmp_path, DATABASE_URL=postgres_database, CACHE_URL="db://prodkit_cache")


def postgres_tables(url):
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


DATABASE_CACHE_SCRIPT = """
import time
from django.core.cache import caches

cache = caches["default"]
started = time.monotonic()
cache.set("short", "lived", timeout=1)
cache.set("obj", {"a": 1})
assert cache.get("obj") == {"a": 1}
assert cache.delete("obj") and cache.get("obj") is None
data = {f"key-{i}": i for i in range(300)}
assert cache.set_many(data) == []
assert cache.get_many(list(data)) == data
cache.delete_many(list(data))
assert cache.get_many(list(data)) == {}
caches["pages"].set("page", "html")
assert caches["pages"].get("page") == "html"
time.sleep(max(0.0, started + 1.5 - time.monotonic()))
assert cache.get("short") is None
print("database cache ok")
"""


@pytest.mark.slow
def test_migrate_creates_the_cache_tables_and_the_database_cache_works(
    cache_env, postgres_database
):
    output = manage(cache_env, "migrate", "--noinput")
    assert {"prodkit_cache", "prodkit_cache_pages"} <= postgres_tables(postgres_database)
    assert "Created cache table 'prodkit_cache'." in output
    assert "Created cache table 'prodkit_cache_pages'." in output
    # Idempotent: a second migrate finds the tables and says nothing about them.
    output = manage(cache_env, "migrate", "--noinput")
    assert "cache table" not in output.lower()
    result = manage(cache_env, "shell", "-c", DATABASE_CACHE_SCRIPT)
    assert "database cache ok" in result


@pytest.mark.slow
def test_migrate_creates_no_cache_table_without_a_database_cache(cache_env, postgres_database):
    manage({**cache_env, "CACHE_URL": "locmem://"}, "migrate", "--noinput")
    tables = postgres_tables(postgres_database)
    assert "django_migrations" in tables
    assert not {t for t in tables if "cache" in t}
