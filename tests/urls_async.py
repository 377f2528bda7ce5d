"""A URLconf with async views, for the worker-class choice (tests/test_server.py)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views import View


async def stream(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"async": True})


def plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"async": False})


class AsyncPage(View):
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"async": True})


nested = [path("events/", stream), path("page/", AsyncPage.as_view())]

urlpatterns = [
    path("plain/", plain),
    path("live/", include(nested)),
    path("a/", stream),
    path("b/", stream),
]


class AsyncOnlyMiddleware:
    """A middleware that cannot run synchronously."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        return await self.get_response(request)
