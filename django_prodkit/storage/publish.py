"""Publish ``STATIC_ROOT`` to the Azure static container: only what changed, manifest last.

``manage.py publishstatic`` wires these together:

1. :func:`collect_locally` runs ``collectstatic`` into ``STATIC_ROOT`` with
   :class:`IncrementalManifestStorage` (Django's manifest storage, which re-hashes only the
   files that changed since the last collect and the stylesheets/scripts that point at them);
2. :class:`StaticPublisher` lists the container once, compares each local file's MD5 with the
   blob's stored ``Content-MD5`` (and its headers), uploads what differs in parallel, writes
   the manifest -- the file that makes the new hashed names live -- last, and optionally
   prunes blobs no recent release references.

Hashed names are immutable and the manifest's name is fixed, so nothing here depends on
``exists()`` or ``get_available_name()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import posixpath
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django
from django.conf import settings
from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as CollectStatic,
)
from django.contrib.staticfiles.storage import (
    HashedFilesMixin,
    ManifestFilesMixin,
    ManifestStaticFilesStorage,
    StaticFilesStorage,
)
from django.contrib.staticfiles.utils import matches_patterns
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import call_command

from django_prodkit.redact import describe_error
from django_prodkit.storage.headers import content_type, static_cache_control

try:
    import requests
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import ContainerClient, ContentSettings, ExponentialRetry
    from storages.backends.azure_storage import AzureStorage  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImproperlyConfigured(
        "django_prodkit.storage.publish needs the 'azure' extra: "
        "pip install 'django-prodkit[azure]'"
    ) from exc

MANIFEST_NAME = "staticfiles.json"
# Bookkeeping under the static location in the container: one copy of every published
# manifest, so --prune knows which hashed files recent releases still reference.
HISTORY_DIR = ".prodkit/manifests"
# Bookkeeping in STATIC_ROOT (never published): the incremental collect's state and the
# local MD5 cache. collectstatic's default ignore patterns skip dot-directories, so no
# source file can land here.
STATE_DIR = ".prodkit"
COLLECT_STATE = f"{STATE_DIR}/collect.json"
MD5_CACHE = f"{STATE_DIR}/md5.json"
# The 12 hex digits ManifestFilesMixin puts before the extension (``site.3f2a1b9c8d7e.css``).
_HASH_IN_NAME = re.compile(r"\.[0-9a-f]{12}(\.[^./]+)$")
# The dependency graph is recorded in HashedFilesMixin._stored_name (Django 2.0 to 6.1); a
# Django without it gets a full post-processing every time, never a wrong partial one.
_RECORDS_REFERENCES = callable(getattr(HashedFilesMixin, "_stored_name", None))
# whitenoise's precompressed variants: blob storage does no content negotiation (a browser
# would never be sent them), and a CDN in front compresses on its own.
PRECOMPRESSED = (".gz", ".br")

DEFAULT_WORKERS = 16
# Files hashed and uploaded while the collect is still running: at most this big each, and
# this many bytes waiting for a worker at once.
EARLY_FILE_LIMIT = 4 * 1024 * 1024
EARLY_BYTES = 64 * 1024 * 1024
MAX_WORKERS = 64
DEFAULT_KEEP = 2
# Files up to this size are read into memory for one hashed, retryable upload; bigger ones
# are streamed from disk (re-opened on every attempt).
IN_MEMORY_LIMIT = 32 * 1024 * 1024

# Retries. The SDK's policy retries timeouts, 5xx and connection errors of each request with
# exponential backoff; on top of it, a file whose connection still fails is tried again
# after a pause. Both bounded: a dead endpoint fails the publish in seconds, not hours.
SDK_RETRIES = 3
SDK_BACKOFF = 0.5
SDK_MAX_BACKOFF = 4.0
CONNECTION_ATTEMPTS = 2
CONNECTION_BACKOFF = 1.0
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60

# The SDK's HTTP logging policy writes every request at INFO; the root logger of prodkit's
# LOGGING preset would print thousands of lines. Only warnings get through.
_SDK_LOGGER = logging.getLogger("django_prodkit.storage.publish.azure_sdk")
_SDK_LOGGER.setLevel(logging.WARNING)


class PublishError(Exception):
    """A publish that cannot go on; the message is safe to show (secrets redacted)."""


# --- The local collect -----------------------------------------------------------------


class IncrementalManifestStorage(ManifestStaticFilesStorage):
    """Django's ``ManifestStaticFilesStorage`` for ``STATIC_ROOT`` that re-hashes only what
    changed since its last ``collectstatic``.

    Django's post-processing reads and hashes every file and rewrites every stylesheet and
    script on every run. This storage records, in ``STATIC_ROOT/.prodkit/collect.json``, each
    source file's size and modification time, its hashed name and the files it references;
    the next run hands Django only the files whose source changed plus the stylesheets and
    scripts that (transitively) reference them, and reuses the recorded hashed names of the
    rest. Nothing changed: no file is read and the manifest is left as it is. The result is
    the same manifest and files a full run writes; any doubt (no state, another Django
    version or ``STATIC_URL``, a manifest edited by hand, a source storage that is not on the
    local disk) makes it a full run.
    """

    keep_intermediate_files = False

    def __init__(self, *args: Any, manifest_name: str = MANIFEST_NAME, **kwargs: Any) -> None:
        # Set before the mixin's __init__ reads the manifest under this name.
        self.manifest_name = manifest_name
        self._deferring = False
        self._pending_deletes: set[str] = set()
        self._recorded: dict[str, Any] | None = None
        self._sources: dict[str, tuple[Any, str]] = {}
        super().__init__(*args, **kwargs)
        # Each pass of Django's post-processing runs every pattern over every stylesheet
        # and script; most scripts contain no reference at all.
        compiled: dict[str, list[tuple[Any, ...]]] = getattr(self, "_patterns", {})
        for extension, group in compiled.items():
            compiled[extension] = [(_prefiltered(entry[0]), *entry[1:]) for entry in group]
        # Hashed names reused from the last run: targets Django resolves without processing.
        self._reused: dict[str, str] = {}
        # Files each stylesheet/script referenced when it was last processed.
        self._refs: dict[str, set[str]] = {}
        self._recording: set[str] | None = None
        #: How the last post-processing went: "full", "partial" or "unchanged".
        self.mode = "full"
        #: Files the last post-processing handed to Django (all of them on a full run).
        self.reprocessed: list[str] = []

    # Django resolves every reference in a stylesheet or script through _stored_name();
    # recording the targets gives the dependency graph an incremental run needs.
    def url_converter(
        self,
        name: str,
        hashed_files: dict[str, Any],
        template: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Callable[..., str]:
        """Django's converter for ``name``; references it resolves are recorded as its own."""
        self._recording = self._refs.setdefault(self._key(name), set())
        return super().url_converter(name, hashed_files, template, *args, **kwargs)

    def _stored_name(self, name: str, hashed_files: dict[str, Any]) -> str:
        normalized = posixpath.normpath(name)
        if self._recording is not None:
            # The file Django reads for this reference: without query string or fragment.
            self._recording.add(self._key(urlsplit(unquote(normalized)).path.strip()))
        key = self.hash_key(self.clean_name(normalized))
        if key not in hashed_files and key in self._reused:
            return self._reused[key]
        stored: str = super()._stored_name(name, hashed_files)  # type: ignore[misc]
        return stored

    def _key(self, name: str) -> str:
        return self.hash_key(self.clean_name(name))

    def is_adjustable(self, name: str) -> bool:
        """True for a file post-processing may rewrite (a stylesheet, a script): its hashed
        name depends on other files, not only on its own bytes."""
        patterns: dict[str, Any] = getattr(self, "_patterns", {})
        return matches_patterns(name, patterns)

    def is_current(self, name: str, source_storage: Any, path: str) -> bool:
        """True when ``name``'s source has the size and modification time the last collect
        recorded (its hashed copy is most likely published already)."""
        if self._recorded is None:
            state = _read_json(Path(self.path(COLLECT_STATE)))
            files = state.get("files") if isinstance(state, dict) else None
            self._recorded = files if isinstance(files, dict) else {}
        entry = self._recorded.get(self._key(name))
        if not entry:
            return False
        try:
            stat = os.stat(source_storage.path(path))
        except (NotImplementedError, OSError):
            return False
        return bool(entry[:2] == [stat.st_size, stat.st_mtime_ns])

    # Django's post-processing goes over every stylesheet and script at least twice, each
    # time deleting its hashed copy and writing it again, nearly always with the same bytes.
    # Deletes are deferred until the end; a write of the bytes already on disk is dropped.

    def exists(self, name: str) -> bool:
        """Django's answer, with the deletes deferred during post-processing applied; an
        original not copied into STATIC_ROOT exists as its source."""
        if name in self._pending_deletes:
            return False
        return super().exists(name) or self._source(name) is not None

    def _open(self, name: str, mode: str = "rb") -> Any:
        source = self._source(name)
        if source is not None and not os.path.exists(self.path(name)):
            storage, path = source
            return storage.open(path, mode)
        return super()._open(name, mode)  # type: ignore[misc]

    def _source(self, name: str) -> tuple[Any, str] | None:
        # Django reads a referenced file from STATIC_ROOT when its processing has not named
        # it yet (a reference with a query string); the source has the same bytes.
        return self._sources.get(self._key(name)) if self._sources else None

    def delete(self, name: str) -> None:
        """Delete ``name``; during post-processing, at its end unless it is written again."""
        if self._deferring:
            self._pending_deletes.add(name)
            return
        super().delete(name)

    def _save(self, name: str, content: Any) -> str:
        if name in self._pending_deletes:
            self._pending_deletes.discard(name)
            if _same_bytes(Path(self.path(name)), content):
                return name
            super().delete(name)
        if self._deferring and self._link_twin(name, content):
            return name
        saved: str = super()._save(name, content)  # type: ignore[misc]
        return saved

    def _link_twin(self, name: str, content: Any) -> bool:
        """Hard-link a hashed copy to the unhashed copy collectstatic just made, when their
        bytes are the same (a file nothing had to rewrite): one file's data written, not
        two. Both live in STATIC_ROOT; the sources are never linked to."""
        twin = _HASH_IN_NAME.sub(r"\1", name)
        if twin == name:
            return False
        source, target = Path(self.path(twin)), Path(self.path(name))
        if target.exists() or not _same_bytes(source, content):
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
        except OSError:  # no hard links here (another file system, a FAT volume)
            return False
        return True

    def _flush_deletes(self) -> None:
        pending, self._pending_deletes = self._pending_deletes, set()
        self._deferring = False
        for name in sorted(pending):
            super().delete(name)

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str | None, Any]]:
        """Hash and copy what changed (see the class); yields what Django's would."""
        if dry_run:
            return
        self._deferring = True
        self._sources = {self._key(name): source for name, source in paths.items()}
        try:
            yield from self._post_process_incrementally(paths, **options)
        finally:
            self._flush_deletes()
            self._sources = {}

    def _post_process_incrementally(
        self, paths: dict[str, Any], **options: Any
    ) -> Iterator[tuple[str, str | None, Any]]:
        plan = self._plan(paths)
        if plan is None:
            self.mode, self.reprocessed = "full", sorted(paths)
            self._reused, self._refs = {}, {}
            yield from super().post_process(paths, dry_run=False, **options)
            self._recording = None
            self._save_state(paths)
            return
        dirty, reused = plan
        self.reprocessed = sorted(dirty)
        if not dirty and self.hashed_files == reused:
            self.mode = "unchanged"
            for name in paths:
                yield name, reused[self._key(name)], False
            return
        self.mode = "partial"
        self._reused = reused
        for name in dirty:
            self._refs[self._key(name)] = set()
        # Django's own processing of the changed files, the unchanged ones resolved from
        # the recorded names; ManifestFilesMixin.post_process is skipped because it starts
        # the manifest from nothing.
        self.hashed_files = {}
        subset = {name: paths[name] for name in dirty}
        yield from HashedFilesMixin.post_process(self, subset, dry_run=False, **options)
        self._recording = None
        for name in paths:
            key = self._key(name)
            if name not in dirty:
                self.hashed_files[key] = reused[key]
                yield name, reused[key], False
        self._reused = {}
        self.save_manifest()
        self._save_state(paths)

    def save_manifest(self) -> None:
        """Django's, with the paths in sorted order (as Django 6.0+ writes them): the same
        files give the same manifest bytes however they were processed, so a publish from
        a fresh ``STATIC_ROOT`` finds the live manifest unchanged."""
        self.hashed_files = dict(sorted(self.hashed_files.items()))
        super().save_manifest()

    def _fingerprint(self) -> str:
        # Everything besides the files that decides the output: a change means a full run.
        patterns = [
            [extension, [p if isinstance(p, str) else [str(x) for x in p[:2]] for p in group]]
            for extension, group in self.patterns
        ]
        described = [
            django.get_version(),
            str(settings.STATIC_URL),
            f"{type(self).__module__}.{type(self).__qualname__}",
            patterns,
            self.max_post_process_passes,
            self.manifest_version,
            self.manifest_name,
        ]
        return hashlib.md5(json.dumps(described).encode(), usedforsecurity=False).hexdigest()

    def _signatures(self, paths: Mapping[str, Any]) -> dict[str, list[int]] | None:
        """Each source file's [size, mtime_ns]; None when one is not on the local disk."""
        signatures = {}
        for name, (storage, path) in paths.items():
            try:
                stat = os.stat(storage.path(path))
            except (NotImplementedError, OSError):
                return None
            signatures[self._key(name)] = [stat.st_size, stat.st_mtime_ns]
        return signatures

    def _manifest_md5(self) -> str | None:
        try:
            with self.manifest_storage.open(self.manifest_name) as manifest:  # type: ignore[union-attr]
                return hashlib.md5(manifest.read(), usedforsecurity=False).hexdigest()
        except FileNotFoundError:
            return None

    def _plan(self, paths: Mapping[str, Any]) -> tuple[set[str], dict[str, str]] | None:
        """(files to process, recorded hashed names of the rest), or None for a full run."""
        if not _RECORDS_REFERENCES:
            return None
        state = _read_json(Path(self.path(COLLECT_STATE)))
        if (
            not isinstance(state, dict)
            or state.get("version") != 1
            or state.get("fingerprint") != self._fingerprint()
            or state.get("manifest_md5") != self._manifest_md5()
        ):
            return None
        signatures = self._signatures(paths)
        if signatures is None:
            return None
        recorded: dict[str, list[Any]] = state.get("files", {})
        refs: dict[str, list[str]] = state.get("refs", {})
        changed = {
            key
            for key, signature in signatures.items()
            if key not in recorded
            or recorded[key][:2] != signature
            # The hashed copy must still be there to be reused.
            or not os.path.exists(self.path(recorded[key][2]))
        }
        affected = changed | (recorded.keys() - signatures.keys())
        dirty = set(changed)
        # A stylesheet or script that references a changed (or removed) file gets a new
        # hash too; so does one that references it. Iterate to a fixed point.
        grew = True
        while grew:
            grew = False
            for key, targets in refs.items():
                if key in signatures and key not in dirty and affected.intersection(targets):
                    dirty.add(key)
                    affected.add(key)
                    grew = True
        self._refs = {key: set(targets) for key, targets in refs.items() if key in signatures}
        reused = {key: recorded[key][2] for key in signatures if key not in dirty}
        by_key = {self._key(name): name for name in paths}
        return {by_key[key] for key in dirty}, reused

    def _save_state(self, paths: Mapping[str, Any]) -> None:
        signatures = self._signatures(paths)
        target = Path(self.path(COLLECT_STATE))
        if signatures is None:
            target.unlink(missing_ok=True)
            return
        state = {
            "version": 1,
            "fingerprint": self._fingerprint(),
            "manifest_md5": self._manifest_md5(),
            "files": {
                key: [*signature, self.hashed_files[key]]
                for key, signature in signatures.items()
                if key in self.hashed_files
            },
            "refs": {key: sorted(targets) for key, targets in self._refs.items() if targets},
        }
        _write_json(target, state)


