"""The pure helpers of benchmarks/server.py: wrk's output and the workers' CPU split."""

from __future__ import annotations

import pytest

from benchmarks.server import cpu_split, effective_workers, parse_wrk

WRK_OUTPUT = """\
Running 4s test @ http://127.0.0.1:40123/api/photos/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.10ms   20.33ms 412.00ms   88.12%
    Req/Sec     1.23k   150.11     1.50k    70.00%
  Latency Distribution
     50%  850.00us
     75%   55.20ms
     90%   70.01ms
     99%    1.20s
  4920 requests in 4.00s, 9.81MB read
  Socket errors: connect 2, read 7, write 0, timeout 3
  Non-2xx or 3xx responses: 11
Requests/sec:   1229.77
Transfer/sec:      2.45MB
"""


def test_parse_wrk_reads_rate_percentiles_in_ms_and_errors():
    result = parse_wrk(WRK_OUTPUT)
    assert result["rps"] == pytest.approx(1229.77)
    assert result["p50_ms"] == pytest.approx(0.85)
    assert result["p75_ms"] == pytest.approx(55.2)
    assert result["p99_ms"] == pytest.approx(1200.0)
    assert result["non_2xx"] == 11
    # Connect errors and timeouts got no answer; read errors are closed connections.
    assert result["timeouts"] == 5


def test_parse_wrk_without_errors_counts_none():
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if not line.strip().startswith(("Socket", "Non"))
    )
    result = parse_wrk(clean)
    assert (result["non_2xx"], result["timeouts"]) == (0, 0)


def test_parse_wrk_refuses_output_without_a_rate():
    with pytest.raises(ValueError, match="no Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_cpu_split_counts_a_worker_started_during_the_round_from_zero():
    shares = cpu_split({10: 100, 11: 100}, {10: 160, 12: 20})
    assert shares == pytest.approx([0.75, 0.25])


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        pytest.param([1.0], 1.0, id="one-busy-worker"),
        pytest.param([0.25] * 4, 4.0, id="four-even"),
        pytest.param([0.9, 0.1], 1 / 0.82, id="piled-up"),
        pytest.param([], 0.0, id="no-cpu-used"),
    ],
)
def test_effective_workers(shares, expected):
    assert effective_workers(shares) == pytest.approx(expected)
