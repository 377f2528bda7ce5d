"""Checks 2xx: the database, with prodkit's helpers and with hand-written DATABASES."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.checks import database
from django_prodkit.env import Env
from django_prodkit.settings import database_from_env, database_from_url
from tests.checks import ids

# The checks read DATABASES as written and never open a connection, so overriding it is safe
# here; Django warns about any override of DATABASES.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")

PG = "django.db.backends.postgresql"
MYSQL = "django.db.backends.mysql"
MSSQL = "mssql"
SQLITE = "django.db.backends.sqlite3"
SECRET = "hunter2-db-secret"

# libpq and MySQL variables that change what the checks conclude; tests set the one they need.
_CLIENT_VARIABLES = (
    "PGHOST",
    "PGSSLMODE",
    "PGSERVICE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGCONNECT_TIMEOUT",
    "MYSQL_PWD",
    "PRODKIT_WORKER_CLASS",
)

ALL_CHECKS = (
    database.check_default_database,
    database.check_sqlite_deployment,
    database.check_connection_lifetime,
    database.check_database_tls,
    database.check_connect_timeout,
    database.check_database_password,
)


@pytest.fixture(autouse=True)
def _wsgi_client(monkeypatch, tmp_path):
    """No libpq/MySQL variables, no ~/.pgpass, a WSGI worker unless a test says otherwise."""
    for name in _CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "gthread")


def _pg(**changes):
    """A PostgreSQL entry that passes every check; ``changes`` override its keys."""
    entry = {
        "ENGINE": PG,
        "NAME": "app",
        "USER": "app",
        "PASSWORD": SECRET,
        "HOST": "db.example.com",
        "PORT": "5432",
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"sslmode": "require", "connect_timeout": 10},
    }
    entry.update(changes)
    return entry


def _mysql(**changes):
    entry = _pg(
        ENGINE=MYSQL,
        PORT="3306",
        OPTIONS={"ssl_mode": "REQUIRED", "connect_timeout": 10},
    )
    entry.update(changes)
    return entry


def _mssql(**changes):
    entry = _pg(
        ENGINE=MSSQL,
        PORT="1433",
        OPTIONS={"driver": "ODBC Driver 18 for SQL Server", "connection_timeout": 10},
    )
    entry.update(changes)
    return entry


def _sqlite(path, **options):
    return {"ENGINE": SQLITE, "NAME": str(path), "OPTIONS": options}


TUNED = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
}


def _run_all():
    return [message for check in ALL_CHECKS for message in check()]


# --- E201 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("databases", "expected"),
    [
        pytest.param({}, ["prodkit.E201"], id="empty"),
        pytest.param({"main": _pg()}, ["prodkit.E201"], id="no-default-alias"),
        pytest.param({"default": {"ENGINE": ""}}, ["prodkit.E201"], id="empty-engine"),
        pytest.param({"default": {}}, ["prodkit.E201"], id="no-engine"),
        pytest.param(
            {"default": {"ENGINE": "django.db.backends.dummy"}}, ["prodkit.E201"], id="dummy"
        ),
        pytest.param({"default": _pg()}, [], id="postgres"),
        pytest.param({"default": _sqlite("db.sqlite3")}, [], id="sqlite"),
    ],
)
def test_e201_default_database(settings, databases, expected):
    settings.DATABASES = databases
    assert ids(database.check_default_database()) == expected


# --- E202, W203 ------------------------------------------------------------------------------


def test_e202_sqlite_on_several_instances(settings, several_instances, tmp_path):
    settings.DATABASES = {"default": _sqlite(tmp_path / "db.sqlite3", **TUNED)}
    [message] = database.check_sqlite_deployment()
    assert message.id == "prodkit.E202"
    assert "3 instance(s) x 4 worker(s)" in message.msg
    assert message.obj == "settings.DATABASES['default']"


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        pytest.param(SQLITE, ["prodkit.E202"], id="sqlite"),
        pytest.param(
            "django.contrib.gis.db.backends.spatialite", ["prodkit.E202"], id="spatialite"
        ),
        pytest.param(PG, [], id="postgres"),
    ],
)
def test_e202_only_sqlite_is_per_instance(settings, several_instances, tmp_path, engine, expected):
    settings.DATABASES = {"default": {**_pg(), "ENGINE": engine, "NAME": str(tmp_path / "db")}}
    assert ids(database.check_sqlite_deployment()) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, ["prodkit.W203"], id="untuned"),
        pytest.param(
            {"init_command": TUNED["init_command"]}, ["prodkit.W203"], id="wal-but-deferred"
        ),
        pytest.param({"transaction_mode": "IMMEDIATE"}, ["prodkit.W203"], id="immediate-no-wal"),
        pytest.param(TUNED, [], id="wal-and-immediate"),
        pytest.param(
            {"init_command": "pragma journal_mode = wal", "transaction_mode": "EXCLUSIVE"},
            [],
            id="wal-and-exclusive",
        ),
    ],
)
def test_w203_sqlite_with_several_processes(
    settings, several_processes, tmp_path, options, expected
):
    settings.DATABASES = {"default": _sqlite(tmp_path / "db.sqlite3", **options)}
    assert ids(database.check_sqlite_deployment()) == expected


def test_w203_names_what_is_missing_and_the_helper(settings, several_processes, tmp_path):
    settings.DATABASES = {"default": _sqlite(tmp_path / "db.sqlite3")}
    [message] = database.check_sqlite_deployment()
    assert "WAL (init_command) and IMMEDIATE transactions" in message.msg
    assert "database is locked" in message.msg
    assert "database_from_env()" in message.hint
    assert "docs/checks.md#prodkit-w203" in message.hint


@pytest.mark.parametrize(
    "name", [pytest.param(":memory:", id="memory"), pytest.param("db.sqlite3", id="file")]
)
def test_w203_one_process_is_fine(settings, name):
    settings.DATABASES = {"default": _sqlite(name)}
    assert database.check_sqlite_deployment() == []


def test_w203_in_memory_database_is_not_about_locking(settings, several_processes):
    settings.DATABASES = {"default": _sqlite(":memory:")}
    assert database.check_sqlite_deployment() == []


# --- W204, W205, I206, I207 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(_pg(CONN_MAX_AGE=0), ["prodkit.W204"], id="pg-no-persistence"),
        pytest.param(_pg(CONN_MAX_AGE=0) | {"OPTIONS": {}}, ["prodkit.W204"], id="pg-default"),
        pytest.param(
            _pg(CONN_MAX_AGE=0, OPTIONS={"sslmode": "require", "pool": True}), [], id="pg-pool"
        ),
        pytest.param(
            _pg(CONN_MAX_AGE=0, OPTIONS={"pool": {"min_size": 2, "max_size": 10}}),
            [],
            id="pg-pool-dict",
        ),
        pytest.param(_pg(CONN_MAX_AGE=0, PORT=6432), [], id="pgbouncer-port"),
        pytest.param(
            _pg(CONN_MAX_AGE=0, DISABLE_SERVER_SIDE_CURSORS=True), [], id="transaction-pooler"
        ),
        pytest.param(_mysql(CONN_MAX_AGE=0), ["prodkit.W204"], id="mysql"),
        pytest.param(_mssql(CONN_MAX_AGE=0), [], id="mssql-pyodbc-pool"),
        pytest.param(_pg(), [], id="pg-persistent"),
        pytest.param(_sqlite("db.sqlite3"), [], id="sqlite"),
    ],
)
def test_w204_connection_per_request(settings, entry, expected):
    settings.DATABASES = {"default": entry}
    assert ids(database.check_connection_lifetime()) == expected


def test_w204_mssql_without_pyodbc_pool(settings):
    settings.DATABASES = {"default": _mssql(CONN_MAX_AGE=0)}
    settings.DATABASE_CONNECTION_POOLING = False
    assert ids(database.check_connection_lifetime()) == ["prodkit.W204"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # PostgreSQL has a pool to recommend under ASGI; MySQL has none: Django's advice is 0.
        pytest.param(_pg(CONN_MAX_AGE=0), ["prodkit.W204"], id="pg"),
        pytest.param(_mysql(CONN_MAX_AGE=0), [], id="mysql"),
    ],
)
def test_w204_under_asgi(settings, monkeypatch, entry, expected):
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn_worker.UvicornWorker")
    settings.DATABASES = {"default": entry}
    assert ids(database.check_connection_lifetime()) == expected


@pytest.mark.parametrize(
    ("max_age", "health", "expected"),
    [
        pytest.param(600, False, ["prodkit.W205"], id="600-no-health-checks"),
        pytest.param(None, False, ["prodkit.W205", "prodkit.I206"], id="forever-no-health"),
        pytest.param(600, True, [], id="600-health-checks"),
        pytest.param(None, True, ["prodkit.I206"], id="forever"),
    ],
)
def test_w205_i206_persistent_connections(settings, max_age, health, expected):
    settings.DATABASES = {"default": _pg(CONN_MAX_AGE=max_age, CONN_HEALTH_CHECKS=health)}
    assert ids(database.check_connection_lifetime()) == expected


def test_w205_default_health_checks_are_off(settings):
    entry = _pg()
    del entry["CONN_HEALTH_CHECKS"]
    settings.DATABASES = {"default": entry}
    [message] = database.check_connection_lifetime()
    assert message.id == "prodkit.W205"
    assert "CONN_MAX_AGE is 600" in message.msg


def test_w205_sqlite_needs_no_health_checks(settings):
    settings.DATABASES = {"default": {**_sqlite("db.sqlite3"), "CONN_MAX_AGE": 600}}
    assert database.check_connection_lifetime() == []


@pytest.mark.parametrize(
    ("worker", "asgi_application", "expected"),
    [
        # Unset, prodkit's gunicorn config runs gthread for the example, which has no async view.
        pytest.param(None, None, [], id="gunicorn-conf-default-sync-project"),
        pytest.param("uvicorn_worker.UvicornWorker", None, ["prodkit.I207"], id="uvicorn"),
        pytest.param("gthread", "project.asgi.application", ["prodkit.I207"], id="asgi-app"),
        pytest.param("gthread", None, [], id="gthread"),
        pytest.param("sync", None, [], id="sync"),
    ],
)
def test_i207_persistent_connections_under_asgi(
    settings, monkeypatch, worker, asgi_application, expected
):
    if worker is None:
        monkeypatch.delenv("PRODKIT_WORKER_CLASS")
    else:
        monkeypatch.setenv("PRODKIT_WORKER_CLASS", worker)
    settings.ASGI_APPLICATION = asgi_application
    settings.DATABASES = {"default": _pg()}
    assert ids(database.check_connection_lifetime()) == expected


def test_i207_says_why_the_site_counts_as_asgi(settings, monkeypatch):
    monkeypatch.delenv("PRODKIT_WORKER_CLASS")
    settings.ROOT_URLCONF = "tests.urls_async"
    settings.DATABASES = {"default": _pg()}
    [message] = database.check_connection_lifetime()
    assert "gunicorn runs uvicorn_worker.UvicornWorker: 4 async view(s)" in message.msg
    assert "PRODKIT_DB_POOL=true" in message.hint


def test_i207_pool_under_asgi_passes(settings, monkeypatch):
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn_worker.UvicornWorker")
    settings.DATABASES = {"default": _pg(CONN_MAX_AGE=0, OPTIONS={"pool": True})}
    assert database.check_connection_lifetime() == []


# --- W208, E209 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(_pg(OPTIONS={}), ["prodkit.W208"], id="pg-no-sslmode"),
        pytest.param(_pg(OPTIONS={"sslmode": "prefer"}), ["prodkit.W208"], id="pg-prefer"),
        pytest.param(_pg(OPTIONS={"sslmode": "allow"}), ["prodkit.W208"], id="pg-allow"),
        pytest.param(_pg(OPTIONS={"sslmode": "disable"}), ["prodkit.W208"], id="pg-disable"),
        pytest.param(_pg(OPTIONS={"sslmode": "require"}), [], id="pg-require"),
        pytest.param(_pg(OPTIONS={"sslmode": "verify-full"}), [], id="pg-verify-full"),
        pytest.param(_pg(OPTIONS={}, HOST="127.0.0.1"), [], id="pg-loopback"),
        pytest.param(_pg(OPTIONS={}, HOST="localhost"), [], id="pg-localhost"),
        pytest.param(_pg(OPTIONS={}, HOST="/var/run/postgresql"), [], id="pg-unix-socket"),
        pytest.param(_pg(OPTIONS={}, HOST=""), [], id="pg-default-socket"),
        pytest.param(
            _pg(OPTIONS={}, HOST="127.0.0.1,db2.example.com"), ["prodkit.W208"], id="pg-multi-host"
        ),
        pytest.param(_pg(OPTIONS={"service": "app"}), [], id="pg-service-file"),
        pytest.param(_mysql(OPTIONS={}), ["prodkit.W208"], id="mysql-no-ssl-mode"),
        pytest.param(
            _mysql(OPTIONS={"ssl_mode": "PREFERRED"}), ["prodkit.W208"], id="mysql-preferred"
        ),
        pytest.param(_mysql(OPTIONS={"ssl_mode": "REQUIRED"}), [], id="mysql-required"),
        pytest.param(_mysql(OPTIONS={"ssl": {"ca": "/etc/ssl/ca.pem"}}), [], id="mysql-ssl-dict"),
        pytest.param(
            _mssql(OPTIONS={"driver": "ODBC Driver 17 for SQL Server"}),
            ["prodkit.W208"],
            id="mssql-driver-17",
        ),
        pytest.param(_mssql(OPTIONS={}), ["prodkit.W208"], id="mssql-default-driver-17"),
        pytest.param(
            _mssql(OPTIONS={"extra_params": "Encrypt=no"}), ["prodkit.W208"], id="mssql-encrypt-no"
        ),
        pytest.param(
            _mssql(
                OPTIONS={"driver": "ODBC Driver 17 for SQL Server", "extra_params": "Encrypt=yes"}
            ),
            [],
            id="mssql-encrypt-yes",
        ),
        pytest.param(
            _mssql(OPTIONS={"driver": "ODBC Driver 18 for SQL Server"}), [], id="mssql-driver-18"
        ),
        pytest.param(_sqlite("db.sqlite3"), [], id="sqlite"),
    ],
)
def test_w208_remote_database_without_required_tls(settings, entry, expected):
    settings.DATABASES = {"default": entry}
    assert ids(database.check_database_tls()) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param("require", [], id="require"),
        pytest.param("prefer", ["prodkit.W208"], id="prefer"),
    ],
)
def test_w208_pgsslmode_variable_counts(settings, monkeypatch, mode, expected):
    monkeypatch.setenv("PGSSLMODE", mode)
    settings.DATABASES = {"default": _pg(OPTIONS={})}
    assert ids(database.check_database_tls()) == expected


def test_w208_names_the_host_and_the_mode(settings):
    settings.DATABASES = {"default": _pg(OPTIONS={"sslmode": "prefer"})}
    [message] = database.check_database_tls()
    assert "db.example.com" in message.msg
    assert "OPTIONS['sslmode'] is 'prefer'" in message.msg
    assert "sslmode=require" in message.hint


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            _pg(HOST="app.postgres.database.azure.com", OPTIONS={"sslmode": "disable"}),
            ["prodkit.E209"],
            id="azure-pg-disable",
        ),
        pytest.param(
            _pg(HOST="app.privatelink.postgres.database.azure.com", OPTIONS={"sslmode": "disable"}),
            ["prodkit.E209"],
            id="azure-pg-private-link",
        ),
        pytest.param(
            _mysql(HOST="app.mysql.database.azure.com", OPTIONS={"ssl_mode": "DISABLED"}),
            ["prodkit.E209"],
            id="azure-mysql-disabled",
        ),
        pytest.param(
            _mssql(
                HOST="tcp:app.database.windows.net,1433", OPTIONS={"extra_params": "Encrypt=no"}
            ),
            ["prodkit.E209"],
            id="azure-sql-encrypt-no",
        ),
        pytest.param(
            _pg(HOST="app.postgres.database.azure.com", OPTIONS={"sslmode": "prefer"}),
            ["prodkit.W208"],
            id="azure-pg-prefer-is-w208",
        ),
        pytest.param(
            _pg(HOST="app.postgres.database.azure.com", OPTIONS={"sslmode": "require"}),
            [],
            id="azure-pg-require",
        ),
        pytest.param(
            _pg(HOST="app.mysql.database.azure.com", OPTIONS={"sslmode": "disable"}),
            ["prodkit.W208"],
            id="azure-mysql-host-on-postgres-engine",
        ),
    ],
)
def test_e209_tls_off_for_an_azure_database(settings, entry, expected):
    settings.DATABASES = {"default": entry}
    assert ids(database.check_database_tls()) == expected


# --- I210 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(_pg(OPTIONS={"sslmode": "require"}), ["prodkit.I210"], id="pg-missing"),
        pytest.param(
            _pg(OPTIONS={"sslmode": "require", "connect_timeout": 0}),
            ["prodkit.I210"],
            id="pg-zero",
        ),
        pytest.param(_pg(), [], id="pg-10s"),
        pytest.param(_pg(OPTIONS={}, HOST="127.0.0.1"), [], id="pg-loopback"),
        pytest.param(_mysql(OPTIONS={"ssl_mode": "REQUIRED"}), ["prodkit.I210"], id="mysql"),
        pytest.param(_mysql(), [], id="mysql-10s"),
        pytest.param(
            _mssql(OPTIONS={"driver": "ODBC Driver 18 for SQL Server"}),
            ["prodkit.I210"],
            id="mssql",
        ),
        pytest.param(_mssql(), [], id="mssql-10s"),
    ],
)
def test_i210_no_connect_timeout(settings, entry, expected):
    settings.DATABASES = {"default": entry}
    assert ids(database.check_connect_timeout()) == expected


def test_i210_names_the_engines_option(settings):
    settings.DATABASES = {"default": _mssql(OPTIONS={})}
    [message] = database.check_connect_timeout()
    assert "connection_timeout" in message.msg


def test_i210_pgconnect_timeout_variable_counts(settings, monkeypatch):
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "5")
    settings.DATABASES = {"default": _pg(OPTIONS={"sslmode": "require"})}
    assert database.check_connect_timeout() == []


# --- W211 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(_pg(PASSWORD=""), ["prodkit.W211"], id="pg-empty"),
        pytest.param(_pg(), [], id="pg-password"),
        pytest.param(_pg(PASSWORD="", HOST="localhost"), [], id="pg-local"),
        pytest.param(
            _pg(PASSWORD="", OPTIONS={"sslmode": "verify-full", "sslcert": "/run/client.crt"}),
            [],
            id="pg-client-certificate",
        ),
        pytest.param(_pg(PASSWORD="", OPTIONS={"passfile": "/run/pgpass"}), [], id="pg-passfile"),
        pytest.param(_mysql(PASSWORD=""), ["prodkit.W211"], id="mysql-empty"),
        pytest.param(
            _mysql(PASSWORD="", OPTIONS={"read_default_file": "/etc/mysql/app.cnf"}),
            [],
            id="mysql-option-file",
        ),
        pytest.param(_mssql(PASSWORD=""), ["prodkit.W211"], id="mssql-empty"),
        pytest.param(_mssql(PASSWORD="", USER=""), [], id="mssql-integrated"),
        pytest.param(
            _mssql(PASSWORD="", OPTIONS={"extra_params": "Authentication=ActiveDirectoryMsi"}),
            [],
            id="mssql-managed-identity",
        ),
    ],
)
def test_w211_empty_password_to_remote_host(settings, entry, expected):
    settings.DATABASES = {"default": entry}
    assert ids(database.check_database_password()) == expected


@pytest.mark.parametrize(
    "variable",
    [pytest.param("PGPASSWORD", id="pgpassword"), pytest.param("PGPASSFILE", id="pgpassfile")],
)
def test_w211_libpq_variables_count(settings, monkeypatch, variable):
    monkeypatch.setenv(variable, "/run/secret")
    settings.DATABASES = {"default": _pg(PASSWORD="")}
    assert database.check_database_password() == []


def test_w211_pgpass_file_counts(settings, tmp_path):
    (tmp_path / ".pgpass").write_text("db.example.com:5432:app:app:x\n")
    settings.DATABASES = {"default": _pg(PASSWORD="")}
    assert database.check_database_password() == []


# --- Engines prodkit does not know by name ---------------------------------------------------


@pytest.fixture
def custom_engine(tmp_path, monkeypatch):
    """An engine subclassing Django's PostgreSQL backend, as token-auth backends do."""
    package = tmp_path / "tokenauth_backend"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(
        "from django.db.backends.postgresql.base import DatabaseWrapper as Base\n\n\n"
        "class DatabaseWrapper(Base):\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tokenauth_backend"


def test_custom_engine_is_classified_by_vendor(settings, custom_engine):
    settings.DATABASES = {"default": _pg(ENGINE=custom_engine, OPTIONS={}, PASSWORD="")}
    found = ids(_run_all())
    assert "prodkit.W208" in found
    assert "prodkit.I210" in found
    # It may sign in its own way (an Entra ID token): no W211.
    assert "prodkit.W211" not in found


def test_engine_that_does_not_import_is_left_to_django(settings):
    settings.DATABASES = {"default": _pg(ENGINE="no.such.backend", OPTIONS={}, PASSWORD="")}
    assert _run_all() == []


# --- Whole settings --------------------------------------------------------------------------


def test_hand_written_postgres_settings_are_caught(settings):
    settings.DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "shop",
            "USER": "shop",
            "PASSWORD": SECRET,
            "HOST": "db.internal.example.com",
            "PORT": "5432",
        }
    }
    assert sorted(ids(_run_all())) == ["prodkit.I210", "prodkit.W204", "prodkit.W208"]