@dataclass
class CollectSummary:
    """What :func:`collect_locally` did: files found, copied under their original names,
    left as they were, post-processed."""

    found: int
    copied: int
    unmodified: int
    post_processed: int
    mode: str
    seconds: float = 0.0


class _CollectStatic(CollectStatic):
    """collectstatic that tells ``on_copied(name, source_storage, path)`` about every file
    it has copied (or found unmodified); without ``originals`` it copies nothing (the
    post-processing reads the sources and writes the hashed copies)."""

    on_copied: Callable[[str, Any, str], None] | None = None
    originals = True
    found = 0

    def copy_file(self, path: str, prefixed_path: str, source_storage: Any) -> None:
        self.found += 1
        if self.originals:
            super().copy_file(path, prefixed_path, source_storage)
        if self.on_copied is not None:
            self.on_copied(prefixed_path, source_storage, path)


def collect_locally(
    static_root: str | os.PathLike[str],
    *,
    hashed: bool = True,
    manifest_name: str = MANIFEST_NAME,
    ignore_patterns: Iterable[str] = (),
    use_default_ignore_patterns: bool = True,
    publisher: StaticPublisher | None = None,
    originals: bool = True,
) -> CollectSummary:
    """Run ``collectstatic`` into ``static_root`` on the local disk, whatever
    ``STORAGES['staticfiles']`` says; with ``hashed``, through
    :class:`IncrementalManifestStorage` (hashed names and ``manifest_name``).

    With a ``publisher``, each new or changed file whose hashed name depends only on its
    own bytes (not a stylesheet or script) is handed to ``publisher.prepublish`` as soon as
    it is copied: its upload overlaps the rest of the collect. Without ``originals`` (and
    with ``hashed``), STATIC_ROOT gets only the hashed copies and the manifest, not the
    files under their original names.
    """
    started = time.perf_counter()
    root = Path(static_root)
    storage: StaticFilesStorage
    command = _CollectStatic()
    if hashed:
        storage = IncrementalManifestStorage(location=root, manifest_name=manifest_name)
        command.originals = originals
        if publisher is not None:
            command.on_copied = _early_uploads(storage, publisher)
    else:
        storage = StaticFilesStorage(location=root)
    # The storage collectstatic writes to, for this run only: settings stay untouched.
    command.storage = storage
    try:
        call_command(
            command,
            interactive=False,
            verbosity=0,
            ignore_patterns=list(ignore_patterns),
            use_default_ignore_patterns=use_default_ignore_patterns,
        )
    except (ValueError, OSError) as exc:
        raise PublishError(f"collectstatic into {root} failed: {describe_error(exc)}") from exc
    return CollectSummary(
        found=command.found,
        copied=len(command.copied_files) + len(command.symlinked_files),
        unmodified=len(command.unmodified_files),
        post_processed=len(command.post_processed_files),
        mode=storage.mode if isinstance(storage, IncrementalManifestStorage) else "plain",
        seconds=time.perf_counter() - started,
    )


