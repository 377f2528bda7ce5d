"""The suite runs under the example project's own settings, with test-only overrides.

The example's settings read the environment, so the variables it needs are given here;
PYTHON_DOTENV_DISABLED keeps a developer's example_project/.env out of the test run.
"""

from __future__ import annotations

import os

os.environ["PYTHON_DOTENV_DISABLED"] = "1"
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Pages are tested over plain HTTP; tests/test_security.py covers the HTTPS preset.
os.environ.setdefault("PRODKIT_HTTPS", "false")

from example_project.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests need no collectstatic run: whitenoise's manifest storage would demand one.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# whitenoise's development mode: files from the apps' static dirs, no STATIC_ROOT needed.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
