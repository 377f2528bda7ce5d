"""Build one Django ``DATABASES`` entry from a URL, an Azure connection string or the environment.

URLs are parsed by dj-database-url; this module fixes what it gets wrong for production:

* ``mssql://`` maps to mssql-django's ``"mssql"`` engine, not the dead ``sql_server.pyodbc``;
  ``mariadb://`` maps to Django's MySQL backend.
* TLS options are per engine: ``sslmode`` for PostgreSQL, mysqlclient's ``ssl_mode`` for
  MySQL/MariaDB (a ``?sslmode=`` on a MySQL URL is translated, never passed through as an
  invalid keyword), ODBC ``Encrypt``/``TrustServerCertificate`` for SQL Server. Azure hosts get
  TLS without being asked.
* A password with a raw ``#``, ``?`` or ``/`` is refused with a hint, instead of silently
  turning into a host, port and database name.
* ``pool`` is checked against the engine, and ``CONN_MAX_AGE`` is set to 0 with it (Django
  refuses persistent connections with a pool).
* Nothing set is an error, never an empty dict; no error message shows a password.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env, parse_bool
from django_prodkit.redact import redact_url
from django_prodkit.settings.server import is_asgi_worker, worker_class_setting

Family = Literal["postgresql", "mysql", "mssql", "sqlite"]

# scheme -> (family, scheme handed to dj-database-url, ENGINE)
_SCHEMES: dict[str, tuple[Family, str, str]] = {
    "postgres": ("postgresql", "postgres", "django.db.backends.postgresql"),
    "postgresql": ("postgresql", "postgresql", "django.db.backends.postgresql"),
    "pgsql": ("postgresql", "pgsql", "django.db.backends.postgresql"),
    "postgis": ("postgresql", "postgis", "django.contrib.gis.db.backends.postgis"),
    "mysql": ("mysql", "mysql", "django.db.backends.mysql"),
    "mysql2": ("mysql", "mysql2", "django.db.backends.mysql"),
    "mariadb": ("mysql", "mysql", "django.db.backends.mysql"),
    "mysqlgis": ("mysql", "mysqlgis", "django.contrib.gis.db.backends.mysql"),
    # dj-database-url maps mssql:// to "sql_server.pyodbc" (django-pyodbc-azure, unmaintained
    # since Django 2.1); mssql-django, Microsoft's backend, registers as "mssql".
    "mssql": ("mssql", "mssql", "mssql"),
    "sqlite": ("sqlite", "sqlite", "django.db.backends.sqlite3"),
    "spatialite": ("sqlite", "spatialite", "django.contrib.gis.db.backends.spatialite"),
}
SUPPORTED_SCHEMES = tuple(sorted(_SCHEMES))
_ENGINES: dict[str, str] = {
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mssql": "mssql",
}

_FAMILY_LABELS: dict[str, str] = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL/MariaDB",
    "mssql": "SQL Server",
    "sqlite": "SQLite",
}

URL_FORM = "postgres://USER:PASSWORD@HOST:5432/NAME"
_ENCODE_HINT = (
    "Percent-encode special characters in the user name and password "
    "(urllib.parse.quote(value, safe='')): @ as %40, : as %3A, / as %2F, ? as %3F, # as %23, "
    "% as %25."
)

# Azure's public and sovereign clouds (Azure China, Azure US Government); private-link names
# (x.privatelink.postgres.database.azure.com) end the same way.
AZURE_POSTGRES_SUFFIXES = (
    ".postgres.database.azure.com",
    ".postgres.database.chinacloudapi.cn",
    ".postgres.database.usgovcloudapi.net",
)
AZURE_MYSQL_SUFFIXES = (
    ".mysql.database.azure.com",
    ".mysql.database.chinacloudapi.cn",
    ".mysql.database.usgovcloudapi.net",
)
AZURE_SQL_SUFFIXES = (
    ".database.windows.net",
    ".database.chinacloudapi.cn",
    ".database.usgovcloudapi.net",
)
# Azure Database for PostgreSQL flexible server runs its built-in PgBouncer on 6432, in
# transaction mode, where server-side cursors break (Django docs, "Transaction pooling and
# server-side cursors").
_AZURE_PGBOUNCER_PORT = 6432

# mssql-django's ODBC Driver 18 is the one Microsoft ships for current Linux images.
MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"
# OPTIONS keys mssql-django reads (its README, "OPTIONS"); any other URL query parameter is an
# ODBC keyword and goes into extra_params, where the driver sees it.
_MSSQL_OPTIONS = frozenset(
    {
        "driver",
        "isolation_level",
        "dsn",
        "host_is_server",
        "unicode_results",
        "extra_params",
        "collation",
        "connection_timeout",
        "connection_retries",
        "connection_retry_backoff_time",
        "query_timeout",
        "setencoding",
        "setdecoding",
        "return_rows_bulk_insert",
    }
)

# SQLite for a web app: WAL lets readers run beside the one writer; synchronous=NORMAL is safe
# with WAL; IMMEDIATE takes the write lock at BEGIN, so a busy database makes a transaction
# wait up to `timeout` seconds instead of failing with "database is locked" half-way
# (Django docs, SQLite notes, "Transactions behavior"; init_command and transaction_mode are
# Django >= 5.1, which prodkit requires).
_SQLITE_OPTIONS: dict[str, Any] = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
    "timeout": 5,
}

_PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_TLS_LEVELS: dict[str, str] = {
    "disable": "disable",
    "disabled": "disable",
    "none": "disable",
    "false": "disable",
    "no": "disable",
    "off": "disable",
    "0": "disable",
    "allow": "allow",
    "prefer": "prefer",
    "preferred": "prefer",
    "require": "require",
    "required": "require",
    "true": "require",
    "yes": "require",
    "on": "require",
    "1": "require",
    "verifyca": "verify-ca",
    "verifyfull": "verify-full",
    "verifyidentity": "verify-full",
}
_MYSQL_SSL_MODES = {
    "disable": "DISABLED",
    "allow": "PREFERRED",
    "prefer": "PREFERRED",
    "require": "REQUIRED",
    "verify-ca": "VERIFY_CA",
    "verify-full": "VERIFY_IDENTITY",
}
_VERIFIED = frozenset({"verify-ca", "verify-full"})

# Azure Service Connector sets these on the app (learn.microsoft.com/azure/service-connector/
# how-to-integrate-postgres, how-to-integrate-mysql, how-to-integrate-sql-database):
# * the "Python-Django" client type gets separate AZURE_<DB>_HOST/_NAME/_USER/_PASSWORD
#   (and _PORT for MySQL and SQL) variables;
# * other client types get one AZURE_<DB>_CONNECTIONSTRING: libpq keywords for psycopg2/PHP/
#   Ruby ("dbname=D host=H port=5432 sslmode=require user=U password=P"), ADO.NET for .NET
#   ("Server=H;Database=D;Port=5432;Ssl Mode=Require;User Id=U;Password=P;", MySQL
#   "...;SSL Mode=Required", SQL "Data Source=H,1433;Initial Catalog=D;..."); the Azure
#   portal adds the ODBC form for SQL ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:H,
#   1433;Database=D;Uid=U;Pwd=P;Encrypt=yes;...").
# JDBC and Go forms are refused with a hint.
AZURE_CONNECTION_STRINGS: dict[str, Family] = {
    "AZURE_POSTGRESQL_CONNECTIONSTRING": "postgresql",
    "AZURE_MYSQL_CONNECTIONSTRING": "mysql",
    "AZURE_SQL_CONNECTIONSTRING": "mssql",
}
AZURE_DJANGO_PREFIXES: dict[str, Family] = {
    "AZURE_POSTGRESQL_": "postgresql",
    "AZURE_MYSQL_": "mysql",
    "AZURE_SQL_": "mssql",
}

_CONNECTION_STRING_FORMS: dict[str, str] = {
    "postgresql": (
        "libpq keywords 'host=HOST port=5432 dbname=NAME user=USER password=PASSWORD "
        "sslmode=require' or ADO.NET 'Server=HOST;Port=5432;Database=NAME;User Id=USER;"
        "Password=PASSWORD;Ssl Mode=Require;'"
    ),
    "mysql": (
        "ADO.NET 'Server=HOST;Port=3306;Database=NAME;User Id=USER;Password=PASSWORD;"
        "SslMode=Required;'"
    ),
    "mssql": (
        "ODBC 'Driver={ODBC Driver 18 for SQL Server};Server=tcp:HOST,1433;Database=NAME;"
        "Uid=USER;Pwd=PASSWORD;Encrypt=yes;' or ADO.NET 'Server=tcp:HOST,1433;"
        "Initial Catalog=NAME;User ID=USER;Password=PASSWORD;Encrypt=True;'"
    ),
}

# Every keyword libpq accepts (PostgreSQL 17, "Parameter Key Words"). A string whose keys are
# all in here is libpq's form; anything else is read as ADO.NET/ODBC "Key=Value;".
_LIBPQ_KEYWORDS = frozenset(
    """host hostaddr port dbname user password passfile require_auth channel_binding
    connect_timeout client_encoding options application_name fallback_application_name
    keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    replication gssencmode sslmode requiressl sslnegotiation sslcompression sslcert sslkey
    sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation
    service target_session_attrs load_balance_hosts""".split()  # noqa: SIM905
)

# Connection-string keys (lower case, spaces, "_" and "-" removed) -> DATABASES field.
_KEYS: dict[str, str] = {
    "host": "HOST",
    "server": "HOST",
    "datasource": "HOST",
    "address": "HOST",
    "addr": "HOST",
    "networkaddress": "HOST",
    "port": "PORT",
    "dbname": "NAME",
    "database": "NAME",
    "initialcatalog": "NAME",
    "user": "USER",
    "userid": "USER",
    "uid": "USER",
    "username": "USER",
    "password": "PASSWORD",
    "pwd": "PASSWORD",
    "sslmode": "sslmode",
    "connecttimeout": "timeout",
    "connectiontimeout": "timeout",
    "timeout": "timeout",
}
# Keys kept per engine beyond _KEYS; the rest of an ADO.NET string (Pooling, Persist Security
# Info, MultipleActiveResultSets...) configures .NET drivers and is dropped.
_PG_EXTRA_KEYS = {"sslrootcert": "sslrootcert", "rootcertificate": "sslrootcert"}
_MYSQL_EXTRA_KEYS = {"sslca": "ssl_ca"}
_MSSQL_ODBC_KEYS = {
    "driver": "driver",
    "encrypt": "Encrypt",
    "trustservercertificate": "TrustServerCertificate",
    "hostnameincertificate": "HostNameInCertificate",
    "authentication": "Authentication",
    "applicationintent": "ApplicationIntent",
    "multisubnetfailover": "MultiSubnetFailover",
}


class _Unset(enum.Enum):
    """Marks a keyword argument the caller did not pass (``None`` is a real value for some)."""

    UNSET = "unset"


@dataclass(frozen=True)
class _Tuning:
    """The keyword arguments every public function shares."""

    conn_max_age: int
    conn_health_checks: bool
    pool: bool | dict[str, Any]
    connect_timeout: int
    # Names the variable the pool came from, for the error when the engine has no pool.
    pool_variable: str | None = None


def database_from_url(
    url: str,
    *,
    source: str = "DATABASE_URL",
    conn_max_age: int = 600,
    conn_health_checks: bool = True,
    pool: bool | dict[str, Any] = False,
    connect_timeout: int = 10,
) -> dict[str, Any]:
    """Return one ``DATABASES`` entry for a database URL; ``source`` names it in errors.

    Schemes: ``postgres``/``postgresql``/``pgsql``/``postgis``, ``mysql``/``mysql2``/
    ``mariadb``/``mysqlgis``, ``mssql``, ``sqlite``/``spatialite``. Percent-encode special
    characters in the user name and password.

    ``conn_max_age`` and ``conn_health_checks`` become ``CONN_MAX_AGE`` and
    ``CONN_HEALTH_CHECKS``. ``pool`` (PostgreSQL only) turns on psycopg's connection pool:
    ``True`` or a dict of ``psycopg_pool.ConnectionPool`` arguments such as
    ``{"min_size": 2, "max_size": 10, "timeout": 10}``; ``CONN_MAX_AGE`` is then 0.
    ``connect_timeout`` is seconds to wait for a new connection.
    """
    tuning = _tuning(conn_max_age, conn_health_checks, pool, connect_timeout)
    return _from_url(url, source, tuning)


def database_from_connection_string(
    value: str,
    *,
    source: str,
    engine: str,
    conn_max_age: int = 600,
    conn_health_checks: bool = True,
    pool: bool | dict[str, Any] = False,
    connect_timeout: int = 10,
) -> dict[str, Any]:
    """Return one ``DATABASES`` entry for a connection string of the kind Azure hands out.

    ``engine`` is ``"postgresql"`` (libpq ``key=value`` or ADO.NET form), ``"mysql"``
    (ADO.NET form) or ``"mssql"`` (ODBC or ADO.NET form); keys are case-insensitive. A value
    that is a database URL is read as one. ``source`` names the value in errors; the other
    arguments are those of ``database_from_url()``.
    """
    if engine not in _CONNECTION_STRING_FORMS:
        raise ImproperlyConfigured(
            f"database_from_connection_string() got engine={engine!r} for {source}; "
            f"use one of {', '.join(sorted(_CONNECTION_STRING_FORMS))}."
        )
    family: Family = engine  # type: ignore[assignment]
    tuning = _tuning(conn_max_age, conn_health_checks, pool, connect_timeout)
    return _from_connection_string(value, source, family, tuning)


def database_from_env(
    env: Env | None = None,
    *,
    default: str | None = None,
    conn_max_age: int | _Unset = _Unset.UNSET,
    conn_health_checks: bool = True,
    pool: bool | dict[str, Any] | _Unset = _Unset.UNSET,
    connect_timeout: int = 10,
) -> dict[str, Any]:
    """Return one ``DATABASES`` entry from the environment.

    The first of these that is set wins: ``DATABASE_URL``; one of Azure Service Connector's
    ``AZURE_POSTGRESQL_CONNECTIONSTRING``, ``AZURE_MYSQL_CONNECTIONSTRING``,
    ``AZURE_SQL_CONNECTIONSTRING`` or its Django variables ``AZURE_{POSTGRESQL,MYSQL,SQL}_HOST``
    (with ``_NAME``, ``_USER``, ``_PASSWORD``, ``_PORT``), of which at most one may be set;
    then the ``default`` URL. Nothing set and no default is an error.

    ``conn_max_age`` and ``pool`` not passed are read from ``PRODKIT_DB_CONN_MAX_AGE`` and
    ``PRODKIT_DB_POOL`` (default false). ``PRODKIT_DB_CONN_MAX_AGE`` defaults to 600, or to 0
    when ``PRODKIT_WORKER_CLASS`` is an ASGI worker (prodkit's gunicorn config and ``manage.py
    serve`` set it for the workers): under ASGI each request's sync code runs in a thread of
    its own, and persistent connections pile up instead of being reused (Django's docs).
    """
    env = Env() if env is None else env
    pool_variable = None
    if isinstance(conn_max_age, _Unset):
        asgi = is_asgi_worker(worker_class_setting(env) or "")
        conn_max_age = env.int("PRODKIT_DB_CONN_MAX_AGE", 0 if asgi else 600, min=0)
    if isinstance(pool, _Unset):
        pool = env.bool("PRODKIT_DB_POOL", False)
        pool_variable = env.name("PRODKIT_DB_POOL") if pool else None
    tuning = _tuning(conn_max_age, conn_health_checks, pool, connect_timeout, pool_variable)

    url_variable = env.name("DATABASE_URL")
    url = env.str("DATABASE_URL", None)
    if url is not None:
        return _from_url(url, url_variable, tuning)

    # Platform variables keep the platform's names: no Env prefix.
    azure = [name for name in AZURE_CONNECTION_STRINGS if env.environ.get(name)]
    azure += [f"{p}HOST" for p in AZURE_DJANGO_PREFIXES if env.environ.get(f"{p}HOST")]
    if len(azure) > 1:
        raise ImproperlyConfigured(
            f"{' and '.join(azure)} are {'both' if len(azure) == 2 else 'all'} set, so prodkit "
            "cannot tell which database to use. "
            f"Remove all but one, or set {url_variable}, which takes precedence."
        )
    if azure and azure[0] in AZURE_CONNECTION_STRINGS:
        name = azure[0]
        value = env.environ[name]
        return _from_connection_string(value, name, AZURE_CONNECTION_STRINGS[name], tuning)
    if azure:
        prefix = azure[0].removesuffix("HOST")
        return _from_azure_django_variables(env.environ, prefix, tuning)

    if default is not None:
        return _from_url(default, "the default passed to database_from_env()", tuning)
    raise ImproperlyConfigured(
        f"{url_variable} is not set. Set it to a database URL such as {URL_FORM} "
        "or sqlite:////srv/app/db.sqlite3 (or let Azure Service Connector set "
        "AZURE_POSTGRESQL_CONNECTIONSTRING, AZURE_MYSQL_CONNECTIONSTRING or "
        "AZURE_SQL_CONNECTIONSTRING), or pass default= to database_from_env()."
    )


# --- URLs ------------------------------------------------------------------------------------


def _from_url(url: str, source: str, tuning: _Tuning) -> dict[str, Any]:
    # A trailing newline from a secret file or a copy-paste would end up in NAME.
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ImproperlyConfigured(_not_a_url(source, url))
    key = scheme.lower()
    if key not in _SCHEMES:
        raise ImproperlyConfigured(
            f"{source} uses the scheme {scheme}://, which prodkit does not support "
            f"({redact_url(url)}). Supported schemes: "
            f"{', '.join(s + '://' for s in SUPPORTED_SCHEMES)}."
        )
    family, dj_scheme, engine = _SCHEMES[key]
    _refuse_raw_specials(url, source, family)
    try:
        parsed = dj_database_url.parse(dj_scheme + url[len(scheme) :])
    except ValueError:
        raise ImproperlyConfigured(
            f"{source} is not a database URL prodkit understands ({redact_url(url)}). "
            f"Expected a form like {URL_FORM}. {_ENCODE_HINT}"
        ) from None
    config: dict[str, Any] = dict(parsed)
    config["ENGINE"] = engine
    return _finish(config, family, source, redact_url(url), tuning)


def _not_a_url(source: str, value: str) -> str:
    message = f"{source} is not a database URL (value hidden). Expected a form like {URL_FORM}."
    if "=" in value:
        message += (
            " It looks like a key=value connection string: put it in "
            "AZURE_POSTGRESQL_CONNECTIONSTRING, AZURE_MYSQL_CONNECTIONSTRING or "
            "AZURE_SQL_CONNECTIONSTRING instead, or write it as a URL."
        )
    return message


def _refuse_raw_specials(url: str, source: str, family: Family) -> None:
    """Refuse URLs that urlsplit would read wrongly because of an unencoded password."""
    # "u:pa#ss@h/db": the fragment swallows the host; no database URL has a fragment.
    if "#" in url:
        raise ImproperlyConfigured(
            f"{source} contains a raw '#' ({redact_url(url)}), which would cut the URL "
            f"short. {_ENCODE_HINT}"
        )
    if family == "sqlite":
        return
    # "u:12/34@h/db" reads as host "u", port 12, database "34@h/db"; "u:p@ss/word@h/db" as
    # host "ss"; "u:p@h2/x?a=@h/db" as host "h2", database "x". Whatever follows the first
    # "/" or "?" cannot tell these from a real URL, so no "@" may appear there at all; one
    # that belongs in a database name or query value is written %40.
    rest = url.partition("://")[2]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    if "@" in rest[cut:]:
        raise ImproperlyConfigured(
            f"{source} has an '@' after the first '/' or '?' ({redact_url(url)}): either the "
            "password holds a raw '/' or '?', and the host would be read from the middle of "
            "it, or the database name or a query value holds an '@', which must be written "
            f"%40. {_ENCODE_HINT}"
        )


# --- Connection strings ----------------------------------------------------------------------


def _from_connection_string(
    value: str, source: str, family: Family, tuning: _Tuning
) -> dict[str, Any]:
    value = value.strip()
    expected = _CONNECTION_STRING_FORMS[family]
    if value.lower().startswith("jdbc:"):
        raise ImproperlyConfigured(
            f"{source} is a JDBC connection string (value hidden), which is for Java. In Azure "
            f"Service Connector choose the client type Django, Python or .NET, or set "
            f"DATABASE_URL. Expected {expected}."
        )
    if re.search(r"@(tcp|unix)\(", value):
        raise ImproperlyConfigured(
            f"{source} is a Go (go-sql-driver) DSN (value hidden). In Azure Service Connector "
            f"choose the client type Django, Python or .NET, or set DATABASE_URL. "
            f"Expected {expected}."
        )
    if "://" in value.partition(";")[0].partition(" ")[0]:
        from_url = _from_url(value, source, tuning)
        scheme = value.partition("://")[0].lower()
        if _SCHEMES.get(scheme, (family,))[0] != family:
            raise ImproperlyConfigured(
                f"{source} holds a {scheme}:// URL ({redact_url(value)}), but it should "
                f"point at {_FAMILY_LABELS[family]}."
            )
        return from_url
    pairs = _split_connection_string(value, source, expected, libpq=family == "postgresql")
    libpq = family == "postgresql" and all(k in _LIBPQ_KEYWORDS for k, _ in pairs)
    if not any(re.sub(r"[\s_\-]", "", k.lower()) in _KEYS for k, _ in pairs):
        raise ImproperlyConfigured(
            f"{source} is not a connection string prodkit understands (value hidden): none of "
            f"its keys names a host, database, user or password. Expected {expected}."
        )
    config: dict[str, Any] = {
        "ENGINE": _ENGINES[family],
        "NAME": "",
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
    }
    options: dict[str, Any] = {}
    for key, val in pairs:
        norm = re.sub(r"[\s_\-]", "", key.lower())
        field = _KEYS.get(norm)
        if field is not None and field.isupper():
            config[field] = val
        elif field == "sslmode":
            options["sslmode"] = val
        elif field == "timeout":
            options["connect_timeout"] = _integer(val, source, key, expected)
        elif libpq:
            options[key] = val
        elif family == "postgresql" and norm in _PG_EXTRA_KEYS:
            options[_PG_EXTRA_KEYS[norm]] = val
        elif family == "mysql" and norm in _MYSQL_EXTRA_KEYS:
            options["ssl"] = {"ca": val}
        elif family == "mssql" and norm in _MSSQL_ODBC_KEYS:
            options[_MSSQL_ODBC_KEYS[norm]] = val
    if family == "mssql":
        config["HOST"], port = _sql_server_host(config["HOST"])
        config["PORT"] = config["PORT"] or port
        if "connect_timeout" in options:
            options["connection_timeout"] = options.pop("connect_timeout")
    if config["PORT"] != "":
        port_number = _integer(str(config["PORT"]), source, "port", expected)
        if not 0 < port_number < 65536:
            raise ImproperlyConfigured(
                f"{source} has a port outside 1-65535 (value hidden). Expected {expected}."
            )
        config["PORT"] = str(port_number) if family == "mssql" else port_number
    if not config["HOST"]:
        raise ImproperlyConfigured(f"{source} names no host (value hidden). Expected {expected}.")
    config["OPTIONS"] = options
    return _finish(config, family, source, "value hidden", tuning, expected)


def _split_connection_string(
    value: str, source: str, expected: str, *, libpq: bool
) -> list[tuple[str, str]]:
    """Return the ``(key, value)`` pairs of a libpq or ADO.NET/ODBC connection string."""
    try:
        if libpq and ";" not in value:
            pairs = _split_libpq(value)
        else:
            # libpq allows ";" in a value ("password=a;b"); its keys tell the forms apart.
            pairs = _split_libpq(value, strict=False) if libpq else []
            if not pairs or not all(key in _LIBPQ_KEYWORDS for key, _ in pairs):
                pairs = _split_semicolons(value)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{source} is not a connection string prodkit understands (value hidden): {exc}. "
            f"Expected {expected}."
        ) from None
    if not pairs:
        raise ImproperlyConfigured(
            f"{source} is not a connection string prodkit understands (value hidden): it has "
            f"no Key=Value pairs. Expected {expected}."
        )
    return pairs


def _split_libpq(value: str, *, strict: bool = True) -> list[tuple[str, str]]:
    """Split libpq's ``key=value key='quoted \\' value'`` form.

    Malformed input raises ValueError, or returns ``[]`` when ``strict`` is false.
    """
    try:
        return _libpq_pairs(value)
    except ValueError:
        if strict:
            raise
        return []


def _libpq_pairs(value: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i].isspace():
            i += 1
        if i >= n:
            return pairs
        start = i
        while i < n and value[i] != "=" and not value[i].isspace():
            i += 1
        key = value[start:i]
        while i < n and value[i].isspace():
            i += 1
        if not key or i >= n or value[i] != "=":
            raise ValueError("a keyword without '='")
        i += 1
        while i < n and value[i].isspace():
            i += 1
        chars: list[str] = []
        quoted = i < n and value[i] == "'"
        if quoted:
            i += 1
        while i < n:
            char = value[i]
            if char == "\\" and i + 1 < n:
                chars.append(value[i + 1])
                i += 2
                continue
            if (quoted and char == "'") or (not quoted and char.isspace()):
                break
            chars.append(char)
            i += 1
        if quoted:
            if i >= n:
                raise ValueError("a quoted value is not closed")
            i += 1
        pairs.append((key, "".join(chars)))


def _split_semicolons(value: str) -> list[tuple[str, str]]:
    """Split the ADO.NET/ODBC ``Key=Value;`` form; ``"..."``, ``'...'`` and ``{...}`` quote."""
    pairs: list[tuple[str, str]] = []
    i, n, item = 0, len(value), 0
    while True:
        while i < n and (value[i].isspace() or value[i] == ";"):
            i += 1
        if i >= n:
            return pairs
        item += 1
        end = value.find("=", i)
        stop = value.find(";", i)
        if end < 0 or (0 <= stop < end):
            raise ValueError(f"item {item} has no '='")
        key = value[i:end].strip()
        if not key:
            raise ValueError(f"item {item} has no key before '='")
        i = end + 1
        while i < n and value[i].isspace() and value[i] != ";":
            i += 1
        if i < n and value[i] in "\"'{":
            close = "}" if value[i] == "{" else value[i]
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ValueError(f"the quoted value of item {item} is not closed")
                if value[i] == close:
                    if i + 1 < n and value[i + 1] == close:
                        chars.append(close)
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(value[i])
                i += 1
            while i < n and value[i].isspace():
                i += 1
            if i < n and value[i] != ";":
                raise ValueError(f"item {item} has text after its quoted value")
            pairs.append((key, "".join(chars)))
        else:
            stop = value.find(";", i)
            stop = n if stop < 0 else stop
            pairs.append((key, value[i:stop].strip()))
            i = stop


def _sql_server_host(server: str) -> tuple[str, str]:
    """Split SQL Server's ``tcp:host,1433`` into host and port."""
    host = server.strip()
    if host.lower().startswith("tcp:"):
        host = host[4:]
    host, _, port = host.partition(",")
    return host.strip(), port.strip()


def _integer(value: str, source: str, key: str, expected: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"{source} has a {key} that is not a whole number (value hidden). Expected {expected}."
        ) from None


def _from_azure_django_variables(
    environ: Mapping[str, str], prefix: str, tuning: _Tuning
) -> dict[str, Any]:
    """Build the entry from Service Connector's Django variables (``AZURE_POSTGRESQL_HOST``...)."""
    family = AZURE_DJANGO_PREFIXES[prefix]
    config: dict[str, Any] = {
        "ENGINE": _ENGINES[family],
        "HOST": environ.get(f"{prefix}HOST", "").strip(),
        "NAME": environ.get(f"{prefix}NAME", "").strip(),
        "USER": environ.get(f"{prefix}USER", "").strip(),
        "PASSWORD": environ.get(f"{prefix}PASSWORD", ""),
        "PORT": "",
        "OPTIONS": {},
    }
    if family == "mssql":
        config["HOST"], config["PORT"] = _sql_server_host(config["HOST"])
    port = environ.get(f"{prefix}PORT", "").strip() or config["PORT"]
    if port:
        expected = f"a port number such as {'1433' if family == 'mssql' else '5432'}"
        number = _integer(port, f"{prefix}PORT", "value", expected)
        config["PORT"] = str(number) if family == "mssql" else number
    if not config["NAME"]:
        raise ImproperlyConfigured(
            f"{prefix}HOST is set but {prefix}NAME is not. Set {prefix}NAME to the database "
            "name (Azure Service Connector sets both)."
        )
    return _finish(config, family, f"{prefix}HOST", "value hidden", tuning)


# --- Production defaults ---------------------------------------------------------------------


def _tuning(
    conn_max_age: int,
    conn_health_checks: bool,
    pool: bool | dict[str, Any],
    connect_timeout: int,
    pool_variable: str | None = None,
) -> _Tuning:
    if conn_max_age < 0:
        raise ImproperlyConfigured(
            f"conn_max_age must be 0 (close after each request) or more seconds, "
            f"got {conn_max_age}."
        )
    if connect_timeout < 0:
        raise ImproperlyConfigured(
            f"connect_timeout must be 0 (wait forever) or more seconds, got {connect_timeout}."
        )
    if not isinstance(pool, bool | dict):
        raise ImproperlyConfigured(
            f"pool must be True, False or a dict of psycopg_pool.ConnectionPool arguments, "
            f"got {type(pool).__name__}."
        )
    return _Tuning(conn_max_age, conn_health_checks, pool, connect_timeout, pool_variable)


def _finish(
    config: dict[str, Any],
    family: Family,
    source: str,
    shown: str,
    tuning: _Tuning,
    expected: str = f"a form like {URL_FORM}",
) -> dict[str, Any]:
    """Apply TLS, timeouts, pool and connection-age settings to a parsed entry."""
    options: dict[str, Any] = dict(config.get("OPTIONS") or {})
    host = str(config.get("HOST") or "").lower()
    name = str(config.get("NAME") or "")
    if family != "sqlite" and not name and not options.get("service"):
        raise ImproperlyConfigured(
            f"{source} names no database ({shown}). Add the database name; expected {expected}."
        )
    if family == "mssql" and not host:
        raise ImproperlyConfigured(
            f"{source} names no host ({shown}). SQL Server needs one, as in "
            "mssql://USER:PASSWORD@HOST:1433/NAME."
        )

    if family == "postgresql":
        _postgres_options(options, host, source, tuning.connect_timeout)
        if host.endswith(AZURE_POSTGRES_SUFFIXES) and config.get("PORT") in (
            _AZURE_PGBOUNCER_PORT,
            str(_AZURE_PGBOUNCER_PORT),
        ):
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
    elif family == "mysql":
        _mysql_options(options, host, source, tuning.connect_timeout)
    elif family == "mssql":
        _mssql_options(options, host, source, tuning.connect_timeout)
    elif name and name != ":memory:" and "mode=memory" not in name:
        for key, value in _SQLITE_OPTIONS.items():
            options.setdefault(key, value)

    pool = _pool(options.pop("pool", None), tuning, family, source)
    if pool is not None:
        options["pool"] = pool
    config["OPTIONS"] = options
    config["CONN_MAX_AGE"] = 0 if pool is not None else tuning.conn_max_age
    config["CONN_HEALTH_CHECKS"] = tuning.conn_health_checks
    config.setdefault("DISABLE_SERVER_SIDE_CURSORS", False)
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        config.setdefault(key, "")
    return config


def _tls_level(value: Any, source: str, key: str, allowed: str) -> str:
    """Return the libpq name (disable...verify-full) for a TLS mode written any common way."""
    word = re.sub(r"[\s_\-]", "", str(value).lower())
    level = _TLS_LEVELS.get(word)
    if level is None:
        raise ImproperlyConfigured(f"{source} sets {key} to {value!r}; use one of {allowed}.")
    return level


def _postgres_options(options: dict[str, Any], host: str, source: str, timeout: int) -> None:
    allowed = ", ".join(_PG_SSLMODES)
    raw = options.pop("sslmode", None)
    mode = None if raw is None else _tls_level(raw, source, "sslmode", allowed)
    # Azure Database for PostgreSQL refuses connections without TLS by default; "require"
    # encrypts, and a URL that asks for certificate checks keeps them.
    if host.endswith(AZURE_POSTGRES_SUFFIXES) and mode not in {"require", *_VERIFIED}:
        mode = "require"
    if mode is not None:
        options["sslmode"] = mode
    options.setdefault("connect_timeout", timeout)


def _mysql_options(options: dict[str, Any], host: str, source: str, timeout: int) -> None:
    # mysqlclient takes ssl_mode (DISABLED...VERIFY_IDENTITY); "sslmode" or "ssl-mode" would
    # reach MySQLdb.connect() as an invalid keyword argument, and ssl=true is not a dict.
    allowed = "DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"
    level = None
    for key in ("sslmode", "ssl-mode", "ssl_mode"):  # mysqlclient's own name wins
        if key in options:
            level = _tls_level(options.pop(key), source, key, allowed)
    if "ssl" in options and not isinstance(options["ssl"], dict):
        level = level or _tls_level(options.pop("ssl"), source, "ssl", "true or false")
    # Azure Database for MySQL requires TLS (require_secure_transport=ON by default).
    if host.endswith(AZURE_MYSQL_SUFFIXES) and level not in {"require", *_VERIFIED}:
        level = "require"
    if level is not None:
        options["ssl_mode"] = _MYSQL_SSL_MODES[level]
    options.setdefault("connect_timeout", timeout)


def _mssql_options(options: dict[str, Any], host: str, source: str, timeout: int) -> None:
    options.setdefault("driver", MSSQL_DRIVER)
    params: dict[str, str] = {}
    try:
        pairs = _split_semicolons(str(options.pop("extra_params", "") or ""))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{source} sets extra_params, which is not an ODBC 'Key=Value;...' string "
            f"(value hidden): {exc}."
        ) from None
    for key, value in pairs:
        params[_odbc_key(key)] = value
    level = None
    for key in [k for k in options if k not in _MSSQL_OPTIONS]:
        value = options.pop(key)
        if key.lower() == "sslmode":
            level = _tls_level(value, source, key, ", ".join(_PG_SSLMODES))
        elif _odbc_key(key) == "driver":
            options["driver"] = str(value)
        else:
            params[_odbc_key(key)] = _odbc_word(value)
    # libpq's words for the URL: require encrypts, verify-* also checks the certificate.
    if level == "disable":
        params.setdefault("Encrypt", "no")
    elif level is not None:
        params.setdefault("Encrypt", "yes")
        params.setdefault("TrustServerCertificate", "no" if level in _VERIFIED else "yes")
    if "Encrypt" in params:
        params["Encrypt"] = _odbc_encrypt(params["Encrypt"], source)
    if "TrustServerCertificate" in params:
        params["TrustServerCertificate"] = _odbc_bool(
            params["TrustServerCertificate"], source, "TrustServerCertificate"
        )
    # Azure SQL Database: encrypt always, and check the certificate unless told otherwise.
    if host.endswith(AZURE_SQL_SUFFIXES):
        if params.get("Encrypt") != "strict":
            params["Encrypt"] = "yes"
        params.setdefault("TrustServerCertificate", "no")
    ordered: dict[str, str] = {
        k: params.pop(k) for k in ("Encrypt", "TrustServerCertificate") if k in params
    }
    ordered.update(params)
    if ordered:
        options["extra_params"] = ";".join(f"{k}={_odbc_value(v)}" for k, v in ordered.items())
    options.setdefault("connection_timeout", timeout)


