"""Django app configuration for django_prodkit."""

from __future__ import annotations

from django.apps import AppConfig


class ProdkitConfig(AppConfig):
    """The ``django_prodkit`` app: add it to ``INSTALLED_APPS``."""

    name = "django_prodkit"
    verbose_name = "django-prodkit"
