"""``STORAGES`` presets: static files and media on the local disk, static served by whitenoise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django_prodkit.env import Env

WHITENOISE_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
FILE_STORAGE = "django.core.files.storage.FileSystemStorage"


def local_storages(
    *,
    static_root: str | Path,
    media_root: str | Path,
    static_url: str = "/static/",
    media_url: str = "/media/",
) -> dict[str, Any]:
    """Return ``STORAGES`` and the static/media roots and URLs for files on the local disk.

    Static files are hashed and compressed at ``collectstatic`` and served by whitenoise
    with far-future cache headers; media go to ``media_root``, which must be shared storage
    when the site runs on more than one instance.
    """
    return {
        "STATIC_URL": static_url,
        "STATIC_ROOT": Path(static_root),
        "MEDIA_URL": media_url,
        "MEDIA_ROOT": Path(media_root),
        "STORAGES": {
            "default": {"BACKEND": FILE_STORAGE},
            "staticfiles": {"BACKEND": WHITENOISE_STORAGE},
        },
    }


def storages_from_env(env: Env | None = None, *, base_dir: str | Path) -> dict[str, Any]:
    """Return ``local_storages`` with roots from ``DJANGO_STATIC_ROOT``/``DJANGO_MEDIA_ROOT``
    (default ``base_dir/staticfiles`` and ``base_dir/media``) and URLs from
    ``DJANGO_STATIC_URL``/``DJANGO_MEDIA_URL``."""
    env = env or Env()
    base = Path(base_dir)
    return local_storages(
        static_root=env.path("DJANGO_STATIC_ROOT", default=base / "staticfiles"),
        media_root=env.path("DJANGO_MEDIA_ROOT", default=base / "media"),
        static_url=env.str("DJANGO_STATIC_URL", default="/static/"),
        media_url=env.str("DJANGO_MEDIA_URL", default="/media/"),
    )
