"""telemetry_from_env(): the backend, its defaults and the errors that name the variable."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env
from django_prodkit.settings.telemetry import telemetry_from_env

CONNECTION = (
    "InstrumentationKey=00000000-1111-2222-3333-444444444444;"
    "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
)


def settings_for(**variables: str) -> dict:
    return telemetry_from_env(Env(variables))


def test_off_without_a_connection_string_and_azure_with_one():
    assert settings_for()["PRODKIT_TELEMETRY_BACKEND"] == "off"
    on = settings_for(APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION)
    assert on["PRODKIT_TELEMETRY_BACKEND"] == "azure"
    assert on["PRODKIT_TELEMETRY_CONNECTION_STRING"] == CONNECTION


def test_app_service_names_the_role_from_its_variables():
    on = settings_for(
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION,
        WEBSITE_SITE_NAME="gallery-prod",
        WEBSITE_INSTANCE_ID="a1b2c3",
    )
    assert on["PRODKIT_TELEMETRY_ROLE_NAME"] == "gallery-prod"
    assert on["PRODKIT_TELEMETRY_ROLE_INSTANCE"] == "a1b2c3"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        pytest.param(
            {"PRODKIT_TELEMETRY_BACKEND": "azure"},
            "PRODKIT_TELEMETRY_BACKEND=azure sends to Application Insights but "
            "APPLICATIONINSIGHTS_CONNECTION_STRING is not set",
            id="azure-without-connection-string",
        ),
        pytest.param(
            {"PRODKIT_TELEMETRY_BACKEND": "zipkin"},
            "PRODKIT_TELEMETRY_BACKEND must be one of",
            id="unknown-backend",
        ),
        pytest.param(
            {"PRODKIT_TELEMETRY_SAMPLE_RATE": "1.5"},
            "PRODKIT_TELEMETRY_SAMPLE_RATE must be",
            id="rate-above-one",
        ),
        pytest.param(
            {"PRODKIT_TELEMETRY_EXCLUDE": "healthz"},
            "PRODKIT_TELEMETRY_EXCLUDE entry 'healthz' must start with /",
            id="exclusion-without-slash",
        ),
        pytest.param(
            {"PRODKIT_TELEMETRY_EXCLUDE": "^/api/(unclosed"},
            "PRODKIT_TELEMETRY_EXCLUDE entry '^/api/(unclosed' is not a regular expression",
            id="bad-regex",
        ),
        pytest.param(
            {"PRODKIT_TELEMETRY_LOG_LEVEL": "LOUD"},
            "PRODKIT_TELEMETRY_LOG_LEVEL must be one of",
            id="bad-log-level",
        ),
    ],
)
def test_bad_values_name_the_variable(variables, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        settings_for(**variables)


def test_a_malformed_connection_string_never_stops_the_site_nor_shows():
    # prodkit.E603 reports it; the key is not echoed anywhere.
    planted = "InstrumentationKey=planted-not-a-guid;IngestionEndpoint=https://x.example/"
    on = settings_for(APPLICATIONINSIGHTS_CONNECTION_STRING=planted)
    assert on["PRODKIT_TELEMETRY_BACKEND"] == "azure"
