"""What the ASGI and WSGI entrypoints share: finding the settings module."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env


def settings_module(env: Env | None = None) -> str:
    """Return ``DJANGO_SETTINGS_MODULE``, or raise an error that says how to set it."""
    name = (env or Env()).str("DJANGO_SETTINGS_MODULE", default=None)
    if not name:
        raise ImproperlyConfigured(
            "DJANGO_SETTINGS_MODULE is not set. Set it to your settings module before starting "
            "the server, e.g. DJANGO_SETTINGS_MODULE=mysite.settings."
        )
    return name
