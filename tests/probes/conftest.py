"""Fixtures of the live probe tests: the services a probe talks to, hung and refused ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import MySQLdb
import pytest

from django_prodkit.settings.database import database_from_url
from tests.servers import blackhole_port, free_port, hung_port, own_azurite


@pytest.fixture(autouse=True)
def _probe_environment(monkeypatch, django_db_blocker) -> Iterator[None]:
    """No telemetry unless a test sets it; database probes may connect (they open their own
    connections, in their own threads, never pytest-django's)."""
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    return free_port()


@pytest.fixture
def hung() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with hung_port() as port:
        yield port


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose connection attempts are never answered (dropped, as by a firewall)."""
    with blackhole_port() as port:
        yield port


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """The connection string of an Azurite blob service of the test session's own."""
    with own_azurite() as connection_string:
        yield connection_string


@pytest.fixture
def mysql_database(mysql_url) -> Iterator[str]:
    """URL of a new, empty MariaDB database, dropped after the test."""
    config = database_from_url(mysql_url)
    name = f"prodkit_probe_{uuid.uuid4().hex[:8]}"
    conn = MySQLdb.connect(
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 3306),
        user=config["USER"],
        password=config["PASSWORD"],
        connect_timeout=5,
    )
    try:
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield urlunsplit(urlsplit(mysql_url)._replace(path=f"/{name}"))
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()
