"""E-mail settings from one URL: SMTP, SendGrid, Azure Communication Services and Django's
local backends.

``email_from_url("submission://USER:PASSWORD@smtp.example.com")`` returns the settings
Django's mail backends read: ``MAILERS`` on Django >= 6.1, the ``EMAIL_*`` settings before;
a project puts them into its settings module with ``globals().update(...)``. Every result
carries the same keys, so the dict replaces whatever was set before it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import django
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env, parse_bool
from django_prodkit.redact import HIDDEN, redact_url

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
ACS_BACKEND = "django_azure_communication_email.EmailBackend"

# Django's SMTP backend has no timeout by default: a mail server that accepts the connection
# and never answers holds the request (and the worker) until the front end gives up.
DEFAULT_TIMEOUT = 10

# Django 6.1 moved e-mail configuration to MAILERS and deprecated the EMAIL_* settings
# (RemovedInDjango2028Warning); setting both is an error there.
HAS_MAILERS = django.VERSION >= (6, 1)

# MAILERS OPTIONS name -> the EMAIL_* setting it replaces (Django < 6.1).
LEGACY_SETTINGS = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
    "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT",
    "file_path": "EMAIL_FILE_PATH",
}
# Django's own defaults, so that a legacy dict replaces an earlier configuration whole.
_LEGACY_DEFAULTS = {
    "host": "localhost",
    "port": 25,
    "username": "",
    "password": "",
    "use_tls": False,
    "use_ssl": False,
}

SENDGRID_HOST = "smtp.sendgrid.net"
# Implicit TLS ("SMTPS") listens on 465 (RFC 8314), whatever the scheme's usual port.
IMPLICIT_TLS_PORT = 465

# scheme -> (default port, STARTTLS, implicit TLS)
_SMTP_SCHEMES: dict[str, tuple[int, bool, bool]] = {
    "smtp": (25, False, False),
    "submission": (587, True, False),  # RFC 6409 message submission, STARTTLS
    "smtps": (IMPLICIT_TLS_PORT, False, True),
    "sendgrid": (587, True, False),
}
_LOCAL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
}
_ACS_SCHEME = "azure-communication"
SCHEMES = (*_SMTP_SCHEMES, _ACS_SCHEME, *_LOCAL_BACKENDS)

# Schemes whose user part is itself a key, not a user name.
_KEY_IN_USER = frozenset({"sendgrid", _ACS_SCHEME})

_COMMON_PARAMS = ("from", "server_email")
_SMTP_PARAMS = (*_COMMON_PARAMS, "tls", "ssl")
_ACS_PARAMS = (*_COMMON_PARAMS, "tenant_id", "tracking_disabled")
_ALL_PARAMS = frozenset(_SMTP_PARAMS + _ACS_PARAMS)
_PARAMS = {**dict.fromkeys(_SMTP_SCHEMES, _SMTP_PARAMS), _ACS_SCHEME: _ACS_PARAMS}

_EXPECTED = {
    "smtp": "smtp://USER:PASSWORD@HOST:25 (add ?tls=true for STARTTLS, ?ssl=true for TLS)",
    "submission": "submission://USER:PASSWORD@HOST:587",
    "smtps": "smtps://USER:PASSWORD@HOST:465",
    "sendgrid": "sendgrid://API_KEY@ or sendgrid://apikey:API_KEY@",
    _ACS_SCHEME: (
        "azure-communication://ACCESS_KEY@RESOURCE.communication.azure.com "
        "or azure-communication://RESOURCE.communication.azure.com?tenant_id=TENANT_ID"
    ),
    "file": "file:///ABSOLUTE/PATH",
}
_OPTION_NAME = re.compile(r"[A-Za-z_]{1,32}")


def email_from_url(
    url: str, *, source: str = "EMAIL_URL", timeout: int = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """Return Django's e-mail settings for ``url``; ``source`` names it in errors.

    ``timeout`` (seconds) is the SMTP timeout. ``?from=`` and ``?server_email=`` set
    ``DEFAULT_FROM_EMAIL`` and ``SERVER_EMAIL``. User, password and query values are
    percent-decoded; ``+`` stays a plus sign.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ImproperlyConfigured(
            f"The e-mail timeout for {source} must be a whole number of seconds >= 1, "
            f"got {timeout!r}."
        )
    parts = _split(url, source)
    scheme = parts.scheme
    if scheme not in SCHEMES:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        raise ImproperlyConfigured(
            f"{source} uses the scheme {scheme!r} ({_shown(url)}), which prodkit does not "
            f"support. Use one of {supported}."
        )
    params = _query(parts, url, source, _PARAMS.get(scheme, _COMMON_PARAMS))
    backend = _LOCAL_BACKENDS.get(scheme, SMTP_BACKEND)
    options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if scheme in _SMTP_SCHEMES:
        options = {**_smtp(parts, url, source, params), "timeout": timeout}
    elif scheme == _ACS_SCHEME:
        backend = ACS_BACKEND
        extra = _acs(parts, url, source, params)
    elif scheme == "file":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or path == "/":
            raise _error(source, url, "does not name a directory", _EXPECTED["file"])
        options["file_path"] = path
    if "from" in params:
        extra["DEFAULT_FROM_EMAIL"] = params["from"]
    if "server_email" in params:
        extra["SERVER_EMAIL"] = params["server_email"]
    return {**_mail_settings(backend, options, timeout=timeout), **extra}


