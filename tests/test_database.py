"""database_from_url/_connection_string/_env: every form, every trap, no secret in any error."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import dj_database_url
import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from django_prodkit.env import Env
from django_prodkit.settings.database import (
    MSSQL_DRIVER,
    SUPPORTED_SCHEMES,
    database_from_connection_string,
    database_from_env,
    database_from_url,
)

PLANTED = "s3cr3t-PLANTED"
AZURE_PG = "srv.postgres.database.azure.com"
AZURE_MYSQL = "srv.mysql.database.azure.com"
AZURE_SQL = "srv.database.windows.net"
AZURE_SQL_EXTRA = "Encrypt=yes;TrustServerCertificate=no"


def fields(config):
    return {k: config[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")}


# --- URL forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "postgres://u:p@db.example:5432/app",
            ("django.db.backends.postgresql", "app", "u", "p", "db.example", 5432),
            id="postgres",
        ),
        pytest.param(
            "postgresql://u:p@db.example/app",
            ("django.db.backends.postgresql", "app", "u", "p", "db.example", ""),
            id="postgresql",
        ),
        pytest.param(
            "pgsql://u:p@db.example/app",
            ("django.db.backends.postgresql", "app", "u", "p", "db.example", ""),
            id="pgsql",
        ),
        pytest.param(
            "postgis://u:p@db.example/app",
            ("django.contrib.gis.db.backends.postgis", "app", "u", "p", "db.example", ""),
            id="postgis",
        ),
        pytest.param(
            "mysql://u:p@db.example:3306/app",
            ("django.db.backends.mysql", "app", "u", "p", "db.example", 3306),
            id="mysql",
        ),
        pytest.param(
            "mysql2://u:p@db.example/app",
            ("django.db.backends.mysql", "app", "u", "p", "db.example", ""),
            id="mysql2",
        ),
        pytest.param(
            "mariadb://u:p@db.example:3306/app",
            ("django.db.backends.mysql", "app", "u", "p", "db.example", 3306),
            id="mariadb-is-django-mysql",
        ),
        pytest.param(
            "MariaDB://u:p@db.example/app",
            ("django.db.backends.mysql", "app", "u", "p", "db.example", ""),
            id="scheme-any-case",
        ),
        pytest.param(
            "mssql://u:p@sql.example:1433/app",
            ("mssql", "app", "u", "p", "sql.example", "1433"),
            id="mssql-is-mssql-django",
        ),
        pytest.param(
            "sqlite:///relative.db",
            ("django.db.backends.sqlite3", "relative.db", "", "", "", ""),
            id="sqlite-relative",
        ),
        pytest.param(
            "sqlite:////abs/path.db",
            ("django.db.backends.sqlite3", "/abs/path.db", "", "", "", ""),
            id="sqlite-absolute",
        ),
        pytest.param(
            "sqlite://:memory:",
            ("django.db.backends.sqlite3", ":memory:", "", "", "", ""),
            id="sqlite-memory",
        ),
        pytest.param(
            "sqlite://",
            ("django.db.backends.sqlite3", ":memory:", "", "", "", ""),
            id="sqlite-empty-is-memory",
        ),
        pytest.param(
            "spatialite:////abs/geo.db",
            ("django.contrib.gis.db.backends.spatialite", "/abs/geo.db", "", "", "", ""),
            id="spatialite",
        ),
        pytest.param(
            "  postgres://u:p@db.example/app\n",
            ("django.db.backends.postgresql", "app", "u", "p", "db.example", ""),
            id="surrounding-whitespace-stripped",
        ),
    ],
)
def test_url_schemes_map_to_engines(url, expected):
    keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    assert fields(database_from_url(url)) == dict(zip(keys, expected, strict=True))


def test_mssql_never_gets_the_dead_pyodbc_engine():
    assert dj_database_url.parse("mssql://u:p@h/db")["ENGINE"] == "sql_server.pyodbc"
    assert database_from_url("mssql://u:p@h/db")["ENGINE"] == "mssql"


def test_mariadb_support_registers_nothing_global():
    database_from_url("mariadb://u:p@h/db")
    assert "mariadb" not in dj_database_url.ENGINE_SCHEMES
    assert "mariadb" not in urllib.parse.uses_netloc


# --- OPTIONS per engine: TLS, timeouts, SQLite tuning -------------------------------------------

SQLITE_PRODUCTION = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
    "timeout": 5,
}


@pytest.mark.parametrize(
    ("url", "options"),
    [
        pytest.param("postgres://u:p@db.example/app", {"connect_timeout": 10}, id="pg-plain"),
        pytest.param(
            "postgres://u:p@db.example/app?sslmode=verify-full",
            {"connect_timeout": 10, "sslmode": "verify-full"},
            id="pg-sslmode-passes",
        ),
        pytest.param(
            "postgres://u:p@db.example/app?sslmode=VerifyFull",
            {"connect_timeout": 10, "sslmode": "verify-full"},
            id="pg-npgsql-spelling",
        ),
        pytest.param(
            "postgres://u:p@db.example/app?connect_timeout=3",
            {"connect_timeout": 3},
            id="pg-url-timeout-wins",
        ),
        pytest.param(
            f"postgres://u:p@{AZURE_PG}/app",
            {"connect_timeout": 10, "sslmode": "require"},
            id="pg-azure-requires-tls",
        ),
        pytest.param(
            "postgres://u:p@srv.privatelink.postgres.database.azure.com/app",
            {"connect_timeout": 10, "sslmode": "require"},
            id="pg-azure-private-link",
        ),
        pytest.param(
            "postgres://u:p@SRV.Postgres.Database.Azure.com/app",
            {"connect_timeout": 10, "sslmode": "require"},
            id="pg-azure-host-any-case",
        ),
        pytest.param(
            f"postgres://u:p@{AZURE_PG}/app?sslmode=verify-ca",
            {"connect_timeout": 10, "sslmode": "verify-ca"},
            id="pg-azure-keeps-verify-ca",
        ),
        pytest.param(
            f"postgres://u:p@{AZURE_PG}/app?sslmode=verify-full",
            {"connect_timeout": 10, "sslmode": "verify-full"},
            id="pg-azure-keeps-verify-full",
        ),
        pytest.param(
            f"postgres://u:p@{AZURE_PG}/app?sslmode=disable",
            {"connect_timeout": 10, "sslmode": "require"},
            id="pg-azure-upgrades-disable",
        ),
        pytest.param(
            f"postgres://u:p@{AZURE_PG}/app?sslmode=prefer",
            {"connect_timeout": 10, "sslmode": "require"},
            id="pg-azure-upgrades-prefer",
        ),
        pytest.param(
            "postgres://u:p@db.example/app?application_name=me%40example",
            {"connect_timeout": 10, "application_name": "me@example"},
            id="pg-encoded-at-in-query",
        ),
        pytest.param(
            "postgres://u:p@db.example/app?currentSchema=shop",
            {"connect_timeout": 10, "options": "-c search_path=shop"},
            id="pg-current-schema",
        ),
        pytest.param("mysql://u:p@db.example/app", {"connect_timeout": 10}, id="mysql-plain"),
        pytest.param(
            "mysql://u:p@db.example/app?sslmode=require",
            {"connect_timeout": 10, "ssl_mode": "REQUIRED"},
            id="mysql-sslmode-translated",
        ),
        pytest.param(
            "mariadb://u:p@db.example/app?ssl-mode=VERIFY_IDENTITY",
            {"connect_timeout": 10, "ssl_mode": "VERIFY_IDENTITY"},
            id="mysql-ssl-mode-dash",
        ),
        pytest.param(
            "mysql://u:p@db.example/app?ssl_mode=preferred",
            {"connect_timeout": 10, "ssl_mode": "PREFERRED"},
            id="mysql-ssl-mode-any-case",
        ),
        pytest.param(
            "mysql://u:p@db.example/app?sslmode=verify-ca",
            {"connect_timeout": 10, "ssl_mode": "VERIFY_CA"},
            id="mysql-verify-ca",
        ),
        pytest.param(
            "mysql://u:p@db.example/app?ssl=true",
            {"connect_timeout": 10, "ssl_mode": "REQUIRED"},
            id="mysql-ssl-true",
        ),
        pytest.param(
            "mysql://u:p@db.example/app?ssl-ca=/etc/ca.pem",
            {"connect_timeout": 10, "ssl": {"ca": "/etc/ca.pem"}},
            id="mysql-ssl-ca",
        ),
        pytest.param(
            f"mysql://u:p@{AZURE_MYSQL}/app",
            {"connect_timeout": 10, "ssl_mode": "REQUIRED"},
            id="mysql-azure-requires-tls",
        ),
        pytest.param(
            f"mysql://u:p@{AZURE_MYSQL}/app?sslmode=disable",
            {"connect_timeout": 10, "ssl_mode": "REQUIRED"},
            id="mysql-azure-upgrades-disable",
        ),
        pytest.param(
            f"mysql://u:p@{AZURE_MYSQL}/app?sslmode=verify-full&ssl-ca=/etc/ca.pem",
            {"connect_timeout": 10, "ssl_mode": "VERIFY_IDENTITY", "ssl": {"ca": "/etc/ca.pem"}},
            id="mysql-azure-verify-with-ca",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app",
            {"driver": MSSQL_DRIVER, "connection_timeout": 10},
            id="mssql-plain",
        ),
        pytest.param(
            f"mssql://u:p@{AZURE_SQL}:1433/app",
            {"driver": MSSQL_DRIVER, "connection_timeout": 10, "extra_params": AZURE_SQL_EXTRA},
            id="mssql-azure-encrypts",
        ),
        pytest.param(
            f"mssql://u:p@{AZURE_SQL}/app?encrypt=false",
            {"driver": MSSQL_DRIVER, "connection_timeout": 10, "extra_params": AZURE_SQL_EXTRA},
            id="mssql-azure-forces-encrypt",
        ),
        pytest.param(
            f"mssql://u:p@{AZURE_SQL}/app?TrustServerCertificate=yes",
            {
                "driver": MSSQL_DRIVER,
                "connection_timeout": 10,
                "extra_params": "Encrypt=yes;TrustServerCertificate=yes",
            },
            id="mssql-azure-explicit-trust",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app?TrustServerCertificate=yes",
            {
                "driver": MSSQL_DRIVER,
                "connection_timeout": 10,
                "extra_params": "TrustServerCertificate=yes",
            },
            id="mssql-odbc-keyword-to-extra-params",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app?sslmode=require",
            {
                "driver": MSSQL_DRIVER,
                "connection_timeout": 10,
                "extra_params": "Encrypt=yes;TrustServerCertificate=yes",
            },
            id="mssql-sslmode-require",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app?sslmode=verify-full",
            {
                "driver": MSSQL_DRIVER,
                "connection_timeout": 10,
                "extra_params": "Encrypt=yes;TrustServerCertificate=no",
            },
            id="mssql-sslmode-verify",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app?driver=ODBC+Driver+17+for+SQL+Server&query_timeout=30",
            {
                "driver": "ODBC Driver 17 for SQL Server",
                "connection_timeout": 10,
                "query_timeout": 30,
            },
            id="mssql-own-options-stay",
        ),
        pytest.param(
            "mssql://u:p@sql.example/app?Driver=FreeTDS",
            {"driver": "FreeTDS", "connection_timeout": 10},
            id="mssql-driver-any-case",
        ),
        pytest.param(
            "mysql://u:p@db.example/app?sslmode=disable&ssl_mode=REQUIRED",
            {"connect_timeout": 10, "ssl_mode": "REQUIRED"},
            id="mysql-own-ssl-mode-wins",
        ),
        pytest.param("sqlite:////srv/app/db.sqlite3", SQLITE_PRODUCTION, id="sqlite-production"),
        pytest.param(
            "sqlite:////srv/app/db.sqlite3?timeout=20",
            {**SQLITE_PRODUCTION, "timeout": 20},
            id="sqlite-url-timeout-wins",
        ),
        pytest.param("sqlite://:memory:", {}, id="sqlite-memory-untouched"),
    ],
)
def test_options_per_engine(url, options):
    assert database_from_url(url)["OPTIONS"] == options


@pytest.mark.parametrize(
    ("url", "key"),
    [
        pytest.param("postgres://u:p@h/db", "connect_timeout", id="postgres"),
        pytest.param("mysql://u:p@h/db", "connect_timeout", id="mysql"),
        pytest.param("mssql://u:p@h/db", "connection_timeout", id="mssql"),
    ],
)
def test_connect_timeout_goes_where_each_driver_reads_it(url, key):
    assert database_from_url(url, connect_timeout=3)["OPTIONS"][key] == 3


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgres://u:p@h/db", id="postgres"),
        pytest.param("mariadb://u:p@h/db", id="mariadb"),
        pytest.param("mssql://u:p@h/db", id="mssql"),
        pytest.param("sqlite:////srv/db.sqlite3", id="sqlite"),
        pytest.param("sqlite://:memory:", id="sqlite-memory"),
    ],
)
def test_production_connection_defaults(url):
    config = database_from_url(url)
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (600, True)
    custom = database_from_url(url, conn_max_age=60, conn_health_checks=False)
    assert (custom["CONN_MAX_AGE"], custom["CONN_HEALTH_CHECKS"]) == (60, False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(f"postgres://u:p@{AZURE_PG}:6432/db", True, id="azure-pgbouncer"),
        pytest.param(f"postgres://u:p@{AZURE_PG}:5432/db", False, id="azure-direct"),
        pytest.param("postgres://u:p@db.example:6432/db", False, id="other-6432"),
    ],
)
def test_azure_pgbouncer_port_disables_server_side_cursors(url, expected):
    assert database_from_url(url)["DISABLE_SERVER_SIDE_CURSORS"] is expected


# --- Pool ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "url", "expected"),
    [
        pytest.param({"pool": True}, "postgres://u:p@h/db", True, id="true"),
        pytest.param(
            {"pool": {"min_size": 2, "max_size": 8, "timeout": 5}},
            "postgres://u:p@h/db",
            {"min_size": 2, "max_size": 8, "timeout": 5},
            id="dict",
        ),
        pytest.param({"pool": {}}, "postgres://u:p@h/db", True, id="empty-dict-is-not-off"),
        pytest.param({}, "postgres://u:p@h/db?pool=true", True, id="url-query"),
        pytest.param(
            {"pool": {"max_size": 4}},
            "postgres://u:p@h/db?pool=true",
            {"max_size": 4},
            id="arg-wins",
        ),
    ],
)
def test_pool_is_psycopg_pool_with_conn_max_age_zero(kwargs, url, expected):
    config = database_from_url(url, conn_max_age=600, **kwargs)
    assert config["OPTIONS"]["pool"] == expected
    assert config["CONN_MAX_AGE"] == 0


def test_pool_off_leaves_no_pool_option():
    config = database_from_url("postgres://u:p@h/db?pool=false")
    assert "pool" not in config["OPTIONS"]
    assert config["CONN_MAX_AGE"] == 600


@pytest.mark.parametrize(
    ("url", "label"),
    [
        pytest.param(f"mysql://u:{PLANTED}@h/db", "MySQL/MariaDB", id="mysql"),
        pytest.param(f"mssql://u:{PLANTED}@h/db", "SQL Server", id="mssql"),
        pytest.param("sqlite:////srv/db.sqlite3", "SQLite", id="sqlite"),
    ],
)
def test_pool_refused_for_engines_without_one(url, label):
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url(url, source="MY_DB_URL", pool=True)
    message = str(info.value)
    assert "MY_DB_URL" in message
    assert label in message
    assert "only for PostgreSQL" in message
    assert PLANTED not in message


def test_pool_from_env_is_named_when_refused():
    env = Env({"PRODKIT_DB_POOL": "true", "DATABASE_URL": "sqlite:////srv/db.sqlite3"})
    with pytest.raises(ImproperlyConfigured, match=r"by PRODKIT_DB_POOL, but DATABASE_URL"):
        database_from_env(env)


# --- Credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "user", "password"),
    [
        pytest.param(
            f"postgres://admin%40srv:pw@{AZURE_PG}/db", "admin@srv", "pw", id="azure-user-encoded"
        ),
        pytest.param(
            f"postgres://admin@srv:pw@{AZURE_PG}/db", "admin@srv", "pw", id="azure-user-raw-at"
        ),
        pytest.param("postgres://u:p%40ss@h/db", "u", "p@ss", id="at-encoded"),
        pytest.param("postgres://u:p@ss@h/db", "u", "p@ss", id="at-raw"),
        pytest.param("postgres://u:p%3Ass@h/db", "u", "p:ss", id="colon-encoded"),
        pytest.param("postgres://u:p:ss@h/db", "u", "p:ss", id="colon-raw"),
        pytest.param("postgres://u:p%2Fss@h/db", "u", "p/ss", id="slash-encoded"),
        pytest.param("postgres://u:p%25ss@h/db", "u", "p%ss", id="percent-encoded"),
        pytest.param("postgres://u:p%23ss@h/db", "u", "p#ss", id="hash-encoded"),
        pytest.param("postgres://u:p%3Fss@h/db", "u", "p?ss", id="question-encoded"),
        pytest.param("postgres://u:p+ss@h/db", "u", "p+ss", id="plus-stays-plus"),
        pytest.param("postgres://u%3Ax:p@h/db", "u:x", "p", id="colon-in-user-encoded"),
        pytest.param("mysql://u:p%20w@h/db", "u", "p w", id="space-encoded"),
    ],
)
def test_special_characters_in_credentials(url, user, password):
    config = database_from_url(url)
    assert (config["USER"], config["PASSWORD"]) == (user, password)


hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True
)


@given(
    scheme=st.sampled_from(["postgres", "postgresql", "mysql", "mariadb", "mssql"]),
    user=st.text(),
    password=st.text(),
    host=hostnames,
    port=st.none() | st.integers(min_value=1, max_value=65535),
    name=st.text(min_size=1),
)
def test_percent_encoded_parts_round_trip(scheme, user, password, host, port, name):
    def q(value):
        return urllib.parse.quote(value, safe="")

    netloc = f"{q(user)}:{q(password)}@{q(host)}" + (f":{port}" if port else "")
    config = database_from_url(f"{scheme}://{netloc}/{q(name)}")
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["NAME"]) == (
        user,
        password,
        host,
        name,
    )
    assert str(config["PORT"]) == (str(port) if port else "")


@given(
    head=st.text(alphabet="0123456789@:/?#", max_size=4),
    tail=st.text(alphabet="@:/?#%&=;' {}[]\\abc12", max_size=12),
    scheme=st.sampled_from(["postgres", "mysql", "mssql"]),
)
def test_raw_password_never_appears_in_an_error(head, tail, scheme):
    password = f"{head}{PLANTED}{tail}"
    config, message = None, ""
    try:
        config = database_from_url(f"{scheme}://user:{password}@db.example:5432/app")
    except ImproperlyConfigured as exc:
        message = str(exc)
    assert PLANTED not in message
    if config is not None:
        # What parses, parses right: no part of the password became the host or database.
        assert (config["USER"], config["HOST"], config["NAME"]) == ("user", "db.example", "app")


# --- Malformed URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            f"oracle://u:{PLANTED}@h/db",
            "Supported schemes: mariadb://, mssql://, mysql://",
            id="unknown-scheme",
        ),
        pytest.param(f"u:{PLANTED}@h/db", "is not a database URL (value hidden)", id="no-scheme"),
        pytest.param(
            f"host=h dbname=db password={PLANTED}",
            "looks like a key=value connection string",
            id="libpq-string-in-url-variable",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}#x@h/db", "contains a raw '#'", id="raw-hash-in-password"
        ),
        pytest.param(
            "postgres://u:12/34@h/db",
            "has an '@' after the first '/' or '?'",
            id="raw-slash-misparse",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}/x@h/db",
            "has an '@' after the first '/' or '?'",
            id="raw-slash-in-password",
        ),
        pytest.param(
            f"postgres://u:p@{PLANTED}/x@h/db",
            "has an '@' after the first '/' or '?'",
            id="raw-at-and-slash-in-password",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}?x@h/db",
            "has an '@' after the first '/' or '?'",
            id="raw-question-in-password",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}@h/db?application_name=me@example",
            "which must be written %40",
            id="raw-at-in-query-value",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}@h:port/db",
            "is not a database URL prodkit understands",
            id="port-not-a-number",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}@h:70000/db",
            "is not a database URL prodkit understands",
            id="port-out-of-range",
        ),
        pytest.param(f"postgres://u:{PLANTED}@h", "names no database", id="postgres-without-name"),
        pytest.param(f"mysql://u:{PLANTED}@h/", "names no database", id="mysql-without-name"),
        pytest.param(f"mssql://u:{PLANTED}@/db", "names no host", id="mssql-without-host"),
        pytest.param(
            f"postgres://u:{PLANTED}@h/db?sslmode=sometimes",
            "sets sslmode to 'sometimes'; use one of disable, allow, prefer, require",
            id="bad-pg-sslmode",
        ),
        pytest.param(
            f"mysql://u:{PLANTED}@h/db?ssl_mode=sometimes",
            "use one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY",
            id="bad-mysql-ssl-mode",
        ),
        pytest.param(
            f"mssql://u:{PLANTED}@h/db?TrustServerCertificate=maybe",
            "use yes or no",
            id="bad-trust-server-certificate",
        ),
        pytest.param(
            f"mssql://u:{PLANTED}@h/db?extra_params=Encrypt%3D%7Bopen",
            "extra_params, which is not an ODBC",
            id="bad-extra-params",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}@h/db?pool=sometimes",
            "sets pool to 'sometimes'",
            id="bad-pool-query",
        ),
        pytest.param(
            f"postgres://u:{PLANTED}@h/db?password={PLANTED}&sslmode=x",
            "sets sslmode to 'x'",
            id="password-in-query",
        ),
    ],
)
def test_malformed_urls_name_source_and_form_not_secret(url, expected):
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url(url, source="MY_DB_URL")
    message = str(info.value)
    assert message.startswith("MY_DB_URL ")
    assert expected in message
    assert PLANTED not in message


def test_malformed_url_shows_the_rest_of_the_url_masked():
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url(f"postgres://admin:{PLANTED}@db.example:5432")
    assert "(postgres://admin:***@db.example:5432)" in str(info.value)


def test_unknown_scheme_lists_every_supported_scheme():
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url("redis://h/0")
    assert all(f"{scheme}://" in str(info.value) for scheme in SUPPORTED_SCHEMES)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"conn_max_age": -1}, "conn_max_age must be 0", id="negative-age"),
        pytest.param({"connect_timeout": -1}, "connect_timeout must be 0", id="negative-timeout"),
        pytest.param({"pool": "yes"}, "pool must be True, False or a dict", id="pool-str"),
        pytest.param({"pool": {1: 2}}, "pool must be True or a dict", id="pool-bad-keys"),
    ],
)
def test_bad_arguments(kwargs, expected):
    with pytest.raises(ImproperlyConfigured, match=expected):
        database_from_url("postgres://u:p@h/db", **kwargs)


# --- Connection strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "engine", "expected", "options"),
    [
        pytest.param(
            f"dbname=mydb host={AZURE_PG} port=5432 sslmode=require user=u@srv password=p",
            "postgresql",
            ("django.db.backends.postgresql", "mydb", "u@srv", "p", AZURE_PG, 5432),
            {"sslmode": "require", "connect_timeout": 10},
            id="pg-libpq-service-connector",
        ),
        pytest.param(
            "host=127.0.0.1 dbname=mydb user=u password='a b\\'c' application_name=web",
            "postgresql",
            ("django.db.backends.postgresql", "mydb", "u", "a b'c", "127.0.0.1", ""),
            {"application_name": "web", "connect_timeout": 10},
            id="pg-libpq-quoted-password",
        ),
        pytest.param(
            "host = h  dbname = d user=u password=a;b=c connect_timeout=4",
            "postgresql",
            ("django.db.backends.postgresql", "d", "u", "a;b=c", "h", ""),
            {"connect_timeout": 4},
            id="pg-libpq-semicolon-in-value",
        ),
        pytest.param(
            "host=h dbname=d user=u password=''",
            "postgresql",
            ("django.db.backends.postgresql", "d", "u", "", "h", ""),
            {"connect_timeout": 10},
            id="pg-libpq-empty-password",
        ),
        pytest.param(
            f"Server={AZURE_PG};Database=db;Port=5432;User Id=u;Password=p;Ssl Mode=Require;",
            "postgresql",
            ("django.db.backends.postgresql", "db", "u", "p", AZURE_PG, 5432),
            {"sslmode": "require", "connect_timeout": 10},
            id="pg-dotnet",
        ),
        pytest.param(
            "server=h;DATABASE=db;user id=u;PASSWORD=p;ssl mode=VerifyFull;Pooling=true",
            "postgresql",
            ("django.db.backends.postgresql", "db", "u", "p", "h", ""),
            {"sslmode": "verify-full", "connect_timeout": 10},
            id="pg-dotnet-keys-any-case",
        ),
        pytest.param(
            f"Server={AZURE_MYSQL};Database=db;Port=3306;User Id=u;Password=p;SslMode=Required;",
            "mysql",
            ("django.db.backends.mysql", "db", "u", "p", AZURE_MYSQL, 3306),
            {"ssl_mode": "REQUIRED", "connect_timeout": 10},
            id="mysql-dotnet",
        ),
        pytest.param(
            "Server=h;Port=3306;Database=db;Uid=u;Pwd=p;SSL Mode=None;SslCa=/etc/ca.pem",
            "mysql",
            ("django.db.backends.mysql", "db", "u", "p", "h", 3306),
            {"ssl_mode": "DISABLED", "ssl": {"ca": "/etc/ca.pem"}, "connect_timeout": 10},
            id="mysql-dotnet-portal",
        ),
        pytest.param(
            "Driver={ODBC Driver 18 for SQL Server};"
            f"Server=tcp:{AZURE_SQL},1433;Database=db;Uid=u;Pwd={{p;w}}}}x}};"
            "Encrypt=yes;TrustServerCertificate=no;Connection Timeout=30;",
            "mssql",
            ("mssql", "db", "u", "p;w}x", AZURE_SQL, "1433"),
            {"driver": MSSQL_DRIVER, "extra_params": AZURE_SQL_EXTRA, "connection_timeout": 30},
            id="mssql-odbc",
        ),
        pytest.param(
            f"Server=tcp:{AZURE_SQL},1433;Initial Catalog=db;Persist Security Info=False;"
            "User ID=u;Password=p;MultipleActiveResultSets=False;Encrypt=True;"
            "TrustServerCertificate=False;Connection Timeout=30;",
            "mssql",
            ("mssql", "db", "u", "p", AZURE_SQL, "1433"),
            {"driver": MSSQL_DRIVER, "extra_params": AZURE_SQL_EXTRA, "connection_timeout": 30},
            id="mssql-adonet",
        ),
        pytest.param(
            f'Data Source={AZURE_SQL},1433;Initial Catalog=db;User ID=u;Password="a;b""c"',
            "mssql",
            ("mssql", "db", "u", 'a;b"c', AZURE_SQL, "1433"),
            {"driver": MSSQL_DRIVER, "extra_params": AZURE_SQL_EXTRA, "connection_timeout": 10},
            id="mssql-service-connector-dotnet",
        ),
        pytest.param(
            "server=sql.example;port=1433;database=db;user id=u;password=p;",
            "mssql",
            ("mssql", "db", "u", "p", "sql.example", "1433"),
            {"driver": MSSQL_DRIVER, "connection_timeout": 10},
            id="mssql-go-form",
        ),
        pytest.param(
            "Server=sql.example;Database=db;Authentication=ActiveDirectoryMsi;Encrypt=strict",
            "mssql",
            ("mssql", "db", "", "", "sql.example", ""),
            {
                "driver": MSSQL_DRIVER,
                "extra_params": "Encrypt=strict;Authentication=ActiveDirectoryMsi",
                "connection_timeout": 10,
            },
            id="mssql-odbc-keywords-kept",
        ),
        pytest.param(
            "postgres://u:p@h/db",
            "postgresql",
            ("django.db.backends.postgresql", "db", "u", "p", "h", ""),
            {"connect_timeout": 10},
            id="url-in-connection-string",
        ),
    ],
)
def test_connection_string_forms(value, engine, expected, options):
    config = database_from_connection_string(value, source="CS", engine=engine)
    keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    assert fields(config) == dict(zip(keys, expected, strict=True))
    assert config["OPTIONS"] == options
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (600, True)


@pytest.mark.parametrize(
    ("value", "engine", "expected"),
    [
        pytest.param("   ", "postgresql", "no Key=Value pairs", id="empty"),
        pytest.param(PLANTED, "mssql", "item 1 has no '='", id="bare-secret"),
        pytest.param(
            f"Server=h;Database=d;{PLANTED};Uid=u", "mssql", "item 3 has no '='", id="stray-item"
        ),
        pytest.param(
            f"host=h dbname=d password='{PLANTED} user=u",
            "postgresql",
            "a quoted value is not closed",
            id="libpq-unclosed-quote",
        ),
        pytest.param(
            f"host=h dbname=d password {PLANTED}",
            "postgresql",
            "a keyword without '='",
            id="libpq-missing-equals",
        ),
        pytest.param(
            f"Server=h;Database=d;Pwd={{{PLANTED};",
            "mssql",
            "the quoted value of item 3 is not closed",
            id="odbc-unclosed-brace",
        ),
        pytest.param(
            f"Server=h;Database=d;Pwd={{{PLANTED}}}x;",
            "mssql",
            "item 3 has text after its quoted value",
            id="odbc-text-after-brace",
        ),
        pytest.param(
            f"Database=d;User Id=u;Password={PLANTED}", "mysql", "names no host", id="no-host"
        ),
        pytest.param(
            f"Server=h;User Id=u;Password={PLANTED}", "mysql", "names no database", id="no-name"
        ),
        pytest.param(
            f"Server=h;Database=d;Port=x{PLANTED};Password={PLANTED}",
            "mysql",
            "has a port that is not a whole number",
            id="port-not-number",
        ),
        pytest.param(
            f"Server=h;Database=d;Port=99999;Password={PLANTED}",
            "mysql",
            "has a port outside 1-65535",
            id="port-out-of-range",
        ),
        pytest.param(
            f"Server=tcp:h,x{PLANTED};Database=d;Pwd={PLANTED}",
            "mssql",
            "has a port that is not a whole number",
            id="mssql-bad-port",
        ),
        pytest.param(
            f"Server=h;Database=d;Password={PLANTED};Connection Timeout=soon",
            "mssql",
            "has a Connection Timeout that is not a whole number",
            id="bad-timeout",
        ),
        pytest.param(
            f"Hots=h;Datbase=d;Pasword={PLANTED}",
            "mysql",
            "none of its keys names a host, database, user or password",
            id="no-known-key",
        ),
        pytest.param(
            f"jdbc:postgresql://h:5432/d?user=u&password={PLANTED}",
            "postgresql",
            "is a JDBC connection string",
            id="jdbc",
        ),
        pytest.param(
            f"u:{PLANTED}@tcp(h:3306)/d?tls=true",
            "mysql",
            "is a Go (go-sql-driver) DSN",
            id="go-dsn",
        ),
        pytest.param(
            f"mysql://u:{PLANTED}@h/d",
            "postgresql",
            "but it should point at PostgreSQL",
            id="url-of-other-engine",
        ),
        pytest.param(
            f"host=h dbname=d password={PLANTED} sslmode=always",
            "postgresql",
            "sets sslmode to 'always'",
            id="bad-sslmode",
        ),
    ],
)
def test_malformed_connection_strings_name_source_and_form_not_secret(value, engine, expected):
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_connection_string(value, source="AZURE_X_CONNECTIONSTRING", engine=engine)
    message = str(info.value)
    assert message.startswith("AZURE_X_CONNECTIONSTRING ")
    assert expected in message
    assert PLANTED not in message


def test_connection_string_error_shows_the_expected_form():
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_connection_string("nonsense", source="CS", engine="postgresql")
    assert "host=HOST port=5432 dbname=NAME user=USER password=PASSWORD" in str(info.value)
    assert "Server=HOST;Port=5432;Database=NAME;User Id=USER" in str(info.value)


def test_connection_string_engine_must_be_known():
    with pytest.raises(ImproperlyConfigured, match="use one of mssql, mysql, postgresql"):
        database_from_connection_string("Server=h", source="CS", engine="oracle")


def test_pool_refused_for_mysql_connection_string():
    with pytest.raises(ImproperlyConfigured, match="CS points at MySQL/MariaDB"):
        database_from_connection_string(
            f"Server=h;Database=d;Password={PLANTED}", source="CS", engine="mysql", pool=True
        )


# --- The environment ----------------------------------------------------------------------------

PG_LIBPQ = f"host={AZURE_PG} dbname=fromazure user=u password={PLANTED} sslmode=require"
MYSQL_DOTNET = f"Server={AZURE_MYSQL};Database=fromazure;User Id=u;Password={PLANTED};"
SQL_ODBC = f"Server=tcp:{AZURE_SQL},1433;Database=fromazure;Uid=u;Pwd={PLANTED};"


@pytest.mark.parametrize(
    ("environ", "engine", "name"),
    [
        pytest.param(
            {
                "DATABASE_URL": "postgres://u:p@h/fromurl",
                "AZURE_POSTGRESQL_CONNECTIONSTRING": PG_LIBPQ,
            },
            "django.db.backends.postgresql",
            "fromurl",
            id="database-url-first",
        ),
        pytest.param(
            {"AZURE_POSTGRESQL_CONNECTIONSTRING": PG_LIBPQ},
            "django.db.backends.postgresql",
            "fromazure",
            id="azure-postgresql",
        ),
        pytest.param(
            {"AZURE_MYSQL_CONNECTIONSTRING": MYSQL_DOTNET},
            "django.db.backends.mysql",
            "fromazure",
            id="azure-mysql",
        ),
        pytest.param(
            {"AZURE_SQL_CONNECTIONSTRING": SQL_ODBC}, "mssql", "fromazure", id="azure-sql"
        ),
        pytest.param(
            {"DATABASE_URL": "", "AZURE_SQL_CONNECTIONSTRING": SQL_ODBC},
            "mssql",
            "fromazure",
            id="empty-database-url-is-unset",
        ),
        pytest.param({}, "django.db.backends.sqlite3", "/srv/default.sqlite3", id="default-last"),
    ],
)
def test_env_precedence(environ, engine, name):
    config = database_from_env(Env(environ), default="sqlite:////srv/default.sqlite3")
    assert (config["ENGINE"], config["NAME"]) == (engine, name)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param(
            {
                "AZURE_POSTGRESQL_HOST": AZURE_PG,
                "AZURE_POSTGRESQL_NAME": "db",
                "AZURE_POSTGRESQL_USER": "u@srv",
                "AZURE_POSTGRESQL_PASSWORD": PLANTED,
            },
            {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": AZURE_PG,
                "PORT": "",
                "NAME": "db",
                "USER": "u@srv",
                "PASSWORD": PLANTED,
                "OPTIONS": {"sslmode": "require", "connect_timeout": 10},
            },
            id="postgresql",
        ),
        pytest.param(
            {
                "AZURE_MYSQL_HOST": AZURE_MYSQL,
                "AZURE_MYSQL_NAME": "db",
                "AZURE_MYSQL_USER": "u",
                "AZURE_MYSQL_PASSWORD": PLANTED,
                "AZURE_MYSQL_PORT": "3306",
            },
            {
                "ENGINE": "django.db.backends.mysql",
                "HOST": AZURE_MYSQL,
                "PORT": 3306,
                "NAME": "db",
                "USER": "u",
                "PASSWORD": PLANTED,
                "OPTIONS": {"ssl_mode": "REQUIRED", "connect_timeout": 10},
            },
            id="mysql",
        ),
        pytest.param(
            {
                "AZURE_SQL_HOST": AZURE_SQL,
                "AZURE_SQL_PORT": "1433",
                "AZURE_SQL_NAME": "db",
                "AZURE_SQL_USER": "u",
                "AZURE_SQL_PASSWORD": PLANTED,
            },
            {
                "ENGINE": "mssql",
                "HOST": AZURE_SQL,
                "PORT": "1433",
                "NAME": "db",
                "USER": "u",
                "PASSWORD": PLANTED,
                "OPTIONS": {
                    "driver": MSSQL_DRIVER,
                    "extra_params": AZURE_SQL_EXTRA,
                    "connection_timeout": 10,
                },
            },
            id="sql",
        ),
    ],
)
def test_env_service_connector_django_variables(environ, expected):
    config = database_from_env(Env(environ))
    assert {k: config[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param(
            {
                "AZURE_POSTGRESQL_CONNECTIONSTRING": PG_LIBPQ,
                "AZURE_MYSQL_CONNECTIONSTRING": MYSQL_DOTNET,
            },
            "AZURE_POSTGRESQL_CONNECTIONSTRING and AZURE_MYSQL_CONNECTIONSTRING are both set",
            id="two-connection-strings",
        ),
        pytest.param(
            {"AZURE_SQL_CONNECTIONSTRING": SQL_ODBC, "AZURE_SQL_HOST": AZURE_SQL},
            "AZURE_SQL_CONNECTIONSTRING and AZURE_SQL_HOST are both set",
            id="string-and-django-variables",
        ),
        pytest.param(
            {"AZURE_MYSQL_HOST": AZURE_MYSQL, "AZURE_MYSQL_PASSWORD": PLANTED},
            "AZURE_MYSQL_HOST is set but AZURE_MYSQL_NAME is not",
            id="django-variables-without-name",
        ),
        pytest.param(
            {"AZURE_SQL_HOST": AZURE_SQL, "AZURE_SQL_NAME": "d", "AZURE_SQL_PORT": PLANTED},
            "AZURE_SQL_PORT has a value that is not a whole number",
            id="django-variables-bad-port",
        ),
        pytest.param(
            {"AZURE_POSTGRESQL_CONNECTIONSTRING": f"host=h password={PLANTED}"},
            "AZURE_POSTGRESQL_CONNECTIONSTRING names no database",
            id="azure-string-without-name",
        ),
        pytest.param(
            {"DATABASE_URL": f"postgres://u:{PLANTED}@h"},
            "DATABASE_URL names no database (postgres://u:***@h)",
            id="database-url-without-name",
        ),
        pytest.param(
            {"PRODKIT_DB_CONN_MAX_AGE": "forever", "DATABASE_URL": "sqlite://"},
            "PRODKIT_DB_CONN_MAX_AGE must be an integer >= 0, got 'forever'",
            id="bad-conn-max-age",
        ),
        pytest.param(
            {"PRODKIT_DB_POOL": "sometimes", "DATABASE_URL": "sqlite://"},
            "PRODKIT_DB_POOL must be a boolean",
            id="bad-pool",
        ),
    ],
)
def test_env_errors(environ, expected):
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_env(Env(environ))
    assert expected in str(info.value)
    assert PLANTED not in str(info.value)


def test_env_nothing_set_is_an_error_not_an_empty_dict():
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_env(Env({}))
    assert str(info.value).startswith(
        "DATABASE_URL is not set. Set it to a database URL such as "
        "postgres://USER:PASSWORD@HOST:5432/NAME"
    )


def test_env_malformed_default_is_named():
    with pytest.raises(ImproperlyConfigured, match=r"^the default passed to database_from_env"):
        database_from_env(Env({}), default="nonsense")


@pytest.mark.parametrize(
    ("environ", "kwargs", "conn_max_age", "pool"),
    [
        pytest.param({}, {}, 600, None, id="defaults"),
        pytest.param({"PRODKIT_DB_CONN_MAX_AGE": "30"}, {}, 30, None, id="age-from-env"),
        pytest.param(
            {"PRODKIT_DB_CONN_MAX_AGE": "30"}, {"conn_max_age": 5}, 5, None, id="age-arg-wins"
        ),
        # Under ASGI each request's sync code runs in a thread of its own: no kept connections.
        pytest.param({"PRODKIT_WORKER_CLASS": "uvicorn"}, {}, 0, None, id="asgi-closes"),
        pytest.param(
            {"PRODKIT_WORKER_CLASS": "uvicorn_worker.UvicornWorker"}, {}, 0, None, id="asgi-path"
        ),
        pytest.param({"PRODKIT_WORKER_CLASS": "gthread"}, {}, 600, None, id="gthread-keeps"),
        pytest.param(
            {"PRODKIT_WORKER_CLASS": "uvicorn", "PRODKIT_DB_CONN_MAX_AGE": "60"},
            {},
            60,
            None,
            id="asgi-age-from-env",
        ),
        pytest.param({"PRODKIT_DB_POOL": "true"}, {}, 0, True, id="pool-from-env"),
        pytest.param({"PRODKIT_DB_POOL": "true"}, {"pool": False}, 600, None, id="pool-arg-wins"),
        pytest.param(
            {"PRODKIT_DB_POOL": "false"},
            {"pool": {"max_size": 3}},
            0,
            {"max_size": 3},
            id="pool-dict",
        ),
    ],
)
def test_env_tuning_variables(environ, kwargs, conn_max_age, pool):
    env = Env({"DATABASE_URL": "postgres://u:p@h/db", **environ})
    config = database_from_env(env, **kwargs)
    assert config["CONN_MAX_AGE"] == conn_max_age
    assert config["OPTIONS"].get("pool") == pool


def test_env_prefix_applies_to_prodkit_names_not_azure_ones():
    env = Env({"APP_DATABASE_URL": "", "AZURE_MYSQL_CONNECTIONSTRING": MYSQL_DOTNET}, prefix="APP_")
    assert database_from_env(env)["ENGINE"] == "django.db.backends.mysql"
    with pytest.raises(ImproperlyConfigured, match=r"^APP_DATABASE_URL is not set"):
        database_from_env(Env({"DATABASE_URL": "sqlite://"}, prefix="APP_"))


def test_env_defaults_to_os_environ(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AZURE_POSTGRESQL_", "AZURE_MYSQL_", "AZURE_SQL_", "PRODKIT_DB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", "mariadb://u:p@h/fromos")
    assert database_from_env()["NAME"] == "fromos"


def test_importable_and_usable_before_django_setup():
    code = (
        "from django_prodkit.settings.database import database_from_url\n"
        "from django.conf import settings\n"
        "print(database_from_url('postgres://u:p@h/db')['ENGINE'], settings.configured)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False"]