def test_hand_written_sqlite_settings_are_caught_on_app_service(settings, monkeypatch, tmp_path):
    settings.PRODKIT_INSTANCES = None
    monkeypatch.setenv("WEBSITE_SITE_NAME", "shop")
    settings.DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "db.sqlite3"}
    }
    assert ids(_run_all()) == ["prodkit.E202"]


def test_database_from_url_for_azure_postgres_passes(settings):
    url = f"postgres://app:{SECRET}@shop.postgres.database.azure.com:5432/shop"
    settings.DATABASES = {"default": database_from_url(url)}
    assert _run_all() == []


def test_database_from_url_under_asgi_is_told_about_the_pool(settings, monkeypatch):
    monkeypatch.delenv("PRODKIT_WORKER_CLASS")
    settings.ROOT_URLCONF = "tests.urls_async"
    url = f"postgres://app:{SECRET}@shop.postgres.database.azure.com:5432/shop"
    settings.DATABASES = {"default": database_from_url(url)}
    assert ids(_run_all()) == ["prodkit.I207"]
    settings.DATABASES = {"default": database_from_url(url, pool=True)}
    assert _run_all() == []


def test_database_from_url_mysql_without_tls_is_caught(settings):
    url = f"mysql://app:{SECRET}@mysql.example.com:3306/shop"
    settings.DATABASES = {"default": database_from_url(url)}
    assert ids(_run_all()) == ["prodkit.W208"]


