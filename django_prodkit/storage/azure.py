"""Static files and media on Azure Blob Storage, on django-storages' ``AzureStorage``.

``STORAGES = azure_storages(...)["STORAGES"]`` (or ``storages_from_env``) names these classes;
they read their configuration from the ``PRODKIT_*`` settings the preset fills, and any
``OPTIONS`` in ``STORAGES`` win over those (django-storages' option names).

What they change in django-storages, and why:

- One account URL and one credential (key, SAS token, or a token credential, by default
  azure-identity's ``DefaultAzureCredential``); a connection string is taken apart into
  those, so every credential type works the same way. URLs are built here, on the public
  domain (CDN / Front Door) when one is set, whatever the credential: django-storages ignores
  ``AZURE_CUSTOM_DOMAIN`` with a connection string and puts a SAS credential's token into
  every URL it builds.
- Content-Type and Cache-Control come from the file's name (``headers``), never from the
  client's upload.
- Blob names are normalised and checked: ``..``, absolute paths, backslashes and control
  characters are refused with ``SuspiciousFileOperation``.
- Static files never depend on ``exists()`` or ``get_available_name`` (hashed names are
  immutable, the manifest's name is fixed, every save overwrites); ``listdir`` lists one
  level, so ``collectstatic --clear`` works; the manifest variant reads its manifest lazily
  (from ``STATIC_ROOT`` when it is there) and post-processes from the local sources.
- Media are never overwritten by default (the upload is conditional, so two requests
  racing for one name cannot both win), have a size limit, and are served through
  short-lived SAS URLs when private: account-key SAS, or user-delegation SAS with a token
  credential, the delegation key cached and both valid from a few minutes in the past.
"""

from __future__ import annotations

import errno
import math
import posixpath
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import (
    ImproperlyConfigured,
    SuspiciousFileOperation,
    SuspiciousOperation,
)
from django.core.files.base import File
from django.core.files.storage import Storage

try:
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import (
        BlobPrefix,
        BlobSasPermissions,
        BlobServiceClient,
        ContentSettings,
        UserDelegationKey,
        generate_blob_sas,
    )
    from storages.backends.azure_storage import (  # type: ignore[import-untyped]
        AzureStorage,
        AzureStorageFile,
    )
except ImportError as exc:
    raise ImproperlyConfigured(
        "django_prodkit.storage.azure needs the 'azure' extra: pip install 'django-prodkit[azure]'"
    ) from exc

from django_prodkit.settings.storages import (
    DEFAULT_MEDIA_CONTAINER,
    DEFAULT_MEDIA_MAX_BYTES,
    DEFAULT_MEDIA_SAS_SECONDS,
    DEFAULT_STATIC_CONTAINER,
    account_name_from_url,
    parse_storage_connection_string,
    public_base_url,
)
from django_prodkit.storage import headers
from django_prodkit.storage.names import normalise_blob_name

# azure-core waits 300 s to connect and 300 s for each read by default: a request thread
# stuck that long on a storage that is down. Connecting to Azure takes milliseconds.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60

# SAS URLs start this far in the past: Azure's guidance for clocks that disagree by minutes
# (a SAS that starts "now" by the app's clock is refused while the service's clock is behind).
CLOCK_SKEW = timedelta(minutes=15)
# Delegation keys: at least a day (one request per day per process), at most 7 days (Azure's
# limit, counted on the service's clock: an hour of margin).
DELEGATION_KEY_MIN = timedelta(days=1)
DELEGATION_KEY_MAX = timedelta(days=7) - timedelta(hours=1)
# A cached key is renewed when it would expire this soon after the SAS being signed.
DELEGATION_KEY_MARGIN = timedelta(minutes=5)
# SAS expiry is rounded up to a step of a tenth of its lifetime (at most 5 minutes): a page
# rendered twice within the step links the same URL, which browsers and CDNs can cache.
SAS_STEP_MAX = 300

# A new name is tried this many times when an upload finds its name taken.
NAME_ATTEMPTS = 10


def _setting(name: str, default: Any) -> Any:
    """A prodkit setting, read when a storage is built (never at import)."""
    return getattr(settings, name, default)


