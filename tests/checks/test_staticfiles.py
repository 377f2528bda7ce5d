"""Checks 3xx: static files and templates, on real files under tmp_path."""

from __future__ import annotations

import itertools
import json
import sys
import types

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import views as staticfiles_views
from django.core.checks import run_checks
from django.urls import path, re_path
from django.utils.module_loading import import_string
from django.views.static import serve

from django_prodkit.checks import staticfiles
from django_prodkit.settings import local_storages, production_middleware
from tests.checks import ids

WHITENOISE_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
MANIFEST_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
PLAIN_STORAGE = "django.contrib.staticfiles.storage.StaticFilesStorage"
AZURE_STORAGE = "storages.backends.azure_storage.AzureStorage"
FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
DJANGO_TEMPLATES = "django.template.backends.django.DjangoTemplates"

SECURITY = "django.middleware.security.SecurityMiddleware"
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"

ALL_CHECKS = (
    staticfiles.check_static_root,
    staticfiles.check_collectstatic,
    staticfiles.check_static_cache_busting,
    staticfiles.check_static_served,
    staticfiles.check_whitenoise_order,
    staticfiles.check_static_debug_view,
    staticfiles.check_whitenoise_dev_mode,
    staticfiles.check_static_url_scheme,
    staticfiles.check_template_loaders_cached,
)


def _run_all():
    return [message for check in ALL_CHECKS for message in check()]


@pytest.fixture
def static_root(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    return root


def _storages(backend, **options):
    config = {"BACKEND": backend}
    if options:
        config["OPTIONS"] = options
    return {"default": {"BACKEND": FILE_STORAGE}, "staticfiles": config}


def _write_manifest(root, paths, name="staticfiles.json"):
    (root / name).write_text(json.dumps({"paths": paths, "version": "1.1", "hash": "x"}))


@pytest.fixture
def manifest_site(settings, static_root, tmp_path):
    """whitenoise's manifest storage, collected, and one template directory; returns it."""
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = static_root
    _write_manifest(static_root, {"css/site.css": "css/site.abc123.css"})
    templates = tmp_path / "templates"
    templates.mkdir()
    settings.TEMPLATES = [{"BACKEND": DJANGO_TEMPLATES, "DIRS": [templates], "APP_DIRS": False}]
    return templates


def _template(directory, name, text):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- E301 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "root", "expected"),
    [
        pytest.param(WHITENOISE_STORAGE, None, ["prodkit.E301"], id="whitenoise-no-root"),
        pytest.param(PLAIN_STORAGE, "", ["prodkit.E301"], id="plain-empty-root"),
        pytest.param(WHITENOISE_STORAGE, "/srv/static", [], id="root-set"),
        pytest.param(AZURE_STORAGE, None, [], id="blob-storage-needs-no-root"),
    ],
)
def test_e301_static_root_unset(settings, backend, root, expected):
    settings.STORAGES = _storages(backend)
    settings.STATIC_ROOT = root
    assert ids(staticfiles.check_static_root()) == expected


def test_e301_storage_location_option_counts(settings, static_root):
    settings.STORAGES = _storages(PLAIN_STORAGE, location=str(static_root))
    settings.STATIC_ROOT = None
    assert staticfiles.check_static_root() == []


def test_e301_needs_the_staticfiles_app(settings):
    settings.INSTALLED_APPS = [
        a for a in settings.INSTALLED_APPS if a != staticfiles.STATICFILES_APP
    ]
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = None
    assert staticfiles.check_static_root() == []


# --- E302, W303 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(WHITENOISE_STORAGE, id="whitenoise"),
        pytest.param(MANIFEST_STORAGE, id="django"),
    ],
)
def test_e302_manifest_missing(settings, static_root, backend):
    settings.STORAGES = _storages(backend)
    settings.STATIC_ROOT = static_root
    (static_root / "css").mkdir()
    [message] = staticfiles.check_collectstatic()
    assert message.id == "prodkit.E302"
    assert str(static_root / "staticfiles.json") in message.msg
    assert "does not exist" in message.msg
    assert "collectstatic" in message.hint