def _odbc_key(key: str) -> str:
    norm = re.sub(r"[\s_\-]", "", key.lower())
    return _MSSQL_ODBC_KEYS.get(norm, key)


def _odbc_word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _odbc_bool(value: str, source: str, key: str) -> str:
    try:
        return "yes" if parse_bool(value) else "no"
    except ValueError:
        raise ImproperlyConfigured(f"{source} sets {key} to {value!r}; use yes or no.") from None


def _odbc_encrypt(value: str, source: str) -> str:
    word = value.strip().lower()
    if word in {"strict", "mandatory", "optional"}:
        return {"mandatory": "yes", "optional": "no"}.get(word, word)
    return _odbc_bool(value, source, "Encrypt")


def _odbc_value(value: str) -> str:
    """Brace an ODBC value that would otherwise end the pair early."""
    if any(c in value for c in ";{}=") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def _pool(
    url_pool: Any, tuning: _Tuning, family: Family, source: str
) -> bool | dict[str, Any] | None:
    """Return the pool option to store, or None; refuse a pool for engines without one."""
    chosen: Any = url_pool if tuning.pool is False else tuning.pool
    if isinstance(chosen, str | int) and not isinstance(chosen, bool):
        try:
            chosen = parse_bool(str(chosen))
        except ValueError:
            raise ImproperlyConfigured(
                f"{source} sets pool to {chosen!r}; use true or false."
            ) from None
    # An empty dict asks for a pool with psycopg's defaults; it is not "off".
    if chosen is None or chosen is False:
        return None
    if family != "postgresql":
        via = f" by {tuning.pool_variable}" if tuning.pool_variable else ""
        raise ImproperlyConfigured(
            f"A connection pool was requested{via}, but {source} points at "
            f"{_FAMILY_LABELS[family]}. Django's pool (OPTIONS['pool']) exists only for "
            "PostgreSQL with psycopg 3; turn the pool off, or keep connections open with "
            "CONN_MAX_AGE instead."
        )
    # Django reads a falsy OPTIONS["pool"] as "no pool", so {} becomes True.
    if chosen is True or chosen == {}:
        return True
    if not isinstance(chosen, dict) or not all(isinstance(k, str) for k in chosen):
        raise ImproperlyConfigured(
            "pool must be True or a dict of psycopg_pool.ConnectionPool arguments such as "
            '{"min_size": 2, "max_size": 10, "timeout": 10}.'
        )
    return dict(chosen)


__all__ = [
    "AZURE_CONNECTION_STRINGS",
    "AZURE_DJANGO_PREFIXES",
    "MSSQL_DRIVER",
    "SUPPORTED_SCHEMES",
    "database_from_connection_string",
    "database_from_env",
    "database_from_url",
]
