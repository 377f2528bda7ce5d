"""Private media handed to the front end, or streamed, once a view has let the user in.

``protected_file_response(request, name)`` answers with the file ``name`` of a storage (the
default one unless given) in the way ``PRODKIT_PROTECTED_MODE`` says:

- ``nginx``: an empty response with ``X-Accel-Redirect: PRODKIT_PROTECTED_URL + name``;
  nginx serves the file from an ``internal`` location (Range and conditional requests too).
- ``xsendfile``: an empty response with ``X-Sendfile: <absolute path>``, as UTF-8 bytes (Apache
  mod_xsendfile, lighttpd); the storage must have local paths (``storage.path()``).
- ``sas``: a 302 to a SAS URL of the blob valid for ``PRODKIT_PROTECTED_SAS_SECONDS``, with
  the download's Content-Type and Content-Disposition signed into it (``rsct``, ``rscd``).
- ``stream``: Django streams the file itself, with ETag, Last-Modified, 304 and single
  byte ranges (206): no front end needed, a worker busy for the whole transfer.
- ``auto`` (the default): ``sas`` for ``AzureMediaStorage``, ``stream`` for anything else.

Whatever the mode, the name is checked first: one that leaves the storage (``..``, an
absolute path, a backslash, a control character such as NUL or CR/LF, an empty name) is a
404 and never reaches a header. Content-Type comes from the name (``storage.headers``), never
from the uploader; a type a browser would run (HTML, SVG, XML, JavaScript) is always sent as
an attachment, since these responses come from the site's own origin.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
import unicodedata
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage, default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from django_prodkit.conf import conf
from django_prodkit.storage import headers
from django_prodkit.storage.names import normalise_blob_name

MODES = ("auto", "nginx", "xsendfile", "sas", "stream")

# Browsers may keep the file but must ask again before reusing it, so the view decides
# every time (access can be revoked); ETag/Last-Modified make asking again cheap.
CACHE_CONTROL = "private, no-cache"
# A redirect to a signed URL is kept by nobody: the next request must get a fresh one.
REDIRECT_CACHE_CONTROL = "private, no-store"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def protected_mode(storage: Storage | None = None) -> str:
    """Return the mode ``PRODKIT_PROTECTED_MODE`` names, ``auto`` resolved for ``storage``."""
    mode = conf.PRODKIT_PROTECTED_MODE.strip().lower()
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"PRODKIT_PROTECTED_MODE must be one of {', '.join(MODES)}, got {mode!r}."
        )
    if mode == "auto":
        return "sas" if _is_azure_media(storage or default_storage) else "stream"
    return mode


def protected_url() -> str:
    """Return ``PRODKIT_PROTECTED_URL``, the internal nginx location, as ``/prefix/``."""
    prefix = conf.PRODKIT_PROTECTED_URL.strip()
    if not prefix.startswith("/") or "?" in prefix or "#" in prefix or _CONTROL.search(prefix):
        raise ImproperlyConfigured(
            f"PRODKIT_PROTECTED_URL must be a path such as '/_protected/', got {prefix!r}."
        )
    return prefix.rstrip("/") + "/"


def protected_sas_seconds() -> int:
    """Return ``PRODKIT_PROTECTED_SAS_SECONDS``: how long a redirect's SAS URL is valid."""
    seconds = conf.PRODKIT_PROTECTED_SAS_SECONDS
    if seconds < 1:
        raise ImproperlyConfigured(
            f"PRODKIT_PROTECTED_SAS_SECONDS must be at least 1, got {seconds}."
        )
    return seconds


def safe_name(name: str) -> str:
    """Return ``name`` normalised (``a//./b`` -> ``a/b``, Unicode NFC), or raise ``Http404``
    for a name that would leave the storage or break a header."""
    if not isinstance(name, str):
        raise Http404("No such file.")
    try:
        return normalise_blob_name(name)
    except SuspiciousFileOperation:
        # The reason stays out of the 404 page: it would echo the name.
        raise Http404("No such file.") from None


