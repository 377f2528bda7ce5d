from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_prodkit.redact import is_secret_name, redact_connection_string, redact_url

PLANTED = "s3cr3t-PLANTED"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("postgres://u:pw@h:5432/db", "postgres://u:***@h:5432/db", id="password"),
        pytest.param("postgres://u@h/db", "postgres://u@h/db", id="no-password"),
        pytest.param("redis://:pw@h:6379/0", "redis://:***@h:6379/0", id="password-only"),
        pytest.param("https://h/x?sig=abc&sv=1", "https://h/x?sig=***&sv=1", id="sas-signature"),
        pytest.param(
            "smtp://h?password=pw&tls=1", "smtp://h?password=***&tls=1", id="query-password"
        ),
        pytest.param("postgres://u:p@ss@h/db", "postgres://u:***@h/db", id="raw-at-in-password"),
        pytest.param("http://[::1", "***", id="unparseable"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            "dbname=app host=h user=u password=pw sslmode=require",
            "dbname=app host=h user=u password=*** sslmode=require",
            id="libpq",
        ),
        pytest.param(
            "dbname=app password='a b\\'c' host=h",
            "dbname=app password=*** host=h",
            id="libpq-quoted",
        ),
        pytest.param(
            "Server=h;Database=app;User Id=u;Password=pw;",
            "Server=h;Database=app;User Id=u;Password=***;",
            id="ado-net",
        ),
        pytest.param("Uid=u;Pwd=pw;Encrypt=yes", "Uid=u;Pwd=***;Encrypt=yes", id="odbc"),
        pytest.param(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k==;EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net",
            id="azure-storage",
        ),
        pytest.param(
            "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig=x",
            "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=***",
            id="azure-sas",
        ),
    ],
)
def test_redact_connection_string(value, expected):
    assert redact_connection_string(value) == expected


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DJANGO_SECRET_KEY", True),
        ("DB_PASSWORD", True),
        ("AZURE_STORAGE_CONNECTION_STRING", True),
        ("AZURE_POSTGRESQL_CONNECTIONSTRING", True),
        ("api-token", True),
        ("DJANGO_DEBUG", False),
        ("WEBSITE_HOSTNAME", False),
        ("DATABASE_URL", False),
    ],
)
def test_is_secret_name(name, secret):
    assert is_secret_name(name) is secret


@given(st.text(min_size=1), st.text(alphabet="@:/?#=&%ab", max_size=8))
def test_planted_password_never_survives_url_redaction(password, raw):
    raw_url = f"postgres://user:{raw}{PLANTED}{raw}@db.example.com:5432/app?x=1"
    assert PLANTED not in redact_url(raw_url)
    url = f"postgres://user:{quote(PLANTED + password, safe='')}@db.example.com:5432/app"
    assert PLANTED not in redact_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"smtp://user:pa/{PLANTED}@h:25", id="slash"),
        pytest.param(f"smtp://user:pa?{PLANTED}@h:25", id="question-mark"),
        pytest.param(f"smtp://user:pa#{PLANTED}@h:25", id="hash"),
        pytest.param(f"postgres://user:p@{PLANTED}@h/db", id="at-signs"),
    ],
)
def test_raw_special_characters_in_passwords_are_hidden(url):
    redacted = redact_url(url)
    assert PLANTED not in redacted
    assert redacted.startswith(url.split(":", 1)[0] + "://user:***@h")


def test_at_sign_in_a_query_value_hides_more_rather_than_less():
    assert redact_url("smtp://u:pw@h:25?from=me@example.com") == "smtp://u:***@example.com"