def sas_window(now: datetime, seconds: int) -> tuple[datetime, datetime]:
    """Return (start, expiry) of a SAS valid for at least ``seconds`` from ``now``.

    The start is ``CLOCK_SKEW`` in the past; both ends are rounded to a step of a tenth of
    ``seconds`` (at most 5 minutes), so URLs signed within one step are identical.
    """
    step = max(1, min(SAS_STEP_MAX, seconds // 10))
    epoch = now.timestamp()
    start = math.floor(epoch / step) * step
    expiry = math.ceil((epoch + seconds) / step) * step
    return (
        datetime.fromtimestamp(start, UTC) - CLOCK_SKEW,
        datetime.fromtimestamp(expiry, UTC),
    )


def default_credential(client_id: str | None = None) -> Any:
    """Return azure-identity's ``DefaultAzureCredential``: the managed identity on App
    Service (``client_id`` picks a user-assigned one), a developer's ``az login`` locally."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Storage without an account key or SAS token authenticates with azure-identity, "
            "which is missing: pip install 'django-prodkit[azure]'"
        ) from exc
    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    return DefaultAzureCredential()


class UploadTooLarge(SuspiciousOperation):
    """An upload above the media storage's size limit; Django answers it with a 400."""


class _BlobFile(AzureStorageFile):  # type: ignore[misc]
    """django-storages' file, with a missing blob reported as ``FileNotFoundError`` (what
    Django's own code, e.g. the manifest reader, expects) rather than the SDK's error, and
    its temporary file closed when the download fails."""

    _file: Any
    _mode: str
    _path: str

    def _get_file(self) -> Any:
        if self._file is not None:
            return self._file
        spooled = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (kept open: it is the file)
            max_size=self._storage.max_memory_size,
            suffix=".AzureStorageFile",
            dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None),
        )
        try:
            if "r" in self._mode or "a" in self._mode:
                download = self._storage.client.download_blob(
                    self._path, timeout=self._storage.timeout
                )
                download.readinto(spooled)
        except ResourceNotFoundError:
            spooled.close()
            raise FileNotFoundError(errno.ENOENT, "No such blob", self.name) from None
        except BaseException:
            spooled.close()
            raise
        if "r" in self._mode:
            spooled.seek(0)
        self._file = spooled
        return spooled

    file = property(_get_file, AzureStorageFile._set_file)


