"""Live checks 65x: the Application Insights ingestion endpoint answers.

When ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, the probe sends one GET to its
``IngestionEndpoint`` (default ``https://dc.services.visualstudio.com/``). Any HTTP answer, an
error status included, proves the endpoint is reachable: nothing is sent to it. Proxy variables
(``HTTPS_PROXY``, ``NO_PROXY``) apply as they do to the exporters. Without the variable nothing
is probed (no outcome).
"""

from __future__ import annotations

import functools
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.checks import CheckMessage

from django_prodkit.checks.registry import Check, define
from django_prodkit.env import Env
from django_prodkit.probes.base import Probe
from django_prodkit.redact import describe_error, redact_url
from django_prodkit.settings.telemetry import ingestion_endpoint

W650 = Check(
    id="prodkit.W650",
    title="the telemetry endpoint cannot be reached",
    msg="The Application Insights ingestion endpoint {endpoint} did not answer: {error}.",
    hint=(
        "Check IngestionEndpoint in APPLICATIONINSIGHTS_CONNECTION_STRING (copy the whole "
        "connection string from the Application Insights resource) and that outbound HTTPS "
        "to it is allowed (firewall, private link, HTTPS_PROXY)."
    ),
    why=(
        "Telemetry is sent in the background and dropped when it cannot be delivered: "
        "requests, exceptions and logs vanish without an error, and nobody notices until "
        "they are needed."
    ),
    live=True,
)
define(W650)

VARIABLE = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def probes(timeout: float) -> list[Probe]:
    """The telemetry probe, when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set."""
    value = Env().str(VARIABLE, default=None)
    if not value:
        return []
    endpoint = ingestion_endpoint(value)
    return [
        Probe(
            name="telemetry",
            ids=(W650.id,),
            run=functools.partial(probe_endpoint, endpoint, timeout),
            failed=functools.partial(_failed, endpoint),
        )
    ]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: stop there rather than follow it somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def probe_endpoint(endpoint: str, timeout: float) -> list[CheckMessage]:
    """GET ``endpoint``; any HTTP status passes, no answer fails."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [_failed(endpoint, "it is not an http(s) URL")]
    # Only the endpoint's root is asked for: a query could carry a key.
    url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    opener = urllib.request.build_opener(_NoRedirect)
    # The scheme is http or https (checked above).
    request = urllib.request.Request(url, headers={"User-Agent": "django-prodkit"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTP status: the endpoint answered
    except Exception as exc:
        reason = getattr(exc, "reason", None)
        return [
            _failed(endpoint, describe_error(reason if isinstance(reason, BaseException) else exc))
        ]
    return []


def _failed(endpoint: str, error: str) -> CheckMessage:
    return W650.message(obj=VARIABLE, endpoint=_shown(endpoint), error=error)


def _shown(endpoint: str) -> str:
    """The endpoint for a message: scheme, host and port only, so no key can ride along."""
    try:
        parts = urlsplit(endpoint)
        if parts.scheme and parts.hostname:
            return redact_url(urlunsplit((parts.scheme, parts.netloc, "/", "", "")))
    except ValueError:
        pass
    return "(not a URL)"


__all__ = ["W650", "probe_endpoint", "probes"]