def content_disposition(name: str, *, attachment: bool) -> str:
    """Return a Content-Disposition for a download named ``name``: ``attachment`` or
    ``inline``, an ASCII ``filename`` and, for other names, ``filename*`` (RFC 6266)."""
    display = _display_name(name)
    if display.isascii():
        return str(content_disposition_header(attachment, display))
    # Django's header for a non-ASCII name is its filename* form alone.
    ascii_part = content_disposition_header(attachment, _ascii_name(display))
    utf8_part = str(content_disposition_header(attachment, display)).split("; ", 1)[1]
    return f"{ascii_part}; {utf8_part}"


def protected_file_response(
    request: HttpRequest,
    name: str,
    storage: Storage | None = None,
    *,
    attachment: bool = True,
    filename: str | None = None,
    content_type: str | None = None,
) -> HttpResponseBase:
    """Return the response that delivers file ``name`` of ``storage`` (the default storage)
    in the mode ``PRODKIT_PROTECTED_MODE`` names.

    Call it from a view that has already decided the user may have the file, e.g.
    ``protected_file_response(request, invoice.pdf.name, filename=f"{invoice}.pdf")``.

    ``attachment`` False asks the browser to show the file (ignored for types a browser
    would run); ``filename`` is the name it saves the file under (the last segment of
    ``name`` by default); ``content_type`` overrides the type guessed from ``name``.

    Raises ``Http404`` for an unsafe ``name`` (and, streaming, for a missing file);
    ``ImproperlyConfigured`` when the mode does not fit the storage.
    """
    storage = storage or default_storage
    blob = safe_name(name)
    mode = protected_mode(storage)
    kind = content_type or headers.content_type(blob)
    if headers.is_active_type(kind):
        attachment = True
    disposition = content_disposition(filename or posixpath.basename(blob), attachment=attachment)
    if mode == "sas":
        return _sas_redirect(storage, blob, kind, disposition)
    if mode == "stream":
        return _stream(request, storage, blob, kind, disposition)
    response = HttpResponse(content_type=kind)
    if mode == "nginx":
        response["X-Accel-Redirect"] = protected_url() + quote(blob, safe="/")
    else:
        # mod_xsendfile unescapes the value (XSendFileUnescape, on by default), which lets
        # a name with '%' or non-ASCII characters through the Latin-1 header intact.
        # The path as written, its UTF-8 bytes carried one per latin-1 character: Debian's
        # mod_xsendfile (0.12) reads the header literally, only 1.0 unescapes %XX.
        response["X-Sendfile"] = _local_path(storage, blob).encode().decode("latin-1")
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- The modes.


def _sas_redirect(storage: Storage, blob: str, kind: str, disposition: str) -> HttpResponse:
    """A 302 to a short-lived SAS URL that answers with ``kind`` and ``disposition``."""
    if not _is_azure_media(storage):
        raise ImproperlyConfigured(
            "PRODKIT_PROTECTED_MODE='sas' needs the media on AzureMediaStorage "
            f"(django_prodkit.storage.azure); this storage is {type(storage).__name__}."
        )
    # rsct / rscd: the blob service answers with these headers instead of the blob's own.
    parameters = {"content_type": kind, "content_disposition": disposition}
    url = storage.url(blob, expire=protected_sas_seconds(), parameters=parameters)  # type: ignore[call-arg]
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = REDIRECT_CACHE_CONTROL
    return response


def _local_path(storage: Storage, blob: str) -> str:
    """The absolute path of ``blob`` for X-Sendfile."""
    try:
        return os.path.abspath(storage.path(blob))
    except NotImplementedError:
        raise ImproperlyConfigured(
            "PRODKIT_PROTECTED_MODE='xsendfile' needs a storage with local paths "
            f"(FileSystemStorage); {type(storage).__name__} has none."
        ) from None
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None


