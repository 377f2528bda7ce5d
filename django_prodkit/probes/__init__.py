"""Live probes of the services the settings name: what ``prodcheck --live`` runs.

One probe per configured service: each database in ``DATABASES`` (``database:ALIAS``), each
cache in ``CACHES`` (``cache:ALIAS``), each storage in ``STORAGES`` (``storage:ALIAS``), the
Application Insights endpoint when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set
(``telemetry``) and the default mailer's SMTP server (``email:default``). A service with
nothing to reach gets no outcome: Django's ``DummyCache``, a console, locmem or file mailer,
telemetry that is not configured. ``site`` probes a deployed site (``prodcheck --url``).

All probes run at once, each in a daemon thread, against one shared deadline: the call returns
within the timeout (plus thread start-up) even when every service hangs, and a probe that has
not finished by then is reported as failed. Importing this package records every live check in
the registry (``django_prodkit.checks.registry.live_checks()``), for the docs and the command.
"""

from __future__ import annotations

from collections.abc import Callable

from django_prodkit.checks.registry import CRASHED, Outcome
from django_prodkit.conf import conf
from django_prodkit.probes import caches, database, email, site, storage, telemetry
from django_prodkit.probes.base import Probe, run_probes
from django_prodkit.redact import describe_error

_AREAS: tuple[Callable[[float], list[Probe]], ...] = (
    database.probes,
    caches.probes,
    storage.probes,
    telemetry.probes,
    email.probes,
)


def live_probes(timeout: float) -> list[Probe]:
    """Return the probes the current settings call for, each told to give up after
    ``timeout`` seconds.

    Settings an area cannot even read (``DATABASES`` that is not a dict, a backend whose
    module raises on import) give one probe reporting ``prodkit.E000``, as a crashing check
    does; the other areas are probed as usual.
    """
    found: list[Probe] = []
    for area in _AREAS:
        try:
            found += area(timeout)
        except Exception as exc:
            found.append(_crashed(area, describe_error(exc)))
    return found


def _crashed(area: Callable[[float], list[Probe]], error: str) -> Probe:
    name = f"{area.__module__}.{area.__qualname__}"
    message = CRASHED.message(obj=name, check=name, error=error)
    return Probe(
        name=area.__module__.rsplit(".", 1)[-1],
        ids=(),
        run=lambda: [message],
        failed=lambda _: message,
    )


def run_live_probes(timeout: float | None = None) -> list[Outcome]:
    """Probe every configured service concurrently; return one live ``Outcome`` per probe.

    ``timeout`` (seconds) bounds the whole call; None: ``PRODKIT_PROBE_TIMEOUT`` (5).
    """
    if timeout is None:
        timeout = conf.PRODKIT_PROBE_TIMEOUT
    return run_probes(live_probes(timeout), timeout)


__all__ = [
    "Probe",
    "caches",
    "database",
    "email",
    "live_probes",
    "run_live_probes",
    "site",
    "storage",
    "telemetry",
]
