"""The standard performance counters of this process, for the ``azure`` backend.

Once a minute the exporter thread sends what opencensus-ext-azure's standard metrics send
(they land in ``performanceCounters`` / ``AppPerformanceCounters``): the process's CPU share
and memory, and the memory the machine has left. Read from ``os.times()`` and ``/proc``
(Linux, where App Service and containers run); a counter that cannot be read is left out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django_prodkit.telemetry.envelopes import EnvelopeBuilder

PROCESS_CPU = "\\Process(??APP_WIN32_PROC??)\\% Processor Time"
PROCESS_MEMORY = "\\Process(??APP_WIN32_PROC??)\\Private Bytes"
AVAILABLE_MEMORY = "\\Memory\\Available Bytes"
PERIOD = 60.0


class ProcessCounters:
    """Returns the counters' envelopes each time it is called (on the exporter thread)."""

    def __init__(self, builder: EnvelopeBuilder) -> None:
        self.builder = builder
        self._last = (time.monotonic(), _cpu_seconds())
        self._cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1

    def __call__(self) -> list[str]:
        now, cpu = time.monotonic(), _cpu_seconds()
        then, cpu_then = self._last
        self._last = (now, cpu)
        at = time.time()
        items = []
        if now > then:
            share = (cpu - cpu_then) / (now - then) / self._cores * 100.0
            items.append(self.builder.metric(PROCESS_CPU, round(share, 2), at))
        for name, value in ((PROCESS_MEMORY, _private_bytes()), (AVAILABLE_MEMORY, _available())):
            if value is not None:
                items.append(self.builder.metric(name, float(value), at))
        return items


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _private_bytes() -> int | None:
    # /proc/self/statm: size resident shared text lib data dt, in pages; private = resident -
    # shared.
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


__all__ = ["AVAILABLE_MEMORY", "PERIOD", "PROCESS_CPU", "PROCESS_MEMORY", "ProcessCounters"]
