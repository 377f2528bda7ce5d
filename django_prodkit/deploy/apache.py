"""``deployconfig apache``: Apache site files, mod_wsgi in daemon mode or a balancer.

``apache.conf`` runs the project inside Apache with mod_wsgi in daemon mode (processes and
threads from the server settings), through ``wsgi.py``, a shim that names the settings module
and loads prodkit's WSGI entrypoint: mod_wsgi wants a file, and does not hand ``SetEnv``
values to ``os.environ``. ``apache-balancer.conf`` is the other layout: Apache in front of
several gunicorn app servers on this machine (mod_proxy_balancer). Both serve static files
from disk, refuse bodies over the upload limit, hand protected files over with X-Sendfile
(mod_xsendfile) and, when the settings trust proxies in front of Apache, believe their
X-Forwarded-For with mod_remoteip. Files are site files (one ``<VirtualHost>`` each) for
Debian's ``sites-available/``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.deploy import gunicorn
from django_prodkit.deploy.context import DeployContext, render_template

# Static names with the content's hash (app.3f2a8c9d1b4e.css): nginx's pattern, the same
# for every front end.
from django_prodkit.deploy.nginx import HASHED_NAME
from django_prodkit.forwarded import parse_address
from django_prodkit.settings.proxies import parse_networks

# The address Apache connects to an app server on this machine from (the balancer layout).
APACHE_ADDRESS = "127.0.0.1"
# How much longer Apache waits for an app server than the app server may take to answer.
PROXY_TIMEOUT_MARGIN = 10
# Apache's LimitRequestBody takes at most 2 GiB.
MAX_BODY_LIMIT = 2**31 - 1
# Where wsgi.py lives unless told: `manage.py deployconfig apache --output deploy/apache`,
# run next to manage.py.
SCRIPT_FOLDER = Path("deploy") / "apache"
# What an Apache path argument can hold inside double quotes.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
# What mod_wsgi's WSGIDaemonProcess options can hold: its values are not quoted.
_BARE = re.compile(r"[A-Za-z0-9_./:@%+=,~-]+")


def render(context: DeployContext) -> dict[str, str]:
    """``apache.conf`` and its ``wsgi.py`` (mod_wsgi), and ``apache-balancer.conf``."""
    return site_files(context)


def site_files(
    context: DeployContext,
    *,
    address: str = "*:80",
    script_folder: Path | None = None,
    python_home: Path | None = None,
) -> dict[str, str]:
    """The files of ``render``, with what depends on the machine rather than the settings.

    ``address``: the ``<VirtualHost>``'s address and port; ``script_folder``: where
    ``wsgi.py`` will live (``deploy/apache`` in the project's folder by default);
    ``python_home``: the virtualenv mod_wsgi runs (this process's, ``sys.prefix``).
    """
    folder = script_folder or context.project_dir / SCRIPT_FOLDER
    values = _values(context, address)
    conf = render_template(
        "apache/apache.conf",
        context,
        **values,
        wsgi_dir=_path(folder, "the wsgi.py folder"),
        wsgi_script=_path(folder / "wsgi.py", "the wsgi.py folder"),
        wsgi_path=folder / "wsgi.py",
        python_home=_option(python_home or Path(sys.prefix), "the virtualenv's path"),
        project_dir=_option(context.project_dir, "BASE_DIR"),
        group=_group(context.settings_module),
    )
    balancer = render_template(
        "apache/apache-balancer.conf",
        context,
        **values,
        group=_group(context.settings_module) + "_farm",
        next_port=context.port + 1,
        proxy_timeout=context.timeout + PROXY_TIMEOUT_MARGIN,
        gunicorn_line=gunicorn.command_line(context),
        trust_note=_trust_note(context),
    )
    # A .py-tpl, as Django's project templates: not Python until rendered (mypy, ruff).
    return {
        "apache.conf": _tidy(conf),
        "wsgi.py": render_template("apache/wsgi.py-tpl", context).strip() + "\n",
        "apache-balancer.conf": _tidy(balancer),
    }


def _values(context: DeployContext, address: str) -> dict[str, object]:
    """What both site files show the same way."""
    static = _served_root(context.static_url, context.static_root)
    media = _served_root(context.media_url, context.media_root)
    xsendfile = context.protected_mode == "xsendfile" and context.media_root is not None
    networks = [str(network) for network in parse_networks(context.trusted_proxies)]
    return {
        "address": address,
        "server_name": context.server_names[0] if context.server_names else "",
        "server_aliases": " ".join(context.server_names[1:]),
        "body_limit": min(context.max_body_bytes, MAX_BODY_LIMIT),
        "remoteip": bool(networks),
        "trusted_proxies": networks,
        "trusted_expr": " || ".join(
            f"%{{CONN_REMOTE_ADDR}} -ipmatch '{network}'" for network in networks
        ),
        "static_url": _path(context.static_url, "STATIC_URL") if static else None,
        "static_alias": _path(context.static_root, "STATIC_ROOT", slash=True) if static else None,
        "static_root": _path(context.static_root, "STATIC_ROOT") if static else None,
        "hashed_name": HASHED_NAME,
        "media_url": _path(context.media_url, "MEDIA_URL") if media else None,
        "media_alias": _path(context.media_root, "MEDIA_ROOT", slash=True)
        if media and not xsendfile
        else None,
        "media_root": _path(context.media_root, "MEDIA_ROOT") if context.media_root else None,
        "private_media_url": _path(context.media_url, "MEDIA_URL")
        if media and xsendfile and context.media_url != "/"
        else None,
        "xsendfile": xsendfile,
        "notes": "".join(f"#   - {note}\n" for note in _notes(context)),
    }


def _notes(context: DeployContext) -> list[str]:
    """Settings that make part of the file moot, as lines for its header."""
    notes = []
    if context.static_root is None:
        notes.append("no static alias: static files are on blob storage (STATIC_URL).")
    if context.protected_mode == "xsendfile" and context.media_root is None:
        notes.append(
            "PRODKIT_PROTECTED_MODE=xsendfile, but uploads are not on this disk: use "
            "PRODKIT_PROTECTED_MODE=sas for blob storage."
        )
    elif context.protected_mode == "nginx":
        notes.append(
            "PRODKIT_PROTECTED_MODE=nginx is nginx's: Apache would send the empty response. "
            "Set PRODKIT_PROTECTED_MODE=xsendfile and render this file again."
        )
    if context.proxy_hops and not context.trusted_proxies:
        notes.append(
            f"PRODKIT_PROXY_HOPS={context.proxy_hops} counts proxies without naming them: "
            "mod_remoteip needs their addresses (PRODKIT_TRUSTED_PROXIES), so Apache logs "
            "the last proxy's address; Django still finds the client."
        )
    return notes


def _trust_note(context: DeployContext) -> str:
    """Whether the settings believe the balancer's X-Forwarded-For, for the file's header."""
    address = parse_address(APACHE_ADDRESS)
    listed = ", ".join(context.trusted_proxies)
    if address is not None and any(
        address in network for network in parse_networks(context.trusted_proxies)
    ):
        return f"# The settings trust it ({listed}).\n"
    return (
        f"# The settings do not trust it{f' ({listed})' if listed else ''}: set "
        f"PRODKIT_TRUSTED_PROXIES={APACHE_ADDRESS}\n# (and the proxies in front of Apache, "
        "if any), or every request seems to come from Apache.\n"
    )


def _served_root(url: str, root: Path | None) -> bool:
    # A URL of another host (blob storage, a CDN) is no path of this server.
    return root is not None and url.startswith("/")


def _group(settings_module: str) -> str:
    # One name per project: two sites in one Apache must not share a daemon process group.
    project = settings_module.partition(".")[0] or "django"
    return re.sub(r"\W", "_", project, flags=re.ASCII)


def _path(value: str | Path | None, setting: str, *, slash: bool = False) -> str:
    """``value`` as a double-quoted Apache argument; with ``slash``, ending in one (an
    Alias of a URL prefix to a folder)."""
    text = str(value)
    if value is None or (isinstance(value, Path) and not value.is_absolute()):
        raise ImproperlyConfigured(f"{setting} must be an absolute path for Apache.")
    if _UNSAFE.search(text):
        raise ImproperlyConfigured(
            f"{setting} holds a character Apache cannot take in a path (a quote, a backslash "
            "or a control character); rename it."
        )
    return f'"{text.rstrip("/") + "/" if slash else text}"'


def _option(path: Path, what: str) -> str:
    """``path`` as the value of a WSGIDaemonProcess option, which mod_wsgi does not unquote."""
    if not path.is_absolute() or not _BARE.fullmatch(str(path)):
        raise ImproperlyConfigured(
            f"{what} ({path}) must be an absolute path of letters, digits and ._-/ for "
            "mod_wsgi's WSGIDaemonProcess; move it or link it from such a path."
        )
    return str(path)


def _tidy(text: str) -> str:
    # The template's conditional blocks leave runs of blank lines behind.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


__all__ = ["render", "site_files"]
