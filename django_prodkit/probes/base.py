"""Run live probes concurrently against one shared deadline.

Each probe runs in a daemon thread of its own. The caller waits until every probe has finished
or the deadline has passed, whichever comes first; a probe not finished by the deadline is
reported as failed ("did not answer within N s") and its thread is left behind. A daemon, it
never keeps the process alive, and each probe hands the timeout to its client as well (connect
and read timeouts, no retries), so a left-behind thread ends soon after. A dead service
therefore costs one timeout in total, never one per probe or per step.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.checks import CheckMessage
from django.db import connections

from django_prodkit.checks.registry import Outcome
from django_prodkit.redact import describe_error


@dataclass(frozen=True)
class Probe:
    """One live probe of one configured service.

    ``name`` says which (``database:default``, ``cache:pages``); ``ids`` are the live check IDs
    it evaluates; ``run`` does the work in the probe's thread and returns the findings (empty:
    every ID passed); ``failed`` turns an error text into the message for a probe that raised or
    did not finish in time.
    """

    name: str
    ids: tuple[str, ...]
    run: Callable[[], list[CheckMessage]]
    failed: Callable[[str], CheckMessage]


@dataclass
class _Slot:
    """Where a probe's thread leaves its result; ``done`` is set after ``messages``."""

    started: float = field(default_factory=time.monotonic)
    messages: list[CheckMessage] = field(default_factory=list)
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


def timeout_text(timeout: float) -> str:
    """Return the error text of a probe that did not finish within ``timeout`` seconds."""
    return f"did not answer within {timeout:g} s"


def _run(probe: Probe, slot: _Slot) -> None:
    slot.started = time.monotonic()
    try:
        messages = probe.run()
    except Exception as exc:  # a probe's failure is a finding, never a crash of the command
        messages = [probe.failed(describe_error(exc))]
    finally:
        # Database connections this thread opened (a DatabaseCache's) are its own: close them.
        with contextlib.suppress(Exception):
            connections.close_all()
    slot.messages = messages
    slot.seconds = time.monotonic() - slot.started
    slot.done.set()


def run_probes(probes: Sequence[Probe], timeout: float) -> list[Outcome]:
    """Run ``probes`` concurrently; return one live ``Outcome`` per probe, in order.

    Returns within ``timeout`` seconds (plus thread start-up), however many services hang.
    """
    started = time.monotonic()
    deadline = started + timeout
    slots = []
    for probe in probes:
        slot = _Slot()
        thread = threading.Thread(
            target=_run, args=(probe, slot), name=f"prodkit-probe-{probe.name}", daemon=True
        )
        thread.start()
        slots.append(slot)
    for slot in slots:
        slot.done.wait(max(0.0, deadline - time.monotonic()))
    outcomes = []
    for probe, slot in zip(probes, slots, strict=True):
        # Finished, and by the deadline: one that finished while the others were being
        # collected (its client's own timeout, as long as ours, fired) did not answer in time.
        if slot.done.is_set() and slot.started + slot.seconds <= deadline:
            messages, seconds = slot.messages, slot.seconds
        else:
            messages = [probe.failed(timeout_text(timeout))]
            seconds = time.monotonic() - started
        outcomes.append(Outcome(probe.name, probe.ids, messages, seconds=seconds, kind="live"))
    return outcomes


def whole_seconds(timeout: float) -> int:
    """Return ``timeout`` rounded up to whole seconds, at least 1 (drivers that take ints)."""
    return max(1, int(-(-timeout // 1)))


__all__ = ["Probe", "run_probes", "timeout_text", "whole_seconds"]
