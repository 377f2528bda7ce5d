"""Checks 2xx: database.

The checks read ``settings.DATABASES`` as written (Django's defaults filled in the way its
``ConnectionHandler`` fills them), never ``django.db.connections``: nothing connects, nothing is
queried. A database is classified by ``ENGINE``: Django's, GeoDjango's and mssql-django's engines
by name, any other engine by the ``vendor`` of its ``DatabaseWrapper`` (so a subclass of
Django's PostgreSQL backend counts as PostgreSQL). Only an unknown engine's module is imported:
a known one is never, so no driver (psycopg, mysqlclient, pyodbc) is loaded by the checks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage

from django_prodkit.checks.context import asgi_server, deployment
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.env import Env
from django_prodkit.settings.caches import is_loopback_host
from django_prodkit.settings.database import (
    AZURE_MYSQL_SUFFIXES,
    AZURE_POSTGRES_SUFFIXES,
    AZURE_SQL_SUFFIXES,
)

E201 = Check(
    id="prodkit.E201",
    title="no default database",
    msg="DATABASES has no usable 'default' database ({problem}).",
    hint=(
        "Set DATABASE_URL (postgres://USER:PASSWORD@HOST:5432/NAME) and write "
        "DATABASES = {{'default': django_prodkit.settings.database_from_env(env)}}."
    ),
    why=(
        "Django sends every query without an explicit `using=` to `default`. Without it the "
        "dummy backend answers: sessions, auth and the admin fail on the first request with "
        "ImproperlyConfigured."
    ),
)
E202 = Check(
    id="prodkit.E202",
    title="SQLite on several instances",
    msg="The database '{alias}' is SQLite and {deployment} serve the site.",
    hint=(
        "Each instance would write its own file: use a database server "
        "(DATABASE_URL=postgres://..., read by database_from_env()), or set "
        "PRODKIT_INSTANCES = 1 if only one instance ever runs."
    ),
    why=(
        "An SQLite database is a file on one machine's disk. Behind a load balancer every "
        "instance reads and writes its own copy: a user created on one is unknown to the next "
        "request. On a shared network disk SQLite's locking is unreliable and the file can be "
        "corrupted."
    ),
)
W203 = Check(
    id="prodkit.W203",
    title="SQLite written by several processes without WAL",
    msg=(
        "The database '{alias}' is SQLite without {missing} and {deployment} write to it: "
        "concurrent writes fail with 'database is locked'."
    ),
    hint=(
        "database_from_env() and database_from_url() set OPTIONS init_command "
        "'PRAGMA journal_mode=WAL' and transaction_mode 'IMMEDIATE', which make a writer wait "
        "for the lock (up to OPTIONS['timeout']) instead of failing half-way; for more than "
        "light write load use a database server."
    ),
    why=(
        "SQLite allows one writer at a time. In its default rollback-journal mode readers block "
        "the writer, and a DEFERRED transaction that starts reading and then writes cannot wait "
        "for the lock: with several worker processes some requests fail with 'database is "
        "locked'. WAL and IMMEDIATE transactions reduce that to waiting; writes are still "
        "serialised."
    ),
)
W204 = Check(
    id="prodkit.W204",
    title="a new database connection for every request",
    msg=(
        "The database '{alias}' opens a new connection for every request "
        "(CONN_MAX_AGE is 0 and no pool)."
    ),
    hint=(
        "Keep connections: CONN_MAX_AGE = 600 with CONN_HEALTH_CHECKS = True (what "
        "database_from_env() sets), or for PostgreSQL psycopg's pool, OPTIONS['pool'] "
        "(PRODKIT_DB_POOL=true), which is the choice under ASGI."
    ),
    why=(
        "Connecting costs a TCP handshake, a TLS handshake and authentication (PostgreSQL also "
        "starts a server process): tens of milliseconds to a cloud database, on every request, "
        "and a connection storm when traffic rises."
    ),
)
W205 = Check(
    id="prodkit.W205",
    title="persistent connections without health checks",
    msg=(
        "The database '{alias}' keeps connections open (CONN_MAX_AGE is {max_age}) but "
        "CONN_HEALTH_CHECKS is off."
    ),
    hint=(
        "Set CONN_HEALTH_CHECKS = True (database_from_env() does): Django then tests a reused "
        "connection before the request's first query and reconnects if it is dead."
    ),
    why=(
        "A connection kept between requests dies when the database restarts, fails over, or "
        "drops idle connections (as cloud databases and firewalls do). Without health checks "
        "the next request on that worker fails with a 500 before Django notices."
    ),
)
I206 = Check(
    id="prodkit.I206",
    title="database connections are never recycled",
    msg="The database '{alias}' keeps connections forever (CONN_MAX_AGE is None).",
    hint=(
        "Give connections a lifetime, e.g. CONN_MAX_AGE = 600 (database_from_env()'s default, "
        "PRODKIT_DB_CONN_MAX_AGE), so they are renewed after failovers and credential changes."
    ),
    why=(
        "An unlimited connection lives as long as the worker. Server-side memory per session "
        "grows, a replica promoted after a failover or a rotated password or token is only "
        "picked up when a connection breaks."
    ),
)
I207 = Check(
    id="prodkit.I207",
    title="persistent connections under ASGI",
    msg=(
        "The database '{alias}' keeps connections open (CONN_MAX_AGE is {max_age}) and the "
        "site is served over ASGI ({server})."
    ),
    hint=(
        "Under ASGI use a pool instead: for PostgreSQL PRODKIT_DB_POOL=true (OPTIONS['pool'], "
        "CONN_MAX_AGE 0); else CONN_MAX_AGE = 0. Serving WSGI? Set "
        "PRODKIT_WORKER_CLASS=gthread and run the WSGI entrypoint."
    ),
    why=(
        "Django's docs: when using ASGI, persistent connections should be disabled. Sync code "
        "runs in changing threads, each with its own connection, so connections are opened "
        "per thread and may pile up instead of being reused."
    ),
)
W208 = Check(
    id="prodkit.W208",
    title="database traffic without required TLS",
    msg="The database '{alias}' connects to {host} without requiring TLS ({detail}).",
    hint=(
        "Require TLS: PostgreSQL OPTIONS['sslmode'] = 'require' (or 'verify-full' with "
        "sslrootcert), MySQL/MariaDB OPTIONS['ssl_mode'] = 'REQUIRED', SQL Server "
        "extra_params 'Encrypt=yes'; ?sslmode=require on DATABASE_URL does it for each "
        "with database_from_env()."
    ),
    why=(
        "Without required TLS the password and every query and result can cross the network in "
        "clear text, and an attacker on the path can force the plaintext fallback "
        "('prefer' gives up TLS silently)."
    ),
)
E209 = Check(
    id="prodkit.E209",
    title="TLS turned off for an Azure database",
    msg="The database '{alias}' turns TLS off ({detail}) for the Azure database {host}.",
    hint=(
        "Remove the setting, or require TLS (sslmode=require, ssl_mode=REQUIRED, "
        "Encrypt=yes); database_from_env() requires it for Azure hosts."
    ),
    why=(
        "Azure Database for PostgreSQL and MySQL refuse connections without TLS unless "
        "require_secure_transport was turned off, so the site cannot reach its database; if it "
        "was turned off, credentials and data cross the internet in clear text."
    ),
)
I210 = Check(
    id="prodkit.I210",
    title="no connect timeout for the database",
    msg="The database '{alias}' has no connect timeout ({option} unset or 0).",
    hint=(
        "Set OPTIONS['{option}'] to a few seconds, e.g. 10 (database_from_env() and "
        "database_from_url() do, connect_timeout=...)."
    ),
    why=(
        "While the database host is unreachable (a failover, a firewall dropping packets) a new "
        "connection waits for the operating system's TCP timeout, minutes, holding the worker: "
        "requests pile up until the platform's front end gives up."
    ),
)
W211 = Check(
    id="prodkit.W211",
    title="no password for a remote database",
    msg="The database '{alias}' connects to {host} with an empty PASSWORD and no other sign-in.",
    hint=(
        "Put the password in DATABASE_URL (percent-encoded) or AZURE_*_PASSWORD for "
        "database_from_env(), or sign in with a client certificate, a password file or "
        "Microsoft Entra ID."
    ),
    why=(
        "A server that accepts a remote connection without a password trusts anyone who can "
        "reach it; one that does not will refuse the site's connections."
    ),
)

# Django's and GeoDjango's engines and mssql-django's, by family; no import needed for these.
_FAMILIES: dict[str, str] = {
    "django.db.backends.sqlite3": "sqlite",
    "django.contrib.gis.db.backends.spatialite": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.contrib.gis.db.backends.postgis": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
    "mssql": "mssql",
    "django.db.backends.oracle": "oracle",
    "django.contrib.gis.db.backends.oracle": "oracle",
    "django.db.backends.dummy": "dummy",
}
# DatabaseWrapper.vendor -> family, for engines not in _FAMILIES.
_VENDORS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "microsoft": "mssql",
    "oracle": "oracle",
}
_SERVERS = frozenset({"postgresql", "mysql", "mssql"})

_PG_REQUIRED = frozenset({"require", "verify-ca", "verify-full"})
_MYSQL_REQUIRED = frozenset({"REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"})
_ODBC_YES = frozenset({"yes", "true", "1", "mandatory", "strict"})
_ODBC_NO = frozenset({"no", "false", "0", "optional"})
# mssql-django's default driver (its README, OPTIONS "driver"); Driver 18 encrypts by default,
# 17 and older do not.
_MSSQL_DEFAULT_DRIVER = "ODBC Driver 17 for SQL Server"
_ODBC_DRIVER_VERSION = re.compile(r"ODBC Driver (\d+)", re.IGNORECASE)

# Azure Database for PostgreSQL flexible server's built-in PgBouncer; transaction pooling
# behind it makes a fresh Django connection cheap.
_PGBOUNCER_PORT = 6432


@dataclass(frozen=True)
class _Database:
    """One ``DATABASES`` entry and what the checks need to know about it."""

    alias: str
    entry: dict[str, Any]
    family: str | None
    stock: bool

    @property
    def obj(self) -> str:
        return f"settings.DATABASES[{self.alias!r}]"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.entry.get("OPTIONS") or {})

    @property
    def max_age(self) -> int | None:
        value = self.entry.get("CONN_MAX_AGE", 0)
        return None if value is None else int(value)

    @property
    def hosts(self) -> list[str]:
        """The server host names (lower case), ``[]`` for a local socket."""
        host = str(self.entry.get("HOST") or "").strip()
        if not host and self.family == "postgresql":
            host = (Env().raw("PGHOST") or "").strip()
        if self.family == "mssql":
            host = host.removeprefix("tcp:").partition(",")[0].partition("\\")[0]
        names = [h.strip().lower() for h in host.split(",")] if host else []
        # A PostgreSQL HOST starting with "/" is a Unix socket directory.
        return [h for h in names if h and not h.startswith("/") and not is_loopback_host(h)]

    @property
    def host(self) -> str:
        return ", ".join(self.hosts)

    @property
    def remote(self) -> bool:
        """True for a database server on another machine."""
        return self.family in _SERVERS and bool(self.hosts)

    @property
    def azure(self) -> bool:
        suffixes = {
            "postgresql": AZURE_POSTGRES_SUFFIXES,
            "mysql": AZURE_MYSQL_SUFFIXES,
            "mssql": AZURE_SQL_SUFFIXES,
        }.get(self.family or "", ())
        return any(h.endswith(suffixes) for h in self.hosts) if suffixes else False


def _family(engine: str) -> tuple[str | None, bool]:
    """Return the engine's family and whether it is a stock engine (known by name)."""
    if engine in _FAMILIES:
        return _FAMILIES[engine], True
    try:
        wrapper = import_module(f"{engine}.base").DatabaseWrapper
    except Exception:  # a backend that does not import: Django's own checks say so
        return None, False
    return _VENDORS.get(str(getattr(wrapper, "vendor", ""))), False


