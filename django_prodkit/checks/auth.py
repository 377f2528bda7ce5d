"""Checks 8xx: passwords and admin."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage
from django.urls import reverse

from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, prodkit_check

E801 = Check(
    id="prodkit.E801",
    title="passwords are stored with a fast hash",
    msg="PASSWORD_HASHERS stores new passwords with {hasher}, a fast hash.",
    hint=(
        "Put a slow hasher first: Django's default PBKDF2PasswordHasher, or "
        "Argon2PasswordHasher / ScryptPasswordHasher. Fast hashers belong in test settings only."
    ),
    why=(
        "MD5, SHA-1 and crypt are built for speed: a leaked table of such hashes is cracked at "
        "billions of guesses per second on one GPU. The first hasher is the one every new or "
        "changed password is stored with."
    ),
)
I802 = Check(
    id="prodkit.I802",
    title="a fast hasher is still accepted",
    msg="PASSWORD_HASHERS still accepts {hashers} after the first hasher.",
    hint=(
        "Keep it only while old hashes remain: each is upgraded at its user's next login. Wrap "
        "the rest (Django's 'Password upgrading' how-to) and then remove it."
    ),
    why=(
        "Listed hashers after the first only verify existing hashes. Harmless in itself, but it "
        "means weak hashes are still in the database for users who have not logged in since."
    ),
)
W803 = Check(
    id="prodkit.W803",
    title="no password validation",
    msg="AUTH_PASSWORD_VALIDATORS is empty: any password is accepted, '1' included.",
    hint=(
        "Use the validators startproject writes: UserAttributeSimilarityValidator, "
        "MinimumLengthValidator, CommonPasswordValidator and NumericPasswordValidator."
    ),
    why=(
        "Without validators, users (admins included) can choose one-character or top-100 "
        "passwords, the first ones credential-stuffing and guessing attacks try."
    ),
)
I804 = Check(
    id="prodkit.I804",
    title="no minimum password length",
    msg="AUTH_PASSWORD_VALIDATORS {reason}.",
    hint=(
        "Add django.contrib.auth.password_validation.MinimumLengthValidator (min_length 8 or "
        "more; NIST SP 800-63B asks for 15 where a password is the only factor)."
    ),
    why=(
        "Length is what makes a password expensive to guess; the other validators do not ensure it."
    ),
)
I805 = Check(
    id="prodkit.I805",
    title="the admin is at the default URL",
    msg="The admin site is at {path}, the URL every scanner tries first.",
    hint=(
        "Serve it under a less obvious prefix, e.g. path(env.str('DJANGO_ADMIN_PATH', "
        "default='admin/'), admin.site.urls); it cuts automated login attempts, it does not "
        "replace strong passwords and two-factor sign-in."
    ),
    why=(
        "Bots try /admin/ on every Django site they find, with leaked and common passwords. A "
        "different prefix keeps their noise (and their lockouts) out of the logs."
    ),
)
I806 = Check(
    id="prodkit.I806",
    title="sessions last longer than a month",
    msg="SESSION_COOKIE_AGE is {days} days: a stolen session cookie stays valid that long.",
    hint=(
        "Keep it at or below 30 days (Django's default is 14), or make long sessions an opt-in "
        "'remember me' with request.session.set_expiry()."
    ),
    why=(
        "A session cookie is a password for its lifetime. A stolen cookie (a shared computer, "
        "malware, a leaked backup) stays usable as long as the session does."
    ),
)
I807 = Check(
    id="prodkit.I807",
    title="password-reset links live longer than three days",
    msg="PASSWORD_RESET_TIMEOUT is {days} days: a reset link takes over the account that long.",
    hint=(
        "Keep it at Django's default, 3 days (259200 s), or less: an hour is plenty for most sites."
    ),
    why=(
        "A reset link lets whoever holds it take over the account. The longer it lives, the "
        "longer a link in a forwarded, archived or leaked mailbox can be used."
    ),
)

# Django's fast hashers; several are removed in recent versions, where the paths can still
# be listed (and fail at the first login): matched by name then.
WEAK_HASHERS = (
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.SHA1PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    "django.contrib.auth.hashers.CryptPasswordHasher",
)
MINIMUM_LENGTH_VALIDATOR = "django.contrib.auth.password_validation.MinimumLengthValidator"
MIN_PASSWORD_LENGTH = 8
MAX_SESSION_DAYS = 30
MAX_RESET_DAYS = 3
DAY = 86_400


def _auth_installed() -> bool:
    return apps.is_installed("django.contrib.auth")


def _name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


@prodkit_check(E801, I802)
def check_password_hashers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E801: the first hasher is fast; I802: a fast hasher later in the list."""
    if not _auth_installed():
        return []
    hashers = [str(path) for path in getattr(settings, "PASSWORD_HASHERS", []) or []]
    if not hashers:
        return []
    found = []
    obj = "settings.PASSWORD_HASHERS"
    if backend_is(hashers[0], *WEAK_HASHERS):
        found.append(E801.message(obj=obj, hasher=_name(hashers[0])))
    later = [_name(path) for path in hashers[1:] if backend_is(path, *WEAK_HASHERS)]
    if later:
        found.append(I802.message(obj=obj, hashers=", ".join(later)))
    return found


