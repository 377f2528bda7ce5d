"""``deployconfig uwsgi``: an ini file that runs the project under uWSGI.

uWSGI takes the place of gunicorn: processes and threads, the request timeout (``harakiri``),
worker recycling and the upload limit come from the same server settings. ``lazy-apps`` loads
the project in each process after the fork, as gunicorn does, so no database connection or
thread crosses a fork. It listens for HTTP (``http-socket``): enough without a front end, and
for a load balancer; nginx's ``uwsgi_pass`` takes the ``socket`` line instead.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.deploy.context import DeployContext, render_template

# Static names with the content's hash (app.3f2a8c9d1b4e.css): nginx's pattern, the same
# for every front end.
from django_prodkit.deploy.nginx import HASHED_NAME
from django_prodkit.settings.server import WSGI_ENTRYPOINT

# What an ini value of a path can hold: uWSGI reads the rest of the line, so no newline, and
# no "=" in the left-hand URL of static-map.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def render(context: DeployContext) -> dict[str, str]:
    """``uwsgi.ini``."""
    return ini_file(context)


def ini_file(context: DeployContext, *, python_home: Path | None = None) -> dict[str, str]:
    """The file of ``render``; ``python_home`` is the virtualenv uWSGI runs (this process's,
    ``sys.prefix``, by default)."""
    static = context.static_root is not None and context.static_url.startswith("/")
    text = render_template(
        "uwsgi/uwsgi.ini",
        context,
        python_home=_value(python_home or Path(sys.prefix), "the virtualenv's path"),
        project_dir=_value(context.project_dir, "BASE_DIR"),
        # uWSGI runs WSGI only: prodkit's WSGI entrypoint, whatever gunicorn would pick.
        module=WSGI_ENTRYPOINT,
        static_map=_static_map(context) if static else None,
        hashed_uri="^" + re.escape(context.static_url) + ".*" + HASHED_NAME,
        static_note="static files are on blob storage (STATIC_URL)."
        if context.static_root is None
        else "STATIC_URL is not a path on this site.",
    )
    return {"uwsgi.ini": re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"}


def _static_map(context: DeployContext) -> str:
    url = context.static_url.rstrip("/")
    if "=" in url:
        raise ImproperlyConfigured("STATIC_URL holds '=', which uWSGI's static-map cannot take.")
    return f"{url}={_value(context.static_root, 'STATIC_ROOT')}"


def _value(path: Path | None, setting: str) -> str:
    if path is None or not path.is_absolute() or _UNSAFE.search(str(path)):
        raise ImproperlyConfigured(
            f"{setting} must be an absolute path without control characters for uWSGI."
        )
    return str(path).rstrip("/") or "/"


__all__ = ["ini_file", "render"]