def test_e302_static_root_missing(settings, tmp_path):
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = tmp_path / "never-collected"
    assert ids(staticfiles.check_collectstatic()) == ["prodkit.E302"]


def test_e302_manifest_present_passes(settings, static_root):
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = static_root
    _write_manifest(static_root, {"css/site.css": "css/site.abc123.css"})
    settings.TEMPLATES = []
    assert staticfiles.check_collectstatic() == []


def test_e302_unreadable_manifest(settings, static_root):
    settings.STORAGES = _storages(MANIFEST_STORAGE)
    settings.STATIC_ROOT = static_root
    (static_root / "staticfiles.json").write_text("{not json")
    [message] = staticfiles.check_collectstatic()
    assert message.id == "prodkit.E302"
    assert "cannot be read" in message.msg


def test_e302_custom_manifest_name(settings, static_root):
    settings.STORAGES = _storages("tests.checks.test_staticfiles.RenamedManifestStorage")
    settings.STATIC_ROOT = static_root
    _write_manifest(static_root, {})
    [message] = staticfiles.check_collectstatic()
    assert "assets.json" in message.msg
    _write_manifest(static_root, {}, name="assets.json")
    settings.TEMPLATES = []
    assert staticfiles.check_collectstatic() == []


class RenamedManifestStorage(import_string(MANIFEST_STORAGE)):
    manifest_name = "assets.json"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(None, ["prodkit.W303"], id="missing"),
        pytest.param("dir", ["prodkit.W303"], id="empty"),
        pytest.param("file", [], id="collected"),
    ],
)
def test_w303_plain_storage_never_collected(settings, tmp_path, make, expected):
    root = tmp_path / "static"
    if make:
        root.mkdir()
    if make == "file":
        (root / "site.css").write_text("body {}")
    settings.STORAGES = _storages(PLAIN_STORAGE)
    settings.STATIC_ROOT = root
    assert ids(staticfiles.check_collectstatic()) == expected


def test_w303_remote_storage_is_not_read(settings):
    settings.STORAGES = _storages(AZURE_STORAGE)
    settings.STATIC_ROOT = None
    assert staticfiles.check_collectstatic() == []


# --- W304 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        pytest.param(PLAIN_STORAGE, ["prodkit.W304"], id="plain"),
        pytest.param(
            "whitenoise.storage.CompressedStaticFilesStorage", ["prodkit.W304"], id="compressed"
        ),
        pytest.param(AZURE_STORAGE, ["prodkit.W304"], id="blob-unhashed"),
        pytest.param(MANIFEST_STORAGE, [], id="django-manifest"),
        pytest.param(WHITENOISE_STORAGE, [], id="whitenoise-manifest"),
    ],
)
def test_w304_cache_busting(settings, backend, expected):
    settings.STORAGES = _storages(backend)
    assert ids(staticfiles.check_static_cache_busting()) == expected


# --- W305, W306 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("middleware", "static_url", "expected"),
    [
        pytest.param([SECURITY, SESSIONS], "/static/", ["prodkit.W305"], id="no-whitenoise"),
        pytest.param([SECURITY, WHITENOISE, SESSIONS], "/static/", [], id="whitenoise"),
        pytest.param([SECURITY, SESSIONS], "https://cdn.example.com/static/", [], id="cdn"),
    ],
)
def test_w305_nothing_serves_static(settings, static_root, middleware, static_url, expected):
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = static_root
    settings.MIDDLEWARE = middleware
    settings.STATIC_URL = static_url
    assert ids(staticfiles.check_static_served()) == expected


