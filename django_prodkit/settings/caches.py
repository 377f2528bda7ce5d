"""``CACHES`` entries, session and per-site cache settings from URLs or the environment.

``cache_from_url("rediss://:KEY@name.redis.cache.windows.net:6380/0")`` returns one ``CACHES``
entry with production defaults: short socket timeouts, a bounded connection pool, health
checks on idle connections, certificate and host name checks for TLS. Plain-text Redis to
anything but this machine is refused unless asked for. ``caches_from_env()`` returns the
whole ``CACHES`` dict: ``default``, and ``pages`` for the page and fragment caches.

Nothing here reads Django's settings or touches the network; no error shows a password.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env, parse_bool
from django_prodkit.redact import redact_url

REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
MEMCACHED_BACKEND = "django.core.cache.backends.memcached.PyMemcacheCache"
DATABASE_BACKEND = "django.core.cache.backends.db.DatabaseCache"
FILE_BACKEND = "django.core.cache.backends.filebased.FileBasedCache"
LOCMEM_BACKEND = "django.core.cache.backends.locmem.LocMemCache"
DUMMY_BACKEND = "django.core.cache.backends.dummy.DummyCache"
RESILIENT_REDIS_BACKEND = "django_prodkit.cache.ResilientRedisCache"
RESILIENT_MEMCACHED_BACKEND = "django_prodkit.cache.ResilientPyMemcacheCache"

SCHEMES = ("redis", "rediss", "memcached", "db", "file", "locmem", "dummy")
URL_FORM = "rediss://:PASSWORD@HOST:6380/0"

# Django's RedisCache hands every OPTIONS key but serializer, pool_class and parser_class to
# redis-py's ConnectionPool.from_url(), which passes the pool's own (max_connections) on and
# the rest to each Connection. Query parameters in the URL win over these.
REDIS_OPTIONS: dict[str, Any] = {
    # A cache that answers slowly is worse than a miss: give up instead of redis-py's default
    # of waiting forever. The connect timeout covers the TCP handshake only (milliseconds in
    # one region); the socket timeout covers the TLS handshake and every reply.
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # PING a connection idle for 30 s before using it: Azure Cache for Redis closes idle
    # connections after 10 minutes, and a load balancer may drop them sooner.
    "health_check_interval": 30,
    # One retry (redis-py's Retry(NoBackoff(), 1)) on a timeout or a dropped connection, so a
    # pooled connection the server closed is replaced instead of failing the request.
    "retry_on_timeout": True,
    # Django keeps a pool per cache object, and cache objects are per thread: the cap only
    # bounds a leak, against the server's client limit (256 on Azure's smallest tier).
    "max_connections": 50,
}
# redis-py < 6 did not check the host name by default; say what we want whatever the version.
REDIS_TLS_OPTIONS: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}

# Options for pymemcache's HashClient, which Django's PyMemcacheCache builds.
MEMCACHED_OPTIONS: dict[str, Any] = {
    "use_pooling": True,
    "max_pool_size": 10,
    # memcached answers in well under a millisecond on a healthy network.
    "connect_timeout": 1,
    "timeout": 1,
    # Small requests go out at once instead of waiting on Nagle's algorithm.
    "no_delay": True,
}
MEMCACHED_PORT = 11211

# The caches that cull themselves (database, files, local memory) hold 300 entries by
# default, a development size: past it every write throws out a third of them.
CULLED_OPTIONS: dict[str, Any] = {"MAX_ENTRIES": 5000}

# The Azure Cache for Redis host suffixes (public cloud, Azure China, Azure US Government)
# and Azure Managed Redis; only used to make error messages more helpful.
_AZURE_REDIS_SUFFIXES = (
    ".redis.cache.windows.net",
    ".redis.cache.chinacloudapi.cn",
    ".redis.cache.usgovcloudapi.net",
    ".redis.azure.net",
)
_AZURE_TLS_PORT = 6380

# Azure Service Connector's variables for Azure Cache for Redis (learn.microsoft.com/azure/
# service-connector/how-to-integrate-redis-cache, "Connection string"): the Python, Go and
# Node.js client types get AZURE_REDIS_CONNECTIONSTRING as a URL
# ("rediss://:KEY@NAME.redis.cache.windows.net:6380/0"), .NET gets it in StackExchange.Redis
# form ("NAME.redis.cache.windows.net:6380,password=KEY,ssl=True,defaultDatabase=0"), and the
# "Other" client type gets AZURE_REDIS_HOST, _PORT, _DATABASE, _PASSWORD and _SSL. There is
# no Django client type for Redis. Managed identity and service principal connections set
# AZURE_REDIS_HOST with a client id and no password (Microsoft Entra ID tokens).
AZURE_REDIS_CONNECTIONSTRING = "AZURE_REDIS_CONNECTIONSTRING"
AZURE_REDIS_PREFIX = "AZURE_REDIS_"


SESSION_ENGINES = {
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "cache": "django.contrib.sessions.backends.cache",
    "db": "django.contrib.sessions.backends.db",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
    "file": "django.contrib.sessions.backends.file",
}


def cache_from_url(
    url: str,
    *,
    source: str = "CACHE_URL",
    key_prefix: str = "",
    version: int = 1,
    timeout: int | None = 300,
    resilient: bool = False,
    allow_plaintext: bool = False,
) -> dict[str, Any]:
    """Return one ``CACHES`` entry for ``url``; ``source`` names it in errors.

    Schemes: ``redis://`` and ``rediss://`` (Django's ``RedisCache``), ``memcached://HOST:PORT``
    with several hosts comma-separated (``PyMemcacheCache``), ``db://TABLE``
    (``DatabaseCache``), ``file:///ABSOLUTE/PATH`` (``FileBasedCache``), ``locmem://[NAME]``
    and ``dummy://``.

    ``redis://`` (no TLS) is refused for any host but this machine's loopback unless
    ``allow_plaintext`` is true. ``resilient`` swaps Redis and memcached for prodkit's
    backends, on which an unreachable server means a miss instead of an exception.
    ``timeout`` is the default expiry in seconds (``None``: never).
    """
    _check_numbers(source, version, timeout)
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme:
        raise ImproperlyConfigured(_not_a_url(source, url))
    if scheme not in SCHEMES:
        raise ImproperlyConfigured(
            f"{source} uses the scheme {scheme}://, which prodkit does not support "
            f"({redact_url(url)}). Supported schemes: "
            f"{', '.join(s + '://' for s in SCHEMES)}."
        )
    config: dict[str, Any]
    if scheme in ("redis", "rediss"):
        config = _redis(url, source, resilient=resilient, allow_plaintext=allow_plaintext)
    elif scheme == "memcached":
        config = _memcached(rest, source, resilient=resilient)
    elif scheme == "db":
        config = {"BACKEND": DATABASE_BACKEND, "LOCATION": _table(rest, source)}
        config["OPTIONS"] = dict(CULLED_OPTIONS)
    elif scheme == "file":
        config = {"BACKEND": FILE_BACKEND, "LOCATION": _directory(rest, source)}
        config["OPTIONS"] = dict(CULLED_OPTIONS)
    elif scheme == "locmem":
        config = {"BACKEND": LOCMEM_BACKEND, "LOCATION": _plain_name(rest, source, scheme)}
        config["OPTIONS"] = dict(CULLED_OPTIONS)
    else:
        _plain_name(rest, source, scheme)
        config = {"BACKEND": DUMMY_BACKEND}
    config.update(KEY_PREFIX=key_prefix, VERSION=version, TIMEOUT=timeout)
    return config


def cache_from_azure_connection_string(
    value: str,
    *,
    source: str = AZURE_REDIS_CONNECTIONSTRING,
    key_prefix: str = "",
    version: int = 1,
    timeout: int | None = 300,
    resilient: bool = False,
    allow_plaintext: bool = False,
) -> dict[str, Any]:
    """Return one ``CACHES`` entry for an Azure Cache for Redis connection string.

    The form is the one the Azure portal's "Access keys" page and Service Connector's .NET
    client type show (StackExchange.Redis):
    ``NAME.redis.cache.windows.net:6380,password=KEY,ssl=True,abortConnect=False``. Keys are
    case-insensitive; ``password``, ``user``, ``ssl`` and ``defaultDatabase`` are read, the
    rest configure .NET clients and are ignored. A ``rediss://`` URL (Service Connector's
    Python client type) is read as one. The other arguments are those of
    ``cache_from_url()``.
    """
    value = value.strip()
    if "://" in value:
        return cache_from_url(
            value,
            source=source,
            key_prefix=key_prefix,
            version=version,
            timeout=timeout,
            resilient=resilient,
            allow_plaintext=allow_plaintext,
        )
    endpoints: list[str] = []
    options: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key, sep, option = item.partition("=")
        if sep:
            options[key.strip().lower()] = option.strip()
        else:
            endpoints.append(item)
    if len(endpoints) != 1:
        raise ImproperlyConfigured(
            f"{source} must name exactly one HOST:PORT, got {len(endpoints)} (value hidden). "
            "Expected the form NAME.redis.cache.windows.net:6380,password=KEY,ssl=True."
        )
    ssl = _flag(options.get("ssl", "false"), source, "ssl")
    host, port = _host_port(endpoints[0], source, _AZURE_TLS_PORT if ssl else 6379)
    database = options.get("defaultdatabase", "0")
    if not database.isdigit():
        raise ImproperlyConfigured(
            f"{source} sets defaultDatabase to {database!r}; use a number such as 0."
        )
    url = _redis_url(
        ssl,
        host,
        port,
        int(database),
        options.get("user", ""),
        options.get("password", ""),
    )
    return cache_from_url(
        url,
        source=source,
        key_prefix=key_prefix,
        version=version,
        timeout=timeout,
        resilient=resilient,
        allow_plaintext=allow_plaintext,
    )


def caches_from_env(env: Env | None = None) -> dict[str, Any]:
    """Return the whole ``CACHES`` setting from the environment.

    ``default`` comes from ``CACHE_URL``, or else from Azure Service Connector's
    ``AZURE_REDIS_CONNECTIONSTRING`` or ``AZURE_REDIS_HOST`` (with ``_PORT``, ``_PASSWORD``,
    ``_DATABASE``, ``_SSL``), or else is ``locmem://``. ``pages`` (for the per-site and
    fragment caches) uses the same service with the key prefix ``pages`` and, for Redis and
    memcached, prodkit's resilient backend: a page cache that is down only means misses.

    Also read: ``PRODKIT_CACHE_KEY_PREFIX`` (default empty), ``PRODKIT_CACHE_VERSION`` (1),
    ``PRODKIT_CACHE_TIMEOUT`` (300 seconds), ``PRODKIT_CACHE_RESILIENT`` (false: make
    ``default`` resilient too) and ``PRODKIT_CACHE_ALLOW_PLAINTEXT`` (false).
    """
    env = Env() if env is None else env
    prefix = env.str("PRODKIT_CACHE_KEY_PREFIX", default="")
    common: dict[str, Any] = {
        "version": env.int("PRODKIT_CACHE_VERSION", default=1, min=1),
        "timeout": env.int("PRODKIT_CACHE_TIMEOUT", default=300, min=0),
        "allow_plaintext": env.bool("PRODKIT_CACHE_ALLOW_PLAINTEXT", default=False),
    }
    resilient = env.bool("PRODKIT_CACHE_RESILIENT", default=False)
    url, source = _url_from_env(env)
    default = cache_from_url(url, source=source, key_prefix=prefix, resilient=resilient, **common)
    pages = cache_from_url(
        _pages_url(url, default),
        source=source,
        key_prefix=f"{prefix}:pages" if prefix else "pages",
        resilient=True,
        **common,
    )
    return {"default": default, "pages": pages}


def session_settings(*, engine: str = "cached_db", cache_alias: str = "default") -> dict[str, Any]:
    """Return ``SESSION_ENGINE`` and ``SESSION_CACHE_ALIAS``.

    ``engine`` is ``cached_db`` (the default: write-through to the database, read from the
    cache, so no session is lost when the cache is cleared or restarted), ``cache``, ``db``,
    ``signed_cookies``, ``file`` or a dotted path. ``cache_alias`` names the ``CACHES`` entry
    the ``cache`` and ``cached_db`` engines use; with several instances it must be a shared
    one (Redis, memcached, the database), never ``locmem``.
    """
    path = SESSION_ENGINES.get(engine, engine)
    if "." not in path:
        raise ImproperlyConfigured(
            f"session_settings() got engine={engine!r}; use one of "
            f"{', '.join(SESSION_ENGINES)} or a dotted path to a session engine."
        )
    return {"SESSION_ENGINE": path, "SESSION_CACHE_ALIAS": cache_alias}


def session_engine_for(cache: dict[str, Any]) -> str:
    """Return the session engine that is correct with the ``CACHES`` entry ``cache``.

    ``cached_db`` for Redis and memcached, which every process and instance share; ``db``
    for the rest. A local-memory cache is one per process: with ``cached_db`` a session
    changed by one worker stays stale in the others' memory (and a logged-out session stays
    valid there) until it expires. A database or file cache would only add a second lookup.
    """
    backend = str(cache.get("BACKEND", ""))
    shared = (
        REDIS_BACKEND,
        MEMCACHED_BACKEND,
        RESILIENT_REDIS_BACKEND,
        RESILIENT_MEMCACHED_BACKEND,
    )
    return "cached_db" if backend in shared else "db"


def cache_middleware_settings(
    *, seconds: int = 60, alias: str = "pages", key_prefix: str = "site"
) -> dict[str, Any]:
    """Return ``CACHE_MIDDLEWARE_ALIAS``, ``_SECONDS`` and ``_KEY_PREFIX`` (the per-site cache).

    They take effect with ``django.middleware.cache.UpdateCacheMiddleware`` first in
    ``MIDDLEWARE`` and ``FetchFromCacheMiddleware`` last (``production_middleware()`` keeps
    the first one first).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ImproperlyConfigured(
            f"cache_middleware_settings() got seconds={seconds!r}; use a whole number of "
            "seconds >= 0."
        )
    return {
        "CACHE_MIDDLEWARE_ALIAS": alias,
        "CACHE_MIDDLEWARE_SECONDS": seconds,
        "CACHE_MIDDLEWARE_KEY_PREFIX": key_prefix,
    }