class _BlobStorage(AzureStorage):  # type: ignore[misc]
    """What the static and media storages share: account, credential, names and URLs."""

    container_setting = ""
    default_container = ""
    # Static names come from the project (Windows paths on Windows); media names from users.
    windows_separators = False

    # Options (django-storages' and ours), set by BaseStorage from get_default_settings()
    # and OPTIONS: annotated here, never given a class value, which would hide the default.
    account_url: str | None
    account_name: str | None
    account_key: str | None
    sas_token: str | None
    client_id: str | None
    custom_domain: str | None
    token_credential: Any
    azure_container: str
    location: str
    client_options: dict[str, Any]
    # Whether URLs are signed (SAS) unless the caller says otherwise.
    private: bool
    expiration_secs: int | None
    timeout: int
    upload_max_conn: int

    def __init__(self, **options: Any) -> None:
        # Taken apart here, not by django-storages (whose parser's errors say nothing of
        # where the string came from), into the one account URL and credential used below.
        connection_string = options.pop("connection_string", None)
        super().__init__(**options)
        if connection_string:
            account = parse_storage_connection_string(
                connection_string, source=f"{type(self).__name__}'s connection_string"
            )
            self.account_url = account["account_url"]
            self.account_name = account["account_name"]
            self.account_key = account["account_key"]
            self.sas_token = account["sas_token"]
        if not self.account_url:
            if not self.account_name:
                raise ImproperlyConfigured(
                    f"{type(self).__name__} has no storage account: set "
                    "PRODKIT_STORAGE_ACCOUNT_NAME or PRODKIT_STORAGE_ACCOUNT_URL "
                    "(azure_storages() or storages_from_env() do)."
                )
            self.account_url = (
                f"{self.azure_protocol}://{self.account_name}.blob.{self.endpoint_suffix}"
            )
        self.account_url = str(self.account_url).rstrip("/")
        if self.sas_token:
            self.sas_token = str(self.sas_token).lstrip("?")
        self.account_name = self.account_name or account_name_from_url(self.account_url)
        self.public_url = (
            public_base_url(self.custom_domain, "PRODKIT_STORAGE_DOMAIN")
            if self.custom_domain
            else self.account_url
        )
        self.location = (
            normalise_blob_name(self.location, windows_separators=self.windows_separators)
            if self.location and self.location.strip("/")
            else ""
        )
        self._delegation_lock = threading.Lock()
        self._delegation: tuple[UserDelegationKey, datetime] | None = None

    def get_default_settings(self) -> dict[str, Any]:
        """django-storages' options, with prodkit's settings as their defaults."""
        defaults: dict[str, Any] = super().get_default_settings()
        defaults.update(
            account_url=_setting("PRODKIT_STORAGE_ACCOUNT_URL", None),
            account_name=_setting("PRODKIT_STORAGE_ACCOUNT_NAME", None),
            account_key=_setting("PRODKIT_STORAGE_ACCOUNT_KEY", None),
            sas_token=_setting("PRODKIT_STORAGE_SAS_TOKEN", None),
            client_id=_setting("PRODKIT_STORAGE_CLIENT_ID", None),
            custom_domain=_setting("PRODKIT_STORAGE_DOMAIN", None),
            connection_string=None,
            token_credential=None,
            azure_container=_setting(self.container_setting, self.default_container),
            location="",
            client_options={},
            private=False,
        )
        return defaults

    # --- The client.

    def _get_service_client(self) -> BlobServiceClient:
        options = {
            "connection_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            **(self.client_options or {}),
        }
        return BlobServiceClient(str(self.account_url), credential=self._credential(), **options)

    def _credential(self) -> Any:
        if self.account_key:
            if not self.account_name:
                raise ImproperlyConfigured(
                    f"{type(self).__name__} has an account key but no account name: set "
                    "PRODKIT_STORAGE_ACCOUNT_NAME."
                )
            return {"account_name": self.account_name, "account_key": self.account_key}
        if self.sas_token:
            return self.sas_token
        if self.token_credential is None:
            self.token_credential = default_credential(self.client_id)
        return self.token_credential

    # --- Names.

    def _blob_name(self, name: str) -> str:
        return normalise_blob_name(name, windows_separators=self.windows_separators)

    def _get_valid_path(self, name: str) -> str:
        blob = self._blob_name(name)
        return f"{self.location}/{blob}" if self.location else blob

    def _open(self, name: str, mode: str = "rb") -> _BlobFile:
        return _BlobFile(name, mode, self)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """Return the normalised ``name``: an existing blob of that name is overwritten."""
        blob = self._blob_name(name)
        if max_length is not None and len(blob) > max_length:
            raise SuspiciousFileOperation(
                f"The blob name {blob!r} is longer than the field's {max_length} characters."
            )
        return blob

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """Return the "directories" and blobs one level below ``path`` (relative names)."""
        prefix = self._prefix(path)
        directories: list[str] = []
        files: list[str] = []
        for item in self.client.walk_blobs(
            name_starts_with=prefix or None, delimiter="/", timeout=self.timeout
        ):
            relative = item.name[len(prefix) :]
            if isinstance(item, BlobPrefix):
                directories.append(relative.rstrip("/"))
            else:
                files.append(relative)
        return directories, files

    def _prefix(self, path: str) -> str:
        """The blob-name prefix of directory ``path`` (with its trailing slash)."""
        if not path or not str(path).strip("/."):
            return f"{self.location}/" if self.location else ""
        return f"{self._get_valid_path(str(path).rstrip('/'))}/"

    # --- Saving.

    def content_settings(self, name: str) -> dict[str, Any]:
        """The Content-Type, Cache-Control and Content-Disposition blob ``name`` gets."""
        return {"content_type": headers.content_type(name)}

    def _upload(self, path: str, content: Any, *, overwrite: bool) -> None:
        data: Any = content.file if isinstance(content, File) else content
        if hasattr(data, "seek"):
            data.seek(0)
        params = {**self.content_settings(path), **self.get_object_parameters(path)}
        self.client.upload_blob(
            path,
            data,
            content_settings=ContentSettings(**params),
            max_concurrency=self.upload_max_conn,
            timeout=self.timeout,
            overwrite=overwrite,
        )

    # --- URLs.

    def url(
        self,
        name: str,
        expire: int | None = None,
        parameters: dict[str, Any] | None = None,
        mode: str = "r",
    ) -> str:
        """Return the public URL of ``name`` on the custom domain (or the account's).

        Private storages (and any call with ``expire``) get a SAS valid for ``expire`` (or
        the storage's ``expiration_secs``) seconds.
        """
        path = self._get_valid_path(name)
        url = f"{self.public_url}/{quote(self.azure_container)}/{quote(path, safe='/~')}"
        seconds = expire if expire is not None else (self.expiration_secs if self.private else None)
        if seconds:
            url = f"{url}?{self.sas_query(path, seconds, parameters=parameters, mode=mode)}"
        return url

    def sas_query(
        self,
        path: str,
        seconds: int,
        *,
        parameters: dict[str, Any] | None = None,
        mode: str = "r",
        now: datetime | None = None,
    ) -> str:
        """Return a SAS query string for blob ``path`` (with the location prefix) valid for
        at least ``seconds``: signed with the account key, or with a user-delegation key
        when the storage authenticates with a token credential."""
        now = now or datetime.now(UTC)
        start, expiry = sas_window(now, int(seconds))
        if not self.account_name:
            raise ImproperlyConfigured(
                f"{type(self).__name__} cannot sign URLs without the account's name: set "
                "PRODKIT_STORAGE_ACCOUNT_NAME."
            )
        keys: dict[str, Any] = {}
        if self.account_key:
            keys["account_key"] = self.account_key
        elif self.sas_token:
            raise ImproperlyConfigured(
                f"{type(self).__name__} cannot sign URLs with a SAS token credential: give "
                "it the account key or a managed identity, or make the container public "
                "(PRODKIT_MEDIA_PRIVATE=false)."
            )
        else:
            keys["user_delegation_key"] = self.delegation_key(now, expiry)
        token: str = generate_blob_sas(
            self.account_name,
            self.azure_container,
            path,
            permission=BlobSasPermissions.from_string(mode),
            start=start,
            expiry=expiry,
            **keys,
            **(parameters or {}),
        )
        return token

    def delegation_key(self, now: datetime, expiry: datetime) -> UserDelegationKey:
        """Return a user-delegation key valid until at least ``expiry``, fetched once and
        reused until it would expire within ``DELEGATION_KEY_MARGIN`` of a SAS."""
        with self._delegation_lock:
            cached = self._delegation
            if cached is None or cached[1] < expiry + DELEGATION_KEY_MARGIN:
                lifetime = min(
                    DELEGATION_KEY_MAX,
                    max(DELEGATION_KEY_MIN, expiry - now + DELEGATION_KEY_MARGIN * 2),
                )
                key_expiry = now + lifetime
                key = self.service_client.get_user_delegation_key(
                    key_start_time=now - CLOCK_SKEW - timedelta(seconds=SAS_STEP_MAX),
                    key_expiry_time=key_expiry,
                    timeout=self.timeout,
                )
                cached = self._delegation = (key, key_expiry)
            return cached[0]


