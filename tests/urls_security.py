from __future__ import annotations

from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("plain/", lambda request: HttpResponse("ok")),
    path("healthz", lambda request: HttpResponse("ok")),
]
