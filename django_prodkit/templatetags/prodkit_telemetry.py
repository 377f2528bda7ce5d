"""``{% appinsights_snippet %}``: Application Insights in the browser, tied to the server's trace.

Put ``{% load prodkit_telemetry %}{% appinsights_snippet %}`` in the ``<head>`` of a base
template. It renders the Application Insights SDK Loader Script (Microsoft's, vendored in
``templates/django_prodkit/appinsights_loader.js``), which loads the JavaScript SDK from
``PRODKIT_TELEMETRY_BROWSER_SDK_URL`` and sends page views, JavaScript errors, load times and
the page's own fetch/XHR calls to the ingestion endpoint of
``PRODKIT_TELEMETRY_CONNECTION_STRING``. It renders nothing while the backend is ``off`` or no
connection string is set.

During a traced request it also renders ``<meta name="traceparent">`` naming the request's
span: the SDK reads it, so the page view carries the server's operation id and the request as
its parent. The server's sampling decision for that trace is applied in the browser too (the
SDK would otherwise sample by its user cookie, keeping other traces than the server).

Under a Content-Security-Policy the script tag carries the request's nonce (Django's own,
``request._csp_nonce`` from Django 6.0, or django-csp's ``request.csp_nonce``) and the loader
puts it on the SDK's script tag as well. The rendered configuration makes the browser contact
nothing but the SDK's URL and the ingestion endpoint: no CDN configuration fetch, no retry on
other Microsoft CDN hosts. Every value is JSON-encoded with ``<``, ``>`` and ``&`` escaped, so
nothing can close the script element.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from django_prodkit.conf import conf
from django_prodkit.telemetry.context import current_operation

register = template.Library()

# What json.dumps leaves that could end the script element or start an HTML comment in it.
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
# The request attributes a CSP nonce lives in: Django's ContentSecurityPolicyMiddleware
# (6.0+), then django-csp's CSPMiddleware. Both are lazy; reading one generates the nonce,
# which is then put into the policy header when the policy asks for it.
_NONCE_ATTRIBUTES = ("_csp_nonce", "csp_nonce")


def script_json(value: Any) -> SafeString:
    """Return ``value`` as JSON safe to put inside a ``<script>`` element."""
    return mark_safe(json.dumps(value, separators=(",", ":")).translate(_SCRIPT_ESCAPES))  # noqa: S308


def csp_nonce(request: HttpRequest | None) -> str | None:
    """Return the request's Content-Security-Policy nonce, or None when no CSP middleware
    gives one."""
    for attribute in _NONCE_ATTRIBUTES:
        # Not truthiness: Django's LazyNonce is falsy until it is first read.
        nonce = getattr(request, attribute, None)
        if nonce is not None:
            return str(nonce)
    return None


def loader_config(connection_string: str, sdk_url: str, nonce: str | None) -> dict[str, Any]:
    """Return the SDK Loader Script's configuration (its ``cfg`` holds the SDK's)."""
    config: dict[str, Any] = {
        "src": sdk_url,
        # Off: on a load failure the loader would try the SDK's file on seven other
        # Microsoft CDN hosts, which a self-hosted copy's CSP (rightly) does not allow.
        "cr": False,
        "cfg": {
            "connectionString": connection_string,
            # The same share the server keeps (the SDK takes a percentage).
            "samplingPercentage": round(conf.PRODKIT_TELEMETRY_SAMPLE_RATE * 100, 4),
            "extensionConfig": {
                # Else the SDK fetches its settings from js.monitor.azure.com on every page.
                "AppInsightsCfgSyncPlugin": {"blkCdnCfg": True},
            },
        },
    }
    if nonce:
        config["nt"] = nonce
    return config


@register.simple_tag(takes_context=True)
def appinsights_snippet(context: template.Context) -> str:
    """Render the Application Insights browser snippet, or nothing while telemetry is off."""
    connection_string = conf.PRODKIT_TELEMETRY_CONNECTION_STRING
    if conf.PRODKIT_TELEMETRY_BACKEND == "off" or not connection_string:
        return ""
    nonce = csp_nonce(context.get("request"))
    operation = current_operation()
    return render_to_string(
        "django_prodkit/appinsights_snippet.html",
        {
            "traceparent": operation.traceparent if operation else None,
            "nonce": nonce,
            "loader": script_json(
                loader_config(connection_string, conf.PRODKIT_TELEMETRY_BROWSER_SDK_URL, nonce)
            ),
            "sampled": script_json(operation.sampled if operation else None),
        },
    )
