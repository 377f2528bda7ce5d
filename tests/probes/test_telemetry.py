"""Live checks 65x: the telemetry probe asks the Application Insights ingestion endpoint for
an answer, any answer."""

from __future__ import annotations

import time

import pytest

from django_prodkit.probes import telemetry
from django_prodkit.settings.telemetry import ingestion_endpoint
from tests.probes import PLANTED, ids, names, run_one, shown
from tests.servers import own_http

VARIABLE = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def connection_string(endpoint):
    # The form the Azure portal shows, the instrumentation key planted as the secret.
    return (
        f"InstrumentationKey={PLANTED};IngestionEndpoint={endpoint};"
        "LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;"
        "ApplicationId=00000000-0000-0000-0000-000000000000"
    )


def test_no_connection_string_no_probe():
    assert names(telemetry) == []


@pytest.mark.parametrize("status", [200, 400, 404, 503])
def test_w650_any_http_answer_passes(monkeypatch, status):
    with own_http(status=status) as collector:
        monkeypatch.setenv(VARIABLE, connection_string(f"http://127.0.0.1:{collector.port}/"))
        outcome = run_one(telemetry, "telemetry")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.W650",)
    # One request, to the endpoint itself: nothing was sent to the ingestion API.
    assert collector.requests == [("GET", "/")]


def test_w650_redirect_is_an_answer_not_followed(monkeypatch, refused_port):
    headers = {"Location": f"http://127.0.0.1:{refused_port}/elsewhere"}
    with own_http(status=302, headers=headers) as collector:
        monkeypatch.setenv(VARIABLE, connection_string(f"http://127.0.0.1:{collector.port}/"))
        assert run_one(telemetry, "telemetry").messages == []


def test_w650_refused_endpoint(monkeypatch, refused_port):
    monkeypatch.setenv(VARIABLE, connection_string(f"http://127.0.0.1:{refused_port}/"))
    started = time.monotonic()
    outcome = run_one(telemetry, "telemetry")
    assert time.monotonic() - started < 2
    [message] = outcome.messages
    assert message.id == "prodkit.W650"
    assert f"endpoint http://127.0.0.1:{refused_port}/ did not answer" in message.msg
    assert "Connection refused" in message.msg
    assert message.obj == VARIABLE
    assert PLANTED not in shown([outcome])


def test_w650_hung_endpoint_costs_one_timeout(monkeypatch, hung):
    monkeypatch.setenv(VARIABLE, connection_string(f"http://127.0.0.1:{hung}/"))
    started = time.monotonic()
    [message] = run_one(telemetry, "telemetry", timeout=1.0).messages
    assert time.monotonic() - started <= 1.0 + 1
    assert message.id == "prodkit.W650"
    assert "did not answer within 1 s" in message.msg


def test_w650_endpoint_that_is_not_http(monkeypatch):
    monkeypatch.setenv(VARIABLE, connection_string("ftp://127.0.0.1/"))
    [message] = run_one(telemetry, "telemetry").messages
    assert message.id == "prodkit.W650"
    assert "not an http(s) URL" in message.msg


def test_w650_credentials_in_the_endpoint_are_hidden(monkeypatch, refused_port):
    endpoint = f"http://user:{PLANTED}@127.0.0.1:{refused_port}/path?sig={PLANTED}"
    monkeypatch.setenv(VARIABLE, connection_string(endpoint))
    outcome = run_one(telemetry, "telemetry")
    assert ids(outcome) == ["prodkit.W650"]
    assert PLANTED not in shown([outcome])


@pytest.mark.parametrize(
    ("value", "endpoint"),
    [
        pytest.param(
            f"InstrumentationKey={PLANTED}",
            "https://dc.services.visualstudio.com/",
            id="key-only-global-default",
        ),
        pytest.param(
            f"InstrumentationKey={PLANTED};IngestionEndpoint=https://x.in.example.com/",
            "https://x.in.example.com/",
            id="ingestion-endpoint",
        ),
        pytest.param(
            f"instrumentationkey={PLANTED}; ingestionendpoint = https://y.example.com/ ",
            "https://y.example.com/",
            id="any-case-and-spaces",
        ),
        pytest.param(
            f"InstrumentationKey={PLANTED};EndpointSuffix=applicationinsights.azure.cn",
            "https://dc.applicationinsights.azure.cn/",
            id="endpoint-suffix",
        ),
        pytest.param(
            f"InstrumentationKey={PLANTED};EndpointSuffix=ai.example.com;Location=westeurope",
            "https://westeurope.dc.ai.example.com/",
            id="suffix-and-location",
        ),
    ],
)
def test_ingestion_endpoint_from_connection_string(value, endpoint):
    assert ingestion_endpoint(value) == endpoint
