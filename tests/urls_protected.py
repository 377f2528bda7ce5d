"""The example's URLs (its protected download among them) and a bare view over any media
name."""

from __future__ import annotations

from django.urls import path

from django_prodkit.protected import protected_file_response
from example_project.urls import urlpatterns as example_urlpatterns


def media_file(request, name):
    """Any media file, as the query asks (``inline``, ``filename``): the tests' view."""
    return protected_file_response(
        request,
        name,
        attachment="inline" not in request.GET,
        filename=request.GET.get("filename"),
    )


urlpatterns = [
    path("files/<path:name>", media_file),
    *example_urlpatterns,
]
