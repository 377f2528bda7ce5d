"""Typed, strict reads of environment variables; the only prodkit module that touches os.environ.

Every failed read raises ``ImproperlyConfigured`` naming the variable and the expected form.
The value itself is shown only when the variable's name does not look like a secret.
"""

from __future__ import annotations

import builtins
import json
import os
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values

from django_prodkit.redact import is_secret_name, redact_url

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


def parse_bool(value: str) -> bool:
    """Return ``value`` as a boolean (true/false, 1/0, yes/no, on/off, any case).

    Raises ``ValueError`` for anything else; callers turn that into an error naming where
    the value came from.
    """
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(value)


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Missing()


class Env:
    """Read typed settings from the environment (and, optionally, a ``.env`` file).

    ``environ`` defaults to ``os.environ``; ``prefix`` is put in front of every name;
    ``dotenv`` names a ``.env`` file whose values apply where the real environment has none
    (the file is read, never written into ``os.environ``; ``PYTHON_DOTENV_DISABLED=1`` skips
    it). A variable set to the empty
    string counts as not set, so ``FOO=`` in a ``.env`` file falls back to the default.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        prefix: builtins.str = "",
        dotenv: builtins.str | os.PathLike[str] | None = None,
    ) -> None:
        base: Mapping[str, str] = os.environ if environ is None else environ
        # python-dotenv's own switch: PYTHON_DOTENV_DISABLED=1 ignores every .env file.
        disabled = base.get("PYTHON_DOTENV_DISABLED", "").strip().lower() in _TRUE
        if dotenv is not None and not disabled and Path(dotenv).is_file():
            values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None}
            base = ChainMap(dict(base), values)
        self.environ = base
        self.prefix = prefix

    def name(self, name: builtins.str) -> builtins.str:
        """Return the full variable name for ``name`` (with the prefix)."""
        return f"{self.prefix}{name}"

    def raw(self, name: builtins.str) -> builtins.str | None:
        """Return the raw value of ``name``, or None when it is unset or empty."""
        return self.environ.get(self.name(name)) or None

    def is_set(self, name: builtins.str) -> builtins.bool:
        """Return True when ``name`` has a non-empty value."""
        return self.raw(name) is not None

    def shown(self, name: builtins.str, value: builtins.str) -> builtins.str:
        """Return ``value`` as it may appear in a message about variable ``name``."""
        if is_secret_name(name):
            return "(value hidden)"
        if "://" in value:
            return repr(redact_url(value))
        return repr(value)

    def _read(
        self,
        name: builtins.str,
        default: Any,
        parse: Callable[[str], T],
        expected: builtins.str,
        hint: builtins.str = "",
    ) -> T | Any:
        value = self.raw(name)
        full = self.name(name)
        if value is None:
            if default is REQUIRED:
                raise ImproperlyConfigured(f"{full} is not set. {hint or f'Set it to {expected}.'}")
            return default
        try:
            return parse(value)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{full} must be {expected}, got {self.shown(full, value)}."
            ) from None

    @overload
    def str(
        self,
        name: builtins.str,
        default: builtins.str = ...,
        *,
        choices: Sequence[builtins.str] = (),
    ) -> builtins.str: ...
    @overload
    def str(
        self, name: builtins.str, default: None, *, choices: Sequence[builtins.str] = ()
    ) -> builtins.str | None: ...
    def str(
        self, name: builtins.str, default: Any = REQUIRED, *, choices: Sequence[builtins.str] = ()
    ) -> Any:
        """Return ``name`` as a string, restricted to ``choices`` when given."""

        def parse(value: builtins.str) -> builtins.str:
            if choices and value not in choices:
                raise ValueError(value)
            return value

        expected = f"one of {', '.join(choices)}" if choices else "a string"
        return self._read(name, default, parse, expected)

    @overload
    def bool(self, name: builtins.str, default: builtins.bool = ...) -> builtins.bool: ...
    @overload
    def bool(self, name: builtins.str, default: None) -> builtins.bool | None: ...
    def bool(self, name: builtins.str, default: Any = REQUIRED) -> Any:
        """Return ``name`` as a boolean: true/false, 1/0, yes/no, on/off (any case)."""
        return self._read(name, default, parse_bool, "a boolean (true/false/1/0)")

    @overload
    def int(
        self,
        name: builtins.str,
        default: builtins.int = ...,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> builtins.int: ...
    @overload
    def int(
        self,
        name: builtins.str,
        default: None,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> builtins.int | None: ...
    def int(
        self,
        name: builtins.str,
        default: Any = REQUIRED,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> Any:
        """Return ``name`` as an integer, optionally within ``min``..``max``."""
        return self._read(
            name, default, _bounded(builtins.int, min, max), _range("an integer", min, max)
        )

    @overload
    def float(
        self,
        name: builtins.str,
        default: builtins.float = ...,
        *,
        min: builtins.float | None = None,
        max: builtins.float | None = None,
    ) -> builtins.float: ...
    @overload
    def float(
        self,
        name: builtins.str,
        default: None,
        *,
        min: builtins.float | None = None,
        max: builtins.float | None = None,
    ) -> builtins.float | None: ...
    def float(
        self,
        name: builtins.str,
        default: Any = REQUIRED,
        *,
        min: builtins.float | None = None,
        max: builtins.float | None = None,
    ) -> Any:
        """Return ``name`` as a float, optionally within ``min``..``max``."""
        return self._read(
            name, default, _bounded(builtins.float, min, max), _range("a number", min, max)
        )

    def list(
        self,
        name: builtins.str,
        default: Sequence[builtins.str] | None = REQUIRED,
        *,
        separator: builtins.str = ",",
    ) -> builtins.list[builtins.str]:
        """Return ``name`` split on ``separator``, items stripped, empty items dropped."""
        value = self._read(
            name,
            default,
            lambda v: [item.strip() for item in v.split(separator) if item.strip()],
            f"a {separator!r}-separated list",
        )
        return builtins.list(value or ())

    def json(self, name: builtins.str, default: Any = REQUIRED) -> Any:
        """Return ``name`` parsed as JSON."""
        return self._read(name, default, json.loads, "valid JSON")

    @overload
    def url(
        self,
        name: builtins.str,
        default: builtins.str = ...,
        *,
        schemes: Sequence[builtins.str] = (),
    ) -> builtins.str: ...
    @overload
    def url(
        self, name: builtins.str, default: None, *, schemes: Sequence[builtins.str] = ()
    ) -> builtins.str | None: ...
    def url(
        self, name: builtins.str, default: Any = REQUIRED, *, schemes: Sequence[builtins.str] = ()
    ) -> Any:
        """Return ``name`` as a URL string whose scheme is one of ``schemes`` (any if empty)."""

        def parse(value: builtins.str) -> builtins.str:
            scheme, sep, _ = value.partition("://")
            if not sep or not scheme or (schemes and scheme.lower() not in schemes):
                raise ValueError(value)
            return value

        expected = f"a URL ({'://, '.join(schemes)}://...)" if schemes else "a URL (scheme://...)"
        return self._read(name, default, parse, expected)

    @overload
    def path(
        self, name: builtins.str, default: builtins.str | os.PathLike[builtins.str] = ...
    ) -> Path: ...
    @overload
    def path(self, name: builtins.str, default: None) -> Path | None: ...
    def path(self, name: builtins.str, default: Any = REQUIRED) -> Any:
        """Return ``name`` as a ``Path`` (``~`` expanded); a default is converted too."""
        value = self._read(name, default, lambda v: Path(v).expanduser(), "a file system path")
        return Path(value) if isinstance(value, builtins.str) else value

    @overload
    def secret(self, name: builtins.str, default: builtins.str = ...) -> builtins.str: ...
    @overload
    def secret(self, name: builtins.str, default: None) -> builtins.str | None: ...
    def secret(self, name: builtins.str, default: Any = REQUIRED) -> Any:
        """Return the secret in ``name``, or in the file named by ``name``_FILE.

        The ``_FILE`` form is how Docker and Kubernetes hand secrets to a process. One
        trailing newline is stripped from the file. Setting both is an error.
        """
        file_name = f"{name}_FILE"
        full, full_file = self.name(name), self.name(file_name)
        value, path = self.raw(name), self.raw(file_name)
        if value is not None and path is not None:
            raise ImproperlyConfigured(
                f"Both {full} and {full_file} are set. Set only one of them."
            )
        if path is None:
            return self._read(
                name, default, lambda v: v, "a secret", f"Set it, or set {full_file}."
            )
        try:
            content = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{full_file} names {path!r}, which cannot be read ({exc.strerror})."
            ) from None
        content = content.removesuffix("\n").removesuffix("\r")
        if not content:
            raise ImproperlyConfigured(f"{full_file} names {path!r}, which is empty.")
        return content


def _bounded(kind: Callable[[str], T], low: Any, high: Any) -> Callable[[str], T]:
    def parse(value: str) -> T:
        number = kind(value.strip())
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(value)
        return number

    return parse


def _range(kind: str, low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    if low is not None:
        return f"{kind} >= {low}"
    if high is not None:
        return f"{kind} <= {high}"
    return kind


__all__ = ["REQUIRED", "Env", "parse_bool"]