def _early_uploads(
    storage: IncrementalManifestStorage, publisher: StaticPublisher
) -> Callable[[str, Any, str], None]:
    def copied(name: str, source_storage: Any, path: str) -> None:
        if (
            not publisher.accepts_early()
            or storage.is_adjustable(name)
            or storage.is_current(name, source_storage, path)
        ):
            return
        try:
            if source_storage.size(path) > EARLY_FILE_LIMIT:
                return
            with source_storage.open(path) as handle:
                data = handle.read()
        except (OSError, NotImplementedError):
            return  # the collect itself will report a file it cannot read
        # The name Django's post-processing gives these bytes (the same method computes it).
        hashed = storage.clean_name(storage.hashed_name(name, ContentFile(data)))
        publisher.prepublish(hashed, data)

    return copied


# --- The publish ------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalFile:
    """A file of ``STATIC_ROOT`` to publish: its name relative to the root, path and stat."""

    name: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class RemoteBlob:
    """What one listing says about a blob."""

    name: str
    size: int
    md5: bytes | None
    content_type: str | None
    cache_control: str | None
    last_modified: datetime | None


@dataclass
class PublishResult:
    """The outcome of a publish (or, with ``dry_run``, of what one would do)."""

    uploaded: list[str] = field(default_factory=list)
    #: How many of ``uploaded`` went up while the files were still being collected.
    early: int = 0
    skipped: int = 0
    pruned: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def summary(self) -> str:
        """One line: ``publishstatic: N uploaded, N skipped, N pruned, N bytes, S s``."""
        if self.dry_run:
            return (
                f"publishstatic --dry-run: {len(self.uploaded)} to upload, {self.skipped} "
                f"skipped, {len(self.pruned)} to prune, {self.bytes} bytes, {self.seconds:.1f} s"
            )
        return (
            f"publishstatic: {len(self.uploaded)} uploaded, {self.skipped} skipped, "
            f"{len(self.pruned)} pruned, {self.bytes} bytes, {self.seconds:.1f} s"
        )


