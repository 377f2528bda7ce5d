"""The smallest settings django-stubs needs to type-check the package (see pyproject)."""

from __future__ import annotations

SECRET_KEY = "type-checking-only"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_prodkit"]
