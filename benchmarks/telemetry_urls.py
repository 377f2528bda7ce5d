"""URLs for benchmarks/telemetry.py: the example's, plus a trivial JSON view.

Issue #9 states its goals on a trivial view, the hardest case for telemetry: what prodkit
adds to each request is compared with a request that does almost nothing else.
``/bench/ping/`` answers ``{"ok": true}`` without touching the database or the session.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from example_project.urls import urlpatterns as example_urlpatterns


def ping(request: HttpRequest) -> JsonResponse:
    """Return ``{"ok": true}``: no database, no session, no template."""
    return JsonResponse({"ok": True})


urlpatterns = [*example_urlpatterns, path("bench/ping/", ping)]
