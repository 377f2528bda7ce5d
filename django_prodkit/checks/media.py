"""Checks 4xx: media files (uploads).

Where uploads are kept matters only when the project stores any: the checks about the media
directory (E401, W404, W405) look for a model ``FileField`` (``ImageField`` included) that
saves to the local disk, through the default storage or a ``FileSystemStorage`` of its own.
Uploads saved by hand through ``default_storage`` without a model field are not seen.
"""

from __future__ import annotations

import os
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage
from django.core.files.storage import FileSystemStorage, default_storage
from django.db.models import FileField

from django_prodkit.checks.context import deployment, serves_https
from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.checks.staticfiles import (
    debug_serve_routes,
    static_location,
)
from django_prodkit.env import Env
from django_prodkit.redact import redact_url
from django_prodkit.settings.storages import FILE_STORAGE

E401 = Check(
    id="prodkit.E401",
    title="uploads on local disk with several instances",
    msg=(
        "Uploads ({field}) are saved on the local disk ({backend}) and {deployment} serve the site."
    ),
    hint=(
        "Keep media on shared storage: set AZURE_STORAGE_CONNECTION_STRING (or "
        "AZURE_STORAGE_ACCOUNT_NAME with a managed identity) and storages_from_env() puts them "
        "on Azure Blob Storage (AzureMediaStorage); or mount one shared volume at MEDIA_ROOT "
        "on every instance."
    ),
    why=(
        "An upload lands on the disk of the instance that received it. The load balancer sends "
        "the next request for it to any instance: a 404 on all the others, and the file is "
        "gone when its instance is replaced."
    ),
)
E402 = Check(
    id="prodkit.E402",
    title="MEDIA_ROOT and STATIC_ROOT overlap",
    msg="MEDIA_ROOT and STATIC_ROOT {problem} ({media} and {static}).",
    hint=(
        "Use two separate directories, neither inside the other, e.g. "
        "local_storages(static_root=BASE_DIR / 'staticfiles', media_root='/mnt/media')."
    ),
    why=(
        "`collectstatic --clear` empties STATIC_ROOT, uploads included; uploaded files inside "
        "STATIC_ROOT are served as trusted static files with far-future caching, and static "
        "files inside MEDIA_ROOT can be overwritten by an upload of the same name."
    ),
)
E403 = Check(
    id="prodkit.E403",
    title="MEDIA_URL and STATIC_URL overlap",
    msg="MEDIA_URL ({media}) and STATIC_URL ({static}) {problem}.",
    hint="Give them separate prefixes, e.g. STATIC_URL = '/static/' and MEDIA_URL = '/media/'.",
    why=(
        "Whoever serves the one prefix answers for the other: whitenoise returns 404 for "
        "uploads under STATIC_URL, and Django's staticfiles refuses to start with equal URLs."
    ),
)
W404 = Check(
    id="prodkit.W404",
    title="MEDIA_ROOT is not set",
    msg="MEDIA_ROOT is not set: uploads ({field}) are saved in the working directory.",
    hint=(
        "Set it: storages_from_env(env, base_dir=BASE_DIR) uses DJANGO_MEDIA_ROOT, "
        "local_storages(media_root=...) takes it directly; or keep media on blob storage."
    ),
    why=(
        "FileSystemStorage falls back to the current directory, which depends on how the "
        "server was started: uploads end up among the code, possibly servable or overwritten "
        "by the next deploy."
    ),
)
W405 = Check(
    id="prodkit.W405",
    title="uploads inside the code directory of a container",
    msg=(
        "MEDIA_ROOT ({root}) is inside the code directory BASE_DIR on {platform}: uploads "
        "({field}) are lost when the container is replaced."
    ),
    hint=(
        "Mount a persistent volume and point DJANGO_MEDIA_ROOT at it, or keep media on blob "
        "storage (AZURE_STORAGE_CONNECTION_STRING: storages_from_env() uses AzureMediaStorage)."
    ),
    why=(
        "A container's file system is thrown away on every deploy, restart and scale-in; only "
        "mounted volumes persist. Files saved next to the code vanish with it."
    ),
)
W406 = Check(
    id="prodkit.W406",
    title="media served by Django's debug view",
    msg="The URLconf serves media with Django's debug view {view} at {route}.",
    hint=(
        "Serve uploads from blob storage (their URLs point there) or from the web server in "
        "front; remove the URL pattern."
    ),
    why=(
        "Django's docs call this view grossly inefficient and probably insecure: every "
        "download holds a worker for its whole duration, without caching headers or range "
        "requests, and a few large files can take the site down."
    ),
)
W407 = Check(
    id="prodkit.W407",
    title="request size limit turned off",
    msg="{setting} is None: {what} is not limited.",
    hint="Remove {setting} to keep Django's default ({default}), or set a number that fits.",
    why=(
        "These limits stop a single request from filling a worker's memory or CPU with an "
        "oversized form body or thousands of fields or files: without them anyone can take a "
        "worker down with one request."
    ),
)
I408 = Check(
    id="prodkit.I408",
    title="large uploads held in memory",
    msg=(
        "FILE_UPLOAD_MAX_MEMORY_SIZE is {size} MB: uploads up to that size are held in "
        "memory, in each of {deployment}."
    ),
    hint=(
        "Keep it at Django's default of 2.5 MB (or up to 10 MB); larger uploads then stream "
        "to a temporary file."
    ),
    why=(
        "Each upload below the limit is read into the worker's memory whole. A few concurrent "
        "large uploads multiply that per worker and can push an instance out of memory."
    ),
)
W409 = Check(
    id="prodkit.W409",
    title="media over plain HTTP on an HTTPS site",
    msg="The site is served over HTTPS but media come from {url} (plain http://).",
    hint="Use an https:// URL for MEDIA_URL (DJANGO_MEDIA_URL with storages_from_env()).",
    why=(
        "Browsers block or warn about images, video and downloads loaded over HTTP from an "
        "HTTPS page (mixed content), and the files can be read and replaced on the way."
    ),
)

