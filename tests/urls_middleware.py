"""Views and URLs for tests/test_middleware.py: they report the request id they see and log."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from django_prodkit.log import request_id_var

logger = logging.getLogger(__name__)


def _seen(request: HttpRequest, where: str) -> JsonResponse:
    logger.info("inside the %s view", where)
    return JsonResponse(
        {"request_id": getattr(request, "request_id", None), "var": request_id_var.get()}
    )


def sync_view(request: HttpRequest) -> JsonResponse:
    return _seen(request, "sync")


async def async_view(request: HttpRequest) -> JsonResponse:
    return _seen(request, "async")


def failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


class SyncOnlyMiddleware:
    """A middleware that can only run synchronously: the control for the adaptation test."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("fail/", failing_view),
]
