"""Views the telemetry tests trace: a route with a parameter, a query, a log line, an error,
outgoing HTTP calls; sync and async."""

from __future__ import annotations

import logging

import httpx
import requests
from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

logger = logging.getLogger("tests.telemetry")


def article(request: HttpRequest, pk: int) -> JsonResponse:
    users = User.objects.filter(pk=pk).count()
    logger.warning("article %s looked up", pk)
    return JsonResponse({"pk": pk, "users": users})


async def live(request: HttpRequest, pk: int) -> JsonResponse:
    users = await User.objects.filter(pk=pk).acount()
    logger.warning("live %s looked up", pk)
    return JsonResponse({"pk": pk, "users": users})


def broken(request: HttpRequest) -> JsonResponse:
    raise ValueError("the view failed on purpose")


def calls(request: HttpRequest) -> JsonResponse:
    url = request.GET["url"]
    first = requests.get(url, timeout=5).status_code
    with httpx.Client() as client:
        second = client.get(url).status_code
    return JsonResponse({"requests": first, "httpx": second})


async def acalls(request: HttpRequest) -> JsonResponse:
    async with httpx.AsyncClient() as client:
        status = (await client.get(request.GET["url"])).status_code
    return JsonResponse({"httpx": status})


urlpatterns = [
    path("articles/<int:pk>/", article),
    path("v1/", include([path("live/<int:pk>/", live)])),
    path("broken/", broken),
    path("calls/", calls),
    path("acalls/", acalls),
]
