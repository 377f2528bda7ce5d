"""Fixtures of the storage tests: Azurite (plain and with HTTPS + OAuth), containers, a "CDN"
in front of it, a token credential and a managed-identity endpoint of our own."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient

from django_prodkit.settings.storages import azure_storages
from tests.servers import (
    AZURITE_ACCOUNT,
    AZURITE_BLOB,
    AZURITE_KEY,
    azurite_server,
    free_port,
    own_azurite,
    require_binary,
    self_signed_certificate,
    serving,
)

# The settings azure_storages() returns besides STORAGES; a test applies them all.
STORAGE_SETTINGS = (
    "STATIC_URL",
    "STATIC_ROOT",
    "MEDIA_URL",
    "STORAGES",
    "PRODKIT_STORAGE_ACCOUNT_URL",
    "PRODKIT_STORAGE_ACCOUNT_NAME",
    "PRODKIT_STORAGE_ACCOUNT_KEY",
    "PRODKIT_STORAGE_SAS_TOKEN",
    "PRODKIT_STORAGE_CLIENT_ID",
    "PRODKIT_STORAGE_DOMAIN",
    "PRODKIT_STATIC_CONTAINER",
    "PRODKIT_MEDIA_CONTAINER",
    "PRODKIT_MEDIA_PRIVATE",
    "PRODKIT_MEDIA_SAS_SECONDS",
    "PRODKIT_MEDIA_MAX_BYTES",
    "PRODKIT_MEDIA_OVERWRITE",
)


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """The connection string of an Azurite blob service of the test session's own."""
    with own_azurite() as connection_string:
        yield connection_string


def account_url(connection_string: str) -> str:
    """The blob endpoint in an Azurite connection string."""
    return connection_string.split("BlobEndpoint=")[1].rstrip(";")


@pytest.fixture(scope="session")
def azurite_url(azurite) -> str:
    """Azurite's blob endpoint, http://127.0.0.1:PORT/devstoreaccount1."""
    return account_url(azurite)


@pytest.fixture(scope="session")
def service(azurite) -> Iterator[BlobServiceClient]:
    """A client of the session's Azurite, for setting up and looking at containers."""
    with BlobServiceClient.from_connection_string(azurite) as client:
        yield client


@pytest.fixture
def containers(service) -> Iterator[tuple[str, str]]:
    """A new (static, media) pair of containers: static public-read, media private."""
    suffix = uuid.uuid4().hex[:10]
    static, media = f"static-{suffix}", f"media-{suffix}"
    service.create_container(static, public_access="blob")
    service.create_container(media)
    yield static, media
    for name in (static, media):
        service.delete_container(name)


@pytest.fixture
def use_azure(settings, azurite, containers, tmp_path):
    """Apply ``azure_storages(**overrides)`` (the session's Azurite and this test's
    containers by default) to the settings; return the settings it made."""

    def apply(**overrides):
        static, media = containers
        arguments = {
            "connection_string": azurite,
            "static_root": tmp_path / "staticfiles",
            "static_container": static,
            "media_container": media,
            **overrides,
        }
        made = azure_storages(**arguments)
        for name in STORAGE_SETTINGS:
            setattr(settings, name, made[name])
        return made

    return apply


def fetch(url: str, *, context=None) -> tuple[int, Message, bytes]:
    """GET ``url`` (always 127.0.0.1 here): status, headers (any case), body; errors are
    answers too."""
    assert urlsplit(url).hostname == "127.0.0.1", url
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


