"""Checks 4xx: media files. The example's gallery app (installed in the test settings) stores
uploads in ``gallery.Photo.image``, an ImageField on the default storage."""

from __future__ import annotations

import itertools
import sys
import types

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.urls import re_path
from django.views.static import serve

from django_prodkit.checks import media
from django_prodkit.env import Env
from django_prodkit.settings import local_storages, storages_from_env
from tests.checks import ids

FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
AZURE_STORAGE = "storages.backends.azure_storage.AzureStorage"
WHITENOISE_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"

ALL_CHECKS = (
    media.check_media_shared,
    media.check_media_static_roots,
    media.check_media_static_urls,
    media.check_media_root_set,
    media.check_media_in_container,
    media.check_media_debug_view,
    media.check_upload_limits,
    media.check_upload_memory,
    media.check_media_url_scheme,
)


def _run_all():
    return [message for check in ALL_CHECKS for message in check()]


def _storages(default=FILE_STORAGE, staticfiles=WHITENOISE_STORAGE):
    return {"default": {"BACKEND": default}, "staticfiles": {"BACKEND": staticfiles}}


@pytest.fixture(autouse=True)
def _separate_roots(settings, tmp_path):
    """Local media and static files in separate directories under tmp_path; a URLconf
    without the example's media view."""
    settings.ROOT_URLCONF = "django_prodkit.urls"
    settings.STORAGES = _storages()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_URL = "/media/"
    settings.STATIC_URL = "/static/"


# --- E401 ------------------------------------------------------------------------------------


def test_e401_local_uploads_with_several_instances(settings, several_instances):
    [message] = media.check_media_shared()
    assert message.id == "prodkit.E401"
    assert "gallery.Photo.image" in message.msg
    assert "3 instance(s) x 4 worker(s)" in message.msg
    assert message.obj == "settings.STORAGES['default']"
    assert "AzureMediaStorage" in message.hint


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        pytest.param(FILE_STORAGE, ["prodkit.E401"], id="file-system"),
        pytest.param(AZURE_STORAGE, [], id="blob-storage"),
    ],
)
def test_e401_shared_storage_passes(settings, several_instances, backend, expected):
    settings.STORAGES = _storages(default=backend)
    assert ids(media.check_media_shared()) == expected


def test_e401_one_instance_passes(settings, several_processes):
    assert media.check_media_shared() == []


@pytest.mark.parametrize(
    ("shared", "root", "expected"),
    [
        pytest.param("true", "/home/site/media", [], id="shared-home"),
        pytest.param("false", "/home/site/media", ["prodkit.E401"], id="home-not-shared"),
        pytest.param("true", "/tmp/media", ["prodkit.E401"], id="outside-home"),
    ],
)
def test_e401_app_service_shared_home(settings, monkeypatch, shared, root, expected):
    settings.PRODKIT_INSTANCES = None
    monkeypatch.setenv("WEBSITE_SITE_NAME", "gallery")
    monkeypatch.setenv("WEBSITES_ENABLE_APP_SERVICE_STORAGE", shared)
    settings.MEDIA_ROOT = root
    assert ids(media.check_media_shared()) == expected


# --- E402 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_dir", "static_dir", "expected", "words"),
    [
        pytest.param("files", "files", ["prodkit.E402"], "are the same", id="same"),
        pytest.param(
            "static/media", "static", ["prodkit.E402"], "MEDIA_ROOT is inside", id="media-inside"
        ),
        pytest.param(
            "files", "files/static", ["prodkit.E402"], "STATIC_ROOT is inside", id="static-inside"
        ),
        pytest.param("media", "static", [], "", id="separate"),
        pytest.param("static-media", "static", [], "", id="common-name-prefix"),
    ],
)
def test_e402_media_and_static_roots_overlap(
    settings, tmp_path, media_dir, static_dir, expected, words
):
    settings.MEDIA_ROOT = tmp_path / media_dir
    settings.STATIC_ROOT = tmp_path / static_dir
    found = media.check_media_static_roots()
    assert ids(found) == expected
    assert all(words in message.msg for message in found)


def test_e402_remote_static_files_do_not_overlap(settings, tmp_path):
    settings.STORAGES = _storages(staticfiles=AZURE_STORAGE)
    settings.MEDIA_ROOT = settings.STATIC_ROOT = tmp_path
    assert media.check_media_static_roots() == []