class AzureStaticStorage(_BlobStorage):
    """Static files in the ``PRODKIT_STATIC_CONTAINER`` (default ``static``), public read.

    Every save overwrites (a hashed name's content never changes; an unhashed one is
    replaced by the new release); hashed names get ``Cache-Control: public,
    max-age=31536000, immutable``, the rest a short TTL.
    """

    container_setting = "PRODKIT_STATIC_CONTAINER"
    default_container = DEFAULT_STATIC_CONTAINER
    windows_separators = True
    overwrite_files = True

    def __init__(self, **options: Any) -> None:
        # Set while post-processing: one listing of the container answers exists().
        self._listing: _Listing | None = None
        super().__init__(**options)

    def content_settings(self, name: str) -> dict[str, Any]:
        """Content-Type by name; Cache-Control immutable for hashed names, short otherwise."""
        return {
            "content_type": headers.content_type(name),
            "cache_control": headers.static_cache_control(name),
        }

    def _save(self, name: str, content: Any) -> str:
        blob = self._blob_name(name)
        path = self._get_valid_path(blob)
        self._upload(path, content, overwrite=True)
        if self._listing is not None:
            self._listing.add(path)
        return blob

    def exists(self, name: str) -> bool:
        """True for a blob or a "directory" (a prefix some blob starts with)."""
        if not name or not str(name).strip("/."):
            return True
        path = self._get_valid_path(name)
        if self._listing is not None:
            return path in self._listing
        if self.client.get_blob_client(path).exists(timeout=self.timeout):
            return True
        # collectstatic --clear asks about directories before listing them.
        page = self.client.list_blobs(
            name_starts_with=f"{path}/", results_per_page=1, timeout=self.timeout
        ).by_page()
        return any(True for _ in next(page, []))

    def listing(self) -> _Listing:
        """One listing of every blob under the storage's location."""
        prefix = f"{self.location}/" if self.location else None
        return _Listing(self.client.list_blob_names(name_starts_with=prefix, timeout=self.timeout))


