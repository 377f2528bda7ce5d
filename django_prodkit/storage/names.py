"""Untrusted file names made safe: one set of rules for blob names and protected downloads.

No Azure SDK here: ``django_prodkit.protected`` checks names with these rules whatever the
storage.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import SuspiciousFileOperation

# Azure's limits on blob names.
_MAX_NAME = 1024
_MAX_SEGMENTS = 254
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise_blob_name(name: str, *, windows_separators: bool = False) -> str:
    """Return ``name`` as a blob name: Unicode NFC, ``/`` separated, ``.`` and empty
    segments dropped.

    Raises ``SuspiciousFileOperation`` for a name that climbs out (``..``), is absolute
    (``/x``, ``C:x``), holds a control character (NUL, newline) or a backslash (unless
    ``windows_separators``: static files collected on Windows), names a directory (ends
    in ``/``), ends in ``.`` or exceeds Azure's limits (1,024 characters, 254 segments).
    """
    text = str(name)
    if _CONTROL.search(text):
        raise SuspiciousFileOperation(
            f"Refused the file name {text!r}: it holds a control character (NUL, newline...)."
        )
    if "\\" in text:
        if not windows_separators:
            raise SuspiciousFileOperation(
                f"Refused the file name {text!r}: a backslash is not a path separator in a "
                "blob name."
            )
        text = text.replace("\\", "/")
    text = unicodedata.normalize("NFC", text)
    if text.startswith("/") or _DRIVE.match(text):
        raise SuspiciousFileOperation(f"Refused the file name {text!r}: it is an absolute path.")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SuspiciousFileOperation(
            f"Refused the file name {text!r}: '..' would climb out of the container."
        )
    if not parts or text.endswith("/") or parts[-1].endswith("."):
        raise SuspiciousFileOperation(
            f"Refused the file name {text!r}: a blob name must not be empty or end in '/' or '.'."
        )
    blob = "/".join(parts)
    if len(blob) > _MAX_NAME or len(parts) > _MAX_SEGMENTS:
        raise SuspiciousFileOperation(
            f"Refused the file name {blob[:80]!r}...: Azure allows {_MAX_NAME} characters "
            f"and {_MAX_SEGMENTS} segments."
        )
    return blob


__all__ = ["normalise_blob_name"]