# --- E403 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_url", "static_url", "expected"),
    [
        pytest.param("/static/", "/static/", ["prodkit.E403"], id="same"),
        pytest.param("/static/media/", "/static/", ["prodkit.E403"], id="media-inside-static"),
        pytest.param("/files/", "/files/static/", ["prodkit.E403"], id="static-inside-media"),
        pytest.param("/media/", "/static/", [], id="separate"),
        pytest.param("", "/static/", [], id="no-media-url"),
        pytest.param(
            "https://cdn.example.com/media/", "https://cdn.example.com/static/", [], id="cdn"
        ),
    ],
)
def test_e403_media_and_static_urls_overlap(settings, media_url, static_url, expected):
    settings.MEDIA_URL = media_url
    settings.STATIC_URL = static_url
    assert ids(media.check_media_static_urls()) == expected


# --- W404 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "backend", "expected"),
    [
        pytest.param("", FILE_STORAGE, ["prodkit.W404"], id="unset"),
        pytest.param("/srv/media", FILE_STORAGE, [], id="set"),
        pytest.param("", AZURE_STORAGE, [], id="blob-storage"),
    ],
)
def test_w404_media_root_unset(settings, root, backend, expected):
    settings.MEDIA_ROOT = root
    settings.STORAGES = _storages(default=backend)
    assert ids(media.check_media_root_set()) == expected


def test_w404_storage_location_option_counts(settings, tmp_path):
    settings.MEDIA_ROOT = ""
    settings.STORAGES = {
        "default": {"BACKEND": FILE_STORAGE, "OPTIONS": {"location": str(tmp_path)}},
        "staticfiles": {"BACKEND": WHITENOISE_STORAGE},
    }
    assert media.check_media_root_set() == []


# --- W405 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "media_dir", "expected"),
    [
        pytest.param(("container", "podman"), "code/media", ["prodkit.W405"], id="container"),
        pytest.param(
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"), "code/media", ["prodkit.W405"], id="k8s"
        ),
        pytest.param(("container", "podman"), "volume/media", [], id="outside-code"),
    ],
)
def test_w405_media_inside_code_in_a_container(
    settings, monkeypatch, tmp_path, platform, media_dir, expected
):
    monkeypatch.setenv(*platform)
    settings.BASE_DIR = tmp_path / "code"
    settings.MEDIA_ROOT = tmp_path / media_dir
    found = media.check_media_in_container()
    assert ids(found) == expected
    assert all(str(tmp_path / media_dir) in message.msg for message in found)


def test_w405_without_base_dir_passes(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("container", "podman")
    settings.BASE_DIR = None
    assert media.check_media_in_container() == []


# --- W406 ------------------------------------------------------------------------------------

_urlconf_numbers = itertools.count()


def _urlconf(settings, monkeypatch, patterns):
    name = f"prodkit_test_media_urls_{next(_urlconf_numbers)}"
    module = types.ModuleType(name)
    module.urlpatterns = patterns
    monkeypatch.setitem(sys.modules, name, module)
    settings.ROOT_URLCONF = name


def media_view(request, path):
    """Serves uploads the way example_project/urls.py does."""
    return serve(request, path, document_root=django_settings.MEDIA_ROOT)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        pytest.param(
            [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": "/srv/media"})],
            ["prodkit.W406"],
            id="serve",
        ),
        pytest.param(
            [re_path(r"^media/(?P<path>.*)$", media_view)], ["prodkit.W406"], id="wrapped"
        ),
        pytest.param(
            [re_path(r"^static/(?P<path>.*)$", serve, {"document_root": "/srv/static"})],
            [],
            id="static-is-w307",
        ),
        pytest.param([], [], id="none"),
    ],
)
def test_w406_media_served_by_debug_view(settings, monkeypatch, patterns, expected):
    _urlconf(settings, monkeypatch, patterns)
    assert ids(media.check_media_debug_view()) == expected


def test_w406_example_project_urlconf_is_caught(settings):
    settings.ROOT_URLCONF = "example_project.urls"
    [message] = media.check_media_debug_view()
    assert "^media/(?P<path>.*)$" in message.msg


def test_w406_debug_on_is_not_the_production_urlconf(settings, monkeypatch):
    settings.DEBUG = True
    _urlconf(settings, monkeypatch, [re_path(r"^media/(?P<path>.*)$", media_view)])
    assert media.check_media_debug_view() == []


