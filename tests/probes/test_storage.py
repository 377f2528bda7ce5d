"""Live checks 45x: the storage probe saves, reads back and deletes a probe file; on Azure it
also tries to read it without credentials."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from django_prodkit.probes import storage
from django_prodkit.settings.storages import local_storages
from tests.probes import PLANTED, ids, names, run_one, shown
from tests.servers import AZURITE_KEY, azurite_connection_string

AZURE = "storages.backends.azure_storage.AzureStorage"
FILES = "django.core.files.storage.FileSystemStorage"


@pytest.fixture
def container(azurite):
    """Make containers in Azurite: ``container(public_access=None|"blob"|"container")``."""
    service = BlobServiceClient.from_connection_string(azurite)
    made = []

    def make(public_access=None):
        name = f"probe-{uuid.uuid4().hex[:12]}"
        service.create_container(name, public_access=public_access)
        made.append(name)
        return name

    yield make
    for name in made:
        service.delete_container(name)
    service.close()


def azure(connection_string, container_name, **options):
    return {
        "BACKEND": AZURE,
        "OPTIONS": {
            "connection_string": connection_string,
            "azure_container": container_name,
            **options,
        },
    }


def blobs(connection_string, container_name):
    with BlobServiceClient.from_connection_string(connection_string) as service:
        return list(service.get_container_client(container_name).list_blob_names())


def test_every_alias_gets_a_probe(settings, tmp_path):
    settings.STORAGES = local_storages(static_root=tmp_path / "s", media_root=tmp_path / "m")[
        "STORAGES"
    ]
    assert names(storage) == ["storage:default", "storage:staticfiles"]


def test_e450_local_files_pass_and_leave_nothing_behind(settings, tmp_path):
    settings.STORAGES = {"default": {"BACKEND": FILES, "OPTIONS": {"location": str(tmp_path)}}}
    outcome = run_one(storage, "storage:default")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.E450",)
    assert list(tmp_path.iterdir()) == []


def test_e450_local_directory_that_cannot_be_written(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.STORAGES = {"default": {"BACKEND": FILES, "OPTIONS": {"location": str(blocker)}}}
    [message] = run_one(storage, "storage:default").messages
    assert message.id == "prodkit.E450"
    assert f"The storage 'default' ({FILES} in {blocker}) failed to write" in message.msg
    assert message.obj == "settings.STORAGES['default']"


def test_e450_static_files_without_static_root(settings):
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
    [message] = run_one(storage, "storage:staticfiles").messages
    assert message.id == "prodkit.E450"
    assert "STATIC_ROOT" in message.msg


def test_e450_local_static_files_are_only_read(settings, tmp_path):
    """collectstatic ran at build time; production may mount the code read-only."""
    static = tmp_path / "static"
    static.mkdir()
    (static / "site.css").write_text("body {}")
    static.chmod(0o555)
    settings.STATIC_ROOT = str(static)
    settings.STORAGES = {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
    try:
        assert run_one(storage, "storage:staticfiles").messages == []
        assert sorted(p.name for p in static.iterdir()) == ["site.css"]
    finally:
        static.chmod(0o755)


def test_e450_local_static_root_that_is_missing(settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "never-collected")
    settings.STORAGES = {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
    [message] = run_one(storage, "storage:staticfiles").messages
    assert "failed to list its files" in message.msg


def test_e450_backend_that_does_not_import(settings):
    settings.STORAGES = {"default": {"BACKEND": "no.such.Storage"}}
    [message] = run_one(storage, "storage:default").messages
    assert message.id == "prodkit.E450"
    assert "InvalidStorageError" in message.msg


def test_local_storages_output_passes(settings, tmp_path):
    # prodkit's preset: media on disk, static files through whitenoise's manifest storage.
    config = local_storages(static_root=tmp_path / "static", media_root=tmp_path / "media")
    (tmp_path / "static").mkdir()  # collectstatic ran
    for name in ("STATIC_ROOT", "MEDIA_ROOT", "STORAGES"):
        setattr(settings, name, config[name])
    assert [run_one(storage, name).messages for name in names(storage)] == [[], []]


def test_e450_e451_private_azure_container_passes(settings, azurite, container):
    name = container()
    settings.STORAGES = {"default": azure(azurite, name)}
    outcome = run_one(storage, "storage:default")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.E450", "prodkit.E451")
    assert blobs(azurite, name) == []


@pytest.mark.parametrize("level", ["blob", "container"])
def test_e451_media_in_a_public_azure_container(settings, azurite, container, level):
    name = container(public_access=level)
    settings.STORAGES = {"default": azure(azurite, name)}
    outcome = run_one(storage, "storage:default")
    [message] = outcome.messages
    assert message.id == "prodkit.E451"
    assert f"the Azure container '{name}', which anyone can read" in message.msg
    assert f"public access level '{level}'" in message.msg
    assert AZURITE_KEY not in shown([outcome])
    assert blobs(azurite, name) == []


def test_e451_static_files_may_be_public(settings, azurite, container):
    name = container(public_access="blob")
    settings.STORAGES = {"staticfiles": azure(azurite, name)}
    outcome = run_one(storage, "storage:staticfiles")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.E450",)


def test_e450_azure_location_prefix_is_used_and_cleaned(settings, azurite, container):
    name = container()
    settings.STORAGES = {"default": azure(azurite, name, location="media/uploads")}
    assert run_one(storage, "storage:default").messages == []
    assert blobs(azurite, name) == []


def test_e450_missing_azure_container(settings, azurite):
    settings.STORAGES = {"default": azure(azurite, "no-such-container")}
    [message] = run_one(storage, "storage:default").messages
    assert message.id == "prodkit.E450"
    assert "container no-such-container of account devstoreaccount1" in message.msg
    assert "failed to write" in message.msg
    assert "ContainerNotFound" in message.msg


def test_e450_wrong_azure_key_is_reported_without_it(settings, azurite, container):
    name = container()
    port = int(azurite.split("127.0.0.1:")[1].split("/")[0])
    wrong = base64.b64encode(PLANTED.encode() * 4).decode()
    settings.STORAGES = {"default": azure(azurite_connection_string(port, wrong), name)}
    outcome = run_one(storage, "storage:default")
    assert ids(outcome) == ["prodkit.E450"]
    assert wrong not in shown([outcome])
    assert PLANTED not in shown([outcome])


def test_e450_azure_refused_fails_at_once(settings, refused_port):
    settings.STORAGES = {"default": azure(azurite_connection_string(refused_port), "media")}
    started = time.monotonic()
    outcome = run_one(storage, "storage:default")
    assert time.monotonic() - started < 2
    [message] = outcome.messages
    assert message.id == "prodkit.E450"
    assert "Connection refused" in message.msg
    assert AZURITE_KEY not in shown([outcome])


def test_e450_azure_hung_costs_one_timeout(settings, hung):
    settings.STORAGES = {"default": azure(azurite_connection_string(hung), "media")}
    started = time.monotonic()
    [message] = run_one(storage, "storage:default", timeout=1.0).messages
    assert time.monotonic() - started <= 1.0 + 1
    assert message.id == "prodkit.E450"
    assert "did not answer within 1 s" in message.msg


def test_hand_written_azure_settings_are_probed(settings, azurite, container):
    # STORAGES written by hand with django-storages' options, the connection string inline.
    name = container(public_access="container")
    settings.STORAGES = {
        "default": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": {
                "connection_string": azurite,
                "azure_container": name,
                "overwrite_files": True,
                "expiration_secs": None,
            },
        },
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    outcome = run_one(storage, "storage:default")
    assert ids(outcome) == ["prodkit.E451"]
    assert AZURITE_KEY not in shown([outcome])
