"""Generic WSGI entrypoint: ``gunicorn ... django_prodkit.wsgi:application``."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from django_prodkit.entrypoints import settings_module, startup_checks

settings_module()
application = get_wsgi_application()
startup_checks()