def test_w305_whitenoise_subclass_counts(settings, static_root):
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.MIDDLEWARE = [SECURITY, "tests.checks.test_staticfiles.ProjectWhiteNoise"]
    assert staticfiles.check_static_served() == []


class ProjectWhiteNoise(import_string(WHITENOISE)):
    pass


@pytest.mark.parametrize(
    ("middleware", "expected", "words"),
    [
        pytest.param(production_middleware([SESSIONS, COMMON]), [], "", id="production-middleware"),
        pytest.param(
            production_middleware(["django.middleware.cache.UpdateCacheMiddleware", SESSIONS]),
            [],
            "",
            id="with-update-cache-first",
        ),
        pytest.param([SECURITY, WHITENOISE, SESSIONS], [], "", id="right-after-security"),
        pytest.param([WHITENOISE, SESSIONS], [], "", id="no-security-middleware"),
        pytest.param(
            [SECURITY, SESSIONS, WHITENOISE],
            ["prodkit.W306"],
            f"after {SESSIONS}",
            id="after-sessions",
        ),
        pytest.param(
            [WHITENOISE, SECURITY, SESSIONS],
            ["prodkit.W306"],
            "before SecurityMiddleware",
            id="before-security",
        ),
    ],
)
def test_w306_whitenoise_order(settings, middleware, expected, words):
    settings.MIDDLEWARE = middleware
    found = staticfiles.check_whitenoise_order()
    assert ids(found) == expected
    assert all(words in message.msg for message in found)


def test_w306_without_whitenoise_is_w305s_business(settings):
    settings.MIDDLEWARE = [SESSIONS, SECURITY]
    assert staticfiles.check_whitenoise_order() == []


# --- W307 ------------------------------------------------------------------------------------

_urlconf_numbers = itertools.count()


def _urlconf(settings, monkeypatch, patterns):
    """Make ``patterns`` the ROOT_URLCONF, as a module of its own."""
    name = f"prodkit_test_urls_{next(_urlconf_numbers)}"
    module = types.ModuleType(name)
    module.urlpatterns = patterns
    monkeypatch.setitem(sys.modules, name, module)
    settings.ROOT_URLCONF = name


def index(request):
    raise AssertionError("never called")


def media_view(request, path):
    """A project's own view that calls serve(), as example_project's does."""
    return serve(request, path, document_root=django_settings.MEDIA_ROOT)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        pytest.param(
            [re_path(r"^static/(?P<path>.*)$", staticfiles_views.serve)],
            ["prodkit.W307"],
            id="staticfiles-serve",
        ),
        pytest.param(
            [re_path(r"^assets/(?P<path>.*)$", serve, {"document_root": "STATIC_ROOT"})],
            ["prodkit.W307"],
            id="serve-static-root",
        ),
        pytest.param(
            [
                path("site/", index),
                re_path(r"^static/(?P<path>.*)$", serve, {"document_root": "/x"}),
            ],
            ["prodkit.W307"],
            id="serve-under-static-url",
        ),
        pytest.param(
            [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": "/srv/media"})],
            [],
            id="media-is-w406",
        ),
        pytest.param([path("", index)], [], id="no-debug-view"),
    ],
)
def test_w307_static_served_by_debug_view(settings, monkeypatch, static_root, patterns, expected):
    settings.STATIC_ROOT = static_root
    settings.STATIC_URL = "/static/"
    for pattern in patterns:
        if pattern.default_args.get("document_root") == "STATIC_ROOT":
            pattern.default_args["document_root"] = str(static_root)
    _urlconf(settings, monkeypatch, patterns)
    assert ids(staticfiles.check_static_debug_view()) == expected


def test_w307_nested_include_names_the_full_route(settings, monkeypatch):
    from django.urls import include

    inner = types.ModuleType("prodkit_test_inner_urls")
    inner.urlpatterns = [re_path(r"^static/(?P<path>.*)$", staticfiles_views.serve)]
    monkeypatch.setitem(sys.modules, inner.__name__, inner)
    _urlconf(settings, monkeypatch, [path("app/", include(inner.__name__))])
    [message] = staticfiles.check_static_debug_view()
    assert "app/^static/" in message.msg
    assert "django.contrib.staticfiles.views.serve" in message.msg


