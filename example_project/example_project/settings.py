"""Settings of the example site: nothing but prodkit helpers and the environment.

With no variable set beyond DJANGO_ALLOWED_HOSTS and DJANGO_SECRET_KEY (or DJANGO_DEBUG=true)
it runs on the embedded defaults: SQLite, local files, the locmem cache.
"""

from __future__ import annotations

from pathlib import Path

import django

from django_prodkit.env import Env
from django_prodkit.settings import production_middleware, production_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env(dotenv=BASE_DIR / ".env")
globals().update(
    production_settings(
        env, base_dir=BASE_DIR, default_database=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prodkit",
    "gallery",
]

MIDDLEWARE = production_middleware(
    [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]
)

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # {{ csp_nonce }} for inline scripts under Django 6's CSP middleware.
                *(["django.template.context_processors.csp"] if django.VERSION >= (6,) else []),
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

# Uploads bigger than this are refused before they reach the view.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
GALLERY_MAX_UPLOAD_BYTES = env.int("GALLERY_MAX_UPLOAD_BYTES", default=5 * 1024 * 1024, min=1)
# Serve media from Django itself: fine for the single-process demo, not for production,
# where media belong on shared blob storage. With the Azure variables set (see .env.example)
# uploads go to the media container and pages link them there (signed URLs), static files
# come from the static container, and Django serves neither.
_media_on_disk = STORAGES["default"]["BACKEND"].endswith("FileSystemStorage")  # noqa: F821
GALLERY_SERVE_MEDIA = env.bool("GALLERY_SERVE_MEDIA", default=_media_on_disk)
