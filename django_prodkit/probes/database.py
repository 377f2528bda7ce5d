"""Live checks 25x: each database in ``DATABASES`` answers and has every migration applied.

The probe reads ``settings.DATABASES`` when it runs and, in its own thread, opens a new
connection with the probe timeout as the driver's connect timeout, reads the applied migrations
and closes it. The site's connections are never used: the probe's connection is that thread's
``django.db.connections[alias]`` only while it runs (Django's migration recorder looks its
connection up by alias). A connection pool configured in ``OPTIONS`` is not used: the probe
needs one connection, not a pool. An SQLite file that does not exist is reported, not created.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from django_prodkit.checks.registry import Check, define
from django_prodkit.probes.base import Probe, whole_seconds
from django_prodkit.redact import describe_error, redact_text

E250 = Check(
    id="prodkit.E250",
    title="a database cannot be reached",
    msg="The database '{alias}' ({where}) could not be reached: {error}.",
    hint=(
        "Check HOST, PORT, NAME, the user and password, TLS (sslmode) and the firewall between "
        "the app and the server (Azure: the server's networking rules or private endpoint); "
        "for SQLite, that NAME is the database file's path (`migrate` creates the file). "
        "database_from_env() builds the entry from DATABASE_URL."
    ),
    why=(
        "Every request that touches this database fails with a 500, and the readiness endpoint "
        "takes the instance out of the load balancer. Found before the deployment switches "
        "traffic, it costs nothing."
    ),
    live=True,
)
E251 = Check(
    id="prodkit.E251",
    title="migrations are not applied",
    msg="The database '{alias}' has {count} unapplied migration(s), in {apps}.",
    hint=(
        "Run `python manage.py migrate --database={alias}` in the deployment (a release step "
        "or the container's start command) before the new code serves requests."
    ),
    why=(
        "Code that expects a table or column the database does not have yet fails with a 500 "
        "on every request that reaches it, often only on some pages, so the deployment looks "
        "healthy at first."
    ),
    live=True,
)
E252 = Check(
    id="prodkit.E252",
    title="the migration state cannot be read",
    msg="The migrations applied to the database '{alias}' could not be read: {error}.",
    hint=(
        "Check that the database user may read the django_migrations table and that "
        "`python manage.py showmigrations --database={alias}` works."
    ),
    why=(
        "Without it nobody can tell whether the schema matches the code; `migrate` fails the "
        "same way, so the next deployment's migrations will not run either."
    ),
    live=True,
)
define(E250, E251, E252)

# Apps named in E251 before the rest is counted.
_APPS_SHOWN = 8


def probes(timeout: float) -> list[Probe]:
    """One probe per ``DATABASES`` alias."""
    databases: dict[str, Any] = dict(getattr(settings, "DATABASES", {}) or {})
    return [
        Probe(
            name=f"database:{alias}",
            ids=(E250.id, E251.id, E252.id),
            run=functools.partial(probe_database, alias, dict(entry), timeout),
            failed=functools.partial(_unreachable, alias, dict(entry)),
        )
        for alias, entry in databases.items()
    ]


def probe_database(alias: str, entry: dict[str, Any], timeout: float) -> list[CheckMessage]:
    """Connect to the database ``alias`` and look for unapplied migrations."""
    missing = _missing_sqlite_file(entry)
    if missing:
        return [_unreachable(alias, entry, f"the file {missing} does not exist")]
    with installed_connection(alias, entry, timeout) as connection:
        try:
            connection.ensure_connection()
        except Exception as exc:
            return [_unreachable(alias, entry, describe_error(exc))]
        if _in_memory(entry):
            # A new connection to an in-memory SQLite database gets an empty database of its
            # own: its migrations say nothing about the one the site uses.
            return []
        return _unapplied_migrations(alias, connection)


@contextmanager
def installed_connection(
    alias: str, entry: dict[str, Any], timeout: float
) -> Iterator[BaseDatabaseWrapper]:
    """Make ``own_connection`` this thread's ``django.db.connections[alias]`` while in use.

    The ORM inside Django's tools (the migration recorder, ``DatabaseCache``) looks its
    connection up by alias. ``connections`` is per thread: run this in a probe's own thread,
    and the site's connections (and other threads') are untouched.
    """
    connection = own_connection(alias, entry, timeout)
    connections[alias] = connection
    try:
        yield connection
    finally:
        del connections[alias]
        close_connection(connection)


def own_connection(alias: str, entry: dict[str, Any], timeout: float) -> BaseDatabaseWrapper:
    """Return a new, unopened connection for the ``DATABASES`` entry ``entry``, with ``timeout``
    as the driver's connect (and, where it has one, read) timeout; close it with
    ``close_connection``. Make it in the thread that uses it: Django's connections belong to
    the thread that created them."""
    # Copies: ConnectionHandler fills in defaults in place, and the settings stay untouched.
    config = {**entry, "OPTIONS": dict(entry.get("OPTIONS") or {})}
    config["TEST"] = dict(entry.get("TEST") or {})
    config["OPTIONS"].pop("pool", None)
    # ConnectionHandler fills in Django's defaults; it insists on a 'default' entry.
    handler = ConnectionHandler({DEFAULT_DB_ALIAS: {}, alias: config})
    connection = handler.create_connection(alias)
    _set_timeouts(connection.vendor, connection.settings_dict["OPTIONS"], timeout)
    return connection


def close_connection(connection: BaseDatabaseWrapper) -> None:
    """Close a connection made by ``own_connection``, whatever the state it is in."""
    try:
        connection.close()
    finally:
        raw = connection.connection
        if raw is not None:
            # Django leaves an in-memory SQLite database open on close(); this one is ours.
            connection.connection = None
            raw.close()


def _set_timeouts(vendor: str, options: dict[str, Any], timeout: float) -> None:
    def lower(name: str, value: float) -> None:
        current = options.get(name)
        if current is None or not isinstance(current, int | float) or current > value:
            options[name] = value

    seconds = whole_seconds(timeout)
    if vendor == "postgresql":
        # libpq's connect_timeout: whole seconds, covering the TCP connect and the handshake.
        lower("connect_timeout", seconds)
    elif vendor == "mysql":
        # mysqlclient: a server that accepts and never greets is a read timeout.
        for name in ("connect_timeout", "read_timeout", "write_timeout"):
            lower(name, seconds)
    elif vendor == "sqlite":
        # How long a locked database is waited for.
        lower("timeout", timeout)
    elif vendor == "microsoft":
        # mssql-django's own options; without connection_retries=0 it tries five times.
        lower("connection_timeout", seconds)
        options["connection_retries"] = 0


def _unapplied_migrations(alias: str, connection: BaseDatabaseWrapper) -> list[CheckMessage]:
    # Imported here: the migration loader is only needed once a database answers.
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return [E252.message(obj=_obj(alias), alias=alias, error=describe_error(exc))]
    # An app the routers keep off this database is never migrated here (a legacy database,
    # a replica): its migrations are not missing.
    pending = [
        migration
        for migration, backwards in plan
        if not backwards and router.allow_migrate(alias, migration.app_label)
    ]
    if not pending:
        return []
    apps = list(dict.fromkeys(migration.app_label for migration in pending))
    shown = ", ".join(apps[:_APPS_SHOWN])
    if len(apps) > _APPS_SHOWN:
        shown += f" and {len(apps) - _APPS_SHOWN} more app(s)"
    return [E251.message(obj=_obj(alias), alias=alias, count=len(pending), apps=shown)]


def _unreachable(alias: str, entry: dict[str, Any], error: str) -> CheckMessage:
    return E250.message(obj=_obj(alias), alias=alias, where=describe_database(entry), error=error)


def _obj(alias: str) -> str:
    return f"settings.DATABASES[{alias!r}]"


def describe_database(entry: dict[str, Any]) -> str:
    """Say which database ``entry`` names, for a message: engine and host, never credentials."""
    engine = str(entry.get("ENGINE", "")).rsplit(".", 1)[-1] or "no ENGINE"
    if _is_sqlite(entry):
        return f"{engine} at {redact_text(str(entry.get('NAME', '')))}"
    host = redact_text(str(entry.get("HOST") or "localhost"))
    port = entry.get("PORT")
    return f"{engine} at {host}:{port}" if port else f"{engine} at {host}"


def _is_sqlite(entry: dict[str, Any]) -> bool:
    return "sqlite" in str(entry.get("ENGINE", "")).rsplit(".", 1)[-1]


def _in_memory(entry: dict[str, Any]) -> bool:
    name = str(entry.get("NAME", ""))
    return _is_sqlite(entry) and (name in ("", ":memory:") or "mode=memory" in name)


def _missing_sqlite_file(entry: dict[str, Any]) -> str | None:
    """Return the path of an SQLite database file that does not exist (connecting would create
    an empty one), else None."""
    if not _is_sqlite(entry) or _in_memory(entry):
        return None
    name = os.fspath(entry.get("NAME", ""))
    if name.startswith("file:"):
        return None
    return None if os.path.exists(name) else name


__all__ = [
    "E250",
    "E251",
    "E252",
    "close_connection",
    "describe_database",
    "installed_connection",
    "own_connection",
    "probe_database",
    "probes",
]
