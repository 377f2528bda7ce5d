"""Checks 3xx: static files and templates.

Storages are classified with ``backend_is`` on ``settings.STORAGES['staticfiles']``. Only a
storage on the local disk (a ``FileSystemStorage`` subclass) is ever instantiated, fresh on
each call: a remote manifest storage would read its manifest over the network. Templates are
scanned with a regular expression, never compiled. Django's own apps' templates are skipped.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.utils.module_loading import import_string

from django_prodkit.checks.context import asgi_server, serves_https
from django_prodkit.checks.inspect import backend_is, middleware_paths
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.redact import redact_url
from django_prodkit.settings.middleware import (
    HEALTH,
    REQUEST_ID,
    SECURITY,
    TRUSTED_PROXY,
    UPDATE_CACHE,
    WHITENOISE,
)
from django_prodkit.settings.storages import FILE_STORAGE

E301 = Check(
    id="prodkit.E301",
    title="STATIC_ROOT is not set",
    msg="STATIC_ROOT is not set, so collectstatic has nowhere to put the static files.",
    hint=(
        "Set it: storages_from_env(env, base_dir=BASE_DIR) uses DJANGO_STATIC_ROOT (default "
        "BASE_DIR / 'staticfiles'), local_storages(static_root=...) takes it directly."
    ),
    why=(
        "With DEBUG off Django no longer serves files from the apps' static folders; "
        "collectstatic must copy them to STATIC_ROOT, where whitenoise or the web server "
        "serves them. Without it collectstatic fails and every stylesheet is a 404."
    ),
)
E302 = Check(
    id="prodkit.E302",
    title="the static files manifest is missing",
    msg="The static files manifest {manifest} {problem}: run collectstatic ({backend}).",
    hint=(
        "Run `manage.py collectstatic --noinput` when the image is built or in the release "
        "step, before the site starts."
    ),
    why=(
        "A manifest storage looks up every `{% static %}` name in its manifest. Without the "
        "manifest each page that links a static file fails with ValueError 'Missing "
        "staticfiles manifest entry': a 500 on every page, in production only (DEBUG skips "
        "the lookup)."
    ),
)
W303 = Check(
    id="prodkit.W303",
    title="static files were not collected",
    msg="The static files directory {root} {problem}: collectstatic has not been run.",
    hint="Run `manage.py collectstatic --noinput` when the image is built or before start.",
    why=(
        "With DEBUG off only collected files are served: until collectstatic runs, every "
        "stylesheet, script and image of the site and the admin is a 404."
    ),
)
W304 = Check(
    id="prodkit.W304",
    title="static files without cache busting",
    msg=(
        "The static files storage ({backend}) does not put a content hash in file names "
        "(not a ManifestFilesMixin subclass)."
    ),
    hint=(
        "Use whitenoise.storage.CompressedManifestStaticFilesStorage (local_storages() and "
        "storages_from_env() do) or django.contrib.staticfiles.storage."
        "ManifestStaticFilesStorage."
    ),
    why=(
        "Without hashed names a browser or CDN keeps serving the old stylesheet after a "
        "deploy (or the files can only be cached briefly, so every page view revalidates "
        "them). Hashed names can be cached for a year and change when the content does."
    ),
)
W305 = Check(
    id="prodkit.W305",
    title="nothing serves the static files",
    msg=(
        "Static files are collected on the local disk ({backend}) but "
        "WhiteNoiseMiddleware is not in MIDDLEWARE."
    ),
    hint=(
        "Add whitenoise: MIDDLEWARE = production_middleware([...]) puts it right after "
        "SecurityMiddleware. If a web server or CDN in front serves STATIC_ROOT, silence "
        "this check."
    ),
    why=(
        "With DEBUG off Django serves no static files, and App Service, Kubernetes and plain "
        "containers have no web server in front that would: the site renders without CSS or "
        "JavaScript."
    ),
)
W306 = Check(
    id="prodkit.W306",
    title="WhiteNoiseMiddleware is out of place",
    msg="WhiteNoiseMiddleware is out of place in MIDDLEWARE: {problem}.",
    hint=(
        "Put it right after SecurityMiddleware and before everything else (prodkit's health, "
        "trusted-proxy and request-id middleware may sit between): production_middleware() "
        "orders MIDDLEWARE so."
    ),
    why=(
        "Before SecurityMiddleware, static responses skip the HTTPS redirect and security "
        "headers; after other middleware, every static file request pays for sessions, "
        "authentication, CSRF and whatever else runs first, and may be altered by it."
    ),
)
W307 = Check(
    id="prodkit.W307",
    title="static files served by Django's debug view",
    msg="The URLconf serves static files with Django's debug view {view} at {route}.",
    hint=(
        "Remove the URL pattern; whitenoise (production_middleware()) serves STATIC_ROOT "
        "efficiently, with compression and far-future cache headers."
    ),
    why=(
        "Django's docs call this view grossly inefficient and probably insecure: one worker "
        "per file, no compression, no caching headers, and a worker pool tied up by large "
        "downloads."
    ),
)
W308 = Check(
    id="prodkit.W308",
    title="whitenoise in development mode",
    msg="{setting} is True: whitenoise runs in development mode.",
    hint="Remove {setting} (its default follows DEBUG) and run collectstatic instead.",
    why=(
        "Autorefresh re-scans the static folders on every request and finders look files up "
        "in every app: slow, uncompressed, and it serves files collectstatic would not."
    ),
)
W309 = Check(
    id="prodkit.W309",
    title="static files over plain HTTP on an HTTPS site",
    msg="The site is served over HTTPS but static files come from {url} (plain http://).",
    hint="Use an https:// URL for STATIC_URL (DJANGO_STATIC_URL with storages_from_env()).",
    why=(
        "Browsers block scripts and stylesheets loaded over HTTP from an HTTPS page (mixed "
        "content): the site renders without them. Images load with a warning, if at all."
    ),
)
E310 = Check(
    id="prodkit.E310",
    title="a template links a static file the manifest does not have",
    msg=(
        "The template {template} uses {{% static '{name}' %}}, which is not in the static "
        "files manifest."
    ),
    hint=(
        "Fix the name, or add the file to an app's static folder or STATICFILES_DIRS and run "
        "collectstatic again."
    ),
    why=(
        "A manifest storage raises ValueError for a name it does not know, so the page is a "
        "500 - in production only, since with DEBUG on the name is not looked up. A typo "
        "passes every local test."
    ),
)
W311 = Check(
    id="prodkit.W311",
    title="templates are not cached",
    msg="TEMPLATES[{index}] sets OPTIONS['loaders'] without the cached loader.",
    hint=(
        "Remove OPTIONS['loaders'] (Django then caches the default loaders), or wrap yours: "
        "[('django.template.loaders.cached.Loader', [...])]."
    ),
    why=(
        "Without the cached loader every render finds, reads and compiles each template "
        "again: tens of milliseconds per page that Django's default setup avoids."
    ),
)
I312 = Check(
    id="prodkit.I312",
    title="whitenoise serves static files under ASGI",
    msg="whitenoise serves the static files and the site runs over ASGI ({server}).",
    hint=(
        "Put static files on blob storage or a CDN (AZURE_STORAGE_CONNECTION_STRING with "
        "storages_from_env(), PRODKIT_STORAGE_DOMAIN for the CDN), or, with no async views, "
        "serve the site with gthread workers (PRODKIT_WORKER_CLASS=auto does)."
    ),
    why=(
        "whitenoise's middleware is synchronous: under ASGI every static file costs a thread "
        "hop and is streamed from a sync iterator (Django warns that StreamingHttpResponse "
        "must consume synchronous iterators). Measured here (benchmarks/server.py), one "
        "uvicorn worker served a stylesheet at a third of a gthread worker's rate; "
        "servestatic's async middleware did no better."
    ),
)

STATICFILES_APP = "django.contrib.staticfiles"
MANIFEST_MIXIN = "django.contrib.staticfiles.storage.ManifestFilesMixin"
DJANGO_TEMPLATES = "django.template.backends.django.DjangoTemplates"
CACHED_LOADER = "django.template.loaders.cached.Loader"
STATIC_SERVE = "django.views.static.serve"
STATICFILES_SERVE = "django.contrib.staticfiles.views.serve"

# Middleware that may run before whitenoise: the order production_middleware() builds.
_BEFORE_WHITENOISE = frozenset({UPDATE_CACHE, HEALTH, SECURITY, TRUSTED_PROXY, REQUEST_ID})

# {% static 'name' %} or {% static "name" as var %}; names with template syntax are skipped.
_STATIC_TAG = re.compile(rb"""\{%\s*static\s+(["'])(.*?)\1(?:\s+as\s+\w+)?\s*%\}""")
# Template files are small; anything larger is not a template worth scanning.
_MAX_TEMPLATE_BYTES = 1024 * 1024
_SKIP_DIRS = frozenset({"node_modules", "__pycache__"})


def _static_config() -> dict[str, Any] | None:
    storages = getattr(settings, "STORAGES", None) or {}
    config = storages.get("staticfiles")
    return dict(config) if config else None


def _staticfiles_installed() -> bool:
    return apps.is_installed(STATICFILES_APP)


def _local_static() -> dict[str, Any] | None:
    """The staticfiles storage config when the app is installed and files are on local disk."""
    config = _static_config()
    if not _staticfiles_installed() or config is None:
        return None
    return config if backend_is(config.get("BACKEND", ""), FILE_STORAGE) else None


def static_location(config: dict[str, Any]) -> str:
    """Where a local staticfiles storage keeps its files: OPTIONS location or STATIC_ROOT."""
    return str((config.get("OPTIONS") or {}).get("location") or settings.STATIC_ROOT or "")


@prodkit_check(E301)
def check_static_root(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E301: local static files with no STATIC_ROOT."""
    config = _local_static()
    if config is None or static_location(config):
        return []
    return [E301.message(obj="settings.STATIC_ROOT")]


def _empty_or_missing(root: str) -> str | None:
    if not os.path.isdir(root):
        return "does not exist"
    with os.scandir(root) as entries:
        return "is empty" if next(entries, None) is None else None


@prodkit_check(E302, W303, E310)
def check_collectstatic(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E302: manifest missing; W303: STATIC_ROOT missing or empty; E310: template names
    missing from the manifest."""
    config = _local_static()
    if config is None:
        return []
    root = static_location(config)
    if not root:
        return []  # E301
    backend = str(config.get("BACKEND", ""))
    if not backend_is(backend, MANIFEST_MIXIN):
        problem = _empty_or_missing(root)
        if problem is None:
            return []
        return [W303.message(obj="settings.STATIC_ROOT", root=root, problem=problem)]
    obj = "settings.STORAGES['staticfiles']"
    try:
        storage_class = import_string(backend)
    except ImportError:
        return []  # Django's storage handler reports it
    try:
        storage = storage_class(**(config.get("OPTIONS") or {}))
    except ImproperlyConfigured:
        return []  # conflicting STATIC/MEDIA settings: E402, E403 and Django report them
    except ValueError:
        # ManifestFilesMixin.load_manifest(): not JSON, or a manifest version it does not know.
        manifest = os.path.join(root, getattr(storage_class, "manifest_name", "staticfiles.json"))
        return [E302.message(obj=obj, manifest=manifest, problem="cannot be read", backend=backend)]
    manifest_storage = storage.manifest_storage
    if not isinstance(manifest_storage, FileSystemStorage):
        return []  # a manifest kept elsewhere is not read here: that would be network I/O
    if not manifest_storage.exists(storage.manifest_name):
        manifest = manifest_storage.path(storage.manifest_name)
        return [E302.message(obj=obj, manifest=manifest, problem="does not exist", backend=backend)]
    return _unknown_static_names(storage)


def _unknown_static_names(storage: Any) -> list[CheckMessage]:
    """E310 for each literal ``{% static %}`` name the manifest lacks."""
    hashed_files: dict[str, str] = dict(storage.hashed_files)
    strict = bool(getattr(storage, "manifest_strict", True))
    found = []
    for template, name in _static_names_in_templates():
        clean, _ = urldefrag(name)
        if urlsplit(clean).path.endswith("/"):
            continue  # Django does not hash directory URLs
        key = urlsplit(unquote(clean)).path.strip()
        if key in hashed_files:
            continue
        # Not strict: Django hashes a file that exists but is missing from the manifest.
        if not strict and storage.exists(key):
            continue
        found.append(E310.message(obj=template, template=template, name=name))
    return found


def template_dirs() -> list[Path]:
    """The directories Django's template engines load from, in lookup order.

    Each ``DjangoTemplates`` engine's ``DIRS``, then, when it loads from apps, each installed
    app's ``templates`` folder; Django's own apps are left out (they are tested upstream).
    """
    found: list[Path] = []
    for engine in getattr(settings, "TEMPLATES", None) or []:
        if not backend_is(engine.get("BACKEND", ""), DJANGO_TEMPLATES):
            continue
        found += [Path(d) for d in engine.get("DIRS") or []]
        loaders = (engine.get("OPTIONS") or {}).get("loaders")
        if engine.get("APP_DIRS") or "app_directories" in repr(loaders):
            found += [
                Path(app.path) / "templates"
                for app in apps.get_app_configs()
                if app.path and not app.name.startswith("django.")
            ]
    return list(dict.fromkeys(found))


def _static_names_in_templates() -> Iterator[tuple[str, str]]:
    """Yield ``(template, name)`` for each literal ``{% static %}`` name in the templates.

    ``template`` is the path relative to its directory, as Django names it; a template a
    directory earlier in the lookup order shadows is never rendered, so it is skipped.
    """
    seen: set[str] = set()
    for base in template_dirs():
        if not base.is_dir():
            continue
        for folder, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and d[0] != ".")
            for filename in sorted(filenames):
                path = os.path.join(folder, filename)
                template = Path(os.path.relpath(path, base)).as_posix()
                if template in seen:
                    continue
                seen.add(template)
                try:
                    if os.path.getsize(path) > _MAX_TEMPLATE_BYTES:
                        continue
                    with open(path, "rb") as file:
                        data = file.read()
                except OSError:
                    continue
                if b"static" not in data:
                    continue
                for match in _STATIC_TAG.finditer(data):
                    name = match[2].decode("utf-8", "replace")
                    if "{{" not in name and "{%" not in name:
                        yield template, name


@prodkit_check(W304)
def check_static_cache_busting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W304: the staticfiles storage does not hash file names."""
    config = _static_config()
    if not _staticfiles_installed() or config is None:
        return []
    backend = str(config.get("BACKEND", ""))
    if backend_is(backend, MANIFEST_MIXIN):
        return []
    return [W304.message(obj="settings.STORAGES['staticfiles']", backend=backend)]


def _is_whitenoise(name: str) -> bool:
    # Import only what may be whitenoise: importing every middleware would be slow.
    return name == WHITENOISE or (
        "whitenoise" in name.rsplit(".", 1)[-1].lower() and backend_is(name, WHITENOISE)
    )


def whitenoise_index(middleware: list[str]) -> int | None:
    """The position of whitenoise's middleware (or a subclass) in ``middleware``, or None."""
    return next((i for i, name in enumerate(middleware) if _is_whitenoise(name)), None)


def _absolute(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


@prodkit_check(W305)
def check_static_served(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W305: local static files and no whitenoise to serve them."""
    config = _local_static()
    if config is None or whitenoise_index(middleware_paths()) is not None:
        return []
    base_url = str((config.get("OPTIONS") or {}).get("base_url") or settings.STATIC_URL or "")
    if _absolute(base_url):
        return []  # a CDN or another host serves them
    return [W305.message(obj="settings.MIDDLEWARE", backend=config.get("BACKEND", ""))]


@prodkit_check(W306)
def check_whitenoise_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W306: WhiteNoiseMiddleware not right after SecurityMiddleware."""
    middleware = middleware_paths()
    index = whitenoise_index(middleware)
    if index is None:
        return []
    if SECURITY in middleware[index:]:
        problem = "it comes before SecurityMiddleware"
    else:
        before = [name for name in middleware[:index] if name not in _BEFORE_WHITENOISE]
        if not before:
            return []
        problem = f"it comes after {before[0]}"
    return [W306.message(obj="settings.MIDDLEWARE", problem=problem)]


@dataclass(frozen=True)
class DebugServeRoute:
    """A URL pattern answered by one of Django's development file views."""

    route: str
    view: str
    """The dotted path of the view: ``django.views.static.serve`` or staticfiles'."""
    document_root: str | None
    """The ``document_root`` the pattern passes, when it passes one."""

    @property
    def serves_static(self) -> bool:
        """True when the route serves static files rather than media."""
        if self.view == STATICFILES_SERVE:
            return True
        static_root = str(settings.STATIC_ROOT or "")
        root = self.document_root
        if root and static_root and os.path.realpath(root) == os.path.realpath(static_root):
            return True
        prefix = urlsplit(str(settings.STATIC_URL or "")).path.lstrip("/")
        return bool(prefix) and self.route.lstrip("^").startswith(prefix)


def _debug_views() -> dict[Any, str]:
    from django.contrib.staticfiles import views as staticfiles_views
    from django.views import static

    return {static.serve: STATIC_SERVE, staticfiles_views.serve: STATICFILES_SERVE}


def _debug_view(callback: Any, views: dict[Any, str]) -> str | None:
    """The debug view ``callback`` is, wraps, or calls by name (one level), or None."""
    func = callback
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__wrapped__", func)
    if func in views:
        return views[func]
    # A small view that calls serve() itself (`return serve(request, path, document_root=...)`).
    code, namespace = getattr(func, "__code__", None), getattr(func, "__globals__", None)
    if code is None or namespace is None:
        return None
    for name in code.co_names:
        if namespace.get(name) in views:
            return views[namespace[name]]
    return None


def debug_serve_routes() -> list[DebugServeRoute]:
    """The URL patterns of ``ROOT_URLCONF`` served by Django's development file views.

    Empty with DEBUG on: ``static()`` and ``staticfiles_urlpatterns()`` add their patterns
    only then, and projects guard their own with ``if settings.DEBUG``, so the URLconf seen
    with DEBUG on is not the one production runs.
    """
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    if settings.DEBUG or not urlconf:
        return []
    from django.urls import URLPattern, URLResolver, get_resolver

    try:
        patterns = get_resolver(urlconf).url_patterns
    except Exception:  # a broken URLconf: Django's own urls checks report it
        return []
    views = _debug_views()
    found: list[DebugServeRoute] = []

    def walk(patterns: Any, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                view = _debug_view(pattern.callback, views)
                if view is not None:
                    root = pattern.default_args.get("document_root")
                    found.append(DebugServeRoute(route, view, None if root is None else str(root)))

    walk(patterns, "")
    return found


@prodkit_check(W307)
def check_static_debug_view(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W307: static files served by Django's debug view."""
    return [
        W307.message(obj="settings.ROOT_URLCONF", view=route.view, route=route.route)
        for route in debug_serve_routes()
        if route.serves_static
    ]


@prodkit_check(W308)
def check_whitenoise_dev_mode(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W308: whitenoise's autorefresh or finders turned on."""
    if whitenoise_index(middleware_paths()) is None:
        return []
    return [
        W308.message(obj=f"settings.{name}", setting=name)
        for name in ("WHITENOISE_AUTOREFRESH", "WHITENOISE_USE_FINDERS")
        if getattr(settings, name, False) is True
    ]


@prodkit_check(I312)
def check_whitenoise_under_asgi(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I312: whitenoise in MIDDLEWARE, static files on local disk, the site served over ASGI."""
    if whitenoise_index(middleware_paths()) is None or _local_static() is None:
        return []
    server = asgi_server()
    return [I312.message(obj="settings.MIDDLEWARE", server=server)] if server else []


@prodkit_check(W309)
def check_static_url_scheme(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W309: an http:// STATIC_URL on an HTTPS site."""
    config = _static_config() or {}
    url = str((config.get("OPTIONS") or {}).get("base_url") or settings.STATIC_URL or "")
    if not url.lower().startswith("http://") or not serves_https():
        return []
    return [W309.message(obj="settings.STATIC_URL", url=redact_url(url))]


def _flat_loaders(loaders: Any) -> list[str]:
    return [str(loader[0] if isinstance(loader, list | tuple) else loader) for loader in loaders]


@prodkit_check(W311)
def check_template_loaders_cached(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W311: template loaders listed without the cached loader."""
    found = []
    for index, engine in enumerate(getattr(settings, "TEMPLATES", None) or []):
        loaders = (engine.get("OPTIONS") or {}).get("loaders")
        if loaders is None or not backend_is(engine.get("BACKEND", ""), DJANGO_TEMPLATES):
            continue
        if not any(backend_is(name, CACHED_LOADER) for name in _flat_loaders(loaders)):
            found.append(W311.message(obj=f"settings.TEMPLATES[{index}]", index=index))
    return found