class _Listing:
    """Blob names and the "directories" they are in, for exists() without a request."""

    def __init__(self, names: Any) -> None:
        self.names: set[str] = set()
        self.directories: set[str] = set()
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        self.names.add(name)
        parent = posixpath.dirname(name)
        while parent and parent not in self.directories:
            self.directories.add(parent)
            parent = posixpath.dirname(parent)

    def __contains__(self, name: object) -> bool:
        return name in self.names or name in self.directories


# HashedFilesMixin.url(name, force) and AzureStorage.url(name, expire, ...) differ; the
# mixin's wins, and calls ours for the final URL.
class AzureManifestStaticStorage(ManifestFilesMixin, AzureStaticStorage):  # type: ignore[misc]
    """``AzureStaticStorage`` with Django's cache-busting manifest (``staticfiles.json``).

    The manifest is read on first use, once per process: from ``STATIC_ROOT/staticfiles.json``
    when that file exists (collect locally, ``publishstatic``, ship ``STATIC_ROOT``'s
    manifest with the app), else from the container. ``collectstatic`` straight to the
    container works too: post-processing hashes the local sources instead of reading each
    file back, answers ``exists()`` from one listing, and overwrites in place instead of
    deleting first (a page that links a file never sees it missing).
    """

    manifest_name = "staticfiles.json"
    # A missing manifest is looked for again after this many seconds (a publish may be
    # about to upload it); a found one is kept for the life of the process.
    manifest_retry_seconds = 30.0

    def __init__(self, **options: Any) -> None:
        self._manifest_lock = threading.Lock()
        self._manifest_pending = False
        self._manifest_checked = 0.0
        self._manifest_found = False
        self._hashed_files: dict[str, Any] = {}
        self._manifest_hash = ""
        self._sources: dict[str, Any] | None = None
        self._keep_manifest = False
        # ManifestFilesMixin.__init__ reads the manifest: deferred to the first use, so
        # building the storage (every manage.py command) costs no request.
        self._deferring = True
        super().__init__(**options)
        self._deferring = False
        self._manifest_pending = True

    # --- The manifest, loaded lazily.

    def load_manifest(self) -> Any:
        """Django's manifest loader, deferred while the storage is being built."""
        if self._deferring:
            return {}, ""
        return super().load_manifest()

    @property
    def hashed_files(self) -> dict[str, Any]:
        """The manifest's paths (original name: hashed name), read on first use."""
        if self._manifest_pending:
            self._load_manifest_once()
        return self._hashed_files

    @hashed_files.setter
    def hashed_files(self, value: dict[str, Any]) -> None:
        self._hashed_files = value
        if not self._deferring:
            self._manifest_pending = False

    @property
    def manifest_hash(self) -> str:
        """The manifest's hash, read on first use."""
        if self._manifest_pending:
            self._load_manifest_once()
        return self._manifest_hash

    @manifest_hash.setter
    def manifest_hash(self, value: str) -> None:
        self._manifest_hash = value

    def _load_manifest_once(self) -> None:
        with self._manifest_lock:
            if not self._manifest_pending:
                return
            checked = self._manifest_checked
            if checked and time.monotonic() - checked < self.manifest_retry_seconds:
                return
            loaded: Any = super().load_manifest()  # calls read_manifest() once
            self._manifest_checked = time.monotonic()
            if not self._manifest_found:
                return
            self._hashed_files, self._manifest_hash = loaded
            self._manifest_pending = False

    def read_manifest(self) -> str | None:  # type: ignore[override]
        """The manifest's text: ``STATIC_ROOT``'s copy when there is one, else the blob's;
        None when neither exists."""
        content = self._read_manifest()
        self._manifest_found = content is not None
        return content

    def _read_manifest(self) -> str | None:
        if self.manifest_storage is not self:
            found: str | None = super().read_manifest()
            return found
        local = self.local_manifest_path()
        if local is not None and local.is_file():
            return local.read_text(encoding="utf-8")
        try:
            data: bytes = self.client.download_blob(
                self._get_valid_path(self.manifest_name), timeout=self.timeout
            ).readall()
        except ResourceNotFoundError:
            return None
        return data.decode()

    def local_manifest_path(self) -> Path | None:
        """``STATIC_ROOT/staticfiles.json``, or None without a ``STATIC_ROOT``."""
        root = getattr(settings, "STATIC_ROOT", None)
        return Path(root) / self.manifest_name if root else None

    def save_manifest(self) -> None:
        """Write the manifest over the old one in one request: Django deletes it first,
        which leaves a moment in which a starting instance finds none."""
        self._keep_manifest = True
        try:
            super().save_manifest()
        finally:
            self._keep_manifest = False

    def delete(self, name: str) -> None:
        """Delete ``name``, except where an overwrite follows (see ``post_process``)."""
        if self._listing is not None or (self._keep_manifest and name == self.manifest_name):
            return
        super().delete(name)

    # --- collectstatic's post-processing.

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str | None, Any]]:
        """Django's post-processing, with one listing of the container for ``exists()``,
        hashes taken from the local sources (not read back over the network) and no
        deletes: a hashed name's content never changes, so an existing blob is kept or
        overwritten in place, and pages linking it never find it missing."""
        if dry_run:
            yield from super().post_process(paths, dry_run=dry_run, **options)
            return
        self._listing = self.listing()
        self._sources = {self.clean_name(name): source for name, source in paths.items()}
        try:
            yield from super().post_process(paths, dry_run=dry_run, **options)
        finally:
            self._listing = None
            self._sources = None

    def hashed_name(
        self, name: str, content: File[Any] | None = None, filename: str | None = None
    ) -> str:
        """Django's hashed name; while post-processing, a file not given is hashed from its
        local source rather than downloaded from the container."""
        if content is None and self._sources:
            target = posixpath.normpath(unquote(urlsplit(filename or name).path).strip())
            source = self._sources.get(target)
            if source is not None:
                storage, path = source
                with storage.open(path) as local:
                    return str(super().hashed_name(name, local, filename))
        return str(super().hashed_name(name, content, filename))