# Uploads below this stay in memory; above Django's default of 2.5 MB is a choice, above this
# one it is a risk with several workers per instance.
MAX_MEMORY_UPLOAD = 10 * 1024 * 1024

# Django's defaults, for the W407 hint.
_UPLOAD_LIMITS = (
    ("DATA_UPLOAD_MAX_MEMORY_SIZE", "the size of a request body (file uploads aside)", "2.5 MB"),
    ("DATA_UPLOAD_MAX_NUMBER_FIELDS", "the number of form fields", "1000"),
    ("DATA_UPLOAD_MAX_NUMBER_FILES", "the number of uploaded files", "100"),
)


def _default_config() -> dict[str, Any]:
    storages = getattr(settings, "STORAGES", None) or {}
    return dict(storages.get("default") or {})


def _media_local() -> bool:
    return backend_is(_default_config().get("BACKEND", ""), FILE_STORAGE)


def _media_root() -> str:
    options = _default_config().get("OPTIONS") or {}
    return str(options.get("location") or settings.MEDIA_ROOT or "")


def _local_upload_fields() -> list[str]:
    """``app.Model.field`` of each model file field that saves to the local disk."""
    local_default = _media_local()
    found = []
    for model in apps.get_models():
        for field in model._meta.fields:
            if not isinstance(field, FileField):
                continue
            storage = field.storage
            local = (
                local_default
                if storage is default_storage
                else (isinstance(storage, FileSystemStorage))
            )
            if local:
                found.append(f"{model._meta.label}.{field.name}")
    return found


def _example(fields: list[str]) -> str:
    return fields[0] if len(fields) == 1 else f"{fields[0]} and {len(fields) - 1} more"


def _inside(path: str, parent: str) -> bool:
    """True when ``path`` is ``parent`` or below it (symbolic links followed)."""
    path, parent = os.path.realpath(path), os.path.realpath(parent)
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def _shared_app_service_home(root: str) -> bool:
    """True for a path under App Service's /home with its shared storage turned on."""
    enabled = Env().bool("WEBSITES_ENABLE_APP_SERVICE_STORAGE", default=False)
    return enabled and deployment().platform.kind == "appservice" and _inside(root, "/home")


