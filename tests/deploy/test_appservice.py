"""``deployconfig appservice``: the startup command, the App Settings and how to apply them.

App Service itself cannot run here: the files are parsed and checked for what App Service
and the ``az`` CLI read (the Startup Command, the App Settings list, Key Vault references).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from django_prodkit.deploy import gunicorn, render
from django_prodkit.deploy.appservice import PLACEHOLDER, key_vault_reference, secret_name
from django_prodkit.deploy.context import DeployContext, Variable
from tests.deploy import PLANTED

# What the variables of a configured project look like where deployconfig runs.
ENVIRONMENT = {
    "DATABASE_URL": f"postgres://app:{PLANTED}@db.example.com/app",
    "CACHE_URL": "redis://cache.example.com:6379/0",
    "DJANGO_SECRET_KEY": f"{PLANTED}-key",
    "DJANGO_ALLOWED_HOSTS": "www.example.com",
    "AZURE_STORAGE_CONNECTION_STRING": f"AccountName=a;AccountKey={PLANTED}",
    "PRODKIT_HEALTH_TOKEN": f"{PLANTED}-token",
    "PRODKIT_TRUSTED_PROXIES": "10.1.2.0/24",
}
SECRETS = {
    "DATABASE_URL",
    "DJANGO_SECRET_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "PRODKIT_HEALTH_TOKEN",
}
# Key Vault: 1-127 letters, digits and dashes. App Service: letters, digits, "." and "_".
SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
SETTING_NAME = re.compile(r"[A-Za-z0-9._]+")
REFERENCE = re.compile(
    r"@Microsoft\.KeyVault\(SecretUri=https://<vault>\.vault\.azure\.net/secrets/"
    r"(?P<name>[^/]+)/\)"
)


@pytest.fixture
def configured(monkeypatch):
    """The environment of a configured project, secrets planted."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def files(configured) -> dict[str, str]:
    return render("appservice", DeployContext.from_settings())


def settings_of(files: dict[str, str]) -> dict[str, str]:
    entries = json.loads(files["appsettings.json"])
    assert all(set(entry) == {"name", "value", "slotSetting"} for entry in entries)
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), names
    return {entry["name"]: entry["value"] for entry in entries}


def test_three_files(files):
    assert set(files) == {"startup.txt", "appsettings.json", "appservice.md"}


def test_startup_command_is_prodkits_gunicorn_line(files):
    context = DeployContext.from_settings()
    assert files["startup.txt"] == gunicorn.command_line(context) + "\n"
    assert files["startup.txt"].strip().endswith("gunicorn -c python:django_prodkit.gunicorn_conf")


def test_every_configured_variable_is_an_app_setting(files):
    settings = settings_of(files)
    assert set(ENVIRONMENT) <= set(settings)
    assert all(SETTING_NAME.fullmatch(name) for name in settings)


def test_secrets_are_key_vault_references(files):
    settings = settings_of(files)
    for name in SECRETS:
        found = REFERENCE.fullmatch(settings[name])
        assert found, (name, settings[name])
        assert SECRET_NAME.fullmatch(found["name"])
    assert REFERENCE.fullmatch(settings["DATABASE_URL"])["name"] == "database-url"


def test_other_variables_get_a_placeholder_never_their_value(files):
    settings = settings_of(files)
    for name in set(ENVIRONMENT) - SECRETS:
        assert settings[name] == PLACEHOLDER, name
    assert "www.example.com" not in files["appsettings.json"]
    assert "10.1.2.0/24" not in files["appsettings.json"]


def test_platform_settings(files):
    settings = settings_of(files)
    assert settings["DJANGO_SETTINGS_MODULE"] == "tests.settings"
    assert settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "true"
    assert "DISABLE_COLLECTSTATIC" not in settings


def test_static_files_on_blob_storage_skip_the_builds_collectstatic(configured):
    context = replace(DeployContext.from_settings(), static_root=None)
    assert settings_of(render("appservice", context))["DISABLE_COLLECTSTATIC"] == "true"


def test_instructions_name_the_files_and_the_health_check(files):
    guide = files["appservice.md"]
    assert "manage.py deployconfig appservice" in guide
    assert '--startup-file "$(cat startup.txt)"' in guide
    assert "--settings @appsettings.json" in guide
    assert '--generic-configurations \'{"healthCheckPath": "/readyz"}\'' in guide
    for name in SECRETS:
        assert f'--name {secret_name(name)} --value "${name}"' in guide


def test_a_project_without_secrets_gets_no_key_vault_steps():
    context = replace(
        DeployContext.from_settings(), variables=(Variable("DJANGO_ALLOWED_HOSTS", secret=False),)
    )
    files = render("appservice", context)
    assert "KeyVault" not in files["appsettings.json"]
    assert "az keyvault" not in files["appservice.md"]


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        pytest.param("DATABASE_URL", "database-url", id="underscores"),
        pytest.param("PRODKIT_STORAGE_ACCOUNT_KEY", "prodkit-storage-account-key", id="long"),
        pytest.param("__X__", "x", id="edges"),
        pytest.param("A" * 200, "a" * 127, id="too-long"),
    ],
)
def test_secret_names(variable, expected):
    assert secret_name(variable) == expected
    assert key_vault_reference(variable, "myvault") == (
        f"@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/{expected}/)"
    )


def test_no_secret_reaches_any_file(configured, tmp_path):
    out = StringIO()
    call_command("deployconfig", "appservice", "--output", str(tmp_path), stdout=out)
    written = {path.name: path.read_text() for path in Path(tmp_path).iterdir()}
    assert set(written) == {"startup.txt", "appsettings.json", "appservice.md"}
    for name, text in written.items():
        assert PLANTED not in text, name
    assert PLANTED not in out.getvalue()
