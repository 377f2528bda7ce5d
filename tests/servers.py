"""Service instances a test starts (and may kill) itself, on free loopback ports.

The shared services on this machine are never stopped or reconfigured: a test that must
kill a Redis or run a memcached gets its own here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on 127.0.0.1:{port} after {timeout} s"
                ) from None
            time.sleep(0.05)


def require_binary(name: str, package: str) -> str:
    """Return the path of ``name``, or skip (fail under CI) naming the Debian package."""
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if path is None:
        message = (
            f"{name} is not installed (Debian package {package}; "
            "scripts/system-deps.sh installs it)"
        )
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    return path


@dataclass
class Server:
    """A server process of our own: ``port``, and ``stop()``/``start()`` for fault injection."""

    argv: list[str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def own_redis() -> Iterator[Server]:
    """A redis-server on a free port, keeping nothing on disk."""
    port = free_port()
    binary = require_binary("redis-server", "redis-server")
    server = Server(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        port,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def own_memcached() -> Iterator[Server]:
    """A memcached on a free port (64 MiB)."""
    port = free_port()
    binary = require_binary("memcached", "memcached")
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]  # memcached refuses to run as root without naming a user
    server = Server(argv, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
