"""Shared fixtures: the real services and the example project."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test import signals
from django.test.signals import setting_changed

from tests.services import new_postgres_database, require_service


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL server the integration tests use (trust auth on this machine)."""
    return require_service(
        "PRODKIT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL"
    )


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """URL of the MariaDB/MySQL server the integration tests use."""
    return require_service("PRODKIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test", "MariaDB")


@pytest.fixture(scope="session", autouse=True)
def _logging_setting_is_data():
    """Tests read an overridden LOGGING as data (the checks judge it); Django 6.1 would also
    apply every override, and its restore, to the live logging of the test process, leaving
    the loggers other tests look at reconfigured."""
    receiver = getattr(signals, "update_logging_config", None)
    if receiver is None:
        yield
        return
    setting_changed.disconnect(receiver)
    yield
    setting_changed.connect(receiver)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploads in a test land in that test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the shared Redis (database 15): never stopped, never flushed by a test."""
    return require_service("PRODKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15", "Redis")


@pytest.fixture
def cache_prefix(redis_url) -> Iterator[str]:
    """A key prefix of the test's own in the shared Redis; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def postgres_database(postgres_url) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    with new_postgres_database(postgres_url) as url:
        yield url
