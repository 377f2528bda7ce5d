"""Checks 0xx: secrets and debug.

They complement Django's own deploy checks (``security.W009``, ``W018``, ``W020``, ``W025``):
where Django warns, a setting that breaks or exposes the site is an error here, and they go
on to what Django does not look at (a key copied from an example file, a wildcard host, a
development app left in, errors nobody hears about). No message ever shows a key or a
password: only setting names, host names and numbers.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage
from django.core.exceptions import ImproperlyConfigured
from django.utils.log import DEFAULT_LOGGING
from dotenv import dotenv_values

from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.env import Env
from django_prodkit.settings.caches import is_loopback_host

E001 = Check(
    id="prodkit.E001",
    title="DEBUG is on",
    msg="DEBUG is True: any visitor who triggers an error sees settings, SQL and source code.",
    hint=(
        "Run the deploy checks against the settings the production server uses, with "
        "DJANGO_DEBUG=false (production_settings() reads it; off is its default)."
    ),
    why=(
        "With DEBUG on, Django's error pages show the traceback, the local variables, the "
        "request and most settings to whoever caused the error; it also keeps every SQL query "
        "in memory and serves a detailed 404 page listing the URL patterns."
    ),
)
E002 = Check(
    id="prodkit.E002",
    title="SECRET_KEY is weak",
    msg="SECRET_KEY is weak: {reason}.",
    hint=(
        "Generate one (python -c 'import secrets; print(secrets.token_urlsafe(50))') and set it "
        "in DJANGO_SECRET_KEY, or in a file named by DJANGO_SECRET_KEY_FILE; production_settings() "
        "reads either."
    ),
    why=(
        "SECRET_KEY signs sessions, password-reset links, messages and signed cookies. A short, "
        "repetitive or development key can be guessed or is already known; whoever has it can "
        "forge a session for any user. Django only warns (security.W009); prodkit treats it "
        "as an error."
    ),
)
E003 = Check(
    id="prodkit.E003",
    title="SECRET_KEY is public",
    msg="SECRET_KEY {reason}, so it is not a secret.",
    hint=(
        "Generate a new key, keep it only in the environment (DJANGO_SECRET_KEY or "
        "DJANGO_SECRET_KEY_FILE), and leave the example file's value empty. Do not keep the old "
        "key in SECRET_KEY_FALLBACKS: it is public."
    ),
    why=(
        "A key that appears in a repository, a tutorial or an example file is known to anyone "
        "who has read it; it protects nothing, whatever its length."
    ),
)
W004 = Check(
    id="prodkit.W004",
    title="SECRET_KEY_FALLBACKS holds the current key",
    msg="SECRET_KEY_FALLBACKS contains the current SECRET_KEY.",
    hint=(
        "When rotating, put the new key in DJANGO_SECRET_KEY and the previous one in "
        "DJANGO_SECRET_KEY_FALLBACKS; the current key never needs to be a fallback."
    ),
    why=(
        "This usually means the rotation went wrong: the old key, not listed, no longer "
        "validates anything, so every session and password-reset link signed with it has just "
        "become invalid."
    ),
)
W005 = Check(
    id="prodkit.W005",
    title="an old key in SECRET_KEY_FALLBACKS is public",
    msg="SECRET_KEY_FALLBACKS[{index}] {reason}.",
    hint=(
        "Remove it: a public key must not validate anything. Fallbacks are for keys that were "
        "secret and are being retired."
    ),
    why=(
        "Every fallback key still validates sessions, password-reset links and signed cookies. "
        "A development key or one copied from an example can be used by anyone to forge them. "
        "Django's security.W025 covers short keys; this covers known ones."
    ),
)
I006 = Check(
    id="prodkit.I006",
    title="many old keys still valid",
    msg="SECRET_KEY_FALLBACKS holds {count} old keys; each still validates signed data.",
    hint=(
        "Drop a fallback once SESSION_COOKIE_AGE and PASSWORD_RESET_TIMEOUT have passed since "
        "the rotation; one or two are normally enough."
    ),
    why=(
        "A fallback exists to keep sessions alive during a rotation. Kept for longer, a leaked "
        "old key stays useful to an attacker, and every signature check that fails tries each "
        "key in turn."
    ),
)
E007 = Check(
    id="prodkit.E007",
    title="ALLOWED_HOSTS accepts any host",
    msg="ALLOWED_HOSTS contains '*': Django accepts any Host header.",
    hint=(
        "List the host names the site answers on in DJANGO_ALLOWED_HOSTS "
        "(host_settings_from_env() adds App Service's WEBSITE_HOSTNAME). Health probes sent to "
        "the instance's address are answered by HealthCheckMiddleware before host validation: "
        "production_middleware() puts it first."
    ),
    why=(
        "Django builds absolute URLs (password-reset e-mails, redirects, cached pages) from the "
        "Host header. With '*', an attacker chooses that host: reset links pointing to their "
        "server, cache entries poisoned with their domain. Django's deploy checks do not flag it."
    ),
)
E008 = Check(
    id="prodkit.E008",
    title="ALLOWED_HOSTS is empty",
    msg="ALLOWED_HOSTS is empty and DEBUG is off: every request is answered with 400 Bad Request.",
    hint=(
        "Set DJANGO_ALLOWED_HOSTS to the site's host names, comma-separated; "
        "host_settings_from_env() builds ALLOWED_HOSTS from it (and WEBSITE_HOSTNAME on "
        "App Service)."
    ),
    why=(
        "Outside DEBUG, Django accepts only the hosts listed. With none, the site answers "
        "nothing but errors; Django's security.W020 is only a warning."
    ),
)
W009 = Check(
    id="prodkit.W009",
    title="nobody hears about server errors",
    msg="Nobody is told about server errors: {reason}.",
    hint=(
        "Send errors where someone reads them: set APPLICATIONINSIGHTS_CONNECTION_STRING "
        "(Azure Monitor) or initialise an error tracker such as Sentry, or set ADMINS and keep "
        "an AdminEmailHandler on the 'django' logger (logging_from_env() writes to stdout only)."
    ),
    why=(
        "With DEBUG off a crash is a bare 500 page. Unless the traceback reaches a person (by "
        "mail to ADMINS or through an error tracker), failures go unnoticed until users "
        "complain."
    ),
)
W010 = Check(
    id="prodkit.W010",
    title="DEBUG_PROPAGATE_EXCEPTIONS is on",
    msg="DEBUG_PROPAGATE_EXCEPTIONS is True: exceptions escape Django to the server.",
    hint="Remove DEBUG_PROPAGATE_EXCEPTIONS (it defaults to False); it exists for test tooling.",
    why=(
        "Django then neither renders its 500 page nor logs the error to django.request (so "
        "ADMINS are not mailed); the server answers with its own error page or drops the "
        "connection, and depending on the server may show the traceback."
    ),
)
W011 = Check(
    id="prodkit.W011",
    title="a development tool is installed",
    msg="{setting} includes {package}, a development tool.",
    hint=(
        "Keep development apps in a development settings module or behind DEBUG, e.g. "
        "if DEBUG: INSTALLED_APPS += ['{package}']."
    ),
    why=(
        "Development tools expose internals (SQL, settings, profiles of recorded requests), "
        "slow every request down, and some (the Werkzeug debugger of django-extensions) "
        "execute code sent from the browser."
    ),
)
W012 = Check(
    id="prodkit.W012",
    title="a well-known database password",
    msg="The database '{alias}' on {host} uses {reason}.",
    hint=(
        "Give the database user a generated password and pass it in DATABASE_URL (or Azure's "
        "connection-string variables); database_from_env() reads them."
    ),
    why=(
        "Default passwords are the first ones tried by anyone who can reach the server; a "
        "database reachable over the network should never accept them."
    ),
)

# Django's startproject writes development keys with this prefix; production_settings()
# makes the one it derives for DJANGO_DEBUG=true with the longer one.
DJANGO_INSECURE_PREFIX = "django-insecure-"
PRODKIT_DEVELOPMENT_PREFIX = "django-insecure-development-only-"
# Django's own thresholds (django.core.checks.security.base).
MIN_KEY_LENGTH = 50
MIN_KEY_UNIQUE = 5
MAX_FALLBACKS = 3

# Placeholders people commit, compared lowercase with everything but letters and digits
# removed ("Change-Me!" is "changeme"). Whole values, then prefixes of longer ones
# ("changeme-to-a-long-random-string-in-production...").
_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "secret",
        "secretkey",
        "mysecretkey",
        "yoursecretkey",
        "yoursecretkeyhere",
        "djangosecretkey",
        "supersecret",
        "supersecretkey",
        "topsecret",
        "insecure",
        "password",
        "development",
        "dev",
        "test",
        "testing",
        "dummy",
        "example",
        "default",
        "xxx",
        "abc123",
        "1234567890",
    }
)
# Prefixes are at least seven characters long: a random key starts with one of them once in
# billions of tries.
_PLACEHOLDER_PREFIXES = (
    "changeme",
    "changethis",
    "replaceme",
    "replacethis",
    "yoursecretkey",
    "putyour",
    "insertyour",
    "enteryour",
    "setthis",
    "placeholder",
    "example",
    "notasecret",
    "notsecret",
    "insecure",
)
# Files that document variables with example values, looked for in BASE_DIR and its parent.
EXAMPLE_ENV_FILES = (".env.example", ".env.sample", "env.example", ".env.template", ".env.dist")
_KEY_VARIABLES = ("DJANGO_SECRET_KEY", "SECRET_KEY")

# Top-level packages of tools meant for development only.
DEVELOPMENT_PACKAGES = (
    "debug_toolbar",
    "django_extensions",
    "silk",
    "django_browser_reload",
    "pyinstrument",
)

WEAK_DATABASE_PASSWORDS = frozenset(
    {"postgres", "password", "root", "admin", "changeme", "secret", "mysql", "django", "123456"}
)

ADMIN_EMAIL_HANDLER = "django.utils.log.AdminEmailHandler"
DICT_CONFIG = "logging.config.dictConfig"
# Variables whose presence means errors go to a tracker: Azure Monitor, Sentry, OpenTelemetry.
ERROR_TRACKER_VARIABLES = (
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def _key_text(key: Any) -> str:
    # Django accepts str or bytes; latin-1 maps every byte to one character, so lengths match.
    return key.decode("latin-1") if isinstance(key, bytes) else str(key or "")


def _secret_key() -> str:
    try:
        return _key_text(getattr(settings, "SECRET_KEY", ""))
    except ImproperlyConfigured:  # Django refuses to hand out an empty key
        return ""


def _fallbacks() -> list[str]:
    value = getattr(settings, "SECRET_KEY_FALLBACKS", []) or []
    if isinstance(value, str | bytes):
        value = [value]
    return [_key_text(key) for key in value]


def _normalized(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def is_placeholder_key(key: str) -> bool:
    """Return True when ``key`` is a well-known example value ("changeme", "your-secret-key")."""
    normalized = _normalized(key)
    return normalized in _PLACEHOLDERS or normalized.startswith(_PLACEHOLDER_PREFIXES)


def weakness(key: str) -> str | None:
    """Say why ``key`` is weak (Django's rules, and prodkit's development key), or None."""
    if not key:
        return "it is empty"
    if key.startswith(PRODKIT_DEVELOPMENT_PREFIX):
        return (
            "it is prodkit's development key, made when DJANGO_SECRET_KEY is unset and "
            "DJANGO_DEBUG=true"
        )
    if key.startswith(DJANGO_INSECURE_PREFIX):
        return f"it starts with '{DJANGO_INSECURE_PREFIX}', the mark of a development key"
    if len(key) < MIN_KEY_LENGTH:
        return f"it has {len(key)} characters, fewer than {MIN_KEY_LENGTH}"
    if len(set(key)) < MIN_KEY_UNIQUE:
        return f"it has only {len(set(key))} distinct characters"
    return None


def _example_files() -> Iterator[Path]:
    base_dir = getattr(settings, "BASE_DIR", None)
    if not base_dir:
        return
    base = Path(base_dir)
    for directory in dict.fromkeys((base, base.parent)):
        for name in EXAMPLE_ENV_FILES:
            path = directory / name
            if path.is_file():
                yield path


def _example_values(key: str) -> Iterator[tuple[str, str]]:
    """Yield (file name, value) for each secret-key variable in an example env file that
    mentions ``key`` at all (the others are not parsed)."""
    for path in _example_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if key not in text:
            continue
        values = dotenv_values(stream=io.StringIO(text), interpolate=False)
        for name in _KEY_VARIABLES:
            value = values.get(name)
            if value:
                yield path.name, value


def publicity(key: str) -> str | None:
    """Say why ``key`` is public (a placeholder, an example file's value), or None."""
    if not key:
        return None
    if is_placeholder_key(key):
        return "is a well-known placeholder value"
    for file_name, value in _example_values(key):
        if value == key:
            return f"is the example value written in {file_name}"
    return None


@prodkit_check(E001)
def check_debug(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: DEBUG on."""
    return [E001.message(obj="settings.DEBUG")] if getattr(settings, "DEBUG", False) else []


@prodkit_check(E002, E003)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: a weak SECRET_KEY; E003: a SECRET_KEY that is public."""
    key = _secret_key()
    found = []
    reason = weakness(key)
    if reason:
        found.append(E002.message(obj="settings.SECRET_KEY", reason=reason))
    public = publicity(key)
    if public:
        found.append(E003.message(obj="settings.SECRET_KEY", reason=public))
    return found


@prodkit_check(W004, W005, I006)
def check_secret_key_fallbacks(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W004: the current key among the fallbacks; W005: a public fallback; I006: too many."""
    key = _secret_key()
    fallbacks = _fallbacks()
    found = []
    if key and key in fallbacks:
        found.append(W004.message(obj="settings.SECRET_KEY_FALLBACKS"))
    for index, fallback in enumerate(fallbacks):
        if fallback.startswith(PRODKIT_DEVELOPMENT_PREFIX):
            reason: str | None = "is prodkit's development key"
        else:
            reason = publicity(fallback)
        if reason:
            found.append(
                W005.message(
                    obj=f"settings.SECRET_KEY_FALLBACKS[{index}]", index=index, reason=reason
                )
            )
    if len(fallbacks) > MAX_FALLBACKS:
        found.append(I006.message(obj="settings.SECRET_KEY_FALLBACKS", count=len(fallbacks)))
    return found


@prodkit_check(E007, E008)
def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: '*' in ALLOWED_HOSTS; E008: none at all outside DEBUG."""
    hosts = list(getattr(settings, "ALLOWED_HOSTS", []) or [])
    if "*" in hosts:
        return [E007.message(obj="settings.ALLOWED_HOSTS")]
    if not hosts and not getattr(settings, "DEBUG", False):
        return [E008.message(obj="settings.ALLOWED_HOSTS")]
    return []


def _error_tracker_configured() -> bool:
    env = Env()
    if any(env.is_set(name) for name in ERROR_TRACKER_VARIABLES):
        return True
    # A project that initialises Sentry in settings.py has it imported by now.
    sentry = sys.modules.get("sentry_sdk")
    if sentry is not None:
        get_client = getattr(sentry, "get_client", None)
        try:
            return bool(get_client is not None and get_client().is_active())
        except Exception:  # an old or odd sentry_sdk: count it as configured
            return True
    return False


def _handler_classes(config: dict[str, Any]) -> dict[str, str]:
    return {
        str(name): str(handler.get("class") or handler.get("()") or "")
        for name, handler in (config.get("handlers") or {}).items()
        if isinstance(handler, dict)
    }


def _logger_chain(config: dict[str, Any]) -> Iterable[tuple[list[str], dict[str, str], bool]]:
    """Yield (handler names, their classes, propagate) for django.request, django and root,
    as Django's DEFAULT_LOGGING followed by ``config`` (dictConfig) leaves them."""
    loggers = config.get("loggers") or {}
    own = _handler_classes(config)
    defaults = _handler_classes(DEFAULT_LOGGING)
    default_loggers = DEFAULT_LOGGING["loggers"]
    root = config.get("root") or loggers.get("")
    for name in ("django.request", "django", ""):
        entry = root if name == "" else loggers.get(name)
        if isinstance(entry, dict):
            propagate = entry.get("propagate", True) is not False
            yield list(entry.get("handlers") or []), own, propagate
        elif name in default_loggers:
            yield list(default_loggers[name].get("handlers", [])), defaults, True


def admin_mail_reachable() -> bool:
    """Return True when an error logged to ``django.request`` reaches an AdminEmailHandler
    under the current ``LOGGING`` (or when a custom ``LOGGING_CONFIG`` makes it unknowable)."""
    config = getattr(settings, "LOGGING", {}) or {}
    if getattr(settings, "LOGGING_CONFIG", DICT_CONFIG) != DICT_CONFIG or not isinstance(
        config, dict
    ):
        return True
    if config.get("incremental"):
        config = {}
    loggers = config.get("loggers") or {}
    # dictConfig disables loggers it is not told about (and not children of those it is).
    configured = "django" in loggers or "django.request" in loggers
    if config and config.get("disable_existing_loggers", True) and not configured:
        return False
    for handlers, classes, propagate in _logger_chain(config):
        if any(backend_is(classes.get(name, ""), ADMIN_EMAIL_HANDLER) for name in handlers):
            return True
        if not propagate:
            break
    return False


@prodkit_check(W009)
def check_error_reporting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W009: no ADMINS mail and no error tracker."""
    if _error_tracker_configured():
        return []
    admins = getattr(settings, "ADMINS", []) or []
    if not admins:
        reason = "ADMINS is empty and no error tracker is configured"
        obj = "settings.ADMINS"
    elif not admin_mail_reachable():
        reason = (
            "ADMINS is set, but LOGGING sends errors to no AdminEmailHandler and no error "
            "tracker is configured"
        )
        obj = "settings.LOGGING"
    else:
        return []
    return [W009.message(obj=obj, reason=reason)]


@prodkit_check(W010)
def check_debug_propagate_exceptions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W010: DEBUG_PROPAGATE_EXCEPTIONS on."""
    if getattr(settings, "DEBUG_PROPAGATE_EXCEPTIONS", False):
        return [W010.message(obj="settings.DEBUG_PROPAGATE_EXCEPTIONS")]
    return []


@prodkit_check(W011)
def check_development_tools(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W011: development-only apps or middleware."""
    found = []
    reported = set()
    for setting in ("INSTALLED_APPS", "MIDDLEWARE"):
        for entry in getattr(settings, setting, []) or []:
            package = str(entry).split(".", 1)[0]
            if package in DEVELOPMENT_PACKAGES and package not in reported:
                reported.add(package)
                found.append(
                    W011.message(obj=f"settings.{setting}", setting=setting, package=package)
                )
    return found


def _database_password_reason(entry: dict[str, Any]) -> str | None:
    options = entry.get("OPTIONS") or {}
    password = entry.get("PASSWORD") or options.get("password") or options.get("passwd") or ""
    if not isinstance(password, str) or not password:
        return None
    if password.lower() in WEAK_DATABASE_PASSWORDS:
        return "a well-known default password"
    user = entry.get("USER") or options.get("user") or ""
    if isinstance(user, str) and user and password == user:
        return "the user name as its password"
    return None


@prodkit_check(W012)
def check_database_passwords(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W012: a well-known password for a database that is not on this machine."""
    found = []
    for alias, entry in (getattr(settings, "DATABASES", {}) or {}).items():
        if not isinstance(entry, dict):
            continue
        host = str(entry.get("HOST") or "")
        # No host (or a socket path) is a local socket; loopback never leaves the machine.
        if not host or host.startswith("/") or is_loopback_host(host):
            continue
        reason = _database_password_reason(entry)
        if reason:
            found.append(
                W012.message(
                    obj=f"settings.DATABASES[{alias!r}]", alias=alias, host=host, reason=reason
                )
            )
    return found
