"""Checks 8xx: passwords and admin, with hand-written settings.

prodkit has no helper for these settings: Django's defaults are good, and the checks catch
what projects change by hand.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import path

from django_prodkit.checks import auth as checks
from tests.checks import ids

HASHERS = "django.contrib.auth.hashers"
VALIDATION = "django.contrib.auth.password_validation"
DAY = 86_400

# This module doubles as a URLconf with the admin under its own prefix.
urlpatterns = [path("backoffice-7d2/", admin.site.urls)]


class FastHasher(MD5PasswordHasher):
    """A project's own hasher built on MD5."""

    algorithm = "fast_md5"


STARTPROJECT_VALIDATORS = [
    {"NAME": f"{VALIDATION}.UserAttributeSimilarityValidator"},
    {"NAME": f"{VALIDATION}.MinimumLengthValidator"},
    {"NAME": f"{VALIDATION}.CommonPasswordValidator"},
    {"NAME": f"{VALIDATION}.NumericPasswordValidator"},
]


def _area():
    return run_checks(tags=["auth"], include_deployment_checks=True)


@pytest.mark.parametrize(
    ("hashers", "expected"),
    [
        pytest.param([f"{HASHERS}.MD5PasswordHasher"], ["prodkit.E801"], id="md5"),
        pytest.param(
            [f"{HASHERS}.UnsaltedSHA1PasswordHasher"], ["prodkit.E801"], id="removed-from-django"
        ),
        pytest.param([f"{__name__}.FastHasher"], ["prodkit.E801"], id="subclass"),
        pytest.param(
            [f"{HASHERS}.PBKDF2PasswordHasher", f"{HASHERS}.MD5PasswordHasher"],
            ["prodkit.I802"],
            id="md5-kept-for-upgrades",
        ),
        pytest.param(
            [f"{HASHERS}.MD5PasswordHasher", f"{HASHERS}.SHA1PasswordHasher"],
            ["prodkit.E801", "prodkit.I802"],
            id="both",
        ),
        pytest.param(
            [f"{HASHERS}.Argon2PasswordHasher", f"{HASHERS}.PBKDF2PasswordHasher"], [], id="argon2"
        ),
        pytest.param([f"{HASHERS}.PBKDF2PasswordHasher"], [], id="django-default"),
    ],
)
def test_e801_i802_password_hashers(settings, hashers, expected):
    settings.PASSWORD_HASHERS = hashers
    found = checks.check_password_hashers()
    assert ids(found) == expected
    assert all(m.obj == "settings.PASSWORD_HASHERS" for m in found)


def test_e801_names_the_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{HASHERS}.MD5PasswordHasher"]
    [message] = checks.check_password_hashers()
    assert "MD5PasswordHasher" in message.msg


@pytest.mark.parametrize(
    ("validators", "expected"),
    [
        pytest.param([], ["prodkit.W803"], id="none"),
        pytest.param(
            [{"NAME": f"{VALIDATION}.CommonPasswordValidator"}], ["prodkit.I804"], id="no-length"
        ),
        pytest.param(
            [{"NAME": f"{VALIDATION}.MinimumLengthValidator", "OPTIONS": {"min_length": 6}}],
            ["prodkit.I804"],
            id="six-characters",
        ),
        pytest.param(
            [{"NAME": f"{VALIDATION}.MinimumLengthValidator", "OPTIONS": {"min_length": 12}}],
            [],
            id="twelve-characters",
        ),
        pytest.param(STARTPROJECT_VALIDATORS, [], id="startproject"),
    ],
)
def test_w803_i804_password_validators(settings, validators, expected):
    settings.AUTH_PASSWORD_VALIDATORS = validators
    assert ids(checks.check_password_validators()) == expected


@pytest.mark.parametrize(
    ("urlconf", "expected"),
    [
        pytest.param("example_project.urls", ["prodkit.I805"], id="default-admin-url"),
        pytest.param(__name__, [], id="own-prefix"),
        pytest.param("tests.checks", [], id="urlconf-without-patterns"),
    ],
)
def test_i805_admin_url(settings, urlconf, expected):
    settings.ROOT_URLCONF = urlconf
    found = checks.check_admin_url()
    assert ids(found) == expected
    assert all("/admin/" in m.msg for m in found)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(365 * DAY, ["prodkit.I806"], id="a-year"),
        pytest.param(30 * DAY, [], id="thirty-days"),
        pytest.param(14 * DAY, [], id="django-default"),
    ],
)
def test_i806_session_cookie_age(settings, age, expected):
    settings.SESSION_COOKIE_AGE = age
    assert ids(checks.check_session_cookie_age()) == expected


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        pytest.param(7 * DAY, ["prodkit.I807"], id="a-week"),
        pytest.param(3 * DAY, [], id="django-default"),
        pytest.param(3600, [], id="an-hour"),
    ],
)
def test_i807_password_reset_timeout(settings, timeout, expected):
    settings.PASSWORD_RESET_TIMEOUT = timeout
    found = checks.check_password_reset_timeout()
    assert ids(found) == expected
    assert all("7 days" in m.msg for m in found)


def test_hand_written_settings_are_caught(settings):
    """Settings the way a project writes them by hand: test speed-ups left in, long sessions."""
    settings.PASSWORD_HASHERS = [f"{HASHERS}.MD5PasswordHasher"]  # "makes the tests fast"
    settings.AUTH_PASSWORD_VALIDATORS = []
    settings.SESSION_COOKIE_AGE = 60 * 60 * 24 * 365
    settings.PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 14
    settings.ROOT_URLCONF = "example_project.urls"
    assert sorted(ids(_area())) == [
        "prodkit.E801",
        "prodkit.I805",
        "prodkit.I806",
        "prodkit.I807",
        "prodkit.W803",
    ]


def test_djangos_defaults_pass(settings):
    settings.PASSWORD_HASHERS = [f"{HASHERS}.PBKDF2PasswordHasher"]
    settings.AUTH_PASSWORD_VALIDATORS = STARTPROJECT_VALIDATORS
    settings.ROOT_URLCONF = __name__
    del settings.SESSION_COOKIE_AGE
    del settings.PASSWORD_RESET_TIMEOUT
    assert _area() == []


def test_no_secret_appears_in_any_message(settings):
    planted = "Sup3r-secret-admin-password"
    settings.PASSWORD_HASHERS = [f"{HASHERS}.MD5PasswordHasher"]
    settings.AUTH_PASSWORD_VALIDATORS = []
    settings.SECRET_KEY = planted + "-" + "z" * 40
    found = _area()
    assert found
    assert planted not in " ".join(f"{m.msg} {m.hint} {m.obj}" for m in found)


def test_checks_reach_django_check_command(settings):
    settings.PASSWORD_HASHERS = [f"{HASHERS}.MD5PasswordHasher"]
    with pytest.raises(SystemCheckError, match=r"prodkit\.E801"):
        call_command("check", deploy=True, tags=["auth"])