def _databases() -> list[_Database]:
    found = []
    for alias, raw in (getattr(settings, "DATABASES", None) or {}).items():
        entry = dict(raw or {})
        family, stock = _family(str(entry.get("ENGINE") or "django.db.backends.dummy"))
        found.append(_Database(str(alias), entry, family, stock))
    return found


@prodkit_check(E201)
def check_default_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E201: no ``default`` database, or one on the dummy backend."""
    databases = getattr(settings, "DATABASES", None) or {}
    if not databases:
        problem = "DATABASES is empty"
    elif "default" not in databases:
        problem = "no 'default' alias"
    elif str((databases["default"] or {}).get("ENGINE") or "").rstrip(".") in {
        "",
        "django.db.backends",
        "django.db.backends.dummy",
    }:
        problem = "no ENGINE"
    else:
        return []
    return [E201.message(obj="settings.DATABASES", problem=problem)]


def _in_memory(database: _Database) -> bool:
    name = str(database.entry.get("NAME") or "")
    return name in {"", ":memory:"} or "mode=memory" in name


@prodkit_check(E202, W203)
def check_sqlite_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E202: SQLite on several instances; W203: untuned SQLite with several processes."""
    where = deployment()
    if not where.several_processes:
        return []
    found = []
    for database in _databases():
        if database.family != "sqlite":
            continue
        if where.several_instances:
            found.append(
                E202.message(obj=database.obj, alias=database.alias, deployment=where.describe())
            )
            continue
        missing = _sqlite_untuned(database)
        if missing and not _in_memory(database):
            found.append(
                W203.message(
                    obj=database.obj,
                    alias=database.alias,
                    missing=" and ".join(missing),
                    deployment=where.describe(),
                )
            )
    return found


