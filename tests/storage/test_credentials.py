"""Token credentials: managed identity (App Service's endpoint, a stand-in of our own) and
user-delegation SAS against an Azurite with OAuth over HTTPS."""

from __future__ import annotations

import ssl
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile

from django_prodkit.env import Env
from django_prodkit.settings.storages import azure_storages, storages_from_env
from django_prodkit.storage.azure import AzureMediaStorage, AzureStaticStorage
from tests.storage.conftest import STORAGE_SETTINGS, FakeCredential, fetch

pytestmark = pytest.mark.slow


class Requests:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request):
        self.seen.append((request.http_request.method, request.http_request.url))

    def delegation_keys(self) -> int:
        return sum("comp=userdelegationkey" in url for _, url in self.seen)


@pytest.fixture
def secure_containers(secure_service):
    suffix = uuid.uuid4().hex[:10]
    static, media = f"static-{suffix}", f"media-{suffix}"
    secure_service.create_container(static, public_access="blob")
    secure_service.create_container(media)
    yield static, media
    for name in (static, media):
        secure_service.delete_container(name)


@pytest.fixture
def token_storage(settings, secure_azurite, secure_containers, tmp_path):
    """Settings for the HTTPS Azurite with no key and no SAS token: a token credential."""

    def apply(**overrides):
        made = azure_storages(
            account_url=secure_azurite.account_url,
            static_root=tmp_path / "static",
            static_container=secure_containers[0],
            media_container=secure_containers[1],
            **overrides,
        )
        for name in STORAGE_SETTINGS:
            setattr(settings, name, made[name])
        return made

    return apply


@pytest.fixture
def tls(secure_azurite):
    return ssl.create_default_context(cafile=str(secure_azurite.ca))


def sas(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def utc(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_managed_identity_on_app_service_authenticates_uploads(
    token_storage, identity_endpoint, secure_azurite, secure_service, secure_containers, tls
):
    client_id = str(uuid.uuid4())
    made = token_storage(client_id=client_id)
    assert made["PRODKIT_STORAGE_ACCOUNT_KEY"] is None
    assert made["PRODKIT_STORAGE_SAS_TOKEN"] is None
    storage = AzureMediaStorage(client_options={"connection_verify": str(secure_azurite.ca)})
    name = storage.save("mi/hello.txt", ContentFile(b"via managed identity"))
    assert identity_endpoint.requests, "the managed-identity endpoint was never asked"
    request = identity_endpoint.requests[0]
    assert request["header"] == identity_endpoint.secret
    assert request["resource"] == "https://storage.azure.com"
    assert request["client_id"] == client_id
    data = secure_service.get_blob_client(secure_containers[1], name).download_blob().readall()
    assert data == b"via managed identity"
    # Private media: a user-delegation SAS, signed with the key the identity obtained.
    url = storage.url(name)
    assert "skoid=" in url
    secure_azurite.require_delegation_sas()
    assert fetch(url, context=tls)[::2] == (200, b"via managed identity")


def test_storage_builds_default_azure_credential_only_when_first_used(token_storage, monkeypatch):
    from azure.identity import DefaultAzureCredential

    token_storage()
    storage = AzureStaticStorage()
    assert storage.token_credential is None
    assert isinstance(storage._credential(), DefaultAzureCredential)
    assert storage._credential() is storage._credential()


def test_user_delegation_sas_works_then_expires(token_storage, secure_azurite, tls):
    token_storage(media_sas_seconds=2)
    credential = FakeCredential()
    storage = AzureMediaStorage(
        token_credential=credential,
        client_options={"connection_verify": str(secure_azurite.ca)},
    )
    name = storage.save("ud/soon.txt", ContentFile(b"delegated"))
    url = storage.url(name)
    fields = sas(url)
    assert fields["skoid"]
    assert fields["sktid"]
    assert "sig" in fields
    secure_azurite.require_delegation_sas()
    assert fetch(url, context=tls)[::2] == (200, b"delegated")
    time.sleep(max(0.0, (utc(fields["se"]) - datetime.now(UTC)).total_seconds()) + 1.5)
    assert fetch(url, context=tls)[0] == 403


def test_delegation_key_is_cached_and_starts_in_the_past(token_storage, secure_azurite, tls):
    token_storage()
    seen = Requests()
    storage = AzureMediaStorage(
        token_credential=FakeCredential(),
        client_options={"connection_verify": str(secure_azurite.ca), "raw_request_hook": seen},
    )
    name = storage.save("ud/cached.txt", ContentFile(b"cached key"))
    urls = [storage.url(name) for _ in range(5)]
    assert seen.delegation_keys() == 1
    fields = sas(urls[-1])
    now = datetime.now(UTC)
    # Skew-tolerant: the key and the SAS are valid from minutes before this clock's now.
    assert utc(fields["skt"]) <= now - timedelta(minutes=15)
    assert utc(fields["st"]) <= now - timedelta(minutes=14)
    assert utc(fields["ske"]) >= now + timedelta(hours=23)
    secure_azurite.require_delegation_sas()
    assert fetch(urls[-1], context=tls)[::2] == (200, b"cached key")


def test_delegation_key_is_renewed_when_a_sas_would_outlive_it(token_storage, secure_azurite):
    token_storage()
    seen = Requests()
    storage = AzureMediaStorage(
        token_credential=FakeCredential(),
        client_options={"connection_verify": str(secure_azurite.ca), "raw_request_hook": seen},
    )
    now = datetime.now(UTC)
    first = storage.delegation_key(now, now + timedelta(hours=1))
    assert storage.delegation_key(now, now + timedelta(hours=20)) is first
    assert seen.delegation_keys() == 1
    renewed = storage.delegation_key(now, now + timedelta(days=2))
    assert renewed is not first
    assert seen.delegation_keys() == 2
    assert utc(renewed.signed_expiry) >= now + timedelta(days=2)


def test_service_connector_variables_configure_the_token_path(settings, tmp_path):
    env = Env(
        environ={
            "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://prodkitdemo.blob.core.windows.net/",
            "AZURE_STORAGEBLOB_CLIENTID": "00000000-0000-0000-0000-000000000001",
        }
    )
    made = storages_from_env(env, base_dir=tmp_path)
    for name in STORAGE_SETTINGS:
        setattr(settings, name, made[name])
    storage = AzureMediaStorage()
    assert storage.account_url == "https://prodkitdemo.blob.core.windows.net"
    assert storage.account_name == "prodkitdemo"
    assert (storage.account_key, storage.sas_token) == (None, None)
    assert storage.client_id == "00000000-0000-0000-0000-000000000001"
    assert storage.url("a.png", expire=0) == (
        "https://prodkitdemo.blob.core.windows.net/media/a.png"
    )
