"""Tests of the live probes (``prodcheck --live``), against real services."""

from __future__ import annotations

import pytest

PLANTED = "Pl4nted-s3cret-9f2c"
"""A password or key planted in settings; no message may show it."""


def ids(outcome) -> list[str]:
    """The IDs ``outcome`` reported, in order."""
    return [message.id for message in outcome.messages]


def shown(outcomes) -> str:
    """Everything the user would see of ``outcomes``: each message's text, hint and object."""
    return "\n".join(
        f"{outcome.name} {m.msg} {m.hint} {m.obj}" for outcome in outcomes for m in outcome.messages
    )


def run_one(module, name, timeout=5.0):
    """Run the probe ``name`` of the probe module ``module`` alone; return its outcome."""
    from django_prodkit.probes.base import run_probes

    found = [probe for probe in module.probes(timeout) if probe.name == name]
    assert found, f"no probe {name!r} among {[p.name for p in module.probes(timeout)]}"
    [outcome] = run_probes(found, timeout)
    return outcome


def names(module, timeout=5.0) -> list[str]:
    """The names of the probes ``module`` would run with the current settings."""
    return [probe.name for probe in module.probes(timeout)]


def use_databases(settings, **entries) -> None:
    """Add ``entries`` to DATABASES for this test. Django warns that overriding DATABASES does
    not reconnect ``django.db.connections``: the probes never use those."""
    with pytest.warns(UserWarning, match="Overriding setting DATABASES"):
        settings.DATABASES = {**settings.DATABASES, **entries}
