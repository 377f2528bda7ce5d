"""Generic ASGI entrypoint: ``gunicorn ... django_prodkit.asgi:application``."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

from django_prodkit.entrypoints import settings_module, startup_checks

settings_module()
application = get_asgi_application()
startup_checks()