# --- Redis -----------------------------------------------------------------------------------


def _redis(url: str, source: str, *, resilient: bool, allow_plaintext: bool) -> dict[str, Any]:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    _refuse_raw_specials(url, source)
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError:
        raise ImproperlyConfigured(
            f"{source} is not a Redis URL prodkit understands ({redact_url(url)}). "
            f"Expected a form like {URL_FORM}."
        ) from None
    host = parts.hostname or "localhost"
    database = parts.path.strip("/")
    if database and not database.isdigit():
        # redis-py would silently use database 0.
        raise ImproperlyConfigured(
            f"{source} names the database {database!r} ({redact_url(url)}); Redis databases "
            f"are numbers, as in {URL_FORM}."
        )
    if scheme == "redis" and not allow_plaintext and not is_loopback_host(host):
        hint = (
            f" Azure Cache for Redis takes TLS on port {_AZURE_TLS_PORT}."
            if host.endswith(_AZURE_REDIS_SUFFIXES)
            else ""
        )
        raise ImproperlyConfigured(
            f"{source} connects to Redis at {host} without TLS ({redact_url(url)}), which "
            f"would send the password and every cached value in clear text. Use rediss://.{hint} "
            "On a private network you trust, set PRODKIT_CACHE_ALLOW_PLAINTEXT=true "
            "(allow_plaintext=True)."
        )
    # Re-encode the user name and password as redis-py will decode them: Django splits
    # LOCATION on "," and ";", so neither may stay raw in it.
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        userinfo = quote(unquote(user), safe="")
        if colon:
            userinfo += ":" + quote(unquote(password), safe="")
        userinfo += "@"
    location = f"{scheme}://{userinfo}{hostinfo}{parts.path}"
    if parts.query:
        location += f"?{parts.query}"
    options = dict(REDIS_OPTIONS)
    if scheme == "rediss":
        options.update(REDIS_TLS_OPTIONS)
    backend = RESILIENT_REDIS_BACKEND if resilient else REDIS_BACKEND
    return {"BACKEND": backend, "LOCATION": location, "OPTIONS": options}


