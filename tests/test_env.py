from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from django_prodkit.env import Env

PLANTED = "s3cr3t-PLANTED-value"


@pytest.mark.parametrize(
    ("method", "raw", "kwargs", "expected"),
    [
        pytest.param("str", "hello", {}, "hello", id="str"),
        pytest.param("str", "b", {"choices": ("a", "b")}, "b", id="str-choice"),
        pytest.param("bool", "true", {}, True, id="bool-true"),
        pytest.param("bool", "FALSE", {}, False, id="bool-false-upper"),
        pytest.param("bool", "1", {}, True, id="bool-1"),
        pytest.param("bool", "0", {}, False, id="bool-0"),
        pytest.param("bool", " yes ", {}, True, id="bool-yes-spaces"),
        pytest.param("bool", "off", {}, False, id="bool-off"),
        pytest.param("int", "42", {}, 42, id="int"),
        pytest.param("int", " -3 ", {}, -3, id="int-negative-spaces"),
        pytest.param("int", "5", {"min": 1, "max": 10}, 5, id="int-in-range"),
        pytest.param("float", "0.25", {}, 0.25, id="float"),
        pytest.param("list", "a, b,,c ", {}, ["a", "b", "c"], id="list"),
        pytest.param("list", "a;b", {"separator": ";"}, ["a", "b"], id="list-separator"),
        pytest.param("json", '{"a": [1, 2]}', {}, {"a": [1, 2]}, id="json"),
        pytest.param("url", "redis://h:6379/0", {}, "redis://h:6379/0", id="url"),
        pytest.param(
            "url", "rediss://h", {"schemes": ("redis", "rediss")}, "rediss://h", id="url-scheme"
        ),
        pytest.param("path", "/srv/static", {}, Path("/srv/static"), id="path"),
        pytest.param("secret", "k" * 50, {}, "k" * 50, id="secret"),
    ],
)
def test_reads_typed_values(method, raw, kwargs, expected):
    env = Env({"VAR": raw})
    assert getattr(env, method)("VAR", **kwargs) == expected


@pytest.mark.parametrize(
    ("method", "default"),
    [
        pytest.param("str", "x", id="str"),
        pytest.param("bool", True, id="bool"),
        pytest.param("int", 7, id="int"),
        pytest.param("float", 1.5, id="float"),
        pytest.param("json", {"a": 1}, id="json"),
        pytest.param("url", None, id="url-none"),
        pytest.param("secret", None, id="secret-none"),
    ],
)
@pytest.mark.parametrize("environ", [{}, {"VAR": ""}], ids=["unset", "empty"])
def test_unset_or_empty_falls_back_to_default(method, default, environ):
    assert getattr(Env(environ), method)("VAR", default=default) == default


def test_path_default_is_a_path():
    assert Env({}).path("VAR", default="~/x") == Path("~/x")


def test_list_default():
    assert Env({}).list("VAR", default=("a",)) == ["a"]


