"""Service instances a test starts (and may kill) itself, on free loopback ports.

The shared services on this machine are never stopped or reconfigured: a test that must
kill a Redis or run a memcached gets its own here.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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


@contextmanager
def process_group(
    argv: list[str], *, log: Path | None = None, stop_timeout: float = 30, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in a process group of its own, output to ``log`` (else discarded), until
    the block ends; then stop the whole group (a master and its workers): SIGTERM, and
    SIGKILL after ``stop_timeout`` seconds."""
    with open(log or os.devnull, "w") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_listening(port: int, what: str, logs: Callable[[], str], timeout: float) -> None:
    """``wait_for_port``, failing with ``what`` never listened and its ``logs()``."""
    try:
        wait_for_port(port, timeout=timeout)
    except TimeoutError:
        raise TimeoutError(f"{what} never listened on {port}:\n{logs()}") from None


S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving(server: S, poll_interval: float = 0.5) -> Iterator[S]:
    """Run ``server`` (a ``socketserver`` server of a test's own) on a daemon thread until the
    block ends; then shut it down and close its socket."""
    thread = threading.Thread(
        target=server.serve_forever, args=(poll_interval,), name=type(server).__name__, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class FrontEnd:
    """A running web server of a test's own (nginx, Apache): its ``port`` and ``directory``
    (config and logs)."""

    name: str
    port: int
    directory: Path

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def logs(self) -> str:
        """The error and access logs, for a failure message."""
        return "".join(
            f"--- {self.name} {path.name} ---\n{path.read_text() if path.exists() else '(none)'}\n"
            for path in (self.error_log, self.access_log)
        )


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
        # Azurite (Node.js) has taken over 10 s to listen on its first start after an npm
        # install, on a busy machine.
        wait_for_port(self.port, timeout=30)

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


# --- Servers for the live probes (tests/probes): Azurite, SMTP, HTTP, and a port that hangs.

REPO_ROOT = Path(__file__).resolve().parents[1]
AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's fixed development account key, published in its documentation: not a secret.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection_string(port: int, key: str = AZURITE_KEY) -> str:
    """Return the connection string of an Azurite blob service on 127.0.0.1:``port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def azurite_server(binary: Path, port: int, location: str | Path, *options: str) -> Server:
    """Azurite's blob service ``binary`` on 127.0.0.1:``port``, its data under ``location``."""
    argv = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    argv += ["--location", str(location), "--silent", "--skipApiVersionCheck", "--loose"]
    # Azurite would otherwise report telemetry to an endpoint on the internet.
    argv += ["--disableTelemetry", *options]
    return Server(argv, port)


@contextmanager
def own_azurite() -> Iterator[str]:
    """Azurite's blob service (the npm package in package.json) on a free port, its data in a
    temporary directory; yield its connection string."""
    require_binary("node", "nodejs")
    if not AZURITE_BLOB.exists():
        message = (
            f"{AZURITE_BLOB.relative_to(REPO_ROOT)} is missing "
            "(run `npm ci` at the repository root; scripts/system-deps.sh does)"
        )
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    port = free_port()
    location = tempfile.mkdtemp(prefix="prodkit-azurite-")
    server = azurite_server(AZURITE_BLOB, port, location)
    try:
        server.start()
        yield azurite_connection_string(port)
    finally:
        server.stop()
        shutil.rmtree(location, ignore_errors=True)


@contextmanager
def hung_port() -> Iterator[int]:
    """A port that accepts every TCP connection and never sends a byte: a hung service."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, name="hung-port", daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for a probe: greeting, EHLO/HELO, STARTTLS (when the server has a
    certificate), QUIT; anything else is answered 502 and recorded."""

    server: SMTPServer
    tls_socket: ssl.SSLSocket | None = None

    def reply(self, *lines: str) -> None:
        for index, line in enumerate(lines):
            separator = "-" if index < len(lines) - 1 else " "
            self.wfile.write(f"{line[:3]}{separator}{line[4:]}\r\n".encode())

    def handle(self) -> None:
        tls = False
        self.reply("220 127.0.0.1 prodkit test SMTP")
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            self.server.commands.append(command)
            verb = command.partition(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                offer_tls = self.server.context is not None and not tls
                self.reply("250 127.0.0.1", "250 8BITMIME", *(["250 STARTTLS"] * offer_tls))
            elif verb == "STARTTLS" and self.server.context is not None and not tls:
                self.reply("220 Ready to start TLS")
                self.connection = self.tls_socket = self.server.context.wrap_socket(
                    self.connection, server_side=True
                )
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb", buffering=0)
                tls = True
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def finish(self) -> None:
        super().finish()
        # socketserver closes the socket it accepted; after STARTTLS that is a detached husk.
        if self.tls_socket is not None:
            self.tls_socket.close()


class SMTPServer(socketserver.ThreadingTCPServer):
    """A tiny threaded SMTP server on 127.0.0.1: ``port``, and the ``commands`` it received."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.context = context
        self.commands: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gives up mid-handshake (an untrusted certificate) is not news."""


@contextmanager
def own_smtp(certificate: tuple[Path, Path] | None = None) -> Iterator[SMTPServer]:
    """An SMTP server on a free port; with ``certificate`` (cert, key) it offers STARTTLS."""
    context = None
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
    server = SMTPServer(context)
    with serving(server):
        yield server


def self_signed_certificate(
    directory: Path, name: str = "localhost", *, kind: str = "DNS"
) -> tuple[Path, Path]:
    """Make a one-day self-signed certificate for ``name`` (``kind`` DNS or IP) with openssl;
    return (cert, key)."""
    openssl = require_binary("openssl", "openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName={kind}:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class HTTPServer(http.server.ThreadingHTTPServer):
    """A tiny HTTP server on 127.0.0.1 answering every request with ``status`` (and
    ``headers``); ``port`` and the ``requests`` (method, path) it received."""

    daemon_threads = True

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _HTTPHandler)
        self.status = status
        self.headers = headers
        self.requests: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _HTTPHandler(http.server.BaseHTTPRequestHandler):
    server: HTTPServer

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path))
        body = b"{}"
        self.send_response(self.server.status)
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``requests``."""


@contextmanager
def own_http(status: int = 404, headers: dict[str, str] | None = None) -> Iterator[HTTPServer]:
    """An HTTP server on a free port answering ``status`` to everything (a telemetry
    collector stand-in)."""
    server = HTTPServer(status, headers or {})
    with serving(server):
        yield server


@contextmanager
def blackhole_port() -> Iterator[int]:
    """A port whose connection attempts go unanswered (a firewall that drops packets).

    A listener with a backlog of 0 that never accepts, its one queue slot taken: the kernel
    drops further SYNs, so a client's connect waits out its own timeout.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            blackholed = False
    except TimeoutError:
        blackholed = True
    try:
        if not blackholed:
            pytest.skip("this kernel answers connections beyond a listener's backlog")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