def _sqlite_untuned(database: _Database) -> list[str]:
    options = database.options
    missing = []
    init = re.sub(r"\s", "", str(options.get("init_command") or "")).lower()
    if "journal_mode=wal" not in init:
        missing.append("WAL (init_command)")
    # EXCLUSIVE takes the write lock at BEGIN too.
    if str(options.get("transaction_mode") or "").upper() not in {"IMMEDIATE", "EXCLUSIVE"}:
        missing.append("IMMEDIATE transactions (transaction_mode)")
    return missing


def _pooled(database: _Database) -> bool:
    """True when connections are pooled (psycopg's pool, pyodbc's, a PgBouncer port)."""
    if database.family == "postgresql":
        if database.options.get("pool"):
            return True
        # A transaction-pooling PgBouncer: Azure's built-in one, or Django told about one.
        port = str(database.entry.get("PORT") or "")
        return port == str(_PGBOUNCER_PORT) or bool(
            database.entry.get("DISABLE_SERVER_SIDE_CURSORS")
        )
    if database.family == "mssql":
        # mssql-django turns on pyodbc's pool unless DATABASE_CONNECTION_POOLING is False.
        return bool(getattr(settings, "DATABASE_CONNECTION_POOLING", True))
    return False


@prodkit_check(W204, W205, I206, I207)
def check_connection_lifetime(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W204: no persistent connections nor pool; W205: persistent without health checks;
    I206: unlimited persistent connections; I207: persistent connections under ASGI."""
    found = []
    server = asgi_server()
    for database in _databases():
        if database.family not in _SERVERS:
            continue
        max_age = database.max_age
        obj, alias = database.obj, database.alias
        if max_age == 0:
            # Under ASGI, Django's advice for an engine without a pool is CONN_MAX_AGE = 0.
            asgi_without_pool = server is not None and database.family != "postgresql"
            if not _pooled(database) and not asgi_without_pool:
                found.append(W204.message(obj=obj, alias=alias))
            continue
        if not database.entry.get("CONN_HEALTH_CHECKS", False):
            found.append(W205.message(obj=obj, alias=alias, max_age=max_age))
        if max_age is None:
            found.append(I206.message(obj=obj, alias=alias))
        if server is not None:
            found.append(I207.message(obj=obj, alias=alias, max_age=max_age, server=server))
    return found


def _odbc_params(options: dict[str, Any]) -> dict[str, str]:
    """mssql-django's ``extra_params`` (``Key=Value;...``) by lower-case key, spaces removed."""
    params = {}
    for pair in str(options.get("extra_params") or "").split(";"):
        key, sep, value = pair.partition("=")
        if sep:
            params[re.sub(r"[\s_]", "", key.lower())] = value.strip().strip("{}").lower()
    return params


def _tls(database: _Database) -> tuple[str, str]:
    """Return ``(state, detail)``: state ``required``, ``optional``, ``off`` or ``unknown``."""
    options = database.options
    if database.family == "postgresql":
        mode = options.get("sslmode")
        where = "OPTIONS['sslmode']"
        if mode is None:
            mode, where = Env().raw("PGSSLMODE"), "PGSSLMODE"
        if mode is None:
            # A service file (pg_service.conf) may set it; libpq's default is 'prefer'.
            if options.get("service") or Env().raw("PGSERVICE"):
                return "unknown", ""
            return "optional", "no sslmode: libpq's default is 'prefer'"
        mode = str(mode).strip().lower()
        if mode in _PG_REQUIRED:
            return "required", ""
        return ("off" if mode == "disable" else "optional"), f"{where} is '{mode}'"
    if database.family == "mysql":
        ssl_mode = options.get("ssl_mode")
        if ssl_mode is None:
            if isinstance(options.get("ssl"), dict) and options["ssl"]:
                return "required", ""
            if options.get("read_default_file"):
                return "unknown", ""
            return "optional", "no ssl_mode: the client's default is PREFERRED"
        ssl_mode = str(ssl_mode).strip().upper()
        if ssl_mode in _MYSQL_REQUIRED:
            return "required", ""
        state = "off" if ssl_mode == "DISABLED" else "optional"
        return state, f"OPTIONS['ssl_mode'] is '{ssl_mode}'"
    if database.family == "mssql":
        encrypt = _odbc_params(options).get("encrypt")
        if encrypt in _ODBC_YES:
            return "required", ""
        if encrypt in _ODBC_NO:
            return "off", f"extra_params has Encrypt={encrypt}"
        driver = str(options.get("driver") or _MSSQL_DEFAULT_DRIVER)
        version = _ODBC_DRIVER_VERSION.search(driver)
        if version and int(version[1]) >= 18:
            return "required", ""
        return "optional", f"no Encrypt, and the driver '{driver}' does not encrypt by default"
    return "unknown", ""


@prodkit_check(W208, E209)
def check_database_tls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W208: a remote database without required TLS; E209: TLS off for an Azure database."""
    found = []
    for database in _databases():
        if not database.remote:
            continue
        state, detail = _tls(database)
        if state in {"required", "unknown"}:
            continue
        spec = E209 if state == "off" and database.azure else W208
        found.append(
            spec.message(obj=database.obj, alias=database.alias, host=database.host, detail=detail)
        )
    return found


def _timeout_set(value: Any) -> bool:
    if value is None or value == "":
        return False
    try:
        return float(str(value)) > 0
    except ValueError:
        return True  # not ours to judge; the driver will complain


@prodkit_check(I210)
def check_connect_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I210: a remote database without a connect timeout."""
    found = []
    for database in _databases():
        if not database.remote:
            continue
        options = database.options
        if database.family == "postgresql":
            option = "connect_timeout"
            if options.get("service") or _timeout_set(Env().raw("PGCONNECT_TIMEOUT")):
                continue
        elif database.family == "mysql":
            option = "connect_timeout"
            if options.get("read_default_file"):
                continue
        else:
            option = "connection_timeout"
        if not _timeout_set(options.get(option)):
            found.append(I210.message(obj=database.obj, alias=database.alias, option=option))
    return found


def _other_sign_in(database: _Database) -> bool:
    """True when something but PASSWORD may authenticate the connection."""
    options = database.options
    env = Env()
    if database.family == "postgresql":
        if any(options.get(k) for k in ("password", "passfile", "sslcert", "sslkey", "service")):
            return True
        if any(env.raw(v) for v in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE")):
            return True
        return os.path.isfile(os.path.expanduser("~/.pgpass"))
    if database.family == "mysql":
        ssl = options.get("ssl")
        if isinstance(ssl, dict) and ssl.get("cert"):
            return True
        keys = ("password", "passwd", "read_default_file")
        return any(options.get(k) for k in keys) or bool(env.raw("MYSQL_PWD"))
    if database.family == "mssql":
        params = _odbc_params(options)
        # No USER: mssql-django uses integrated security (Kerberos).
        return (
            not database.entry.get("USER")
            or bool(options.get("dsn"))
            or "authentication" in params
            or params.get("trustedconnection") in _ODBC_YES
        )
    return True


@prodkit_check(W211)
def check_database_password(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W211: an empty password to a remote database and no other way to sign in."""
    return [
        W211.message(obj=database.obj, alias=database.alias, host=database.host)
        for database in _databases()
        # A custom engine may sign in its own way (e.g. with an Entra ID token).
        if database.remote
        and database.stock
        and not database.entry.get("PASSWORD")
        and not _other_sign_in(database)
    ]
