"""The Content-Type and Cache-Control a file gets on blob storage, by its name.

Shared by the storage classes (``save``) and ``publishstatic`` (parallel upload), so a file
gets the same headers whichever way it reaches the container.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re

# mimetypes misses or misnames these on many systems; django-storages then falls back to
# application/octet-stream, which browsers refuse for scripts, styles and fonts.
_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".map": "application/json",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".html": "text/html",
    ".xml": "application/xml",
    # Precompressed copies (whitenoise writes them next to each file): the bytes are the
    # archive; mimetypes would answer the inner file's type and a browser would misread them.
    ".gz": "application/gzip",
    ".br": "application/x-brotli",
}
_CHARSET_TYPES = frozenset(
    {"application/json", "application/manifest+json", "application/xml", "image/svg+xml"}
)
DEFAULT_TYPE = "application/octet-stream"

# Django's ManifestFilesMixin inserts 12 hex digits before the extension (site.3f2a1b9c8d7e.css).
_HASHED = re.compile(r"\.[0-9a-f]{12}\.[^/]+$")

IMMUTABLE = "public, max-age=31536000, immutable"
# Unhashed static names (and the manifest) change in place: a CDN may keep them this long.
SHORT_STATIC = "public, max-age=300"
MEDIA_PUBLIC = "public, max-age=86400"
MEDIA_PRIVATE = "private, max-age=3600"


def content_type(name: str) -> str:
    """Return the Content-Type for ``name``, with ``charset=utf-8`` for text."""
    extension = posixpath.splitext(name)[1].lower()
    found = _TYPES.get(extension) or mimetypes.guess_type(name, strict=False)[0] or DEFAULT_TYPE
    if found.startswith("text/") or found in _CHARSET_TYPES:
        return f"{found}; charset=utf-8"
    return found


def is_hashed(name: str) -> bool:
    """True when ``name`` carries a content hash (ManifestFilesMixin's ``name.<12 hex>.ext``)."""
    return bool(_HASHED.search(name))


def static_cache_control(name: str, *, short: str = SHORT_STATIC) -> str:
    """Cache-Control for a static file: a year and immutable when hashed, ``short`` if not."""
    return IMMUTABLE if is_hashed(name) else short


def media_cache_control(*, private: bool) -> str:
    """Cache-Control for an upload: browsers only when media are private (their URLs are
    signed and short-lived), shared caches and CDNs too when they are public."""
    return MEDIA_PRIVATE if private else MEDIA_PUBLIC


# Types a browser runs as a page of the storage's origin when the blob is opened directly.
_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
    }
)


def is_active_type(content_type: str) -> bool:
    """True for a Content-Type a browser runs as a page or script of the origin that serves
    it (HTML, XHTML, SVG, XML, JavaScript); parameters such as ``charset`` are ignored."""
    return content_type.split(";")[0].strip().lower() in _ACTIVE_TYPES


def media_content_disposition(name: str) -> str | None:
    """``attachment`` for an upload a browser would run as a page or script (HTML, SVG, XML,
    JavaScript), so an uploaded file cannot script the storage's (or CDN's) origin; None
    for the rest, which browsers show inline. ``<img src>`` still shows an SVG."""
    return "attachment" if is_active_type(content_type(name)) else None