@pytest.mark.parametrize(
    ("method", "raw", "kwargs", "message"),
    [
        pytest.param(
            "bool",
            "ture",
            {},
            "DJANGO_DEBUG must be a boolean (true/false/1/0), got 'ture'.",
            id="bool",
        ),
        pytest.param("int", "abc", {}, "DJANGO_DEBUG must be an integer, got 'abc'.", id="int"),
        pytest.param("int", "0", {"min": 1}, "must be an integer >= 1, got '0'", id="int-min"),
        pytest.param("int", "99", {"max": 10}, "must be an integer <= 10", id="int-max"),
        pytest.param(
            "int", "99", {"min": 1, "max": 10}, "must be an integer from 1 to 10", id="int-range"
        ),
        pytest.param("float", "1,5", {}, "must be a number, got '1,5'", id="float"),
        pytest.param("json", "{", {}, "must be valid JSON", id="json"),
        pytest.param(
            "url", "localhost:6379", {}, "must be a URL (scheme://...)", id="url-no-scheme"
        ),
        pytest.param(
            "url",
            "http://x",
            {"schemes": ("redis",)},
            "must be a URL (redis://...)",
            id="url-wrong-scheme",
        ),
        pytest.param(
            "str", "c", {"choices": ("a", "b")}, "must be one of a, b, got 'c'", id="choices"
        ),
    ],
)
def test_bad_value_names_the_variable_and_the_form(method, raw, kwargs, message):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG") as info:
        getattr(Env({"DJANGO_DEBUG": raw}), method)("DJANGO_DEBUG", **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("method", ["str", "bool", "int", "float", "json", "url", "path"])
def test_missing_required_value_names_the_variable(method):
    with pytest.raises(ImproperlyConfigured, match=r"^REDIS_URL is not set\. Set it to "):
        getattr(Env({}), method)("REDIS_URL")


@pytest.mark.parametrize(
    "name",
    [
        "DJANGO_SECRET_KEY",
        "DB_PASSWORD",
        "API_TOKEN",
        "AZURE_STORAGE_CONNECTION_STRING",
        "SENTRY_DSN",
    ],
)
def test_secret_looking_values_are_never_echoed(name):
    env = Env({name: PLANTED})
    for read in (env.int, env.bool, env.float, env.json):
        with pytest.raises(ImproperlyConfigured) as info:
            read(name)
        assert PLANTED not in str(info.value)
        assert "(value hidden)" in str(info.value)


def test_url_values_are_redacted_in_errors():
    env = Env({"CACHE": f"redis://user:{PLANTED}@host:6379/0"})
    with pytest.raises(ImproperlyConfigured) as info:
        env.url("CACHE", schemes=("memcached",))
    assert PLANTED not in str(info.value)
    assert "redis://user:***@host:6379/0" in str(info.value)


def test_prefix_applies_to_every_read_and_every_message():
    env = Env({"MYAPP_DEBUG": "true", "MYAPP_WORKERS": "x"}, prefix="MYAPP_")
    assert env.bool("DEBUG") is True
    with pytest.raises(ImproperlyConfigured, match=r"^MYAPP_WORKERS must be an integer"):
        env.int("WORKERS")
    with pytest.raises(ImproperlyConfigured, match=r"^MYAPP_MISSING is not set"):
        env.str("MISSING")


def test_secret_reads_the_file_named_by_name_file(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text(PLANTED + "\n")
    env = Env({"DJANGO_SECRET_KEY_FILE": str(secret_file)})
    assert env.secret("DJANGO_SECRET_KEY") == PLANTED


def test_secret_with_both_forms_set_is_an_error(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text("from-file")
    env = Env({"DJANGO_SECRET_KEY": PLANTED, "DJANGO_SECRET_KEY_FILE": str(secret_file)})
    with pytest.raises(
        ImproperlyConfigured, match="Both DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE"
    ) as info:
        env.secret("DJANGO_SECRET_KEY")
    assert PLANTED not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot be read", id="missing-file"),
        pytest.param("", "which is empty", id="empty-file"),
    ],
)
def test_secret_file_problems_name_the_file_variable(tmp_path, content, message):
    secret_file = tmp_path / "key"
    if content is not None:
        secret_file.write_text(content)
    env = Env({"DJANGO_SECRET_KEY_FILE": str(secret_file)})
    with pytest.raises(ImproperlyConfigured, match=f"DJANGO_SECRET_KEY_FILE names .*{message}"):
        env.secret("DJANGO_SECRET_KEY")


def test_missing_secret_says_both_ways_to_set_it():
    with pytest.raises(
        ImproperlyConfigured,
        match=r"^DJANGO_SECRET_KEY is not set\. Set it, or set DJANGO_SECRET_KEY_FILE\.$",
    ):
        Env({}).secret("DJANGO_SECRET_KEY")


def test_dotenv_file_fills_in_what_the_environment_lacks(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("FROM_FILE=file\nBOTH=file\n# a comment\nQUOTED='a b'\n")
    env = Env({"BOTH": "environment"}, dotenv=dotenv)
    assert env.str("FROM_FILE") == "file"
    assert env.str("BOTH") == "environment"
    assert env.str("QUOTED") == "a b"


def test_missing_dotenv_file_is_ignored(tmp_path):
    assert Env({"A": "1"}, dotenv=tmp_path / "nope.env").int("A") == 1


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("PRODKIT_TEST_ENV_READ", "17")
    assert Env().int("PRODKIT_TEST_ENV_READ") == 17


@given(st.integers())
def test_int_round_trip(number):
    assert Env({"N": str(number)}).int("N") == number


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",)))
        .map(str.strip)
        .filter(bool)
    )
)
def test_list_round_trip(items):
    assert Env({"L": ",".join(items)}).list("L", default=()) == items


def test_dotenv_can_be_disabled_like_python_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("FROM_FILE=file\n")
    assert (
        Env({"PYTHON_DOTENV_DISABLED": "1"}, dotenv=dotenv).str("FROM_FILE", default=None) is None
    )