class AzureMediaStorage(_BlobStorage):
    """Uploads in the ``PRODKIT_MEDIA_CONTAINER`` (default ``media``).

    Options (``STORAGES["default"]["OPTIONS"]``) and the settings they default to:
    ``private`` (``PRODKIT_MEDIA_PRIVATE``, True: URLs are SAS URLs valid for
    ``expiration_secs``, ``PRODKIT_MEDIA_SAS_SECONDS``, 3600), ``max_upload_bytes``
    (``PRODKIT_MEDIA_MAX_BYTES``, 50 MiB; None: no limit) and ``overwrite_files``
    (``PRODKIT_MEDIA_OVERWRITE``, False: a taken name gets a unique suffix instead).
    """

    container_setting = "PRODKIT_MEDIA_CONTAINER"
    default_container = DEFAULT_MEDIA_CONTAINER

    def get_default_settings(self) -> dict[str, Any]:
        """django-storages' options plus ``private`` and ``max_upload_bytes``."""
        defaults = super().get_default_settings()
        defaults.update(
            private=bool(_setting("PRODKIT_MEDIA_PRIVATE", True)),
            expiration_secs=_setting("PRODKIT_MEDIA_SAS_SECONDS", DEFAULT_MEDIA_SAS_SECONDS),
            max_upload_bytes=_setting("PRODKIT_MEDIA_MAX_BYTES", DEFAULT_MEDIA_MAX_BYTES),
            overwrite_files=bool(_setting("PRODKIT_MEDIA_OVERWRITE", False)),
        )
        return defaults

    def content_settings(self, name: str) -> dict[str, Any]:
        """Content-Type by name (the client's claim is ignored), Cache-Control by privacy,
        and ``attachment`` for types a browser would run (HTML, SVG, XML, JavaScript)."""
        return {
            "content_type": headers.content_type(name),
            "cache_control": headers.media_cache_control(private=self.private),
            "content_disposition": headers.media_content_disposition(name),
        }

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """The normalised ``name``, or (unless overwriting) a free variant of it."""
        blob = self._blob_name(name)
        if self.overwrite_files:
            return super().get_available_name(blob, max_length)
        return str(Storage.get_available_name(self, blob, max_length=max_length))

    def exists(self, name: str) -> bool:
        """True when blob ``name`` exists."""
        if not name:
            return True
        return bool(self.client.get_blob_client(self._get_valid_path(name)).exists())

    def _save(self, name: str, content: Any) -> str:
        blob = self._blob_name(name)
        checked = self._within_limit(blob, content)
        try:
            return self._save_as_new(blob, checked)
        finally:
            if checked is not content:
                checked.close()

    def _save_as_new(self, blob: str, content: Any) -> str:
        for attempt in range(NAME_ATTEMPTS):
            try:
                self._upload(self._get_valid_path(blob), content, overwrite=self.overwrite_files)
            except ResourceExistsError:
                # Another upload took the name since get_available_name() looked: the
                # conditional upload refused to replace it. Try a new name.
                if self.overwrite_files or attempt == NAME_ATTEMPTS - 1:
                    raise
                root, ext = posixpath.splitext(blob)
                directory, base = posixpath.split(root)
                blob = posixpath.join(directory, self.get_alternative_name(base, ext))
            else:
                return blob
        raise AssertionError("unreachable")  # pragma: no cover

    def _within_limit(self, name: str, content: Any) -> Any:
        """``content``, or UploadTooLarge when it is bigger than ``max_upload_bytes``."""
        limit = self.max_upload_bytes
        if limit is None:
            return content
        checked = content
        size = _size(content)
        if size is None:
            checked = _spool(content, limit)
            size = _size(checked)
        if size is not None and size > limit:
            # A stream is read no further than the limit: its whole size is unknown.
            shown = f"{size:,} bytes" if checked is content else f"more than {limit:,} bytes"
            if checked is not content:
                checked.close()
            raise UploadTooLarge(
                f"The upload {name!r} is {shown}; the media storage takes at most "
                f"{limit:,} (PRODKIT_MEDIA_MAX_BYTES)."
            )
        return checked


def _size(content: Any) -> int | None:
    """The size of ``content`` when it can be known without reading it."""
    try:
        size = content.size
    except (AttributeError, OSError, TypeError):
        size = None
    if isinstance(size, int):
        return size
    data: Any = content.file if isinstance(content, File) else content
    try:
        position = data.tell()
        data.seek(0, 2)
        end = int(data.tell())
        data.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end


def _spool(content: Any, limit: int) -> IO[bytes]:
    """Copy a stream of unknown size to a temporary file, at most ``limit`` + 1 bytes."""
    data: Any = content.file if isinstance(content, File) else content
    spooled = tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024)  # noqa: SIM115
    remaining = limit + 1
    while remaining > 0:
        chunk = data.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        spooled.write(chunk)
        remaining -= len(chunk)
    spooled.seek(0)
    return spooled


__all__ = [
    "AzureManifestStaticStorage",
    "AzureMediaStorage",
    "AzureStaticStorage",
    "UploadTooLarge",
    "default_credential",
    "normalise_blob_name",
    "sas_window",
]