# --- A CDN in front of Azurite: a reverse proxy on a port of its own, with an origin path
# (Front Door's "origin path": the account segment of Azurite's path-style URLs).


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: CDN

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        status, headers, body = fetch(self.server.origin + self.path)
        self.send_response(status)
        for name in ("Content-Type", "Cache-Control", "Content-Disposition", "ETag"):
            if name in headers:
                self.send_header(name, headers[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class CDN(http.server.ThreadingHTTPServer):
    """A reverse proxy on 127.0.0.1: ``url`` (its public base) and the ``paths`` it served."""

    daemon_threads = True

    def __init__(self, origin: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.origin = origin
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def own_cdn(origin: str) -> Iterator[CDN]:
    """A CDN stand-in forwarding every GET to ``origin`` + path."""
    server = CDN(origin)
    with serving(server):
        yield server


@pytest.fixture(scope="session")
def cdn(azurite_url) -> Iterator[CDN]:
    """The CDN stand-in in front of the session's Azurite."""
    with own_cdn(azurite_url) as server:
        yield server


# --- Tokens: Azurite's OAuth "basic" level checks issuer, audience and lifetime, not the
# signature, so an unsigned JWT of the right shape stands in for Entra ID's.

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OBJECT_ID = "11059fcc-5514-4800-b5f8-49808b9cfab6"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def storage_token(lifetime: int = 3600) -> tuple[str, int]:
    """An access token for https://storage.azure.com and its expiry (epoch seconds)."""
    now = int(time.time())
    claims = {
        "aud": "https://storage.azure.com",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + lifetime,
        "oid": OBJECT_ID,
        "tid": TENANT,
    }
    header = {"alg": "RS256", "typ": "JWT"}
    return f"{_b64(header)}.{_b64(claims)}.c2lnbmF0dXJl", now + lifetime


@dataclass
class FakeCredential:
    """A TokenCredential handing out storage tokens; ``scopes`` records each request."""

    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        token, expires_on = storage_token()
        return AccessToken(token, expires_on)

    def close(self) -> None:
        """Nothing to close."""


# --- App Service's managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER, API
# version 2019-08-01): what azure-identity's ManagedIdentityCredential asks on App Service.


class _IdentityHandler(http.server.BaseHTTPRequestHandler):
    server: IdentityEndpoint

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        header = self.headers.get("X-IDENTITY-HEADER")
        self.server.requests.append({"path": urlsplit(self.path).path, "header": header, **query})
        if header != self.server.secret:
            self.send_response(401)
            self.end_headers()
            return
        token, expires_on = storage_token()
        body = json.dumps(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": query.get("resource", ""),
                "token_type": "Bearer",
                "client_id": query.get("client_id", "system-assigned"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class IdentityEndpoint(http.server.ThreadingHTTPServer):
    """The managed-identity endpoint stand-in: ``url``, ``secret`` and its ``requests``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IdentityHandler)
        self.secret = uuid.uuid4().hex
        self.requests: list[dict[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/msi/token"


@pytest.fixture
def identity_endpoint(monkeypatch) -> Iterator[IdentityEndpoint]:
    """App Service's managed identity, as the platform announces it to the app."""
    server = IdentityEndpoint()
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", server.url)
    monkeypatch.setenv("IDENTITY_HEADER", server.secret)
    with serving(server):
        yield server


# --- Azurite over HTTPS with OAuth: bearer tokens and user-delegation keys need both.


@dataclass
class SecureAzurite:
    """Azurite over HTTPS with OAuth: its ``account_url``, the ``ca`` file to trust and its
    ``version``."""

    account_url: str
    ca: Path
    version: tuple[int, ...]

    def require_delegation_sas(self) -> None:
        """Skip (fail under CI) unless this Azurite validates the user-delegation SAS that
        azure-storage-blob signs: from service version 2026-04-06 the string to sign has
        two more lines (srh, srq), which Azurite checks from 3.37.0 on."""
        if self.version < DELEGATION_SAS_AZURITE:
            wanted = ".".join(map(str, DELEGATION_SAS_AZURITE))
            message = (
                f"Azurite {'.'.join(map(str, self.version))} refuses the user-delegation SAS "
                f"azure-storage-blob signs; it needs azurite >= {wanted} (package.json)"
            )
            (pytest.fail if os.environ.get("CI") else pytest.skip)(message)


DELEGATION_SAS_AZURITE = (3, 37, 0)


def azurite_binary() -> tuple[Path, tuple[int, ...]]:
    """The azurite-blob to run and its version: the repository's, or the one
    PRODKIT_TEST_AZURITE_BLOB names (to try another release without changing package.json)."""
    binary = Path(os.environ.get("PRODKIT_TEST_AZURITE_BLOB") or AZURITE_BLOB)
    # node_modules/.bin/azurite-blob -> node_modules/azurite/package.json
    package = binary.parent.parent / "azurite" / "package.json"
    version = json.loads(package.read_text())["version"] if package.is_file() else "0"
    return binary, tuple(int(part) for part in version.split(".")[:3])


@pytest.fixture(scope="session")
def secure_azurite() -> Iterator[SecureAzurite]:
    """An Azurite of its own with ``--oauth basic`` over HTTPS."""
    require_binary("node", "nodejs")
    binary, version = azurite_binary()
    if not binary.exists():
        message = f"{binary} is missing (run `npm ci` at the repository root)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    location = Path(tempfile.mkdtemp(prefix="prodkit-azurite-tls-"))
    cert, key = self_signed_certificate(location, "127.0.0.1", kind="IP")
    port = free_port()
    server = azurite_server(
        binary, port, location / "data", "--oauth", "basic", "--cert", str(cert), "--key", str(key)
    )
    try:
        server.start()
        yield SecureAzurite(f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT}", cert, version)
    finally:
        server.stop()
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture(scope="session")
def secure_service(secure_azurite) -> Iterator[BlobServiceClient]:
    """A shared-key client of the HTTPS Azurite."""
    with BlobServiceClient(
        secure_azurite.account_url,
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        connection_verify=str(secure_azurite.ca),
    ) as client:
        yield client