def test_w307_urlconf_with_debug_on_is_not_production(settings, monkeypatch):
    settings.DEBUG = True
    _urlconf(settings, monkeypatch, [re_path(r"^static/(?P<path>.*)$", staticfiles_views.serve)])
    assert staticfiles.check_static_debug_view() == []


def test_debug_view_called_by_a_project_view_is_found(settings, monkeypatch):
    _urlconf(settings, monkeypatch, [re_path(r"^media/(?P<path>.*)$", media_view)])
    [route] = staticfiles.debug_serve_routes()
    assert route.view == "django.views.static.serve"
    assert not route.serves_static


# --- W308 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("autorefresh", "finders", "expected"),
    [
        pytest.param(True, False, ["prodkit.W308"], id="autorefresh"),
        pytest.param(False, True, ["prodkit.W308"], id="finders"),
        pytest.param(True, True, ["prodkit.W308", "prodkit.W308"], id="both"),
        pytest.param(False, False, [], id="off"),
    ],
)
def test_w308_whitenoise_development_mode(settings, autorefresh, finders, expected):
    settings.MIDDLEWARE = [SECURITY, WHITENOISE]
    settings.WHITENOISE_AUTOREFRESH = autorefresh
    settings.WHITENOISE_USE_FINDERS = finders
    assert ids(staticfiles.check_whitenoise_dev_mode()) == expected


def test_w308_settings_without_whitenoise_do_nothing(settings):
    settings.MIDDLEWARE = [SECURITY]
    settings.WHITENOISE_AUTOREFRESH = True
    assert staticfiles.check_whitenoise_dev_mode() == []


# --- I312 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worker", "urlconf", "expected"),
    [
        pytest.param("uvicorn", None, ["prodkit.I312"], id="uvicorn-set"),
        pytest.param(None, "tests.urls_async", ["prodkit.I312"], id="async-views-choose-uvicorn"),
        pytest.param("gthread", "tests.urls_async", [], id="gthread-set"),
        pytest.param(None, None, [], id="sync-project-gets-gthread"),
    ],
)
def test_i312_whitenoise_under_asgi(settings, monkeypatch, worker, urlconf, expected):
    if worker is None:
        monkeypatch.delenv("PRODKIT_WORKER_CLASS", raising=False)
    else:
        monkeypatch.setenv("PRODKIT_WORKER_CLASS", worker)
    if urlconf:
        settings.ROOT_URLCONF = urlconf
    settings.MIDDLEWARE = [SECURITY, WHITENOISE]
    assert ids(staticfiles.check_whitenoise_under_asgi()) == expected


def test_i312_says_why_the_site_is_asgi(settings, monkeypatch):
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn")
    settings.MIDDLEWARE = [SECURITY, WHITENOISE]
    [message] = staticfiles.check_whitenoise_under_asgi()
    assert "uvicorn_worker.UvicornWorker: PRODKIT_WORKER_CLASS is set" in message.msg


def test_i312_static_on_blob_storage_or_no_whitenoise_pass(settings, monkeypatch):
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn")
    settings.MIDDLEWARE = [SECURITY]
    assert staticfiles.check_whitenoise_under_asgi() == []
    settings.MIDDLEWARE = [SECURITY, WHITENOISE]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django_prodkit.storage.azure.AzureManifestStaticStorage"},
    }
    assert staticfiles.check_whitenoise_under_asgi() == []


