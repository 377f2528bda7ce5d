"""Find the real services the suite talks to; skip on a laptop where one is down, fail under CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from django_prodkit.redact import redact_url

DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379}


def reachable(url: str, timeout: float = 1.0) -> bool:
    """Return True when the host and port of ``url`` accept a TCP connection."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(variable: str, default: str, what: str) -> str:
    """Return the URL of a service the test needs, or skip (fail under CI) when it is down."""
    url = os.environ.get(variable, default)
    if not reachable(url):
        message = f"{what} not reachable at {redact_url(url)} (set {variable} to point elsewhere)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextmanager
def new_postgres_database(server_url: str, prefix: str = "prodkit_it") -> Iterator[str]:
    """Create an empty database named ``PREFIX_<random>`` on the server of ``server_url``;
    yield its URL; drop it (closing what is still connected) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
