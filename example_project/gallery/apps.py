"""The gallery app: photos with uploads, a cached page and a JSON endpoint."""

from __future__ import annotations

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