# --- W309 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("static_url", "https", "expected"),
    [
        pytest.param("http://cdn.example.com/static/", True, ["prodkit.W309"], id="http-cdn"),
        pytest.param("https://cdn.example.com/static/", True, [], id="https-cdn"),
        pytest.param("//cdn.example.com/static/", True, [], id="scheme-relative"),
        pytest.param("/static/", True, [], id="same-site"),
        pytest.param("http://cdn.example.com/static/", False, [], id="http-site"),
    ],
)
def test_w309_mixed_content(settings, static_url, https, expected):
    settings.STATIC_URL = static_url
    settings.SECURE_SSL_REDIRECT = https
    settings.SESSION_COOKIE_SECURE = False
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_HSTS_SECONDS = 0
    assert ids(staticfiles.check_static_url_scheme()) == expected


def test_w309_app_service_counts_as_https(settings, monkeypatch):
    monkeypatch.setenv("WEBSITE_SITE_NAME", "shop")
    settings.STATIC_URL = "http://cdn.example.com/static/"
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_HSTS_SECONDS = 0
    assert ids(staticfiles.check_static_url_scheme()) == ["prodkit.W309"]


# --- E310 ------------------------------------------------------------------------------------


def test_e310_template_links_a_name_the_manifest_lacks(manifest_site):
    _template(
        manifest_site,
        "pages/home.html",
        "{% load static %}\n"
        "<link href=\"{% static 'css/site.css' %}\">\n"
        '<script src="{% static "js/missing.js" %}"></script>\n'
        "{% static 'css/site.css' as site_css %}{% static 'css/site.css#top' %}\n"
        "{% static logo %}{% static 'img/{{ theme }}.png' %}{% static 'fonts/' %}\n",
    )
    [message] = staticfiles.check_collectstatic()
    assert message.id == "prodkit.E310"
    assert message.obj == "pages/home.html"
    assert message.msg == (
        "The template pages/home.html uses {% static 'js/missing.js' %}, which is not in the "
        "static files manifest."
    )


def test_e310_every_name_in_the_manifest_passes(manifest_site):
    _template(manifest_site, "base.html", "{% load static %}{% static 'css/site.css' %}")
    _template(manifest_site, "plain.txt", "no tags here")
    assert staticfiles.check_collectstatic() == []


def test_e310_one_message_per_missing_name(manifest_site):
    _template(manifest_site, "a.html", "{% static 'a.css' %} {% static 'b.css' %}")
    _template(manifest_site, "sub/b.html", "{%static 'c.css'%}")
    found = staticfiles.check_collectstatic()
    assert [(m.id, m.obj) for m in found] == [
        ("prodkit.E310", "a.html"),
        ("prodkit.E310", "a.html"),
        ("prodkit.E310", "sub/b.html"),
    ]


def test_e310_skipped_without_a_manifest(settings, manifest_site, static_root):
    (static_root / "staticfiles.json").unlink()
    _template(manifest_site, "a.html", "{% static 'missing.css' %}")
    assert ids(staticfiles.check_collectstatic()) == ["prodkit.E302"]


def test_e310_app_templates_are_scanned_but_not_djangos(settings, manifest_site, static_root):
    settings.TEMPLATES = [{"BACKEND": DJANGO_TEMPLATES, "DIRS": [], "APP_DIRS": True}]
    # The example's gallery app links three files; the admin's templates are not read.
    found = staticfiles.check_collectstatic()
    assert {m.obj for m in found} == {"gallery/base.html"}
    assert sorted({m.msg.split("'")[1] for m in found}) == [
        "gallery/logo.svg",
        "gallery/site.css",
        "gallery/site.js",
    ]
    paths = {name: name for name in ("gallery/logo.svg", "gallery/site.css", "gallery/site.js")}
    _write_manifest(static_root, paths)
    assert staticfiles.check_collectstatic() == []


def test_e310_a_shadowed_app_template_is_never_rendered(settings, manifest_site):
    _template(manifest_site, "gallery/base.html", "{% load static %}{% static 'css/site.css' %}")
    settings.TEMPLATES = [{"BACKEND": DJANGO_TEMPLATES, "DIRS": [manifest_site], "APP_DIRS": True}]
    assert staticfiles.check_collectstatic() == []