def _mail_settings(backend: str, options: dict[str, Any], *, timeout: int) -> dict[str, Any]:
    """Return the settings that make ``backend`` with ``options`` the default mailer.

    Django >= 6.1: ``MAILERS["default"]``; before: the ``EMAIL_*`` settings, all of them,
    with ``EMAIL_TIMEOUT`` always set.
    """
    if HAS_MAILERS:
        mailer: dict[str, Any] = {"BACKEND": backend}
        if options:
            mailer["OPTIONS"] = options
        return {"MAILERS": {"default": mailer}}
    legacy = {**_LEGACY_DEFAULTS, "timeout": timeout, **options}
    return {"EMAIL_BACKEND": backend, **{LEGACY_SETTINGS[k]: v for k, v in legacy.items()}}


def email_from_env(env: Env | None = None, *, default: str = "console://") -> dict[str, Any]:
    """Return Django's e-mail settings from ``EMAIL_URL`` (default ``console://``).

    ``PRODKIT_EMAIL_TIMEOUT`` (seconds, default 10) is the SMTP timeout;
    ``DEFAULT_FROM_EMAIL`` sets the sender when the URL has no ``?from=``.
    """
    env = Env() if env is None else env
    # Read as a plain string: email_from_url checks the form and hides the password.
    url = env.str("EMAIL_URL", default=default)
    timeout = env.int("PRODKIT_EMAIL_TIMEOUT", default=DEFAULT_TIMEOUT, min=1)
    config = email_from_url(url, source=env.name("EMAIL_URL"), timeout=timeout)
    from_email = env.str("DEFAULT_FROM_EMAIL", default=None)
    if from_email is not None:
        if "DEFAULT_FROM_EMAIL" in config:
            raise ImproperlyConfigured(
                f"Both {env.name('EMAIL_URL')} ?from= and {env.name('DEFAULT_FROM_EMAIL')} "
                "are set. Set only one of them."
            )
        config["DEFAULT_FROM_EMAIL"] = from_email
    return config


def _smtp(parts: SplitResult, url: str, source: str, params: dict[str, str]) -> dict[str, Any]:
    scheme = parts.scheme
    default_port, use_tls, use_ssl = _SMTP_SCHEMES[scheme]
    use_tls = _flag(params, "tls", use_tls, source, url)
    use_ssl = _flag(params, "ssl", use_ssl, source, url)
    if use_tls and use_ssl:
        raise _error(
            source,
            url,
            "asks for both STARTTLS (tls) and implicit TLS (ssl)",
            "one of them: submission://... (STARTTLS, 587) or smtps://... (TLS, 465)",
        )
    if parts.path not in ("", "/"):
        raise _error(source, url, "has a path, which SMTP URLs do not take", _EXPECTED[scheme])
    port = _port(parts, url, source)
    if port is None:
        port = IMPLICIT_TLS_PORT if use_ssl else default_port
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    host = parts.hostname or ""
    if scheme == "sendgrid":
        # The SMTP user for a SendGrid API key is the literal word "apikey".
        if parts.password is None:
            user, password = "apikey", user
        user = user or "apikey"
        host = host or SENDGRID_HOST
        if not password:
            raise _error(source, url, "has no SendGrid API key", _EXPECTED[scheme])
    elif not host:
        raise _error(source, url, "has no host", _EXPECTED[scheme])
    return {
        "host": host,
        "port": port,
        "username": user,
        "password": password,
        "use_tls": use_tls,
        "use_ssl": use_ssl,
    }