def _stream(
    request: HttpRequest, storage: Storage, blob: str, kind: str, disposition: str
) -> HttpResponseBase:
    """The file from the storage, with validators, 304/412 and a single byte range."""
    # exists() first: storages report a missing file to size() in errors of their own.
    if not storage.exists(blob):
        raise Http404("No such file.")
    try:
        size = storage.size(blob)
        modified = _modified_time(storage, blob)
    except FileNotFoundError:
        raise Http404("No such file.") from None
    last_modified = int(modified.timestamp()) if modified else None
    validators = {"Cache-Control": CACHE_CONTROL}
    etag = None
    if modified:
        # What nginx's static module uses too: size and modification time.
        etag = validators["ETag"] = f'"{size:x}-{int(modified.timestamp() * 1_000_000):x}"'
        validators["Last-Modified"] = http_date(last_modified)
    unconditional = HttpResponse(headers=validators)
    conditional = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=unconditional
    )
    if conditional is not unconditional and conditional is not None:
        return conditional
    try:
        byte_range = _byte_range(request, size, etag, last_modified)
    except _Unsatisfiable:
        refused = HttpResponse(status=416, headers=validators)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    try:
        handle = storage.open(blob, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    if byte_range is None:
        response = FileResponse(handle, content_type=kind)
    else:
        start, end = byte_range
        handle.seek(start)
        response = FileResponse(_Slice(handle, end - start + 1), content_type=kind, status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    for header, value in validators.items():
        response[header] = value
    return response


class _Unsatisfiable(Exception):
    """The requested range starts past the end of the file (416)."""


def _byte_range(
    request: HttpRequest, size: int, etag: str | None, last_modified: int | None
) -> tuple[int, int] | None:
    """(first, last) byte of the single ``Range`` the request asks for, or None for the
    whole file (no Range, several ranges, or an ``If-Range`` naming another version).

    Raises ``_Unsatisfiable`` for a range that starts past the end of the file.
    """
    match = _SINGLE_RANGE.match(request.headers.get("Range", "").strip())
    if (
        not match
        or request.method not in ("GET", "HEAD")
        or not _if_range_holds(request, etag, last_modified)
    ):
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        # bytes=-N: the last N bytes.
        length = min(int(last), size)
        if not length:
            raise _Unsatisfiable
        return size - length, size - 1
    start = int(first)
    if start >= size:
        raise _Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


def _if_range_holds(request: HttpRequest, etag: str | None, last_modified: int | None) -> bool:
    """True unless ``If-Range`` names a different version than the one stored (RFC 9110
    13.1.5: a strong ETag match, or the exact Last-Modified date)."""
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    if condition.startswith(('"', "W/")):
        return etag is not None and condition == etag
    return last_modified is not None and parse_http_date_safe(condition) == last_modified


class _Slice:
    """At most ``length`` bytes of an open file from its current position; closes it."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self.handle = handle
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        data = self.handle.read(wanted)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


# --- Helpers.


def _modified_time(storage: Storage, blob: str) -> datetime | None:
    try:
        return storage.get_modified_time(blob)
    except NotImplementedError:
        return None


def _is_azure_media(storage: Any) -> bool:
    """True for prodkit's ``AzureMediaStorage``, without importing the Azure SDK for a
    project that does not use it (then no storage can be one). ``isinstance`` sees through
    ``default_storage``, a lazy object."""
    azure = sys.modules.get("django_prodkit.storage.azure")
    return azure is not None and isinstance(storage, azure.AzureMediaStorage)


def _display_name(name: str) -> str:
    """``name`` as a download name: NFC, no control characters, no path separators."""
    text = unicodedata.normalize("NFC", _CONTROL.sub("", str(name)))
    text = text.replace("/", "_").replace("\\", "_").strip().strip(".")
    return text or "download"


def _ascii_name(name: str) -> str:
    """An ASCII stand-in for ``name`` (``résumé.pdf`` -> ``resume.pdf``) for browsers that
    ignore ``filename*``; ``download.EXT`` when nothing of the stem is ASCII."""
    stem, extension = (_to_ascii(part) for part in posixpath.splitext(name))
    return f"{stem if stem.strip(' ._-') else 'download'}{extension}"


def _to_ascii(text: str) -> str:
    """``text`` without its accents and without the characters ASCII has no stand-in for."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().strip()


__all__ = [
    "CACHE_CONTROL",
    "MODES",
    "REDIRECT_CACHE_CONTROL",
    "content_disposition",
    "protected_file_response",
    "protected_mode",
    "protected_sas_seconds",
    "protected_url",
    "safe_name",
]