def _redis_url(ssl: bool, host: str, port: int, database: int, user: str, password: str) -> str:
    userinfo = ""
    if user or password:
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    if ":" in host:
        host = f"[{host}]"
    return f"{'rediss' if ssl else 'redis'}://{userinfo}{host}:{port}/{database}"


def _refuse_raw_specials(url: str, source: str) -> None:
    """Refuse URLs that urlsplit (and so redis-py) would read wrongly because of a raw password."""
    encode = (
        "Percent-encode the password (urllib.parse.quote(password, safe='')): / as %2F, "
        "? as %3F, # as %23, @ as %40, % as %25."
    )
    if "#" in url:
        raise ImproperlyConfigured(
            f"{source} contains a raw '#' ({redact_url(url)}), which would cut the URL short. "
            f"{encode}"
        )
    rest = url.partition("://")[2]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    if "@" in rest[cut:]:
        raise ImproperlyConfigured(
            f"{source} has an '@' after the first '/' or '?' ({redact_url(url)}): the password "
            f"probably holds a raw '/' or '?', and the host would be read from its middle. "
            f"{encode}"
        )


def is_loopback_host(host: str) -> bool:
    """Return True for ``localhost`` and loopback addresses (traffic that never leaves the box)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- Azure variables -------------------------------------------------------------------------


def _url_from_env(env: Env) -> tuple[str, str]:
    """Return the cache URL and the variable it came from."""
    name = env.name("CACHE_URL")
    url = env.str("CACHE_URL", default=None)
    if url is not None:
        return url, name
    # Platform variables keep the platform's names: no Env prefix.
    connection_string = env.environ.get(AZURE_REDIS_CONNECTIONSTRING, "").strip()
    host = env.environ.get(f"{AZURE_REDIS_PREFIX}HOST", "").strip()
    if connection_string and host:
        raise ImproperlyConfigured(
            f"{AZURE_REDIS_CONNECTIONSTRING} and {AZURE_REDIS_PREFIX}HOST are both set, so "
            f"prodkit cannot tell which Redis to use. Remove one, or set {name}, which takes "
            "precedence."
        )
    if connection_string:
        return _azure_url(connection_string), AZURE_REDIS_CONNECTIONSTRING
    if host:
        return _azure_variables_url(env, host), f"{AZURE_REDIS_PREFIX}HOST"
    return "locmem://", name


def _azure_url(value: str) -> str:
    """Return a Redis URL for AZURE_REDIS_CONNECTIONSTRING, whichever form it has."""
    if "://" in value:
        return value
    config = cache_from_azure_connection_string(
        value, source=AZURE_REDIS_CONNECTIONSTRING, allow_plaintext=True
    )
    return str(config["LOCATION"])


def _azure_variables_url(env: Env, host: str) -> str:
    prefix = AZURE_REDIS_PREFIX
    password = env.environ.get(f"{prefix}PASSWORD", "")
    if not password:
        raise ImproperlyConfigured(
            f"{prefix}HOST is set but {prefix}PASSWORD is not: Service Connector set up "
            "Microsoft Entra ID authentication (managed identity or service principal), "
            "which prodkit does not support for Redis yet. Connect with the access key "
            f"(authentication type 'Connection string'), or set {env.name('CACHE_URL')}."
        )
    ssl = _flag(env.environ.get(f"{prefix}SSL", "").strip() or "true", f"{prefix}SSL", "value")
    port_text = env.environ.get(f"{prefix}PORT", "").strip()
    port = _AZURE_TLS_PORT if ssl else 6379
    if port_text:
        port = _port(port_text, f"{prefix}PORT")
    database = env.environ.get(f"{prefix}DATABASE", "").strip() or "0"
    if not database.isdigit():
        raise ImproperlyConfigured(
            f"{prefix}DATABASE must be a Redis database number such as 0, got {database!r}."
        )
    return _redis_url(ssl, host, port, int(database), "", password)


# --- Other schemes ---------------------------------------------------------------------------


def _memcached(rest: str, source: str, *, resilient: bool) -> dict[str, Any]:
    expected = "memcached://HOST:11211 or memcached://HOST1:11211,HOST2:11211"
    if any(c in rest for c in "/?#@"):
        raise ImproperlyConfigured(
            f"{source} is not a memcached URL prodkit understands ({redact_url(rest)}). "
            f"Expected {expected}, with no path, user or options."
        )
    servers = []
    for item in (part.strip() for part in rest.split(",")):
        if item:
            host, port = _host_port(item, source, MEMCACHED_PORT)
            servers.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if not servers:
        raise ImproperlyConfigured(f"{source} names no memcached server. Expected {expected}.")
    backend = RESILIENT_MEMCACHED_BACKEND if resilient else MEMCACHED_BACKEND
    return {"BACKEND": backend, "LOCATION": servers, "OPTIONS": dict(MEMCACHED_OPTIONS)}


def _table(rest: str, source: str) -> str:
    table = rest.strip("/")
    if not table or not table.replace("_", "").isalnum() or not table.isascii():
        raise ImproperlyConfigured(
            f"{source} must name the cache table as db://TABLE_NAME (letters, digits and "
            f"underscores), got db://{rest}."
        )
    return table


def _directory(rest: str, source: str) -> str:
    if not rest.startswith("/") or len(rest) < 2 or "?" in rest or "#" in rest:
        raise ImproperlyConfigured(
            f"{source} must name an absolute directory as file:///ABSOLUTE/PATH (three "
            f"slashes), got file://{rest}."
        )
    return unquote(rest)


def _plain_name(rest: str, source: str, scheme: str) -> str:
    if any(c in rest for c in "/?#@:"):
        raise ImproperlyConfigured(
            f"{source} must be {scheme}:// or {scheme}://NAME, got {scheme}://{rest}."
        )
    return rest


def _pages_url(url: str, default: dict[str, Any]) -> str:
    """Return the URL of the ``pages`` cache: the same service, kept apart where it matters."""
    backend = default["BACKEND"]
    location = default.get("LOCATION", "")
    if backend == LOCMEM_BACKEND:
        # A separate store, so page entries never push out the default cache's.
        return f"locmem://{location}-pages" if location else "locmem://pages"
    if backend == DATABASE_BACKEND:
        # DatabaseCache.clear() empties the whole table: clearing pages must not log users
        # out, so pages get a table of their own (createcachetable makes both).
        return f"db://{location}_pages"
    if backend == FILE_BACKEND:
        # FileBasedCache.clear() deletes the files at the top of its directory only.
        return f"file://{quote(location.rstrip('/'))}/pages"
    return url


def _host_port(item: str, source: str, default_port: int) -> tuple[str, int]:
    if item.startswith("["):
        host, _, tail = item[1:].partition("]")
        port_text = tail.removeprefix(":")
    elif item.count(":") > 1:
        host, port_text = item, ""
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise ImproperlyConfigured(f"{source} names a server without a host ({item!r}).")
    return host, _port(port_text, source) if port_text else default_port


def _port(text: str, source: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ImproperlyConfigured(f"{source} has an invalid port {text!r}; use 1 to 65535.")
    return int(text)


def _flag(value: str, source: str, key: str) -> bool:
    try:
        return parse_bool(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{source} sets {key} to {value!r}; use true or false."
        ) from None


def _check_numbers(source: str, version: int, timeout: int | None) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ImproperlyConfigured(f"The cache version for {source} must be an integer.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
    ):
        raise ImproperlyConfigured(
            f"The cache timeout for {source} must be seconds >= 0, or None (never expire), "
            f"got {timeout!r}."
        )


def _not_a_url(source: str, value: str) -> str:
    message = f"{source} is not a cache URL (value hidden). Expected a form like {URL_FORM}."
    if "=" in value:
        message += (
            " It looks like an Azure Cache for Redis connection string: put it in "
            f"{AZURE_REDIS_CONNECTIONSTRING}, or write it as a URL."
        )
    return message


__all__ = [
    "AZURE_REDIS_CONNECTIONSTRING",
    "CULLED_OPTIONS",
    "MEMCACHED_OPTIONS",
    "REDIS_OPTIONS",
    "REDIS_TLS_OPTIONS",
    "SCHEMES",
    "SESSION_ENGINES",
    "cache_from_azure_connection_string",
    "cache_from_url",
    "cache_middleware_settings",
    "caches_from_env",
    "session_engine_for",
    "session_settings",
]