# --- W407, I408 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param("DATA_UPLOAD_MAX_MEMORY_SIZE", id="body-size"),
        pytest.param("DATA_UPLOAD_MAX_NUMBER_FIELDS", id="fields"),
        pytest.param("DATA_UPLOAD_MAX_NUMBER_FILES", id="files"),
    ],
)
def test_w407_request_limit_turned_off(settings, setting):
    setattr(settings, setting, None)
    [message] = media.check_upload_limits()
    assert message.id == "prodkit.W407"
    assert message.obj == f"settings.{setting}"


def test_w407_django_defaults_pass(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 100
    assert media.check_upload_limits() == []


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        pytest.param(50 * 1024 * 1024, ["prodkit.I408"], id="50MB"),
        pytest.param(10 * 1024 * 1024, [], id="10MB"),
        pytest.param(2621440, [], id="django-default"),
    ],
)
def test_i408_uploads_held_in_memory(settings, size, expected):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = size
    assert ids(media.check_upload_memory()) == expected


def test_i408_names_size_and_workers(settings, several_processes):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
    [message] = media.check_upload_memory()
    assert "50 MB" in message.msg
    assert "1 instance(s) x 4 worker(s)" in message.msg


# --- W409 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_url", "backend", "expected"),
    [
        pytest.param("http://files.example.com/media/", FILE_STORAGE, ["prodkit.W409"], id="http"),
        pytest.param("https://files.example.com/media/", FILE_STORAGE, [], id="https"),
        pytest.param("/media/", FILE_STORAGE, [], id="same-site"),
        pytest.param("http://files.example.com/media/", AZURE_STORAGE, [], id="blob-storage"),
    ],
)
def test_w409_mixed_content(settings, media_url, backend, expected):
    settings.SECURE_SSL_REDIRECT = True
    settings.MEDIA_URL = media_url
    settings.STORAGES = _storages(default=backend)
    assert ids(media.check_media_url_scheme()) == expected


def test_w409_plain_http_site_passes(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_HSTS_SECONDS = 0
    settings.MEDIA_URL = "http://files.example.com/media/"
    assert media.check_media_url_scheme() == []


# --- Whole settings --------------------------------------------------------------------------


def test_hand_written_media_settings_are_caught(settings, several_instances, tmp_path):
    base_dir = tmp_path
    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = base_dir / "static"
    settings.MEDIA_URL = "/static/media/"
    settings.MEDIA_ROOT = base_dir / "static" / "media"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    assert sorted(ids(_run_all())) == [
        "prodkit.E401",
        "prodkit.E402",
        "prodkit.E403",
        "prodkit.W407",
    ]


def test_local_storages_pass_on_one_instance(settings, tmp_path):
    for name, value in local_storages(
        static_root=tmp_path / "static", media_root="/mnt/shared/media"
    ).items():
        setattr(settings, name, value)
    assert _run_all() == []


def test_local_storages_are_caught_on_several_instances(settings, several_instances, tmp_path):
    for name, value in local_storages(
        static_root=tmp_path / "static", media_root="/mnt/shared/media"
    ).items():
        setattr(settings, name, value)
    assert ids(_run_all()) == ["prodkit.E401"]


def test_storages_from_env_default_media_is_caught_in_a_container(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("container", "docker")
    settings.BASE_DIR = tmp_path
    for name, value in storages_from_env(Env(environ={}), base_dir=tmp_path).items():
        setattr(settings, name, value)
    assert ids(_run_all()) == ["prodkit.W405"]


def test_no_message_shows_a_secret(settings, several_instances):
    secret = "s3cr3t-media-password"
    settings.SECURE_SSL_REDIRECT = True
    settings.MEDIA_URL = f"http://uploader:{secret}@files.example.com/static/?sig={secret}"
    settings.STATIC_URL = "http://uploader@files.example.com/static/"
    settings.MEDIA_ROOT = settings.STATIC_ROOT
    messages = _run_all()
    assert {"prodkit.E402", "prodkit.W409"} <= set(ids(messages))
    for message in messages:
        assert secret not in f"{message.msg} {message.hint} {message.obj}"


def test_checks_reach_django_check_framework(settings, several_instances):
    found = run_checks(tags=["media"], include_deployment_checks=True)
    assert "prodkit.E401" in ids(found)
