"""prodkit's exporter against a collector that fails, hangs or is not there, and across fork."""

from __future__ import annotations

import json
import os
import socket
import time
import tracemalloc

import pytest
from django.test import Client

from django_prodkit.telemetry.exporter import Exporter
from django_prodkit.telemetry.instrument import active_backend
from django_prodkit.telemetry.metrics import AVAILABLE_MEMORY, PROCESS_CPU, PROCESS_MEMORY
from tests.collector import INSTRUMENTATION_KEY, running_collector
from tests.servers import free_port


def envelope(n: int) -> str:
    return json.dumps(
        {
            "name": "Microsoft.ApplicationInsights.Message",
            "iKey": INSTRUMENTATION_KEY,
            "data": {"baseData": {"message": f"item {n}"}},
        }
    )


@pytest.fixture
def exporter_for():
    """Make exporters that are closed at the end of the test (no sends, no warnings after)."""
    made = []

    def make(endpoint: str, **options) -> Exporter:
        made.append(Exporter(endpoint, **options))
        return made[-1]

    yield make
    for exporter in made:
        exporter.close()


def test_sends_in_batches_and_counts(exporter_for):
    with running_collector() as collector:
        exporter = exporter_for(collector.endpoint, batch_size=100, interval=60)
        for n in range(250):
            exporter.submit(envelope(n))
        assert exporter.flush(10)
        assert len(collector.items("Message")) == 250
        assert collector.paths == ["/v2.1/track"] * 3
        assert exporter.stats().sent == 250


def test_steady_traffic_goes_in_whole_batches(exporter_for):
    # Items trickling in while a batch is sent wait for the next whole batch (or the
    # interval): draining to the last item made one small POST after another under load.
    with running_collector() as collector:
        exporter = exporter_for(collector.endpoint, batch_size=100, interval=60)
        for n in range(1000):
            exporter.submit(envelope(n))
            time.sleep(0.0005)
        assert exporter.flush(10)
        assert len(collector.items("Message")) == 1000
        assert collector.posts <= 11


def test_a_failing_collector_is_retried_a_bounded_number_of_times(exporter_for):
    with running_collector() as collector:
        collector.status = 500
        exporter = exporter_for(collector.endpoint, interval=60, retries=2)
        exporter.submit(envelope(1))
        exporter.flush(20)
        assert collector.posts == 3  # the first try and two retries, then it gives up
        stats = exporter.stats()
        assert (stats.sent, stats.failed, stats.queued) == (0, 1, 0)


def test_a_rejected_batch_is_not_retried(exporter_for):
    with running_collector() as collector:
        collector.status = 400
        exporter = exporter_for(collector.endpoint, interval=60, retries=5)
        exporter.submit(envelope(1))
        exporter.flush(10)
        assert collector.posts == 1
        assert exporter.stats().failed == 1


def test_queue_cap_holds_when_nothing_listens(exporter_for):
    exporter = exporter_for(
        f"http://127.0.0.1:{free_port()}/", queue_size=1000, interval=60, timeout=0.2, retries=0
    )
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(50_000):
            exporter.submit(envelope(n))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    stats = exporter.stats()
    assert stats.queued <= 1000
    # Every item is accounted for: dropped at the door, or given up on after the send failed.
    assert stats.dropped + stats.failed + stats.queued + stats.sent >= 50_000 - 512
    # 1,000 small dicts, not 50,000.
    assert grown < 5_000_000
    exporter.flush(2)


def test_flush_gives_up_at_its_timeout_on_a_collector_that_hangs(exporter_for):
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(16)  # accepts connections, never answers
    try:
        port = hanging.getsockname()[1]
        exporter = exporter_for(f"http://127.0.0.1:{port}/", interval=60, timeout=30, retries=3)
        exporter.submit(envelope(1))
        assert exporter.flush(1.0) is False
    finally:
        hanging.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_sends_its_own_items(exporter_for):
    with running_collector() as collector:
        exporter = exporter_for(collector.endpoint, interval=60)
        exporter.submit(envelope(1))  # starts the thread in the parent
        pid = os.fork()
        if pid == 0:  # the child: the parent's thread and queue are not inherited
            code = 1
            try:
                exporter.submit(envelope(2))
                code = 0 if exporter.flush(10) and exporter.stats().sent == 1 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert exporter.flush(10)
        messages = sorted(e["data"]["baseData"]["message"] for e in collector.items("Message"))
        assert messages == ["item 1", "item 2"]


@pytest.mark.parametrize("status", [500, None], ids=["collector-500", "collector-down"])
@pytest.mark.django_db
def test_requests_succeed_whatever_the_collector_does(settings, status):
    with running_collector() as collector:
        connection = collector.connection_string
        if status is None:
            connection = connection.replace(collector.endpoint, f"http://127.0.0.1:{free_port()}/")
        collector.status = status or 200
        settings.ROOT_URLCONF = "tests.urls_telemetry"
        settings.PRODKIT_TELEMETRY_BACKEND = "azure"
        settings.PRODKIT_TELEMETRY_CONNECTION_STRING = connection
        settings.PRODKIT_TELEMETRY_EXPORT_INTERVAL = 0.05
        settings.PRODKIT_TELEMETRY_QUEUE_SIZE = 200
        settings.PRODKIT_TELEMETRY_RETRIES = 1
        settings.PRODKIT_TELEMETRY_SEND_TIMEOUT = 0.5
        client = Client()
        statuses = {client.get(f"/articles/{n}/").status_code for n in range(600)}
        assert statuses == {200}
        backend = active_backend()
        stats = backend.stats()
        assert stats.queued <= 200
        assert stats.sent == 0
        backend.flush(1)


@pytest.mark.django_db
def test_process_counters_are_sent_periodically(settings):
    with running_collector() as collector:
        settings.ROOT_URLCONF = "tests.urls_telemetry"
        settings.PRODKIT_TELEMETRY_BACKEND = "azure"
        settings.PRODKIT_TELEMETRY_CONNECTION_STRING = collector.connection_string
        settings.PRODKIT_TELEMETRY_EXPORT_INTERVAL = 0.05
        settings.PRODKIT_TELEMETRY_METRICS_INTERVAL = 0.2
        Client().get("/articles/1/")
        assert collector.wait_for(lambda c: len(c.items("Metric")) >= 6)
        names = {m["data"]["baseData"]["metrics"][0]["name"] for m in collector.items("Metric")}
        assert names == {PROCESS_CPU, PROCESS_MEMORY, AVAILABLE_MEMORY}
        memory = [
            m["data"]["baseData"]["metrics"][0]["value"]
            for m in collector.items("Metric")
            if m["data"]["baseData"]["metrics"][0]["name"] == PROCESS_MEMORY
        ]
        assert all(value > 1_000_000 for value in memory)
        active_backend().flush(2)