def _acs(parts: SplitResult, url: str, source: str, params: dict[str, str]) -> dict[str, Any]:
    expected = _EXPECTED[_ACS_SCHEME]
    if not parts.hostname:
        raise _error(source, url, "has no Communication Services endpoint host", expected)
    if parts.path not in ("", "/"):
        raise _error(source, url, "has a path; give only the endpoint host", expected)
    port = _port(parts, url, source)
    endpoint = f"https://{parts.hostname}{f':{port}' if port else ''}/"
    # The access key may sit in the user or the password part (like sendgrid://).
    key = unquote(parts.password if parts.password is not None else parts.username or "")
    tenant_id = params.get("tenant_id", "")
    config: dict[str, Any] = {
        "AZURE_COMMUNICATION_ENDPOINT": endpoint,
        "AZURE_COMMUNICATION_TRACKING_DISABLED": _flag(
            params, "tracking_disabled", False, source, url
        ),
    }
    if key and tenant_id:
        raise _error(
            source, url, "has both an access key and ?tenant_id=", f"only one of: {expected}"
        )
    if key:
        config["AZURE_KEY_CREDENTIAL"] = key
    elif tenant_id:
        # The backend uses DefaultAzureCredential (managed identity, AZURE_CLIENT_ID, ...)
        # only when the AZURE_TENANT_ID *setting* is set, so it has to be a setting.
        config["AZURE_TENANT_ID"] = tenant_id
    else:
        raise _error(source, url, "has neither an access key nor ?tenant_id=", expected)
    return config


def _split(url: str, source: str) -> SplitResult:
    if "://" not in url:
        raise ImproperlyConfigured(
            f"{source} is not an e-mail URL (value hidden). Expected a form like "
            f"submission://USER:PASSWORD@HOST:587 or console://."
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ImproperlyConfigured(
            f"{source} is not a URL prodkit can read (value hidden). Expected a form like "
            f"submission://USER:PASSWORD@HOST:587; percent-encode '/', '?', '#' and '%' in "
            "the user and password."
        ) from None
    if _userinfo_was_cut(parts):
        raise ImproperlyConfigured(
            f"{source} has an '@' after its host ({parts.scheme}://{HIDDEN}): the user or "
            "password probably holds a '/', '?' or '#'. Expected a form like "
            "smtp://USER:PASSWORD@HOST with those percent-encoded (%2F, %3F, %23)."
        )
    return parts


def _userinfo_was_cut(parts: SplitResult) -> bool:
    """Return True when an unencoded '/', '?' or '#' in the password ended the netloc early.

    The rest of the password then sits in the path, query or fragment, where
    ``redact_url`` cannot hide it.
    """
    if parts.scheme == "file":
        return False
    keys = [chunk.partition("=")[0] for chunk in parts.query.split("&")]
    return "@" in parts.path or "@" in parts.fragment or any("@" in key for key in keys)


def _query(parts: SplitResult, url: str, source: str, allowed: tuple[str, ...]) -> dict[str, str]:
    # Split by hand: parse_qsl would turn the '+' of "noreply+app@example.com" into a space.
    params: dict[str, str] = {}
    for chunk in parts.query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        key = unquote(key)
        if key not in allowed:
            # Name the option only when it looks like one; it might be a misplaced key.
            shown = repr(key) if _OPTION_NAME.fullmatch(key) else "(name hidden)"
            raise _error(
                source,
                url,
                f"has the unknown option {shown}",
                f"only these options for {parts.scheme}://: {', '.join(allowed)}",
            )
        params[key] = unquote(value)
    return params


def _flag(params: dict[str, str], name: str, default: bool, source: str, url: str) -> bool:
    value = params.get(name)
    if value is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        raise _error(
            source, url, f"has ?{name}={value!r}", f"?{name}=true or ?{name}=false"
        ) from None


def _port(parts: SplitResult, url: str, source: str) -> int | None:
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _error(source, url, "has a port that is not a number from 1 to 65535", "HOST:PORT")
    return port


def _error(source: str, url: str, problem: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{source} {problem} ({_shown(url)}). Expected {expected}.")


def _shown(url: str) -> str:
    """Return ``url`` as it may appear in a message: password and keys hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    if parts.scheme in _KEY_IN_USER and "@" in parts.netloc:
        # Here the user part is the key itself, which redact_url would show.
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{HIDDEN}@{host}")
    if parts.query:
        # Only our own options are shown: anything else may be a key pasted in the wrong place.
        chunks = parts.query.split("&")
        known = [c if unquote(c.partition("=")[0]) in _ALL_PARAMS else HIDDEN for c in chunks]
        parts = parts._replace(query="&".join(known))
    return redact_url(parts.geturl())


__all__ = [
    "ACS_BACKEND",
    "DEFAULT_TIMEOUT",
    "SCHEMES",
    "SMTP_BACKEND",
    "email_from_env",
    "email_from_url",
]
