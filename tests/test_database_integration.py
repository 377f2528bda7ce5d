"""The DATABASES entries prodkit builds connect to real servers and carry real migrations.

Each test makes its own database (dropped afterwards) on the PostgreSQL and MariaDB servers of
tests/conftest.py, or a file under tmp_path, and never touches Django's test database.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import MySQLdb
import psycopg
import pytest
from django.db.utils import ConnectionHandler, OperationalError

from django_prodkit.env import Env
from django_prodkit.settings.database import (
    database_from_connection_string,
    database_from_env,
    database_from_url,
)
from tests.example import example_env, manage

pytestmark = pytest.mark.slow


def fresh_name() -> str:
    return f"prodkit_it_{uuid.uuid4().hex[:8]}"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def mysql_connect(url: str) -> MySQLdb.Connection:
    config = database_from_url(url)
    return MySQLdb.connect(
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 3306),
        user=config["USER"],
        password=config["PASSWORD"],
        database=config["NAME"],
        connect_timeout=5,
    )


@pytest.fixture
def mysql_database(mysql_url) -> Iterator[str]:
    """URL of a new, empty MariaDB database."""
    name = fresh_name()
    conn = mysql_connect(mysql_url)
    try:
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield with_database(mysql_url, name)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def migrate_example_project(database_url: str, tmp_path: Path) -> None:
    manage(example_env(tmp_path, DATABASE_URL=database_url), "migrate", "--noinput")


CORE_MIGRATION = ("contenttypes", "0001_initial")


def test_postgres_url_migrates_example_project(postgres_database, tmp_path):
    migrate_example_project(postgres_database, tmp_path)
    with psycopg.connect(postgres_database) as conn:
        rows = conn.execute("SELECT app, name FROM django_migrations").fetchall()
    assert CORE_MIGRATION in set(rows)


def test_mariadb_url_migrates_example_project(mysql_database, tmp_path):
    # The mariadb:// scheme, and an sslmode that dj-database-url would hand to MySQLdb as an
    # invalid keyword argument.
    url = with_query(mysql_database.replace("mysql://", "mariadb://", 1), "sslmode=prefer")
    migrate_example_project(url, tmp_path)
    conn = mysql_connect(mysql_database)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT app, name FROM django_migrations")
        rows = cursor.fetchall()
    finally:
        conn.close()
    assert CORE_MIGRATION in set(rows)


def test_sqlite_url_migrates_example_project_in_wal_mode(tmp_path):
    path = tmp_path / "db.sqlite3"
    migrate_example_project(f"sqlite:///{path}", tmp_path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT app, name FROM django_migrations").fetchall()
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert CORE_MIGRATION in set(rows)
    # The init_command ran: WAL is a property of the file once set.
    assert journal_mode == "wal"


@pytest.fixture
def connect(django_db_blocker):
    """Open Django connections for DATABASES entries kept out of settings.DATABASES."""
    opened = []

    def connect(config):
        connection = ConnectionHandler({"default": config})["default"]
        opened.append(connection)
        return connection

    with django_db_blocker.unblock():
        yield connect
        for connection in opened:
            connection.close()
            if hasattr(connection, "close_pool"):
                connection.close_pool()


def test_pool_serves_queries_through_django(postgres_url, connect):
    config = database_from_url(postgres_url, pool={"min_size": 1, "max_size": 2, "timeout": 5})
    connection = connect(config)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.pool is not None
    assert connection.pool.get_stats()["pool_size"] >= 1


def test_azure_libpq_connection_string_connects(postgres_database, connect):
    parts = urlsplit(postgres_database)
    name = parts.path[1:]
    value = (
        f"dbname={name} host={parts.hostname} port={parts.port or 5432} sslmode=disable "
        f"user={parts.username} password='{parts.password or ''}'"
    )
    config = database_from_env(Env({"AZURE_POSTGRESQL_CONNECTIONSTRING": value}))
    assert config == database_from_connection_string(
        value, source="AZURE_POSTGRESQL_CONNECTIONSTRING", engine="postgresql"
    )
    with connect(config).cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone() == (name,)


def test_postgres_sslmode_reaches_the_driver(postgres_url, connect):
    # The local server has no TLS: refusing to connect proves sslmode reached libpq.
    connection = connect(
        database_from_url(with_query(postgres_url, "sslmode=require"), connect_timeout=5)
    )
    with pytest.raises(OperationalError, match="SSL"):
        connection.ensure_connection()


def test_mysql_sslmode_is_translated_for_mysqlclient(mysql_url, connect):
    # Passed through, sslmode= is a TypeError in MySQLdb.connect(); translated, VERIFY_IDENTITY
    # makes the client refuse this server, which has no TLS.
    config = database_from_url(with_query(mysql_url, "sslmode=verify-full"), connect_timeout=5)
    assert config["OPTIONS"]["ssl_mode"] == "VERIFY_IDENTITY"
    with pytest.raises(OperationalError, match="SSL"):
        connect(config).ensure_connection()


def test_sqlite_production_options_reach_django(tmp_path, connect):
    connection = connect(database_from_url(f"sqlite:///{tmp_path / 'options.sqlite3'}"))
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone() == (1,)  # NORMAL
    assert connection.transaction_mode == "IMMEDIATE"
