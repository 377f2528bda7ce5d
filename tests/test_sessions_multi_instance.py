"""Two app servers behind one Redis: a login on one is a login on the other.

Two real server processes of example_project (gunicorn) share a SQLite file and the shared Redis
(database 15, a key prefix of this test's own). The session row is deleted from the database
after the login, so the second server can only find the session in Redis.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
import redis

from tests.example import (
    PASSWORD,
    browser,
    example_env,
    gunicorn,
    log_in,
    open_page,
    prepare,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def project_env(tmp_path, redis_url, cache_prefix) -> dict[str, str]:
    return example_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        CACHE_URL=redis_url,
        PRODKIT_CACHE_KEY_PREFIX=cache_prefix,
    )


@pytest.fixture
def two_instances(project_env, tmp_path) -> Iterator[tuple[str, str]]:
    """Base URLs of two running servers of the example project (same key, same Redis)."""
    prepare(project_env)
    with (
        gunicorn(project_env, tmp_path / "a.log") as a,
        gunicorn(project_env, tmp_path / "b.log") as b,
    ):
        yield f"http://127.0.0.1:{a}", f"http://127.0.0.1:{b}"


def test_login_on_one_instance_is_a_login_on_the_other(two_instances, project_env, redis_url):
    a, b = two_instances
    opener, jar = browser()
    url, status, html = log_in(opener, a)
    assert (urllib.parse.urlsplit(url).path, status) == ("/admin/", 200)
    assert "Site administration" in html
    session_id = next(c.value for c in jar if c.name == "sessionid")

    # The session lives in Redis under the project's key prefix...
    client = redis.Redis.from_url(redis_url)
    prefix = project_env["PRODKIT_CACHE_KEY_PREFIX"]
    assert any(session_id in key.decode() for key in client.scan_iter(match=f"{prefix}:*"))
    client.close()
    # ...and only there once its database row is gone.
    database = project_env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        assert conn.execute("DELETE FROM django_session").rowcount == 1
    conn.close()

    url, status, html = open_page(opener, f"{b}/admin/")
    assert (urllib.parse.urlsplit(url).path, status) == ("/admin/", 200)
    assert "Site administration" in html

    # Without the cookie, instance B sends a stranger to the login page.
    stranger, _ = browser()
    url, status, _ = open_page(stranger, f"{b}/admin/")
    assert (urllib.parse.urlsplit(url).path, status) == ("/admin/login/", 200)