class _Backoff(ExponentialRetry):
    """The SDK's storage retry policy with sub-second, capped, jittered exponential backoff
    (its own starts at 15 s: a deploy would sit out a blip for minutes)."""

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        count = max(int(settings.get("count", 1)), 1)
        base = min(SDK_MAX_BACKOFF, SDK_BACKOFF * 2 ** (count - 1))
        return float(base * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret


def publish_client(storage: AzureStorage, *, workers: int = DEFAULT_WORKERS) -> ContainerClient:
    """Return a ``ContainerClient`` for ``storage``'s container with the same address and
    credential (key, SAS or token), a connection pool as large as the worker pool, bounded
    retries and timeouts."""
    source = storage.client
    # The storage's own client options (a CA bundle, an API version) apply here too; the
    # connection ones belong to the transport, which is built here for its pool size.
    options = dict(getattr(storage, "client_options", None) or {})
    connection: dict[str, Any] = {
        "connection_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
    }
    connection.update({key: options.pop(key) for key in _TRANSPORT_OPTIONS if key in options})
    for key in ("transport", "retry_policy", "logger"):
        options.pop(key, None)
    session = requests.Session()
    # urllib3 keeps 10 connections per host by default and drops (with a warning) every
    # connection beyond: with 16 workers each upload would open a new one.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers + 4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # requests looks the proxy variables and CA bundle up in the environment on every
    # request, walking all of os.environ each time: a third of the client's CPU per upload,
    # under the GIL. Every request here goes to one host, so they are looked up once.
    found = session.merge_environment_settings(source.url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    if isinstance(found["verify"], str) and "connection_verify" not in connection:
        connection["connection_verify"] = found["verify"]
    session.trust_env = False
    return ContainerClient.from_container_url(
        source.url,
        credential=source.credential,
        transport=RequestsTransport(session=session, session_owner=True, **connection),
        retry_policy=_Backoff(retry_total=SDK_RETRIES, random_jitter_range=0),
        logger=_SDK_LOGGER,
        **options,
    )


_TRANSPORT_OPTIONS = (
    "connection_timeout",
    "read_timeout",
    "connection_verify",
    "connection_cert",
    "connection_data_block_size",
)


def _with_retries(call: Callable[[], Any]) -> Any:
    """``call()``, tried again after a pause when its connection fails even after the SDK's
    own retries (a reset load balancer, a dropped NAT entry)."""
    for attempt in range(1, CONNECTION_ATTEMPTS + 1):
        try:
            return call()
        except (ServiceRequestError, ServiceResponseError):
            if attempt == CONNECTION_ATTEMPTS:
                raise
            time.sleep(CONNECTION_BACKOFF * attempt * random.uniform(0.5, 1.0))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


def static_location(storage: AzureStorage) -> str:
    """The blob-name prefix of ``storage`` (its ``location``), '' or ending in '/'."""
    location = str(getattr(storage, "location", "") or "").replace("\\", "/").strip("/")
    return f"{location}/" if location else ""


def local_files(
    static_root: Path, *, manifest_name: str | None, unhashed: bool = False
) -> tuple[list[LocalFile], LocalFile | None]:
    """Return (files to publish, the manifest) of ``static_root``.

    With ``manifest_name`` (a manifest storage serves the site): the hashed files the
    manifest names, plus the original names with ``unhashed``; the manifest separately, as
    it goes last. Without: every file. Never the precompressed ``.gz``/``.br`` variants,
    nor prodkit's own ``.prodkit`` bookkeeping.
    """
    if manifest_name is None:
        names = sorted(_walk(static_root))
        return [_stat(static_root, name) for name in names], None
    manifest_path = static_root / manifest_name
    document = _read_json(manifest_path)
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise PublishError(
            f"{manifest_path} is missing or is not a staticfiles manifest. Run publishstatic "
            "without --no-collect, or collectstatic with a manifest storage, first."
        )
    paths: dict[str, str] = document["paths"]
    wanted = set(paths.values()) | (set(paths) if unhashed else set())
    wanted = {name for name in wanted if not name.endswith(PRECOMPRESSED)}
    missing = sorted(name for name in wanted if not (static_root / name).is_file())
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise PublishError(
            f"{manifest_path} names files that are not in STATIC_ROOT: {shown}. "
            "Run publishstatic without --no-collect (or collectstatic) again."
        )
    return [_stat(static_root, name) for name in sorted(wanted)], _stat(static_root, manifest_name)


def _walk(root: Path) -> Iterator[str]:
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            name = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=True):
                if name != STATE_DIR:
                    stack.append((Path(entry.path), f"{name}/"))
            elif not name.endswith(PRECOMPRESSED):
                yield name


def _stat(root: Path, name: str) -> LocalFile:
    path = root / name
    stat = path.stat()
    return LocalFile(name=name, path=path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, document: Any) -> None:
    """Write ``document`` to ``path`` atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, separators=(",", ":")))
    os.replace(temporary, path)


class _Prefiltered:
    """A compiled pattern that answers "no match" at once when a literal every match must
    contain is absent (a substring test is far cheaper than the regex)."""

    def __init__(self, pattern: re.Pattern[str], literal: str, ignore_case: bool) -> None:
        self.compiled = pattern
        self.literal = literal.lower() if ignore_case else literal
        self.ignore_case = ignore_case

    def _absent(self, string: str) -> bool:
        return self.literal not in (string.lower() if self.ignore_case else string)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        if self._absent(string):
            return string
        return self.compiled.sub(repl, string, count)

    def search(self, string: str, *args: Any) -> re.Match[str] | None:
        if self._absent(string):
            return None
        return self.compiled.search(string, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)


# Django's patterns (5.2 to 6.1) and a literal each match contains; True: any case.
_LITERALS = (
    ("(?-i:sourceMappingURL)", "sourceMappingURL", False),
    (r"url\(", "url(", True),
    ("@import", "@import", True),
    ("(?P<matched>import", "import", True),
    ("(?P<matched>export", "export", True),
)


def _prefiltered(pattern: Any) -> Any:
    """``pattern`` behind a literal prefilter, when it is one of Django's own."""
    if not isinstance(pattern, re.Pattern) or not isinstance(pattern.pattern, str):
        return pattern
    for marker, literal, ignore_case in _LITERALS:
        if marker in pattern.pattern:
            return _Prefiltered(pattern, literal, ignore_case)
    return pattern


def _same_bytes(path: Path, content: Any) -> bool:
    """True when the file at ``path`` holds exactly ``content`` (a Django ``File``)."""
    try:
        if path.stat().st_size != content.size:
            return False
        with path.open("rb") as handle:
            for chunk in content.chunks():
                if handle.read(len(chunk)) != chunk:
                    return False
            return handle.read(1) == b""
    except (OSError, AttributeError, ValueError):
        return False


def _md5_file(path: Path) -> bytes:
    hasher = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.digest()


class StaticPublisher:
    """Publish a ``STATIC_ROOT`` to the container of an ``AzureStorage``.

    ``start_listing()`` lists the container in the background (so the local collect and the
    listing overlap); ``publish()`` then uploads what is new or changed, the manifest last,
    and prunes when asked. ``manifest_name`` None publishes every file (a storage without
    hashed names); otherwise see :func:`local_files`.
    """

    def __init__(
        self,
        storage: AzureStorage,
        static_root: str | os.PathLike[str],
        *,
        manifest_name: str | None = MANIFEST_NAME,
        unhashed: bool = False,
        workers: int = DEFAULT_WORKERS,
        prune: bool = False,
        keep: int = DEFAULT_KEEP,
        dry_run: bool = False,
        log: Callable[[str], None] | None = None,
        progress: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise PublishError(f"--workers must be from 1 to {MAX_WORKERS}, got {workers}.")
        if keep < 1:
            raise PublishError(f"--keep must be at least 1, got {keep}.")
        self.storage = storage
        self.static_root = Path(static_root)
        self.manifest_name = manifest_name
        self.unhashed = unhashed
        self.workers = workers
        self.prune = prune
        self.keep = keep
        self.dry_run = dry_run
        self.log = log or (lambda message: None)
        self.progress = progress
        self.prefix = static_location(storage)
        self.container = str(getattr(storage, "azure_container", "") or "?")
        self.client = publish_client(storage, workers=workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publishstatic")
        self._listing: Future[dict[str, RemoteBlob]] | None = None
        self._md5_lock = threading.Lock()
        self._md5: dict[str, list[Any]] = {}
        self._md5_changed = False
        self._history_written: dict[str, bytes] = {}
        self._early: dict[str, tuple[Future[None], bytes]] = {}
        self._early_lock = threading.Lock()
        self._early_bytes = 0

    # -- lifecycle

    def close(self) -> None:
        """Stop the workers (pending uploads are dropped) and close the HTTP session."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def __enter__(self) -> StaticPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start_listing(self) -> None:
        """List the container in the background; ``publish()`` waits for it."""
        if self._listing is None:
            self._listing = self._pool.submit(self._list)

    def listing(self) -> dict[str, RemoteBlob]:
        """The container's blobs under the static location (one listing, waited for)."""
        self.start_listing()
        return self._listing_result()

    # -- names

    def blob_name(self, name: str) -> str:
        """The blob name of ``name`` (relative to STATIC_ROOT): the location prefix + name."""
        return f"{self.prefix}{name}"

    @property
    def history_prefix(self) -> str:
        """Where published manifests are kept, under the static location."""
        return f"{self.prefix}{HISTORY_DIR}/"

    # -- the publish

    def publish(self) -> PublishResult:
        """Upload what is new or changed, the manifest last; prune when asked."""
        started = time.perf_counter()
        result = PublishResult(dry_run=self.dry_run)
        self.start_listing()
        files, manifest = local_files(
            self.static_root, manifest_name=self.manifest_name, unhashed=self.unhashed
        )
        self._md5 = self._load_md5_cache()
        remote = self.listing()
        try:
            early = self._settle_early()
            todo = self._changed(files, remote, result, early)
            manifest_changed = manifest is not None and bool(
                self._changed([manifest], remote, result)
            )
            total = len(result.uploaded) + len(todo) + int(manifest_changed)
            total_bytes = result.bytes + sum(f.size for f in todo)
            if manifest is not None and manifest_changed:
                total_bytes += manifest.size
            if self.dry_run:
                for item in todo:
                    self.log(f"upload {self.blob_name(item.name)}")
                result.uploaded += [item.name for item in todo]
                result.bytes += sum(item.size for item in todo)
            else:
                self._upload_all(todo, result, total, total_bytes)
            if manifest is not None and manifest_changed:
                # Every other file is in place: now the manifest can make them live.
                self._record_history(manifest, remote)
                if self.dry_run:
                    self.log(f"upload {self.blob_name(manifest.name)} (last)")
                else:
                    self._upload(manifest)
                result.uploaded.append(manifest.name)
                result.bytes += manifest.size
                self._report(result, total, total_bytes)
            if self.prune:
                self._prune(files, manifest, remote, result)
        finally:
            self._save_md5_cache()
        result.seconds = time.perf_counter() - started
        return result

    def _listing_result(self) -> dict[str, RemoteBlob]:
        assert self._listing is not None
        try:
            return self._listing.result()
        except ResourceNotFoundError as exc:
            raise PublishError(
                f"The container '{self.container}' does not exist ({describe_error(exc)}). "
                "Create it (az storage container create --name ...) or fix the container "
                "setting of STORAGES['staticfiles']."
            ) from None
        except ClientAuthenticationError as exc:
            raise PublishError(
                f"Listing the container '{self.container}' was refused: {describe_error(exc)}. "
                "Check the credentials of STORAGES['staticfiles'] (account key, SAS token or "
                "the identity's 'Storage Blob Data Contributor' role)."
            ) from None
        except AzureError as exc:
            raise PublishError(
                f"Listing the container '{self.container}' failed: {describe_error(exc)}."
            ) from None

    def _list(self) -> dict[str, RemoteBlob]:
        """One listing of every blob under the static location."""

        def listing() -> dict[str, RemoteBlob]:
            found = {}
            for blob in self.client.list_blobs(name_starts_with=self.prefix or None):
                settings_ = blob.content_settings
                md5 = settings_.content_md5
                found[blob.name] = RemoteBlob(
                    name=blob.name,
                    size=int(blob.size or 0),
                    md5=bytes(md5) if md5 else None,
                    content_type=settings_.content_type,
                    cache_control=settings_.cache_control,
                    last_modified=blob.last_modified,
                )
            return found

        result: dict[str, RemoteBlob] = _with_retries(listing)
        return result

    def _expected(self, name: str) -> tuple[str, str]:
        return content_type(name), static_cache_control(name)

    def _changed(
        self,
        files: list[LocalFile],
        remote: Mapping[str, RemoteBlob],
        result: PublishResult,
        early: Mapping[str, bytes] | None = None,
    ) -> list[LocalFile]:
        """The files whose blob is missing or differs in size, MD5 or headers; files this
        run already uploaded while collecting (``early``) count as uploaded."""
        early = early or {}
        candidates: list[tuple[LocalFile, bytes | None, bool]] = []
        todo = []
        for item in files:
            blob = remote.get(self.blob_name(item.name))
            type_, cache = self._expected(item.name)
            if item.name in early:
                candidates.append((item, early[item.name], True))
            elif (
                blob is None
                or blob.md5 is None
                or blob.size != item.size
                or blob.content_type != type_
                or blob.cache_control != cache
            ):
                todo.append(item)
            else:
                candidates.append((item, blob.md5, False))
        # Local MD5s only where a blob could match: from the cache, or hashed in parallel.
        uncached = [item for item, _, _ in candidates if self._cached_md5(item) is None]
        for item, local in zip(uncached, self._pool.map(self._hash, uncached), strict=True):
            self._remember_md5(item, local)
        for item, expected, uploaded in candidates:
            if self._cached_md5(item) != expected:
                todo.append(item)
            elif uploaded:
                result.uploaded.append(item.name)
                result.early += 1
                result.bytes += item.size
            else:
                result.skipped += 1
        todo.sort(key=lambda item: item.name)
        return todo

    # -- uploads while the files are being collected

    def prepublish(self, name: str, data: bytes) -> None:
        """Upload ``data`` as ``name`` (relative to STATIC_ROOT) now, before the collect
        that writes it has finished, unless the container has it already. Only a head
        start: ``publish()`` checks every such file against STATIC_ROOT afterwards."""
        if self.dry_run or name in self._early:
            return
        remote = self._remote_for_early()
        if remote is None:
            return
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        blob = remote.get(self.blob_name(name))
        type_, cache = self._expected(name)
        if (
            blob is not None
            and blob.md5 == digest
            and blob.size == len(data)
            and (blob.content_type, blob.cache_control) == (type_, cache)
        ):
            return
        size = len(data)
        with self._early_lock:
            # Bounded: the bytes wait in memory until a worker has uploaded them.
            if self._early_bytes + size > EARLY_BYTES:
                return
            self._early_bytes += size
        future = self._pool.submit(self._put, name, data, digest)
        # The callback keeps only the size: a future keeps its callbacks, not its bytes.
        future.add_done_callback(lambda _: self._release_early(size))
        self._early[name] = (future, digest)

    def accepts_early(self) -> bool:
        """True when ``prepublish`` would act now (not a dry run, the listing is in)."""
        return not self.dry_run and self._remote_for_early() is not None

    def _release_early(self, size: int) -> None:
        with self._early_lock:
            self._early_bytes -= size

    def _remote_for_early(self) -> dict[str, RemoteBlob] | None:
        # Never wait for the listing: the collect goes on, and publish() uploads what was
        # not uploaded early.
        if self._listing is None or not self._listing.done():
            return None
        try:
            return self._listing.result()
        except Exception:  # publish() reports the listing's failure
            return None

    def _settle_early(self) -> dict[str, bytes]:
        """Wait for the uploads made while collecting; return the MD5 of each that worked
        (one that failed is simply uploaded again, with the rest)."""
        settled = {}
        for name, (future, digest) in self._early.items():
            if future.exception() is None:
                settled[name] = digest
        return settled

    def _hash(self, item: LocalFile) -> bytes:
        return _md5_file(item.path)

    def _upload_all(
        self, todo: list[LocalFile], result: PublishResult, total: int, total_bytes: int
    ) -> None:
        """Upload ``todo`` on the worker pool; on the first failure stop and raise."""
        if not todo:
            return
        futures = {self._pool.submit(self._upload, item): item for item in todo}
        pending = set(futures)
        failure: tuple[LocalFile, BaseException] | None = None
        self._report(result, total, total_bytes)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            for future in done:
                item = futures[future]
                error = future.exception()
                if error is not None:
                    failure = failure or (item, error)
                    continue
                result.uploaded.append(item.name)
                result.bytes += item.size
                self.log(f"uploaded {self.blob_name(item.name)}")
            self._report(result, total, total_bytes)
            if failure is not None:
                for future in pending:
                    future.cancel()
                wait(pending)
                break
        if failure is not None:
            item, error = failure
            raise PublishError(
                f"Uploading {self.blob_name(item.name)} to the container '{self.container}' "
                f"failed: {describe_error(error)}. {len(result.uploaded)} of {len(todo)} files "
                "were uploaded; the manifest was not, so the site still serves the previous "
                "release. Run publishstatic again to finish."
            )

    def _upload(self, item: LocalFile) -> None:
        """Upload one file of STATIC_ROOT (see ``_put``)."""
        if item.size <= IN_MEMORY_LIMIT:
            data = item.path.read_bytes()
            digest = hashlib.md5(data, usedforsecurity=False).digest()
            self._put(item.name, data, digest)
        else:
            digest = _md5_file(item.path)
            self._put(item.name, item.path, digest)
        self._remember_md5(item, digest)

    def _put(self, name: str, data: bytes | Path, digest: bytes) -> None:
        """Upload ``data`` (bytes, or a file streamed from disk) as ``name`` with its
        Content-Type, Cache-Control and Content-MD5, retrying transient failures."""
        type_, cache = self._expected(name)
        blob = self.blob_name(name)
        headers = ContentSettings(
            content_type=type_, cache_control=cache, content_md5=bytearray(digest)
        )

        def upload() -> None:
            if isinstance(data, bytes):
                self.client.upload_blob(
                    blob, data, length=len(data), overwrite=True, content_settings=headers
                )
                return
            with data.open("rb") as handle:
                self.client.upload_blob(
                    blob,
                    handle,
                    length=data.stat().st_size,
                    overwrite=True,
                    content_settings=headers,
                )

        _with_retries(upload)

    def _report(self, result: PublishResult, total: int, total_bytes: int) -> None:
        if self.progress is not None:
            self.progress(len(result.uploaded), total, result.bytes, total_bytes)

    # -- manifests kept for --prune

    def _record_history(self, manifest: LocalFile, remote: Mapping[str, RemoteBlob]) -> None:
        """Keep a copy of the manifest about to go live (and of the live one, when it was
        published by something that kept none) under ``.prodkit/manifests/``; in a dry run,
        only work out their names."""
        history = sorted(name for name in remote if name.startswith(self.history_prefix))
        known = {remote[name].md5 for name in history}
        live = remote.get(self.blob_name(manifest.name))
        if live is not None and live.md5 is not None and live.md5 not in known:
            # The release now live, e.g. from collectstatic, becomes the previous one.
            data = self._download(live.name)
            self._put_history(data, live.last_modified or datetime.now(UTC))
        digest = self._cached_md5(manifest) or _md5_file(manifest.path)
        newest = remote[history[-1]].md5 if history else None
        if newest != digest:
            self._put_history(manifest.path.read_bytes(), datetime.now(UTC))

    def _download(self, name: str) -> bytes:
        def download() -> bytes:
            data: bytes = self.client.download_blob(name).readall()
            return data

        result: bytes = _with_retries(download)
        return result

    def _put_history(self, data: bytes, stamp: datetime) -> None:
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        name = (
            f"{self.history_prefix}{stamp.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-"
            f"{digest.hex()[:12]}.json"
        )
        self._history_written[name] = data
        if self.dry_run:
            return
        headers = ContentSettings(
            content_type=content_type(name),
            cache_control="private, no-store",
            content_md5=bytearray(digest),
        )
        _with_retries(
            lambda: self.client.upload_blob(
                name, data, length=len(data), overwrite=True, content_settings=headers
            )
        )

    def _prune(
        self,
        files: list[LocalFile],
        manifest: LocalFile | None,
        remote: Mapping[str, RemoteBlob],
        result: PublishResult,
    ) -> None:
        """Delete blobs under the static location that neither this publish nor the last
        ``keep`` manifests reference (listed only, in a dry run)."""
        keep = {self.blob_name(f.name) for f in files}
        if manifest is not None:
            keep.add(self.blob_name(manifest.name))
            # The history as the listing found it plus what this publish wrote (or would).
            listed = {name for name in remote if name.startswith(self.history_prefix)}
            history = sorted(listed | self._history_written.keys(), reverse=True)
            recent = history[: self.keep]
            keep.update(recent)
            for name in recent:
                data = self._history_written.get(name)
                if data is None:
                    data = self._download(name)
                try:
                    document = json.loads(data)
                except ValueError:
                    raise PublishError(
                        f"The kept manifest {name} is not JSON: delete it, or publish without "
                        "--prune."
                    ) from None
                paths = document.get("paths", {}) if isinstance(document, dict) else {}
                keep.update(self.blob_name(name) for name in paths)
                keep.update(self.blob_name(name) for name in paths.values())
        stale = sorted(name for name in remote if name not in keep)
        if self.dry_run:
            for name in stale:
                self.log(f"prune {name}")
            result.pruned = stale
            return

        def delete(name: str) -> None:
            # Gone already: pruned by another run.
            with contextlib.suppress(ResourceNotFoundError):
                _with_retries(lambda: self.client.delete_blob(name))

        for name, outcome in zip(stale, self._pool.map(_capture(delete), stale), strict=True):
            if outcome is not None:
                raise PublishError(
                    f"Pruning {name} failed: {describe_error(outcome)}. "
                    f"{len(result.pruned)} stale blobs were deleted; the release is live."
                )
            result.pruned.append(name)
            self.log(f"pruned {name}")

    # -- the local MD5 cache

    def _cache_path(self) -> Path:
        return self.static_root / MD5_CACHE

    def _load_md5_cache(self) -> dict[str, list[Any]]:
        document = _read_json(self._cache_path())
        return document if isinstance(document, dict) else {}

    def _save_md5_cache(self) -> None:
        if not self._md5_changed or self.dry_run:
            return
        # A read-only STATIC_ROOT: the next run hashes again.
        with contextlib.suppress(OSError):
            _write_json(self._cache_path(), self._md5)

    def _cached_md5(self, item: LocalFile) -> bytes | None:
        with self._md5_lock:
            entry = self._md5.get(item.name)
        if entry and entry[0] == item.size and entry[1] == item.mtime_ns:
            return bytes.fromhex(entry[2])
        return None

    def _remember_md5(self, item: LocalFile, digest: bytes) -> None:
        entry = [item.size, item.mtime_ns, digest.hex()]
        with self._md5_lock:
            if self._md5.get(item.name) != entry:
                self._md5[item.name] = entry
                self._md5_changed = True


def _capture(function: Callable[[str], None]) -> Callable[[str], BaseException | None]:
    def call(name: str) -> BaseException | None:
        try:
            function(name)
        except Exception as exc:
            return exc
        return None

    return call


def publish_static(
    storage: AzureStorage,
    static_root: str | os.PathLike[str],
    *,
    collect: bool = True,
    ignore_patterns: Iterable[str] = (),
    use_default_ignore_patterns: bool = True,
    unhashed: bool = False,
    workers: int = DEFAULT_WORKERS,
    prune: bool = False,
    keep: int = DEFAULT_KEEP,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> tuple[CollectSummary | None, PublishResult]:
    """Collect into ``static_root`` (unless not ``collect``) and publish it to ``storage``'s
    container: what ``manage.py publishstatic`` does. The container is listed while the
    files are collected, and files whose hashed name depends only on their own bytes are
    uploaded as they are copied. A storage with a manifest (``ManifestFilesMixin``) gets
    hashed names and the manifest last; one without, ``static_root`` as collected."""
    hashed = is_manifest_storage(storage)
    manifest_name = str(getattr(storage, "manifest_name", MANIFEST_NAME))
    with StaticPublisher(
        storage,
        static_root,
        manifest_name=manifest_name if hashed else None,
        unhashed=unhashed,
        workers=workers,
        prune=prune,
        keep=keep,
        dry_run=dry_run,
        log=log,
        progress=progress,
    ) as publisher:
        publisher.start_listing()
        collected = None
        if collect:
            collected = collect_locally(
                static_root,
                hashed=hashed,
                manifest_name=manifest_name,
                ignore_patterns=ignore_patterns,
                use_default_ignore_patterns=use_default_ignore_patterns,
                publisher=publisher,
                # Only the hashed names are published, unless asked: the originals would
                # be written into STATIC_ROOT for nothing.
                originals=unhashed,
            )
        return collected, publisher.publish()


def is_azure_storage(storage: Any) -> bool:
    """True when ``storage`` is django-storages' ``AzureStorage`` (or a subclass: prodkit's)."""
    return isinstance(storage, AzureStorage)


def is_manifest_storage(storage: Any) -> bool:
    """True when ``storage`` serves hashed names from a manifest (``ManifestFilesMixin``)."""
    return isinstance(storage, ManifestFilesMixin)


__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_WORKERS",
    "HISTORY_DIR",
    "MANIFEST_NAME",
    "CollectSummary",
    "IncrementalManifestStorage",
    "LocalFile",
    "PublishError",
    "PublishResult",
    "RemoteBlob",
    "StaticPublisher",
    "collect_locally",
    "is_azure_storage",
    "is_manifest_storage",
    "local_files",
    "publish_client",
    "publish_static",
    "static_location",
]
