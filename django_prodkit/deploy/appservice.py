"""``deployconfig appservice``: what to set on an Azure App Service (Linux, Python) app.

Three files: ``startup.txt``, the Startup Command (prodkit's gunicorn line, the one
``deployconfig gunicorn`` writes); ``appsettings.json``, the App Settings in the form
``az webapp config appsettings set --settings @appsettings.json`` reads (and the portal's
Advanced edit shows); and ``appservice.md``, the ``az`` commands that apply them, the health
check path included (a site setting, not an App Setting). Secrets become Key Vault
references; other variables get a placeholder. No value of the environment is ever copied:
the settings are listed by name, the values are the user's to set.
"""

from __future__ import annotations

import json
import re
from typing import TypedDict

from django_prodkit.deploy import gunicorn
from django_prodkit.deploy.context import DeployContext, Variable, render_template

# Where a secret's Key Vault reference points: the user puts the vault's name in its place.
VAULT = "<vault>"
# What a variable that is not secret is set to until the user writes its value in.
PLACEHOLDER = "<set me>"
# Key Vault secret names: 1 to 127 letters, digits and dashes.
_NOT_IN_SECRET_NAME = re.compile(r"[^0-9A-Za-z-]+")
_SECRET_NAME_LENGTH = 127


class AppSetting(TypedDict):
    """One entry of ``appsettings.json``, as ``az webapp config appsettings list`` writes it."""

    name: str
    value: str
    slotSetting: bool


def render(context: DeployContext) -> dict[str, str]:
    """``startup.txt``, ``appsettings.json`` and ``appservice.md``."""
    settings = app_settings(context)
    return {
        # The command alone, for `--startup-file "$(cat startup.txt)"`; appservice.md says
        # where it comes from.
        "startup.txt": gunicorn.command_line(context) + "\n",
        "appsettings.json": json.dumps(settings, indent=2) + "\n",
        "appservice.md": render_template(
            "appservice/appservice.md",
            context,
            startup=gunicorn.command_line(context),
            summary=gunicorn.summary(context),
            settings=settings,
            secrets=[
                {"name": variable.name, "secret_name": secret_name(variable.name)}
                for variable in context.variables
                if variable.secret
            ],
            vault=VAULT,
            placeholder=PLACEHOLDER,
        ),
    }


def app_settings(context: DeployContext) -> list[AppSetting]:
    """The App Settings to set: the platform's, then the project's variables by name."""
    platform = [
        # The settings module is a name, not a secret; prodkit's gunicorn config needs it.
        _setting("DJANGO_SETTINGS_MODULE", context.settings_module),
        # Zip deploys get their requirements installed by App Service's build (Oryx).
        _setting("SCM_DO_BUILD_DURING_DEPLOYMENT", "true"),
    ]
    if context.static_root is None:
        # Static files live on blob storage: `publishstatic` uploads them in CI; the build's
        # own collectstatic would need the storage's credentials at build time.
        platform.append(_setting("DISABLE_COLLECTSTATIC", "true"))
    taken = {setting["name"] for setting in platform}
    return platform + [
        _setting(variable.name, _value(variable))
        for variable in context.variables
        if variable.name not in taken
    ]


def secret_name(variable: str) -> str:
    """The Key Vault secret name for ``variable``: ``DATABASE_URL`` -> ``database-url``."""
    name = _NOT_IN_SECRET_NAME.sub("-", variable).strip("-").lower()
    return name[:_SECRET_NAME_LENGTH] or "secret"


def key_vault_reference(variable: str, vault: str = VAULT) -> str:
    """An App Setting value that makes App Service read ``variable`` from Key Vault (the
    latest version of the secret, through the app's managed identity)."""
    return (
        f"@Microsoft.KeyVault(SecretUri=https://{vault}.vault.azure.net/secrets/"
        f"{secret_name(variable)}/)"
    )


def _value(variable: Variable) -> str:
    return key_vault_reference(variable.name) if variable.secret else PLACEHOLDER


def _setting(name: str, value: str) -> AppSetting:
    return {"name": name, "value": value, "slotSetting": False}


__all__ = ["PLACEHOLDER", "VAULT", "AppSetting", "app_settings", "key_vault_reference", "render"]
