"""Routes for the health endpoints, for projects that serve them through their URLconf.

``path("", include("django_prodkit.urls"))`` adds ``healthz`` and ``readyz``. With
``HealthCheckMiddleware`` in place (``production_middleware()`` puts it there) they are
answered before the URLconf is reached and this is not needed. The async views are routed
because prodkit's server runs ASGI; under WSGI Django runs them in a short-lived loop.
"""

from __future__ import annotations

from django.urls import path

from django_prodkit import health

app_name = "prodkit"

urlpatterns = [
    path("healthz", health.ahealthz, name="healthz"),
    path("readyz", health.areadyz, name="readyz"),
]
