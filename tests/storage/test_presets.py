"""The STORAGES presets: local files unless a blob account is configured, Azure when it is;
every credential form, and errors that name the variable and hide the secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env
from django_prodkit.settings import production_settings
from django_prodkit.settings.storages import (
    AZURE_MANIFEST_STATIC_STORAGE,
    AZURE_MEDIA_STORAGE,
    AZURE_STATIC_STORAGE,
    DEVELOPMENT_KEY,
    azure_storages,
    local_storages,
    parse_storage_connection_string,
    storages_from_env,
)

BASE = Path("/srv/app")
# Well-formed, base64, and planted: it must appear in no message.
KEY = "UExBTlRFRC1TRUNSRVQtQUNDT1VOVC1LRVktVkFMVUUtMTIzNDU2Nzg5MA=="
SAS = "sv=2024-11-04&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=PLANTEDSASSIGNATURE%3D"
CONNECTION = (
    f"DefaultEndpointsProtocol=https;AccountName=prodkitdemo;AccountKey={KEY};"
    "EndpointSuffix=core.windows.net"
)


def from_env(**variables):
    return storages_from_env(Env(environ=variables), base_dir=BASE)


# --- Choosing.


def test_without_an_account_the_storages_are_local_as_before():
    assert from_env() == local_storages(static_root=BASE / "staticfiles", media_root=BASE / "media")


def test_local_variables_still_apply():
    made = from_env(DJANGO_STATIC_ROOT="/s", DJANGO_MEDIA_URL="/uploads/")
    assert made["STATIC_ROOT"] == Path("/s")
    assert made["MEDIA_URL"] == "/uploads/"


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"AZURE_STORAGE_CONNECTION_STRING": CONNECTION}, id="connection-string"),
        pytest.param({"AZURE_STORAGEBLOB_CONNECTIONSTRING": CONNECTION}, id="service-connector"),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "AZURE_STORAGE_ACCOUNT_KEY": KEY},
            id="name-and-key",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "AZURE_STORAGE_SAS_TOKEN": SAS},
            id="sas-token",
        ),
        pytest.param({"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo"}, id="managed-identity"),
        pytest.param(
            {"AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://prodkitdemo.blob.core.windows.net/"},
            id="service-connector-identity",
        ),
    ],
)
def test_a_blob_account_puts_static_and_media_on_azure(variables):
    made = from_env(**variables)
    assert made["STORAGES"] == {
        "default": {"BACKEND": AZURE_MEDIA_STORAGE},
        "staticfiles": {"BACKEND": AZURE_MANIFEST_STATIC_STORAGE},
    }
    assert made["PRODKIT_STORAGE_ACCOUNT_URL"] == "https://prodkitdemo.blob.core.windows.net"
    assert made["PRODKIT_STORAGE_ACCOUNT_NAME"] == "prodkitdemo"
    assert made["STATIC_URL"] == "https://prodkitdemo.blob.core.windows.net/static/"
    assert made["MEDIA_URL"] == "https://prodkitdemo.blob.core.windows.net/media/"
    assert made["STATIC_ROOT"] == BASE / "staticfiles"


@pytest.mark.parametrize(
    ("variables", "key", "sas"),
    [
        pytest.param({"AZURE_STORAGE_CONNECTION_STRING": CONNECTION}, KEY, None, id="connection"),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "AZURE_STORAGE_SAS_TOKEN": "?" + SAS},
            None,
            SAS,
            id="sas-without-question-mark",
        ),
        pytest.param({"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo"}, None, None, id="token"),
    ],
)
def test_each_credential_is_handed_on_one_way(variables, key, sas):
    made = from_env(**variables)
    assert (made["PRODKIT_STORAGE_ACCOUNT_KEY"], made["PRODKIT_STORAGE_SAS_TOKEN"]) == (key, sas)


def test_managed_identity_client_id_comes_from_service_connector_or_azure_identity():
    endpoint = {"AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://prodkitdemo.blob.core.windows.net"}
    made = from_env(**endpoint, AZURE_STORAGEBLOB_CLIENTID="sc-id", AZURE_CLIENT_ID="other")
    assert made["PRODKIT_STORAGE_CLIENT_ID"] == "sc-id"
    assert from_env(**endpoint, AZURE_CLIENT_ID="mine")["PRODKIT_STORAGE_CLIENT_ID"] == "mine"
    assert from_env(**endpoint)["PRODKIT_STORAGE_CLIENT_ID"] is None


def test_secrets_may_come_from_files(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    made = from_env(
        AZURE_STORAGE_ACCOUNT_NAME="prodkitdemo", AZURE_STORAGE_ACCOUNT_KEY_FILE=str(key_file)
    )
    assert made["PRODKIT_STORAGE_ACCOUNT_KEY"] == KEY
    conn_file = tmp_path / "conn"
    conn_file.write_text(CONNECTION)
    made = from_env(AZURE_STORAGE_CONNECTION_STRING_FILE=str(conn_file))
    assert made["PRODKIT_STORAGE_ACCOUNT_KEY"] == KEY


def test_prodkit_storage_local_ignores_an_account_and_azure_demands_one():
    assert from_env(PRODKIT_STORAGE="local", AZURE_STORAGE_CONNECTION_STRING=CONNECTION) == (
        from_env()
    )
    with pytest.raises(
        ImproperlyConfigured, match="No storage account: set AZURE_STORAGE_CONNECTION"
    ):
        from_env(PRODKIT_STORAGE="azure")


def test_prodkit_settings_have_their_defaults():
    made = from_env(AZURE_STORAGE_ACCOUNT_NAME="prodkitdemo")
    assert {k: v for k, v in made.items() if k.startswith(("PRODKIT_STATIC", "PRODKIT_MEDIA"))} == {
        "PRODKIT_STATIC_CONTAINER": "static",
        "PRODKIT_MEDIA_CONTAINER": "media",
        "PRODKIT_MEDIA_PRIVATE": True,
        "PRODKIT_MEDIA_SAS_SECONDS": 3600,
        "PRODKIT_MEDIA_MAX_BYTES": 50 * 1024 * 1024,
        "PRODKIT_MEDIA_OVERWRITE": False,
    }
    assert made["PRODKIT_STORAGE_DOMAIN"] is None


def test_every_prodkit_variable_is_read():
    made = from_env(
        AZURE_STORAGE_ACCOUNT_NAME="prodkitdemo",
        PRODKIT_STATIC_CONTAINER="web-static",
        PRODKIT_MEDIA_CONTAINER="uploads",
        PRODKIT_STORAGE_DOMAIN="cdn.example.com",
        PRODKIT_STATIC_MANIFEST="false",
        PRODKIT_MEDIA_PRIVATE="false",
        PRODKIT_MEDIA_SAS_SECONDS="600",
        PRODKIT_MEDIA_MAX_BYTES="0",
        PRODKIT_MEDIA_OVERWRITE="true",
        DJANGO_STATIC_URL="/static/",
    )
    assert made["STORAGES"]["staticfiles"] == {"BACKEND": AZURE_STATIC_STORAGE}
    assert made["PRODKIT_STORAGE_DOMAIN"] == "https://cdn.example.com"
    assert made["STATIC_URL"] == "/static/"
    assert made["MEDIA_URL"] == "https://cdn.example.com/uploads/"
    assert (made["PRODKIT_STATIC_CONTAINER"], made["PRODKIT_MEDIA_CONTAINER"]) == (
        "web-static",
        "uploads",
    )
    assert made["PRODKIT_MEDIA_PRIVATE"] is False
    assert made["PRODKIT_MEDIA_SAS_SECONDS"] == 600
    assert made["PRODKIT_MEDIA_MAX_BYTES"] is None
    assert made["PRODKIT_MEDIA_OVERWRITE"] is True


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        pytest.param("cdn.example.com", "https://cdn.example.com", id="host"),
        pytest.param("https://cdn.example.com/", "https://cdn.example.com", id="url"),
        pytest.param("https://example.com/assets", "https://example.com/assets", id="path"),
        pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="port"),
    ],
)
def test_public_domain_forms(domain, expected):
    made = azure_storages(static_root=BASE, account_name="prodkitdemo", domain=domain)
    assert made["PRODKIT_STORAGE_DOMAIN"] == expected
    assert made["STATIC_URL"] == f"{expected}/static/"


# --- Connection strings.


@pytest.mark.parametrize(
    ("value", "url", "name"),
    [
        pytest.param(
            CONNECTION, "https://prodkitdemo.blob.core.windows.net", "prodkitdemo", id="portal"
        ),
        pytest.param(
            f"AccountName=prodkitdemo;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn",
            "https://prodkitdemo.blob.core.chinacloudapi.cn",
            "prodkitdemo",
            id="sovereign-cloud",
        ),
        pytest.param(
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
            "BlobEndpoint=http://azurite:10000/devstoreaccount1;",
            "http://azurite:10000/devstoreaccount1",
            "devstoreaccount1",
            id="azurite",
        ),
        pytest.param(
            f"BlobEndpoint=https://prodkitdemo.blob.core.windows.net/;SharedAccessSignature={SAS}",
            "https://prodkitdemo.blob.core.windows.net",
            "prodkitdemo",
            id="sas",
        ),
        pytest.param(
            "UseDevelopmentStorage=true",
            "http://127.0.0.1:10000/devstoreaccount1",
            "devstoreaccount1",
            id="development-storage",
        ),
    ],
)
def test_connection_string_forms(value, url, name):
    account = parse_storage_connection_string(value)
    assert (account["account_url"], account["account_name"]) == (url, name)


def test_development_storage_uses_azurites_published_key():
    assert parse_storage_connection_string("UseDevelopmentStorage=true")["account_key"] == (
        DEVELOPMENT_KEY
    )


# --- Errors: they name the variable and never show a secret.


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        pytest.param(
            {"AZURE_STORAGE_CONNECTION_STRING": KEY.rstrip("=")},
            "AZURE_STORAGE_CONNECTION_STRING is not a connection string (value hidden).",
            id="not-a-connection-string",
        ),
        pytest.param(
            {"AZURE_STORAGEBLOB_CONNECTIONSTRING": f"Foo=bar;Password={KEY}"},
            "AZURE_STORAGEBLOB_CONNECTIONSTRING is not a storage connection string (value hidden)",
            id="no-account-in-connection-string",
        ),
        pytest.param(
            {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=prodkitdemo;AccountKey=PLANTED!!"},
            "AZURE_STORAGE_CONNECTION_STRING's AccountKey is not a base64 account key "
            "(value hidden).",
            id="bad-key-in-connection-string",
        ),
        pytest.param(
            {
                "AZURE_STORAGE_CONNECTION_STRING": CONNECTION,
                "AZURE_STORAGEBLOB_CONNECTIONSTRING": CONNECTION,
            },
            "AZURE_STORAGE_CONNECTION_STRING and AZURE_STORAGEBLOB_CONNECTIONSTRING are both set.",
            id="two-connection-strings",
        ),
        pytest.param(
            {"AZURE_STORAGE_CONNECTION_STRING": CONNECTION, "AZURE_STORAGE_ACCOUNT_KEY": KEY},
            "AZURE_STORAGE_CONNECTION_STRING and AZURE_STORAGE_ACCOUNT_KEY are both set.",
            id="connection-string-and-key",
        ),
        pytest.param(
            {
                "AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo",
                "AZURE_STORAGE_ACCOUNT_KEY": KEY,
                "AZURE_STORAGE_SAS_TOKEN": SAS,
            },
            "AZURE_STORAGE_ACCOUNT_KEY and AZURE_STORAGE_SAS_TOKEN are both set.",
            id="key-and-sas",
        ),
        pytest.param(
            {"AZURE_STORAGE_CONNECTION_STRING": CONNECTION, "AZURE_STORAGE_ACCOUNT_NAME": "other"},
            "AZURE_STORAGE_ACCOUNT_NAME ('other') names another account than "
            "AZURE_STORAGE_CONNECTION_STRING.",
            id="connection-string-and-another-account",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "AZURE_STORAGE_ACCOUNT_KEY": "PLANTED!"},
            "AZURE_STORAGE_ACCOUNT_KEY is not a base64 account key (value hidden).",
            id="bad-key",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "AZURE_STORAGE_SAS_TOKEN": "PLANTED"},
            "AZURE_STORAGE_SAS_TOKEN is not a SAS token (value hidden)",
            id="bad-sas",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "Prodkit_Demo"},
            "AZURE_STORAGE_ACCOUNT_NAME must be a storage account name (3-24 lowercase letters "
            "and digits), got 'Prodkit_Demo'.",
            id="bad-account-name",
        ),
        pytest.param(
            {"PRODKIT_STORAGE_ACCOUNT_URL": "ftp://prodkitdemo"},
            "PRODKIT_STORAGE_ACCOUNT_URL must be the account's blob endpoint",
            id="bad-account-url",
        ),
        pytest.param(
            {
                "PRODKIT_STORAGE_ACCOUNT_URL": "https://a.blob.core.windows.net",
                "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://b.blob.core.windows.net",
            },
            "PRODKIT_STORAGE_ACCOUNT_URL and AZURE_STORAGEBLOB_RESOURCEENDPOINT are both set.",
            id="two-account-urls",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "PRODKIT_MEDIA_CONTAINER": "Media_Files"},
            "PRODKIT_MEDIA_CONTAINER must be a container name",
            id="bad-container",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "PRODKIT_MEDIA_CONTAINER": "static"},
            "PRODKIT_STATIC_CONTAINER and PRODKIT_MEDIA_CONTAINER are both 'static'.",
            id="one-container-for-both",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo", "PRODKIT_MEDIA_SAS_SECONDS": "864000"},
            "PRODKIT_MEDIA_SAS_SECONDS must be an integer from 1 to 518400, got '864000'.",
            id="sas-too-long",
        ),
        pytest.param(
            {
                "AZURE_STORAGE_ACCOUNT_NAME": "prodkitdemo",
                "PRODKIT_STORAGE_DOMAIN": "https://x/?a=1",
            },
            "PRODKIT_STORAGE_DOMAIN must be a host name or an http(s) URL without query",
            id="bad-domain",
        ),
        pytest.param(
            {"AZURE_STORAGE_ACCOUNT_KEY": KEY},
            "No storage account: set AZURE_STORAGE_CONNECTION_STRING, or "
            "AZURE_STORAGE_ACCOUNT_NAME (with AZURE_STORAGE_ACCOUNT_KEY",
            id="key-without-account",
        ),
        pytest.param(
            {"PRODKIT_STORAGE": "blob"},
            "PRODKIT_STORAGE must be one of auto, azure, local, got 'blob'.",
            id="bad-mode",
        ),
    ],
)
def test_bad_configuration_is_named_and_secrets_stay_hidden(variables, message):
    with pytest.raises(ImproperlyConfigured) as caught:
        from_env(**{"PRODKIT_STORAGE": "azure", **variables})
    text = str(caught.value)
    assert message in text
    for secret in (KEY, "PLANTED", SAS.split("sig=")[1]):
        assert secret not in text


def test_key_without_a_derivable_account_name_is_refused():
    with pytest.raises(ImproperlyConfigured, match="account_key is set but the account's name"):
        azure_storages(static_root=BASE, account_url="https://cdn.example.com", account_key=KEY)


# --- Floors and the whole profile.


def test_the_preset_imports_neither_the_storage_classes_nor_azure():
    code = (
        "import sys, django_prodkit.settings.storages as s; "
        "s.storages_from_env(s.Env(environ={'AZURE_STORAGE_ACCOUNT_NAME': 'abc'}), base_dir='.'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('azure', 'storages') "
        "or m.startswith('django_prodkit.storage')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_include_the_azure_settings():
    env = Env(
        environ={
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "DATABASE_URL": "sqlite:///db.sqlite3",
            "AZURE_STORAGE_CONNECTION_STRING": CONNECTION,
        }
    )
    made = production_settings(env, base_dir=BASE)
    assert made["STORAGES"]["default"] == {"BACKEND": AZURE_MEDIA_STORAGE}
    assert made["PRODKIT_STORAGE_ACCOUNT_KEY"] == KEY


def test_production_settings_are_unchanged_without_an_account():
    env = Env(
        environ={
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "DATABASE_URL": "sqlite:///db.sqlite3",
        }
    )
    made = production_settings(env, base_dir=BASE)
    assert made["STORAGES"] == local_storages(static_root=BASE, media_root=BASE)["STORAGES"]
    assert not [name for name in made if name.startswith("PRODKIT_STORAGE")]
