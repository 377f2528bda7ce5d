"""Live checks 45x: each storage in ``STORAGES`` takes a file, gives it back and deletes it.

The probe builds a storage object of its own from ``settings.STORAGES`` (never one of
``django.core.files.storage.storages``), saves a small file named ``.prodkit-probe-<uuid>``,
reads it back and deletes it. For django-storages' Azure backend it works through the storage's
own container client, call by call with the probe timeout as connect and read timeout and no
retries (``storage.save()`` would retry a refused connection for a minute); for the ``default``
(media) storage it then reads the probe blob without credentials: a container that allows that
serves every upload to anyone who has its URL. Static files on the local disk are only listed:
collectstatic wrote them at build time, the app only reads them, and the file system may be
read-only in production.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import posixpath
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.checks import CheckMessage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, define
from django_prodkit.probes.base import Probe, whole_seconds
from django_prodkit.redact import describe_error, redact_text

E450 = Check(
    id="prodkit.E450",
    title="a storage cannot be written, read or deleted",
    msg="The storage '{alias}' ({backend}{where}) failed to {step}: {error}.",
    hint=(
        "Check the storage's account, container and credentials, and that the app's identity "
        "may write, read and delete there (Azure: the 'Storage Blob Data Contributor' role); "
        "for files on the local disk, that the directory exists (static files: collectstatic "
        "ran) and, for media, is writable by the app's user."
    ),
    why=(
        "Uploads fail with a 500 and collectstatic fails the deployment. The error appears "
        "only when someone first uploads a file, long after the deployment looked healthy."
    ),
    live=True,
)
E451 = Check(
    id="prodkit.E451",
    title="private media in a public container",
    msg=(
        "The media storage 'default' uses the Azure container '{container}', which anyone can "
        "read without credentials (public access level '{level}')."
    ),
    hint=(
        "Set the container's public access level to private (az storage container "
        "set-permission --public-access off, or disallow blob public access on the storage "
        "account); with PRODKIT_MEDIA_PRIVATE=true, AzureMediaStorage hands out short-lived "
        "SAS URLs instead."
    ),
    why=(
        "Every uploaded file (invoices, ID scans, private photos) can then be downloaded by "
        "anyone who learns or guesses its URL, with no login and no trace in the site's logs."
    ),
    live=True,
)
define(E450, E451)

AZURE_STORAGE = "storages.backends.azure_storage.AzureStorage"
PROBE_PREFIX = ".prodkit-probe-"

# Handed to the Azure SDK per call: its HTTP logging policy writes every request at INFO, noise
# in a command's output. Failures reach the probe's message.
_AZURE_LOGGER = logging.getLogger("django_prodkit.probes.azure_sdk")
_AZURE_LOGGER.setLevel(logging.WARNING)


def probes(timeout: float) -> list[Probe]:
    """One probe per ``STORAGES`` alias."""
    found = []
    for alias, entry in dict(getattr(settings, "STORAGES", {}) or {}).items():
        public_check = alias == "default" and backend_is(entry.get("BACKEND", ""), AZURE_STORAGE)
        found.append(
            Probe(
                name=f"storage:{alias}",
                ids=(E450.id, E451.id) if public_check else (E450.id,),
                run=functools.partial(probe_storage, alias, dict(entry), timeout),
                failed=functools.partial(
                    _failed, alias, dict(entry), None, "save, read back and delete a probe file"
                ),
            )
        )
    return found


def probe_storage(alias: str, entry: dict[str, Any], timeout: float) -> list[CheckMessage]:
    """Save, read and delete a probe file in the storage ``alias``."""
    storage: Any = storages.create_storage(entry)
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    content = f"prodkit probe {name}\n".encode()
    if backend_is(entry.get("BACKEND", ""), AZURE_STORAGE):
        try:
            return _probe_azure(alias, entry, storage, name, content, timeout)
        finally:
            # Made on first use: closing may make it (and fail) when the probe never got far.
            with contextlib.suppress(Exception):
                storage.service_client.close()

    if alias == "staticfiles" and isinstance(storage, FileSystemStorage):
        # collectstatic writes these at build time and the app only reads them; the file
        # system may well be read-only in production, so only reading is probed.
        try:
            storage.listdir("")
        except Exception as exc:
            return [_failed(alias, entry, storage, "list its files", describe_error(exc))]
        return []

    def read(saved: str) -> bytes:
        with storage.open(saved, "rb") as probe_file:
            data: bytes = probe_file.read()
        return data

    problem = _round_trip(
        lambda: storage.save(name, ContentFile(content)), read, storage.delete, content
    )
    return [_failed(alias, entry, storage, *problem)] if problem else []


def _round_trip(
    write: Callable[[], str],
    read: Callable[[str], bytes],
    delete: Callable[[str], object],
    content: bytes,
    after_read: Callable[[str], None] | None = None,
) -> tuple[str, str] | None:
    """Write, read back and delete a file; return the step that failed and why, or None.

    The file is deleted whenever it was written, even after a failed read.
    """
    try:
        saved = write()
    except Exception as exc:
        return "write a probe file", describe_error(exc)
    problem: tuple[str, str] | None = None
    try:
        if read(saved) != content:
            problem = "read a probe file back", "it read back different bytes"
        elif after_read is not None:
            after_read(saved)
    except Exception as exc:
        problem = "read a probe file back", describe_error(exc)
    try:
        delete(saved)
    except Exception as exc:
        problem = problem or ("delete a probe file", describe_error(exc))
    return problem


def _probe_azure(
    alias: str, entry: dict[str, Any], storage: Any, name: str, content: bytes, timeout: float
) -> list[CheckMessage]:
    # The SDK's per-call options: connect and read timeouts, no retries, the same bound as
    # the server-side timeout, and a logger that keeps its request log quiet.
    call = {
        "connection_timeout": timeout,
        "read_timeout": timeout,
        "retry_total": 0,
        "timeout": whole_seconds(timeout),
        "logger": _AZURE_LOGGER,
    }
    location = str(getattr(storage, "location", "") or "")
    blob = posixpath.join(location, name) if location else name
    found: list[CheckMessage] = []

    def write() -> str:
        storage.client.upload_blob(blob, content, overwrite=False, **call)
        return blob

    def read(saved: str) -> bytes:
        data: bytes = storage.client.download_blob(saved, **call).readall()
        return data

    def public(saved: str) -> None:
        if alias == "default":
            found.extend(_public_container(storage.client, saved, call))

    def delete(saved: str) -> None:
        storage.client.delete_blob(saved, **call)

    problem = _round_trip(write, read, delete, content, after_read=public)
    return [_failed(alias, entry, storage, *problem)] if problem else found


def _public_container(container: Any, blob: str, call: dict[str, Any]) -> list[CheckMessage]:
    """E451 when the probe blob can be read with no credentials at all."""
    # Imported here: the extra is installed whenever an AzureStorage is configured.
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobClient

    # The blob's address without a SAS token: what a stranger with the URL would ask for.
    url = urlunsplit(urlsplit(container.get_blob_client(blob).url)._replace(query=""))
    anonymous = BlobClient.from_blob_url(url)
    try:
        anonymous.download_blob(**call).readall()
    except AzureError:
        return []  # refused: private, or the account forbids public access
    finally:
        anonymous.close()
    level = "blob"
    try:
        properties = container.get_container_properties(**call)
        level = properties.public_access or level
    except AzureError:
        pass  # the credentials may not read container properties; the blob was readable
    return [
        E451.message(
            obj="settings.STORAGES['default']",
            container=container.container_name,
            level=level,
        )
    ]


def _failed(
    alias: str, entry: dict[str, Any], storage: Storage | None, step: str, error: str
) -> CheckMessage:
    return E450.message(
        obj=f"settings.STORAGES[{alias!r}]",
        alias=alias,
        backend=entry.get("BACKEND", ""),
        where=_where(entry, storage),
        step=step,
        error=error,
    )


def _where(entry: dict[str, Any], storage: Storage | None) -> str:
    """Say where the files go, for a message: a directory, or an Azure account and container."""
    if storage is None:
        return ""
    try:
        if isinstance(storage, FileSystemStorage):
            return f" in {redact_text(str(storage.location))}"
        if backend_is(entry.get("BACKEND", ""), AZURE_STORAGE):
            account = getattr(storage, "account_name", None) or "?"
            container = getattr(storage, "azure_container", None) or "?"
            return f", container {redact_text(str(container))} of account {account}"
    except Exception:  # a storage that cannot say where it is (STATIC_ROOT unset)
        return ""
    return ""


__all__ = ["AZURE_STORAGE", "E450", "E451", "PROBE_PREFIX", "probe_storage", "probes"]
