"""``deployconfig nginx``: a site file for nginx in front of the app servers.

nginx is the edge: it serves static files (and public media) from disk, hands protected files
to the ``internal`` location a view's ``X-Accel-Redirect`` names, and passes the rest to an
upstream of app servers with the client's address as the only ``X-Forwarded-For`` entry, the
form ``TrustedProxyMiddleware`` reads (``docs/proxies.md``). The file holds ``upstream`` and
``server`` blocks only, for the user's ``http {}`` block (Debian's ``sites-enabled/``).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.deploy.context import DeployContext, render_template
from django_prodkit.forwarded import parse_address
from django_prodkit.settings.proxies import parse_networks

# The address nginx connects to an app server on this machine from.
NGINX_ADDRESS = "127.0.0.1"
# Static names with the content's hash, as Django's manifest storage (and whitenoise's) write
# them: "app.3f2a8c9d1b4e.css". Only the last path segment counts.
HASHED_NAME = r"\.[0-9a-f]{12}\.[^/]*$"
# How much longer nginx waits for an answer than the app server may take to give one.
PROXY_TIMEOUT_MARGIN = 10
# gunicorn's sync worker closes every connection after its response.
_NO_KEEPALIVE_WORKERS = frozenset({"sync", "gunicorn.workers.sync.SyncWorker"})
# Comments inside the server block.
_IN_SERVER = "    # "
# What nginx takes unquoted in a path or location; anything else is quoted.
_BARE = re.compile(r"[A-Za-z0-9_./:@%+=,~-]+")
# What not even a quoted nginx string can hold: "$" starts a variable in alias.
_UNSAFE = re.compile(r'[$"\\\x00-\x1f\x7f]')


def render(context: DeployContext) -> dict[str, str]:
    """``nginx.conf``: the site file (upstream and server blocks)."""
    text = render_template("nginx/site.conf", context, **_values(context))
    # The template's conditional blocks leave runs of blank lines behind.
    return {"nginx.conf": re.sub(r"\n{3,}", "\n\n", text)}


def _values(context: DeployContext) -> dict[str, object]:
    static = _served_root(context.static_url, context.static_root)
    media = _served_root(context.media_url, context.media_root)
    # Uploads are private when views hand them to nginx: no public location then.
    protected = context.protected_mode == "nginx" and context.media_root is not None
    return {
        "upstream": _upstream_name(context.settings_module),
        "server_name": " ".join(context.server_names) or "_",
        "body_size": _size(context.max_body_bytes),
        "proxy_timeout": context.timeout + PROXY_TIMEOUT_MARGIN,
        "idle_connections": 0
        if context.worker_class in _NO_KEEPALIVE_WORKERS or not context.keepalive
        else context.workers * context.threads,
        # gunicorn closes an idle connection after PRODKIT_KEEPALIVE s: nginx a second earlier.
        "keepalive_timeout": max(context.keepalive - 1, 1),
        "trust_note": _comment(_trust_note(context)),
        "protected_note": _comment(_protected_note(context), indent="#   - ", then="#     "),
        "static_location": _string(context.static_url, "STATIC_URL") if static else None,
        "static_alias": _directory(context.static_root, "STATIC_ROOT") if static else None,
        "static_note": _comment(
            "No static location: STATIC_URL is passed to the app (whitenoise serves it), or "
            "points at blob storage."
            if context.static_root is None
            else "No static location: STATIC_URL is not a path on this site.",
            indent=_IN_SERVER,
        ),
        "hashed_name": HASHED_NAME,
        "media_location": _string(context.media_url, "MEDIA_URL") if media else None,
        "media_alias": _directory(context.media_root, "MEDIA_ROOT")
        if media and not protected
        else None,
        "media_note": _comment(
            "No media location: uploads live on blob storage; MEDIA_URL points there."
            if context.media_root is None
            else "No media location: MEDIA_URL is not a path on this site.",
            indent=_IN_SERVER,
        ),
        "protected_location": _string(context.protected_url, "PRODKIT_PROTECTED_URL")
        if protected
        else None,
        "protected_alias": _directory(context.media_root, "MEDIA_ROOT") if protected else None,
        "health_paths": "^("
        + "|".join(re.escape(path) for path in (context.liveness_path, context.readiness_path))
        + ")/?$",
    }


def _served_root(url: str, root: Path | None) -> bool:
    # A URL of another host (blob storage, a CDN) is no location of this server, nor is "/",
    # the app's own.
    return root is not None and url.startswith("/") and url != "/"


def _protected_note(context: DeployContext) -> str:
    if context.protected_mode == "nginx" and context.media_root is None:
        return (
            "PRODKIT_PROTECTED_MODE=nginx, but uploads are not on this machine's disk, so "
            "there is no location to hand them to: use PRODKIT_PROTECTED_MODE=sas for blob "
            "storage."
        )
    if context.protected_mode == "xsendfile":
        return (
            "PRODKIT_PROTECTED_MODE=xsendfile is Apache's: nginx would pass the empty "
            "response on. Set PRODKIT_PROTECTED_MODE=nginx and render this file again."
        )
    if context.protected_mode == "stream" and context.media_root is not None:
        return (
            "every upload is public at MEDIA_URL (PRODKIT_PROTECTED_MODE is stream, views "
            "stream protected files themselves). If some uploads are private, set "
            "PRODKIT_PROTECTED_MODE=nginx and render this file again: nginx then sends them "
            "after a view allowed it, and MEDIA_URL is refused."
        )
    return ""


def _comment(text: str, *, indent: str = "# ", then: str | None = None) -> str:
    """``text`` as comment lines of at most 96 characters, the first starting with
    ``indent``, the others with ``then`` (default: the same)."""
    if not text:
        return ""
    return (
        textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=then or indent)
        + "\n"
    )


def _upstream_name(settings_module: str) -> str:
    # One name per project, so two sites in one nginx do not share an upstream.
    project = settings_module.partition(".")[0] or "django"
    return re.sub(r"\W", "_", project, flags=re.ASCII) + "_app"


def _trust_note(context: DeployContext) -> str:
    """Whether the settings believe nginx's X-Forwarded-For, for the file's header."""
    address = parse_address(NGINX_ADDRESS)
    listed = ", ".join(context.trusted_proxies)
    if address is not None and any(
        address in network for network in parse_networks(context.trusted_proxies)
    ):
        return f"The settings trust it ({listed})."
    if context.proxy_hops:
        return (
            f"The settings count proxies instead (PRODKIT_PROXY_HOPS={context.proxy_hops}): "
            "right only if nothing but nginx can reach the app servers."
        )
    return (
        f"The settings do not trust it{f' ({listed})' if listed else ''}: set "
        f"PRODKIT_TRUSTED_PROXIES={NGINX_ADDRESS}, or every request seems to come from nginx."
    )


def _size(size: int) -> str:
    # nginx reads "6m" as 6 MiB; any other size stays in bytes.
    mib = 1024 * 1024
    return f"{size // mib}m" if size % mib == 0 else str(size)


def _directory(path: Path | None, setting: str) -> str:
    """``path`` as an alias target: absolute, with the trailing slash a prefix location's
    alias needs."""
    if path is None or not path.is_absolute():
        raise ImproperlyConfigured(f"{setting} must be an absolute path for nginx's alias.")
    return _string(str(path).rstrip("/") + "/", setting)


def _string(value: str, setting: str) -> str:
    if _UNSAFE.search(value):
        raise ImproperlyConfigured(
            f"{setting} holds a character nginx cannot take in a path ($, a quote, a "
            "backslash or a control character); rename it."
        )
    return value if _BARE.fullmatch(value) else f'"{value}"'


__all__ = ["HASHED_NAME", "NGINX_ADDRESS", "render"]