def test_database_from_env_sqlite_default_is_tuned(settings, several_processes, tmp_path):
    entry = database_from_env(Env(environ={}), default=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    settings.DATABASES = {"default": entry}
    assert _run_all() == []


def test_database_from_env_sqlite_is_caught_on_several_instances(
    settings, several_instances, tmp_path
):
    entry = database_from_env(Env(environ={}), default=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    settings.DATABASES = {"default": entry}
    assert ids(_run_all()) == ["prodkit.E202"]


def test_every_alias_is_checked(settings):
    settings.DATABASES = {"default": _pg(), "replica": _pg(OPTIONS={"connect_timeout": 5})}
    [message] = database.check_database_tls()
    assert message.obj == "settings.DATABASES['replica']"
    assert "'replica'" in message.msg


def test_no_message_shows_a_password(settings, several_instances, monkeypatch):
    monkeypatch.delenv("PRODKIT_WORKER_CLASS")
    settings.DATABASES = {
        "default": _pg(CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=False, OPTIONS={"password": SECRET}),
        "mysql": _mysql(CONN_MAX_AGE=0, OPTIONS={"ssl_mode": "DISABLED"}),
        "mssql": _mssql(OPTIONS={"extra_params": f"Encrypt=no;PWD={SECRET}"}),
        "azure": _pg(
            HOST="shop.postgres.database.azure.com",
            OPTIONS={"sslmode": "disable", "passfile": SECRET},
        ),
        "cache": _sqlite(SECRET),
    }
    messages = _run_all()
    assert len(messages) >= 8
    for message in messages:
        assert SECRET not in f"{message.msg} {message.hint} {message.obj}"


def test_checks_reach_django_check_command(settings, several_instances):
    settings.DATABASES = {"default": _sqlite("db.sqlite3")}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E202"):
        call_command("check", deploy=True, tags=["database"], fail_level="ERROR")
