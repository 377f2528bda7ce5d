"""Hide secrets in URLs, connection strings and variable values before they reach a message.

Every error, log line and report prodkit writes about a configured value goes through one of
these functions first. They never raise: a value they cannot parse is hidden whole.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"

# Words that mark a variable, query parameter or connection-string key as a secret.
_SECRET_WORDS = re.compile(
    r"pass|pwd|secret|key|token|sig|credential|connectionstring|connection_string|dsn",
    re.IGNORECASE,
)

# `key=value` pairs in libpq ("password=x host=y") and ADO.NET ("Password=x;Server=y") forms.
_PAIR = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9 _]*?)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|[^;\s]*)")


def is_secret_name(name: str) -> bool:
    """Return True when ``name`` (a variable, parameter or key) looks like it holds a secret."""
    return bool(_SECRET_WORDS.search(name.replace("-", "_")))


def redact_url(url: str) -> str:
    """Return ``url`` with its password and secret-looking query parameters replaced.

    A password with a raw ``/ ? # @`` (which ``urlsplit`` misreads as path, query or host)
    is hidden whole too: when in doubt, more is hidden, never less.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return HIDDEN if "@" in url else url
    rest = _hide_password(rest)
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, HIDDEN if is_secret_name(k) else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    except ValueError:
        return HIDDEN


def _hide_password(rest: str) -> str:
    """Hide the password in ``rest`` (a URL after ``://``).

    The user info is taken to end at the last "@": a raw "/", "?", "#" or "@" in a password
    cannot then leak the password's tail. An "@" in a query value (``?from=me@example.com``)
    hides the host as well: in a message, too much hidden beats a secret shown.
    """
    cut = rest.rfind("@")
    user, colon, _ = rest[:cut].partition(":")
    return f"{user}:{HIDDEN}{rest[cut:]}" if cut >= 0 and colon else rest


def redact_connection_string(value: str) -> str:
    """Return a ``key=value`` connection string with the values of secret keys replaced."""

    def hide(match: re.Match[str]) -> str:
        return f"{match['key']}={HIDDEN}" if is_secret_name(match["key"]) else match[0]

    return _PAIR.sub(hide, value)


# An exception's text is shown to say what went wrong, not to dump a driver's whole story.
_ERROR_LENGTH = 300

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """Return free text (an exception message) with secrets in URLs and ``key=value`` pairs
    replaced, e.g. before a crash is reported."""
    return redact_connection_string(_URL_IN_TEXT.sub(lambda m: redact_url(m[0]), text))


def describe_error(exc: BaseException) -> str:
    """Return ``exc`` for a message: its class and its text on one line, secrets redacted
    and cut to a few hundred characters."""
    # Redacted before it is cut: a URL cut short could no longer be recognised as one. One
    # line, without the closing period: messages put the error before their own.
    text = " ".join(redact_text(str(exc)).split()).rstrip(" .")
    if len(text) > _ERROR_LENGTH:
        text = text[: _ERROR_LENGTH - 3] + "..."
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
