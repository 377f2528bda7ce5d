"""The one registry of prodkit's checks: what each ID means, its docs anchor, its function.

A check is data (``Check``: ID, title, message, hint, why it matters) plus a function that
returns Django ``CheckMessage`` objects. ``prodkit_check`` registers the function with Django's
system-check framework (tags ``prodkit`` and the area's, ``deploy=True``) and records the specs
here, so ``manage.py check --deploy``, ``SILENCED_SYSTEM_CHECKS``, ``prodcheck --list`` and
``docs/checks.md`` all read the same source. Live checks (``live=True``) are probes of real
services: they are recorded here for the docs and the command, but never registered with
Django, whose checks must not touch the network.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core import checks
from django.core.checks import CheckMessage
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.redact import describe_error

DOCS_URL = "https://github.com/django-prodkit/django-prodkit/blob/main/docs/checks.md"

CheckFunction = Callable[..., Iterable[CheckMessage]]


@dataclass(frozen=True)
class Area:
    """A block of 100 check numbers about one concern."""

    number: int
    tag: str
    title: str


AREAS = (
    Area(0, "secrets", "Secrets and debug"),
    Area(1, "https", "HTTPS and proxies"),
    Area(2, "database", "Database"),
    Area(3, "staticfiles", "Static files and templates"),
    Area(4, "media", "Media files"),
    Area(5, "caches", "Caches and sessions"),
    Area(6, "telemetry", "Telemetry and logging"),
    Area(7, "server", "Server and e-mail"),
    Area(8, "auth", "Passwords and admin"),
    Area(9, "tasks", "Background work"),
)

_ID = re.compile(r"prodkit\.(?P<letter>[EWI])(?P<number>\d{3})")
_MESSAGE_CLASSES: dict[str, Callable[..., CheckMessage]] = {
    "E": checks.Error,
    "W": checks.Warning,
    "I": checks.Info,
}
_LEVELS = {"E": checks.ERROR, "W": checks.WARNING, "I": checks.INFO}
LEVEL_NAMES = {checks.ERROR: "ERROR", checks.WARNING: "WARNING", checks.INFO: "INFO"}


@dataclass(frozen=True)
class Check:
    """One check: its stable ID and the words the user sees.

    ``msg`` says what is wrong on one line and ``hint`` how to fix it (naming the prodkit
    helper that does); both may hold ``{placeholders}`` filled by ``message()``, which must
    never be given a value that could be a secret. ``title`` heads the docs entry, ``why``
    says there why it matters.
    """

    id: str
    title: str
    msg: str
    hint: str
    why: str
    tags: tuple[str, ...] = ()
    live: bool = False

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.id):
            raise ValueError(f"{self.id!r} is not a prodkit check ID (prodkit.E123).")

    @property
    def level(self) -> int:
        """Django's level for the ID's letter: ERROR, WARNING or INFO."""
        return _LEVELS[self.id[8]]

    @property
    def area(self) -> Area:
        """The area the ID's hundreds digit names."""
        return AREAS[int(self.id[9])]

    @property
    def anchor(self) -> str:
        """The docs anchor: ``prodkit-w501``."""
        return self.id.replace(".", "-").lower()

    @property
    def url(self) -> str:
        """Where the docs explain this check."""
        return f"{DOCS_URL}#{self.anchor}"

    def message(self, obj: Any = None, **values: Any) -> CheckMessage:
        """Return Django's message for this check, placeholders filled from ``values``."""
        return _MESSAGE_CLASSES[self.id[8]](
            self.msg.format(**values),
            hint=f"{self.hint.format(**values)} See {self.url}",
            obj=obj,
            id=self.id,
        )


@dataclass
class Outcome:
    """What one check function, live probe or site probe found.

    ``ids`` are the check IDs it evaluated (all passed when ``messages`` is empty); a check
    of Django or another app has none. ``kind`` is ``check``, ``live`` or ``url``.
    """

    name: str
    ids: tuple[str, ...]
    messages: list[CheckMessage]
    seconds: float = 0.0
    kind: str = "check"

    def without(self, ids: Collection[str]) -> Outcome:
        """This outcome with ``ids`` neither evaluated nor reported (skipped, silenced)."""
        return replace(
            self,
            ids=tuple(i for i in self.ids if i not in ids),
            messages=[m for m in self.messages if m.id not in ids],
        )


REGISTRY: dict[str, Check] = {}
"""Every prodkit check by ID, in the order their modules define them."""

CHECK_FUNCTIONS: dict[CheckFunction, tuple[Check, ...]] = {}
"""Every registered (non-live) check function and the IDs it can report."""


def define(*specs: Check) -> tuple[Check, ...]:
    """Record ``specs`` in the registry, refusing an ID that is already there."""
    for spec in specs:
        if spec.id in REGISTRY:
            raise ImproperlyConfigured(f"Check ID {spec.id} is defined twice.")
        REGISTRY[spec.id] = spec
    return specs


CRASHED = Check(
    id="prodkit.E000",
    title="a check crashed",
    msg="The check {check} crashed: {error}.",
    hint="This is a bug in the check or a setting it could not read; the other checks still ran.",
    why=(
        "A check that raises would otherwise stop `manage.py check --deploy` and hide every "
        "later finding. prodkit reports the crash (exception class and a redacted message) and "
        "goes on."
    ),
)
define(CRASHED)


def run_guarded(func: CheckFunction, **kwargs: Any) -> list[CheckMessage]:
    """Run one check function; a crash becomes a ``prodkit.E000`` message naming it."""
    try:
        return list(func(**kwargs))
    except Exception as exc:  # a crashing check must not stop the others
        name = f"{func.__module__}.{func.__qualname__}"
        return [CRASHED.message(obj=name, check=name, error=describe_error(exc))]


def prodkit_check(*specs: Check) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function with Django as the check of ``specs``.

    Tags: ``prodkit``, each spec's area tag and its own tags; ``deploy=True``. The function
    Django calls is guarded: if it raises, ``prodkit.E000`` is reported instead.
    """
    if not specs or any(spec.live for spec in specs):
        raise ImproperlyConfigured("prodkit_check() takes one or more non-live Check specs.")

    def decorate(func: CheckFunction) -> CheckFunction:
        define(*specs)

        @functools.wraps(func)
        def guarded(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
            return run_guarded(func, app_configs=app_configs, **kwargs)

        tags = dict.fromkeys(tag for spec in specs for tag in (spec.area.tag, *spec.tags))
        checks.register(guarded, "prodkit", *tags, deploy=True)
        CHECK_FUNCTIONS[guarded] = specs
        return guarded

    return decorate


def live_checks() -> Sequence[Check]:
    """The checks only ``prodcheck --live`` runs (probes of real services)."""
    return [spec for spec in REGISTRY.values() if spec.live]
