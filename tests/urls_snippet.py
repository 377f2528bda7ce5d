"""The example's URLs and ``/strict-csp/``: a page with the browser snippet under a strict
Content-Security-Policy with a nonce: Django's own (6.0+, where the example's middleware
already makes one) or, before 6.0, one put where django-csp puts it (``request.csp_nonce``).

The policy allows scripts by the nonce alone and connections to the ingestion endpoint alone;
the page records every violation the browser reports in ``window.cspViolations``.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.template import RequestContext, Template
from django.urls import path

from django_prodkit.conf import conf
from django_prodkit.settings.telemetry import ingestion_endpoint
from django_prodkit.templatetags.prodkit_telemetry import csp_nonce
from example_project.urls import urlpatterns as example_urlpatterns

PAGE = Template(
    """{% load prodkit_telemetry %}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Strict CSP</title>
<script nonce="{{ nonce }}">
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolations.push(event.effectiveDirective + " " + event.blockedURI);
});
</script>
{% appinsights_snippet %}
</head>
<body><h1>Strict CSP</h1></body>
</html>
"""
)


def strict_csp_page(request):
    nonce = csp_nonce(request)
    if nonce is None:
        nonce = request.csp_nonce = secrets.token_urlsafe(16)
    ingestion = urlsplit(ingestion_endpoint(conf.PRODKIT_TELEMETRY_CONNECTION_STRING or ""))
    response = HttpResponse(PAGE.render(RequestContext(request, {"nonce": nonce})))
    response["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; "
        f"connect-src {ingestion.scheme}://{ingestion.netloc}; "
        "object-src 'none'; base-uri 'none'"
    )
    return response


urlpatterns = [path("strict-csp/", strict_csp_page), *example_urlpatterns]
