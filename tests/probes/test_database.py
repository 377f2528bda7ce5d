"""Live checks 25x: the database probe connects, on a connection of its own, and finds
unapplied migrations."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler
from psycopg import sql

from django_prodkit.probes import database
from django_prodkit.probes.base import run_probes
from django_prodkit.settings.database import database_from_url
from tests.probes import PLANTED, ids, names, run_one, shown, use_databases


def fake_migrate(config) -> None:
    """Record every migration as applied in the database ``config`` names (no schema change:
    the probe reads only the record)."""
    # The migration recorder looks its connection up in django.db.connections by alias.
    alias = "prodkit_setup"
    connection = ConnectionHandler({"default": {}, alias: dict(config)}).create_connection(alias)
    connections[alias] = connection
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes(), fake=True)
    finally:
        del connections[alias]
        connection.close()


def with_user(url, user, password=""):
    parts = urlsplit(url)
    auth = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.hostname}:{parts.port or 5432}"))


def test_every_alias_gets_a_probe(settings, tmp_path):
    use_databases(settings, probe=database_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    assert names(database) == ["database:default", "database:probe"]


def test_e251_fresh_postgres_database_has_every_migration_unapplied(settings, postgres_database):
    use_databases(settings, probe=database_from_url(postgres_database))
    outcome = run_one(database, "database:probe")
    assert ids(outcome) == ["prodkit.E251"]
    [message] = outcome.messages
    assert "The database 'probe' has" in message.msg
    assert "auth" in message.msg
    assert "contenttypes" in message.msg
    assert "migrate --database=probe" in message.hint
    assert message.obj == "settings.DATABASES['probe']"
    assert outcome.kind == "live"
    assert outcome.ids == ("prodkit.E250", "prodkit.E251", "prodkit.E252")


def test_e251_migrated_postgres_database_passes(settings, postgres_database):
    config = database_from_url(postgres_database)
    fake_migrate(config)
    use_databases(settings, probe=config)
    assert run_one(database, "database:probe").messages == []


def test_e251_counts_only_what_is_missing(settings, postgres_database):
    config = database_from_url(postgres_database)
    fake_migrate(config)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("DELETE FROM django_migrations WHERE app = 'sessions'")
    use_databases(settings, probe=config)
    [message] = run_one(database, "database:probe").messages
    assert message.id == "prodkit.E251"
    assert "1 unapplied migration(s), in sessions." in message.msg


class LegacyRouter:
    """Keeps every app off the database 'probe' (a legacy database nobody migrates)."""

    def allow_migrate(self, db, app_label, **hints):
        return db != "probe"


def test_e251_apps_the_routers_keep_off_the_database_are_not_missing(settings, postgres_database):
    use_databases(settings, probe=database_from_url(postgres_database))
    settings.DATABASE_ROUTERS = [f"{__name__}.LegacyRouter"]
    assert run_one(database, "database:probe").messages == []


def test_e251_mariadb(settings, mysql_database):
    use_databases(settings, probe=database_from_url(mysql_database))
    assert ids(run_one(database, "database:probe")) == ["prodkit.E251"]


def test_e252_migration_table_the_user_may_not_read(settings, postgres_database):
    role = f"prodkit_probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            "CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL,"
            " name varchar(255) NOT NULL, applied timestamptz NOT NULL)"
        )
    try:
        use_databases(settings, probe=database_from_url(with_user(postgres_database, role)))
        [message] = run_one(database, "database:probe").messages
        assert message.id == "prodkit.E252"
        assert "permission denied" in message.msg
        assert "showmigrations --database=probe" in message.hint
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute("DROP TABLE django_migrations")
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_e250_refused_port_fails_at_once_naming_alias_and_host(settings, refused_port):
    use_databases(
        settings,
        probe=database_from_url(f"postgres://app:{PLANTED}@127.0.0.1:{refused_port}/app"),
    )
    started = time.monotonic()
    outcome = run_one(database, "database:probe")
    assert time.monotonic() - started < 2
    [message] = outcome.messages
    assert message.id == "prodkit.E250"
    assert f"The database 'probe' (postgresql at 127.0.0.1:{refused_port})" in message.msg
    assert "refused" in message.msg.lower()
    assert PLANTED not in shown([outcome])


def test_e250_hung_servers_cost_one_timeout_together(settings, hung):
    use_databases(
        settings,
        pg=database_from_url(f"postgres://app:{PLANTED}@127.0.0.1:{hung}/app"),
        maria=database_from_url(f"mysql://app:{PLANTED}@127.0.0.1:{hung}/app"),
    )
    wanted = [p for p in database.probes(1.0) if p.name in ("database:pg", "database:maria")]
    started = time.monotonic()
    outcomes = run_probes(wanted, 1.0)
    assert time.monotonic() - started <= 1.0 + 1
    for outcome in outcomes:
        [message] = outcome.messages
        assert message.id == "prodkit.E250"
        assert "did not answer within 1 s" in message.msg
    assert PLANTED not in shown(outcomes)


def test_e250_wrong_password_is_reported_without_it(settings, mysql_url):
    parts = urlsplit(mysql_url)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}:{PLANTED}@{parts.hostname}:3306"))
    use_databases(settings, probe=database_from_url(url))
    outcome = run_one(database, "database:probe")
    [message] = outcome.messages
    assert message.id == "prodkit.E250"
    assert "Access denied" in message.msg
    assert PLANTED not in shown([outcome])


def test_e250_database_that_does_not_exist(settings, postgres_url):
    missing = urlunsplit(urlsplit(postgres_url)._replace(path="/prodkit_no_such_db"))
    use_databases(settings, probe=database_from_url(missing))
    [message] = run_one(database, "database:probe").messages
    assert message.id == "prodkit.E250"
    assert "prodkit_no_such_db" in message.msg


def test_e250_missing_sqlite_file_is_reported_not_created(settings, tmp_path):
    path = tmp_path / "db.sqlite3"
    use_databases(settings, probe=database_from_url(f"sqlite:///{path}"))
    [message] = run_one(database, "database:probe").messages
    assert message.id == "prodkit.E250"
    assert f"the file {path} does not exist" in message.msg
    assert not path.exists()


@pytest.mark.parametrize(
    ("migrated", "expected"),
    [
        pytest.param(False, ["prodkit.E251"], id="empty-file"),
        pytest.param(True, [], id="migrated-file"),
    ],
)
def test_sqlite_file_database(settings, tmp_path, migrated, expected):
    config = database_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    (tmp_path / "db.sqlite3").touch()
    if migrated:
        fake_migrate(config)
    use_databases(settings, probe=config)
    assert ids(run_one(database, "database:probe")) == expected


def test_in_memory_sqlite_is_connected_not_judged(settings):
    # A new connection to ':memory:' gets an empty database of its own.
    use_databases(settings, probe={"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})
    assert run_one(database, "database:probe").messages == []


def test_hand_written_settings_are_probed(settings, refused_port):
    # DATABASES written by hand, the way many projects do, with the password inline.
    use_databases(
        settings,
        probe={
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "shop",
            "USER": "shop",
            "PASSWORD": PLANTED,
            "HOST": "127.0.0.1",
            "PORT": str(refused_port),
            "OPTIONS": {"connect_timeout": 30, "pool": {"min_size": 2}},
        },
    )
    outcome = run_one(database, "database:probe")
    assert ids(outcome) == ["prodkit.E250"]
    assert PLANTED not in shown([outcome])
    # The probe gave the driver its own timeout and used no pool; the settings are untouched.
    assert settings.DATABASES["probe"]["OPTIONS"] == {
        "connect_timeout": 30,
        "pool": {"min_size": 2},
    }


def test_database_from_url_output_is_probed(settings, postgres_database):
    # The helper's entry (persistent connections, health checks) is probed as written.
    config = database_from_url(postgres_database, conn_max_age=600)
    use_databases(settings, probe=config)
    assert ids(run_one(database, "database:probe")) == ["prodkit.E251"]


def test_probe_uses_a_connection_of_its_own(settings, postgres_database):
    use_databases(settings, probe=database_from_url(postgres_database))
    run_one(database, "database:probe")
    # Nothing was added to Django's connections in this thread.
    assert not hasattr(connections._connections, "probe")