def _validator_names() -> list[str]:
    return [
        str(entry.get("NAME", "")) if isinstance(entry, dict) else str(entry)
        for entry in getattr(settings, "AUTH_PASSWORD_VALIDATORS", []) or []
    ]


def _minimum_length_problem() -> str | None:
    validators = getattr(settings, "AUTH_PASSWORD_VALIDATORS", []) or []
    lengths = []
    for entry in validators:
        if isinstance(entry, dict) and backend_is(entry.get("NAME", ""), MINIMUM_LENGTH_VALIDATOR):
            options = entry.get("OPTIONS") or {}
            lengths.append(int(options.get("min_length", MIN_PASSWORD_LENGTH)))
    if not lengths:
        return "has no MinimumLengthValidator"
    if max(lengths) < MIN_PASSWORD_LENGTH:
        return (
            f"accepts passwords of {max(lengths)} characters (MinimumLengthValidator "
            f"min_length below {MIN_PASSWORD_LENGTH})"
        )
    return None


@prodkit_check(W803, I804)
def check_password_validators(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W803: no validators; I804: no (or a short) minimum length."""
    if not _auth_installed():
        return []
    obj = "settings.AUTH_PASSWORD_VALIDATORS"
    if not _validator_names():
        return [W803.message(obj=obj)]
    reason = _minimum_length_problem()
    return [I804.message(obj=obj, reason=reason)] if reason else []


def admin_path() -> str | None:
    """Return the path of the admin's index page, or None when it is not routed."""
    try:
        return reverse("admin:index")
    except Exception:  # no admin URLs, or a URLconf that does not import: nothing to say
        return None


@prodkit_check(I805)
def check_admin_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I805: the admin at .../admin/."""
    if not apps.is_installed("django.contrib.admin"):
        return []
    path = admin_path()
    # i18n_patterns put a language prefix first (/en/admin/): still the default.
    if path is not None and path.rstrip("/").rsplit("/", 1)[-1] == "admin":
        return [I805.message(obj="settings.ROOT_URLCONF", path=path)]
    return []


def _days(seconds: float) -> str:
    return f"{seconds / DAY:g}"


@prodkit_check(I806)
def check_session_cookie_age(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I806: sessions longer than 30 days."""
    age = float(getattr(settings, "SESSION_COOKIE_AGE", 14 * DAY) or 0)
    if age > MAX_SESSION_DAYS * DAY:
        return [I806.message(obj="settings.SESSION_COOKIE_AGE", days=_days(age))]
    return []


@prodkit_check(I807)
def check_password_reset_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I807: password-reset links valid longer than 3 days."""
    timeout = float(getattr(settings, "PASSWORD_RESET_TIMEOUT", MAX_RESET_DAYS * DAY) or 0)
    if timeout > MAX_RESET_DAYS * DAY:
        return [I807.message(obj="settings.PASSWORD_RESET_TIMEOUT", days=_days(timeout))]
    return []
