"""Which server a project needs: ASGI (uvicorn workers) or WSGI (gthread), from what it is.

A sync view under ASGI pays a thread hop per request: measured here, a uvicorn worker serves a
sync JSON view at a fraction of a gthread worker's rate (docs/server.md has the numbers). So
ASGI is chosen only when the application needs it: an async view in the URLconf, a middleware
that cannot run sync, or ``ASGI_APPLICATION`` set (Channels and the like).

``python -m django_prodkit.server`` prints the decision as JSON for the gunicorn config, which
runs in gunicorn's master before Django is set up, and must not set it up there: the workers it
forks would inherit the loaded project, and a reload (``HUP``) would keep serving old code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from django_prodkit.env import Env
from django_prodkit.settings.server import Interface, choose_worker_class

# Views named in a reason before "and N more".
_NAMED = 3


def _callbacks(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _callbacks(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _is_async_view(callback: Any) -> bool:
    view_class = getattr(callback, "view_class", None)
    if view_class is not None and getattr(view_class, "view_is_async", False):
        return True
    return iscoroutinefunction(callback)


def async_views(urlconf: str | None = None) -> list[str]:
    """Return the routes of ``urlconf`` (default ``ROOT_URLCONF``) served by async views."""
    return [
        route
        for route, callback in _callbacks(get_resolver(urlconf).url_patterns)
        if _is_async_view(callback)
    ]


def async_only_middleware() -> list[str]:
    """Return the entries of ``MIDDLEWARE`` that cannot run synchronously."""
    return [
        path
        for path in settings.MIDDLEWARE
        if not getattr(import_string(path), "sync_capable", True)
    ]


def application_interface() -> Interface:
    """Decide ASGI or WSGI for the configured project (Django must be set up)."""
    asgi_application = getattr(settings, "ASGI_APPLICATION", None)
    if asgi_application:
        return Interface("asgi", f"ASGI_APPLICATION is {asgi_application}")
    middleware = async_only_middleware()
    if middleware:
        return Interface("asgi", f"middleware that only runs async: {', '.join(middleware)}")
    views = async_views()
    if views:
        named = ", ".join(f"/{route}" for route in views[:_NAMED])
        more = f" and {len(views) - _NAMED} more" if len(views) > _NAMED else ""
        return Interface("asgi", f"{len(views)} async view(s): {named}{more}")
    return Interface("wsgi", "no async views and no async-only middleware")


def worker_class(env: Env | None = None) -> tuple[str, str]:
    """Return the gunicorn worker class for this project and why: ``PRODKIT_WORKER_CLASS``
    when set, else ``application_interface()``'s choice."""
    return choose_worker_class(env or Env(), application_interface)


def main() -> None:
    """Print ``application_interface()`` as JSON (for the gunicorn config's ``auto``)."""
    import django

    django.setup()
    interface = application_interface()
    print(json.dumps({"interface": interface.name, "reason": interface.reason}))


if __name__ == "__main__":
    main()