@pytest.mark.parametrize(
    ("on_disk", "expected"),
    [
        pytest.param(True, [], id="file-collected"),
        pytest.param(False, ["prodkit.E310"], id="absent"),
    ],
)
def test_e310_non_strict_manifest_falls_back_to_the_file(
    settings, manifest_site, static_root, on_disk, expected
):
    settings.WHITENOISE_MANIFEST_STRICT = False
    if on_disk:
        (static_root / "extra.css").write_text("body {}")
    _template(manifest_site, "a.html", "{% static 'extra.css' %}")
    assert ids(staticfiles.check_collectstatic()) == expected


# --- W311 ------------------------------------------------------------------------------------

_LOADERS = [
    "django.template.loaders.filesystem.Loader",
    "django.template.loaders.app_directories.Loader",
]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"loaders": _LOADERS}, ["prodkit.W311"], id="uncached"),
        pytest.param(
            {"loaders": [("django.template.loaders.cached.Loader", _LOADERS)]}, [], id="cached"
        ),
        pytest.param({}, [], id="django-default"),
    ],
)
def test_w311_template_loaders_cached(settings, options, expected):
    settings.TEMPLATES = [{"BACKEND": DJANGO_TEMPLATES, "DIRS": [], "OPTIONS": options}]
    assert ids(staticfiles.check_template_loaders_cached()) == expected


def test_w311_uncached_app_loader_still_feeds_e310(settings, manifest_site):
    settings.TEMPLATES = [
        {"BACKEND": DJANGO_TEMPLATES, "DIRS": [], "OPTIONS": {"loaders": _LOADERS}}
    ]
    assert {m.obj for m in staticfiles.check_collectstatic()} == {"gallery/base.html"}


# --- Whole settings --------------------------------------------------------------------------


def test_hand_written_static_settings_are_caught(settings):
    settings.STATIC_URL = "static/"
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
    assert ids(_run_all()) == ["prodkit.E301", "prodkit.W304", "prodkit.W305"]


def test_local_storages_and_production_middleware_pass_once_collected(settings, tmp_path):
    for name, value in local_storages(
        static_root=tmp_path / "static", media_root=tmp_path / "media"
    ).items():
        setattr(settings, name, value)
    settings.MIDDLEWARE = production_middleware([SESSIONS, COMMON])
    settings.WHITENOISE_AUTOREFRESH = False
    settings.WHITENOISE_USE_FINDERS = False
    assert ids(_run_all()) == ["prodkit.E302"]
    (tmp_path / "static").mkdir()
    paths = {name: name for name in ("gallery/logo.svg", "gallery/site.css", "gallery/site.js")}
    _write_manifest(tmp_path / "static", paths)
    assert _run_all() == []


def test_no_message_shows_a_secret(settings, manifest_site):
    secret = "sv=2024&sig=s3cr3t-signature"
    settings.STATIC_URL = f"http://cdn.example.com/static/?{secret}"
    settings.SECURE_SSL_REDIRECT = True
    settings.MIDDLEWARE = [SESSIONS, WHITENOISE, SECURITY]
    settings.WHITENOISE_AUTOREFRESH = True
    _template(manifest_site, "a.html", "{% static 'missing.css' %}")
    messages = _run_all()
    assert len(messages) >= 4
    for message in messages:
        assert "s3cr3t" not in f"{message.msg} {message.hint} {message.obj}"


def test_checks_reach_django_check_framework(settings, tmp_path):
    settings.STORAGES = _storages(WHITENOISE_STORAGE)
    settings.STATIC_ROOT = tmp_path / "never-collected"
    found = run_checks(tags=["staticfiles"], include_deployment_checks=True)
    assert "prodkit.E302" in ids(found)
