"""run_live_probes: every probe at once, one shared deadline, one outcome per probe."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.checks.registry import registry as django_checks

from django_prodkit.checks.registry import CHECK_FUNCTIONS, REGISTRY, live_checks
from django_prodkit.probes import live_probes, run_live_probes
from django_prodkit.probes.base import Probe, run_probes
from django_prodkit.redact import describe_error
from django_prodkit.settings.database import database_from_url
from django_prodkit.settings.email import email_from_url
from tests.probes import PLANTED, shown, use_databases
from tests.servers import azurite_connection_string

LIVE_IDS = {
    "prodkit.E250",
    "prodkit.E251",
    "prodkit.E252",
    "prodkit.E450",
    "prodkit.E451",
    "prodkit.E550",
    "prodkit.E551",
    "prodkit.W650",
    "prodkit.E750",
}
EXPECTED_NAMES = [
    "database:default",
    "database:pg",
    "database:maria",
    "cache:default",
    "cache:memcached",
    "storage:default",
    "storage:staticfiles",
    "telemetry",
    "email:default",
]


def point_everything_at(settings, monkeypatch, port, tmp_path):
    """Every service in the settings at 127.0.0.1:``port``, each with a planted password."""
    use_databases(
        settings,
        pg=database_from_url(f"postgres://app:{PLANTED}@127.0.0.1:{port}/app"),
        maria=database_from_url(f"mysql://app:{PLANTED}@127.0.0.1:{port}/app"),
    )
    settings.CACHES = {
        "default": {
            "BACKEND": "django_prodkit.cache.ResilientRedisCache",
            "LOCATION": f"redis://:{PLANTED}@127.0.0.1:{port}/0",
        },
        "memcached": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"127.0.0.1:{port}",
        },
    }
    azure = {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {"connection_string": azurite_connection_string(port), "azure_container": "m"},
    }
    settings.STORAGES = {"default": azure, "staticfiles": azure}
    monkeypatch.setenv(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        f"InstrumentationKey={PLANTED};IngestionEndpoint=http://127.0.0.1:{port}/",
    )
    for name, value in email_from_url(f"smtp://u:{PLANTED}@127.0.0.1:{port}").items():
        setattr(settings, name, value)


def test_every_service_hung_at_once_costs_one_timeout(settings, monkeypatch, hung, tmp_path):
    point_everything_at(settings, monkeypatch, hung, tmp_path)
    started = time.monotonic()
    outcomes = run_live_probes(timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed <= 1.0 + 1
    assert [outcome.name for outcome in outcomes] == EXPECTED_NAMES
    for outcome in outcomes:
        assert outcome.kind == "live"
        if outcome.name == "database:default":
            continue  # the test database (SQLite in memory) answers
        [message] = outcome.messages
        assert "did not answer within 1 s" in message.msg, outcome.name
        assert message.id in outcome.ids
    assert PLANTED not in shown(outcomes)


def test_every_service_blackholed_at_once_costs_one_timeout(
    settings, monkeypatch, blackhole, tmp_path
):
    point_everything_at(settings, monkeypatch, blackhole, tmp_path)
    started = time.monotonic()
    outcomes = run_live_probes(timeout=1.0)
    assert time.monotonic() - started <= 1.0 + 1
    failed = [outcome.name for outcome in outcomes if outcome.messages]
    assert failed == EXPECTED_NAMES[1:]
    assert PLANTED not in shown(outcomes)


def test_every_service_refused_fails_fast(settings, monkeypatch, refused_port, tmp_path):
    point_everything_at(settings, monkeypatch, refused_port, tmp_path)
    started = time.monotonic()
    outcomes = run_live_probes(timeout=5.0)
    assert time.monotonic() - started < 3
    failed = {outcome.name: outcome.messages for outcome in outcomes if outcome.messages}
    assert sorted(failed) == sorted(set(EXPECTED_NAMES) - {"database:default"})
    for name, [message] in failed.items():
        assert "did not answer within" not in message.msg, name
    assert PLANTED not in shown(outcomes)


def test_timeout_defaults_to_prodkit_probe_timeout(settings, monkeypatch, hung, tmp_path):
    point_everything_at(settings, monkeypatch, hung, tmp_path)
    settings.PRODKIT_PROBE_TIMEOUT = 0.5
    started = time.monotonic()
    outcomes = run_live_probes()
    assert time.monotonic() - started <= 0.5 + 1
    assert "did not answer within 0.5 s" in outcomes[-1].messages[0].msg


def test_outcomes_say_how_long_each_probe_took():
    gate = threading.Event()
    probes = [
        Probe("quick", ("prodkit.E250",), list, failed=pytest.fail),
        Probe(
            "slow",
            ("prodkit.E550",),
            lambda: [] if gate.wait(5) else pytest.fail("never let go"),
            failed=lambda error: REGISTRY["prodkit.E550"].message(
                alias="x", backend="b", where="", error=error
            ),
        ),
    ]
    try:
        quick, slow = run_probes(probes, timeout=0.3)
    finally:
        gate.set()
    assert (quick.messages, quick.ids) == ([], ("prodkit.E250",))
    assert quick.seconds < 0.3
    assert [m.id for m in slow.messages] == ["prodkit.E550"]
    assert 0.3 <= slow.seconds < 1.3


def test_a_probe_that_finishes_after_the_deadline_did_not_answer_in_time():
    # The first probe hangs, and reporting it takes a while (a loaded machine): the second,
    # whose client gives up just after the deadline, is done by the time it is looked at.
    def failed(error: str):
        time.sleep(0.3)
        return REGISTRY["prodkit.E550"].message(alias="x", backend="b", where="", error=error)

    gate = threading.Event()
    probes = [
        Probe("hung", ("prodkit.E550",), lambda: gate.wait(5) and [], failed=failed),
        Probe("late", ("prodkit.E550",), lambda: time.sleep(0.3) or [], failed=failed),
    ]
    try:
        hung, late = run_probes(probes, timeout=0.2)
    finally:
        gate.set()
    for outcome in (hung, late):
        [message] = outcome.messages
        assert "did not answer within 0.2 s" in message.msg


def test_a_probe_that_raises_reports_through_its_spec():
    def explode():
        raise RuntimeError(f"postgres://app:{PLANTED}@db.example.com/app is broken")

    [outcome] = run_probes(
        [
            Probe(
                "database:x",
                ("prodkit.E250",),
                explode,
                failed=lambda error: REGISTRY["prodkit.E250"].message(
                    alias="x", where="postgresql at db.example.com", error=error
                ),
            )
        ],
        timeout=1.0,
    )
    [message] = outcome.messages
    assert message.id == "prodkit.E250"
    assert "RuntimeError: postgres://app:***@db.example.com/app is broken" in message.msg
    assert PLANTED not in shown([outcome])


def test_probe_threads_are_daemons(settings, monkeypatch, hung, tmp_path):
    point_everything_at(settings, monkeypatch, hung, tmp_path)
    run_live_probes(timeout=0.2)
    left = [t for t in threading.enumerate() if t.name.startswith("prodkit-probe-")]
    assert left
    assert all(thread.daemon for thread in left)


def test_probes_follow_the_settings(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.STORAGES = {}
    for name, value in email_from_url("console://").items():
        setattr(settings, name, value)
    assert [probe.name for probe in live_probes(1.0)] == ["database:default"]


def test_live_checks_are_registered_for_the_docs_not_for_django():
    live = {spec.id: spec for spec in live_checks()}
    assert LIVE_IDS.issubset(live)
    for spec in (live[i] for i in LIVE_IDS):
        assert 50 <= int(spec.id[-2:]) <= 99, spec.id
        assert spec.title
        assert spec.why
    # Django's check framework must not touch the network: no live spec is registered there.
    registered = {spec.id for specs in CHECK_FUNCTIONS.values() for spec in specs}
    assert registered.isdisjoint(LIVE_IDS)
    modules = {check.__module__ for check in django_checks.get_checks(True)}
    assert not any(module.startswith("django_prodkit.probes") for module in modules)


def test_settings_an_area_cannot_read_crash_only_that_area(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.STORAGES = ["not", "a", "dict"]
    outcomes = run_live_probes(timeout=1.0)
    assert [outcome.name for outcome in outcomes] == ["database:default", "storage"]
    [message] = outcomes[1].messages
    assert message.id == "prodkit.E000"
    assert "django_prodkit.probes.storage.probes crashed" in message.msg


def test_long_errors_are_cut_after_their_secrets_are_hidden():
    error = RuntimeError("x" * 270 + f" postgres://app:{PLANTED}@db.example.com/app")
    text = describe_error(error)
    assert PLANTED not in text
    assert PLANTED[:4] not in text
    assert text.endswith("...")
