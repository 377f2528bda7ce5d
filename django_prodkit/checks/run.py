"""Run the checks Django knows about (its own, every app's, prodkit's) one function at a time.

Django's ``run_checks`` stops at the first check that raises and cannot say which checks
passed; ``prodcheck`` needs both, so it walks the same registry itself.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable

from django.conf import settings
from django.core.checks import CheckMessage
from django.core.checks.registry import registry

from django_prodkit.checks.registry import CHECK_FUNCTIONS, Outcome, run_guarded


def dropped_ids(skip: Iterable[str] = ()) -> set[str]:
    """The IDs a run leaves out: ``skip`` and ``SILENCED_SYSTEM_CHECKS``."""
    return set(skip) | set(getattr(settings, "SILENCED_SYSTEM_CHECKS", ()))


def run_checks(tags: Iterable[str] = (), dropped: Collection[str] = ()) -> list[Outcome]:
    """Run every registered check, deployment checks included, and return what each found.

    ``tags`` limits the run to checks with one of them (as ``check --tag`` does). IDs in
    ``dropped`` (see ``dropped_ids``) are neither counted nor reported; a prodkit check
    whose IDs are all dropped is not run.
    """
    wanted = set(tags)
    outcomes = []
    for func in registry.get_checks(include_deployment_checks=True):
        if wanted and wanted.isdisjoint(getattr(func, "tags", ())):
            continue
        ids = tuple(spec.id for spec in CHECK_FUNCTIONS.get(func, ()))
        if ids and set(dropped).issuperset(ids):
            continue
        started = time.perf_counter()
        # prodkit's own functions are guarded already; guarding them again changes nothing.
        messages = run_guarded(func, app_configs=None, databases=None)
        outcome = Outcome(
            name=f"{func.__module__}.{getattr(func, '__qualname__', func)}",
            ids=ids,
            messages=messages,
            seconds=time.perf_counter() - started,
        )
        outcomes.append(outcome.without(dropped))
    return outcomes


def deploy_errors(outcomes: Iterable[Outcome]) -> list[CheckMessage]:
    """Return the messages of ``outcomes`` at ERROR level or above."""
    return [m for outcome in outcomes for m in outcome.messages if m.is_serious()]