@prodkit_check(E401)
def check_media_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E401: uploads on local disk with several instances."""
    where = deployment()
    if not where.several_instances or not _media_local():
        return []
    fields = _local_upload_fields()
    if not fields or _shared_app_service_home(_media_root() or os.getcwd()):
        return []
    return [
        E401.message(
            obj="settings.STORAGES['default']",
            field=_example(fields),
            backend=_default_config().get("BACKEND", ""),
            deployment=where.describe(),
        )
    ]


@prodkit_check(E402)
def check_media_static_roots(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E402: MEDIA_ROOT and STATIC_ROOT are the same directory or one holds the other."""
    storages = getattr(settings, "STORAGES", None) or {}
    static_config = dict(storages.get("staticfiles") or {})
    if not _media_local() or not backend_is(static_config.get("BACKEND", ""), FILE_STORAGE):
        return []
    media, static = _media_root(), static_location(static_config)
    if not media or not static:
        return []
    if os.path.realpath(media) == os.path.realpath(static):
        problem = "are the same directory"
    elif _inside(media, static):
        problem = "overlap: MEDIA_ROOT is inside STATIC_ROOT"
    elif _inside(static, media):
        problem = "overlap: STATIC_ROOT is inside MEDIA_ROOT"
    else:
        return []
    return [E402.message(obj="settings.MEDIA_ROOT", problem=problem, media=media, static=static)]


@prodkit_check(E403)
def check_media_static_urls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E403: MEDIA_URL and STATIC_URL are equal or one is a prefix of the other."""
    media, static = str(settings.MEDIA_URL or ""), str(settings.STATIC_URL or "")
    # Django reads a relative URL with the script prefix in front: the default MEDIA_URL ""
    # comes back as "/", which says nothing about where media are served.
    if media in {"", "/"} or static in {"", "/"}:
        return []
    if media == static:
        problem = "are the same"
    elif media.startswith(static):
        problem = "overlap: MEDIA_URL is inside STATIC_URL"
    elif static.startswith(media):
        problem = "overlap: STATIC_URL is inside MEDIA_URL"
    else:
        return []
    return [
        E403.message(
            obj="settings.MEDIA_URL",
            media=redact_url(media),
            static=redact_url(static),
            problem=problem,
        )
    ]


@prodkit_check(W404)
def check_media_root_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W404: local media storage without MEDIA_ROOT."""
    if not _media_local() or _media_root():
        return []
    fields = _local_upload_fields()
    if not fields:
        return []
    return [W404.message(obj="settings.MEDIA_ROOT", field=_example(fields))]


def _mounted_between(path: str, top: str) -> bool:
    """True when ``path`` or a directory above it, below ``top``, is a mount point."""
    current, top = os.path.realpath(path), os.path.realpath(top)
    while current != top and _inside(current, top):
        if os.path.ismount(current):
            return True
        current = os.path.dirname(current)
    return False


@prodkit_check(W405)
def check_media_in_container(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W405: MEDIA_ROOT inside BASE_DIR in a container, with no volume mounted there."""
    kind = deployment().platform.kind
    base_dir = getattr(settings, "BASE_DIR", None)
    root = _media_root()
    if kind == "local" or not base_dir or not root or not _media_local():
        return []
    if not _inside(root, str(base_dir)) or _mounted_between(root, str(base_dir)):
        return []
    fields = _local_upload_fields()
    if not fields:
        return []
    return [
        W405.message(obj="settings.MEDIA_ROOT", root=root, platform=kind, field=_example(fields))
    ]


@prodkit_check(W406)
def check_media_debug_view(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W406: media served by Django's debug view."""
    return [
        W406.message(obj="settings.ROOT_URLCONF", view=route.view, route=route.route)
        for route in debug_serve_routes()
        if not route.serves_static
    ]


@prodkit_check(W407)
def check_upload_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W407: a request-size limit set to None."""
    return [
        W407.message(obj=f"settings.{name}", setting=name, what=what, default=default)
        for name, what, default in _UPLOAD_LIMITS
        if hasattr(settings, name) and getattr(settings, name) is None
    ]


@prodkit_check(I408)
def check_upload_memory(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I408: FILE_UPLOAD_MAX_MEMORY_SIZE above 10 MB."""
    size = int(getattr(settings, "FILE_UPLOAD_MAX_MEMORY_SIZE", 0) or 0)
    if size <= MAX_MEMORY_UPLOAD:
        return []
    return [
        I408.message(
            obj="settings.FILE_UPLOAD_MAX_MEMORY_SIZE",
            size=f"{size / (1024 * 1024):g}",
            deployment=deployment().describe(),
        )
    ]


@prodkit_check(W409)
def check_media_url_scheme(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W409: an http:// MEDIA_URL for local media on an HTTPS site."""
    if not _media_local():
        return []
    options = _default_config().get("OPTIONS") or {}
    url = str(options.get("base_url") or settings.MEDIA_URL or "")
    if not url.lower().startswith("http://") or not serves_https():
        return []
    return [W409.message(obj="settings.MEDIA_URL", url=redact_url(url))]
