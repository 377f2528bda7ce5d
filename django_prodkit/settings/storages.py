"""``STORAGES`` presets: files on the local disk (whitenoise for static), or on Azure Blob Storage.

Floor 1: nothing here imports ``django_prodkit.storage`` or an Azure SDK. The Azure preset
names the storage classes by their dotted paths and hands them their configuration as
``PRODKIT_*`` settings, which the classes read when Django first builds them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env

WHITENOISE_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
AZURE_STATIC_STORAGE = "django_prodkit.storage.azure.AzureStaticStorage"
AZURE_MANIFEST_STATIC_STORAGE = "django_prodkit.storage.azure.AzureManifestStaticStorage"
AZURE_MEDIA_STORAGE = "django_prodkit.storage.azure.AzureMediaStorage"

DEFAULT_STATIC_CONTAINER = "static"
DEFAULT_MEDIA_CONTAINER = "media"
DEFAULT_MEDIA_SAS_SECONDS = 3600
# A user-delegation SAS cannot outlive its key, and Azure issues keys for at most 7 days;
# a day of margin keeps a key fetched now good for every URL signed with it.
MAX_MEDIA_SAS_SECONDS = 6 * 24 * 3600
DEFAULT_MEDIA_MAX_BYTES = 50 * 1024 * 1024
ENDPOINT_SUFFIX = "core.windows.net"

# Azurite's published development account (UseDevelopmentStorage=true): not a secret.
DEVELOPMENT_ACCOUNT = "devstoreaccount1"
DEVELOPMENT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEVELOPMENT_BLOB_ENDPOINT = f"http://127.0.0.1:10000/{DEVELOPMENT_ACCOUNT}"

# Azure's naming rules: accounts 3-24 lowercase letters and digits; containers 3-63 of
# lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")

# The variables the Azure preset reads, in the order storages_from_env() looks at them.
CONNECTION_STRING_VARIABLES = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGEBLOB_CONNECTIONSTRING",
)
ACCOUNT_URL_VARIABLES = ("PRODKIT_STORAGE_ACCOUNT_URL", "AZURE_STORAGEBLOB_RESOURCEENDPOINT")
CLIENT_ID_VARIABLES = ("AZURE_STORAGEBLOB_CLIENTID", "AZURE_CLIENT_ID")


class BlobAccount(TypedDict):
    """A storage account as a connection string describes it."""

    account_url: str
    account_name: str | None
    account_key: str | None
    sas_token: str | None


def local_storages(
    *,
    static_root: str | Path,
    media_root: str | Path,
    static_url: str = "/static/",
    media_url: str = "/media/",
) -> dict[str, Any]:
    """Return ``STORAGES`` and the static/media roots and URLs for files on the local disk.

    Static files are hashed and compressed at ``collectstatic`` and served by whitenoise
    with far-future cache headers; media go to ``media_root``, which must be shared storage
    when the site runs on more than one instance.
    """
    return {
        "STATIC_URL": static_url,
        "STATIC_ROOT": Path(static_root),
        "MEDIA_URL": media_url,
        "MEDIA_ROOT": Path(media_root),
        "STORAGES": {
            "default": {"BACKEND": FILE_STORAGE},
            "staticfiles": {"BACKEND": WHITENOISE_STORAGE},
        },
    }


def parse_storage_connection_string(
    value: str, *, source: str = "connection_string"
) -> BlobAccount:
    """Return the blob endpoint, account name and credential a connection string holds.

    Understands the portal's form (``DefaultEndpointsProtocol=https;AccountName=...;
    AccountKey=...;EndpointSuffix=core.windows.net``), an explicit ``BlobEndpoint`` (Azurite,
    private endpoints), ``SharedAccessSignature`` and ``UseDevelopmentStorage=true``.
    ``source`` names the value in errors; the value itself is never shown.
    """
    pairs: dict[str, str] = {}
    for part in value.strip().split(";"):
        if not part.strip():
            continue
        key, sep, item = part.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"{source} is not a connection string (value hidden).")
        pairs[key.strip().lower()] = item.strip()
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return BlobAccount(
            account_url=DEVELOPMENT_BLOB_ENDPOINT,
            account_name=DEVELOPMENT_ACCOUNT,
            account_key=DEVELOPMENT_KEY,
            sas_token=None,
        )
    name = pairs.get("accountname") or None
    endpoint = pairs.get("blobendpoint") or None
    if endpoint is None and name is None:
        raise ImproperlyConfigured(
            f"{source} is not a storage connection string (value hidden): it names neither "
            "an AccountName nor a BlobEndpoint."
        )
    if endpoint is None:
        protocol = pairs.get("defaultendpointsprotocol", "https").lower()
        suffix = pairs.get("endpointsuffix") or ENDPOINT_SUFFIX
        endpoint = f"{protocol}://{name}.blob.{suffix}"
    account_url = _account_url(endpoint, f"{source}'s BlobEndpoint")
    account_key = pairs.get("accountkey") or None
    sas = pairs.get("sharedaccesssignature") or None
    if account_key is not None:
        _check_key(account_key, f"{source}'s AccountKey")
    if sas is not None:
        sas = _sas_token(sas, f"{source}'s SharedAccessSignature")
    return BlobAccount(
        account_url=account_url,
        account_name=name or account_name_from_url(account_url),
        account_key=account_key,
        sas_token=sas,
    )


def account_name_from_url(url: str) -> str | None:
    """Return the account name in a blob endpoint: the first label of
    ``https://NAME.blob.core.windows.net``, or the first path segment of an emulator's
    ``http://127.0.0.1:10000/NAME``; None when the URL shows neither."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ".blob." in host:
        return host.split(".", 1)[0]
    segment = parts.path.strip("/").split("/", 1)[0]
    return segment or None


def azure_storages(
    *,
    static_root: str | Path,
    account_name: str | None = None,
    account_key: str | None = None,
    sas_token: str | None = None,
    connection_string: str | None = None,
    account_url: str | None = None,
    client_id: str | None = None,
    domain: str | None = None,
    static_container: str = DEFAULT_STATIC_CONTAINER,
    media_container: str = DEFAULT_MEDIA_CONTAINER,
    manifest: bool = True,
    media_private: bool = True,
    media_sas_seconds: int = DEFAULT_MEDIA_SAS_SECONDS,
    media_max_bytes: int | None = DEFAULT_MEDIA_MAX_BYTES,
    media_overwrite: bool = False,
    static_url: str | None = None,
    media_url: str | None = None,
    sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return ``STORAGES`` with static files and media on Azure Blob Storage, and the
    ``PRODKIT_*`` settings the storage classes read.

    The credential is one of: ``connection_string``; ``account_key`` (with ``account_name``
    or ``account_url``); ``sas_token``; or none of them, and then a token credential
    (azure-identity's ``DefaultAzureCredential``: the managed identity on App Service,
    ``client_id`` picking a user-assigned one). ``account_url`` is the blob endpoint, by
    default ``https://ACCOUNT.blob.core.windows.net``. ``domain`` is the public host (a CDN or
    Front Door custom domain, ``cdn.example.com`` or ``https://cdn.example.com/path``) every
    URL is built on, signed or not, whatever the credential.

    Static files: the ``static_container``, public read, hashed names with ``manifest``;
    ``static_root`` is where ``collectstatic`` for ``publishstatic`` collects first. Media:
    the ``media_container``; with ``media_private`` URLs are SAS URLs valid for
    ``media_sas_seconds``; uploads above ``media_max_bytes`` (None: no limit) are refused and
    an existing name is never overwritten unless ``media_overwrite``.

    ``STATIC_URL`` and ``MEDIA_URL`` default to the containers' public URLs, for code that
    builds URLs from them rather than asking the storage. ``sources`` maps an argument to the
    variable it came from, for error messages.
    """
    named = {**{name: name for name in _ARGUMENTS}, **(sources or {})}
    account = _account(
        account_name=account_name,
        account_key=account_key,
        sas_token=sas_token,
        connection_string=connection_string,
        account_url=account_url,
        named=named,
    )
    public = public_base_url(domain, named["domain"]) if domain else account["account_url"]
    static_container = _container(static_container, named["static_container"])
    media_container = _container(media_container, named["media_container"])
    if static_container == media_container:
        raise ImproperlyConfigured(
            f"{named['static_container']} and {named['media_container']} are both "
            f"{static_container!r}. Static files and media need containers of their own: "
            "static files are public, media are not, and a --clear would delete the uploads."
        )
    if not 1 <= media_sas_seconds <= MAX_MEDIA_SAS_SECONDS:
        raise ImproperlyConfigured(
            f"{named['media_sas_seconds']} must be from 1 to {MAX_MEDIA_SAS_SECONDS} seconds "
            f"(6 days), got {media_sas_seconds}."
        )
    if media_max_bytes is not None and media_max_bytes < 1:
        raise ImproperlyConfigured(
            f"{named['media_max_bytes']} must be a positive number of bytes, got {media_max_bytes}."
        )
    static_backend = AZURE_MANIFEST_STATIC_STORAGE if manifest else AZURE_STATIC_STORAGE
    return {
        "STATIC_URL": static_url or f"{public}/{static_container}/",
        "STATIC_ROOT": Path(static_root),
        "MEDIA_URL": media_url or f"{public}/{media_container}/",
        "STORAGES": {
            "default": {"BACKEND": AZURE_MEDIA_STORAGE},
            "staticfiles": {"BACKEND": static_backend},
        },
        "PRODKIT_STORAGE_ACCOUNT_URL": account["account_url"],
        "PRODKIT_STORAGE_ACCOUNT_NAME": account["account_name"],
        "PRODKIT_STORAGE_ACCOUNT_KEY": account["account_key"],
        "PRODKIT_STORAGE_SAS_TOKEN": account["sas_token"],
        "PRODKIT_STORAGE_CLIENT_ID": client_id or None,
        "PRODKIT_STORAGE_DOMAIN": public if domain else None,
        "PRODKIT_STATIC_CONTAINER": static_container,
        "PRODKIT_MEDIA_CONTAINER": media_container,
        "PRODKIT_MEDIA_PRIVATE": media_private,
        "PRODKIT_MEDIA_SAS_SECONDS": media_sas_seconds,
        "PRODKIT_MEDIA_MAX_BYTES": media_max_bytes,
        "PRODKIT_MEDIA_OVERWRITE": media_overwrite,
    }


_ARGUMENTS = (
    "account_name",
    "account_key",
    "sas_token",
    "connection_string",
    "account_url",
    "client_id",
    "domain",
    "static_container",
    "media_container",
    "media_sas_seconds",
    "media_max_bytes",
)


def storages_from_env(env: Env | None = None, *, base_dir: str | Path) -> dict[str, Any]:
    """Return the storages the environment asks for.

    ``PRODKIT_STORAGE`` chooses: ``auto`` (default) is Azure Blob Storage when a blob account
    is configured (a connection string, ``AZURE_STORAGE_ACCOUNT_NAME``, Service Connector's
    ``AZURE_STORAGEBLOB_RESOURCEENDPOINT`` or ``PRODKIT_STORAGE_ACCOUNT_URL``) and local files
    otherwise; ``azure`` demands an account; ``local`` ignores one (a developer's machine).

    Local files: ``local_storages`` with roots from ``DJANGO_STATIC_ROOT``/``DJANGO_MEDIA_ROOT``
    (default ``base_dir/staticfiles`` and ``base_dir/media``) and URLs from
    ``DJANGO_STATIC_URL``/``DJANGO_MEDIA_URL``. Azure: ``azure_storages`` from the variables
    listed in ``docs/storage.md``.
    """
    env = env or Env()
    base = Path(base_dir)
    mode = env.str("PRODKIT_STORAGE", default="auto", choices=("auto", "azure", "local"))
    if mode == "local" or (mode == "auto" and not azure_configured(env)):
        return local_storages(
            static_root=env.path("DJANGO_STATIC_ROOT", default=base / "staticfiles"),
            media_root=env.path("DJANGO_MEDIA_ROOT", default=base / "media"),
            static_url=env.str("DJANGO_STATIC_URL", default="/static/"),
            media_url=env.str("DJANGO_MEDIA_URL", default="/media/"),
        )
    return azure_storages_from_env(env, base_dir=base)


def azure_configured(env: Env) -> bool:
    """True when the environment names a blob storage account (any credential form)."""
    names = (
        *CONNECTION_STRING_VARIABLES,
        *(f"{name}_FILE" for name in CONNECTION_STRING_VARIABLES),
        "AZURE_STORAGE_ACCOUNT_NAME",
        *ACCOUNT_URL_VARIABLES,
    )
    return any(env.is_set(name) for name in names)


def azure_storages_from_env(env: Env, *, base_dir: str | Path) -> dict[str, Any]:
    """Return ``azure_storages`` from the environment; errors name the variable."""
    connection_name, connection_string = _one_of(env, CONNECTION_STRING_VARIABLES, secret=True)
    url_name, account_url = _one_of(env, ACCOUNT_URL_VARIABLES)
    _, client_id = _one_of(env, CLIENT_ID_VARIABLES, first_wins=True)
    max_bytes = env.int("PRODKIT_MEDIA_MAX_BYTES", default=DEFAULT_MEDIA_MAX_BYTES, min=0)
    return azure_storages(
        static_root=env.path("DJANGO_STATIC_ROOT", default=Path(base_dir) / "staticfiles"),
        static_url=env.str("DJANGO_STATIC_URL", default=None),
        media_url=env.str("DJANGO_MEDIA_URL", default=None),
        connection_string=connection_string,
        account_name=env.str("AZURE_STORAGE_ACCOUNT_NAME", default=None),
        account_key=env.secret("AZURE_STORAGE_ACCOUNT_KEY", default=None),
        sas_token=env.secret("AZURE_STORAGE_SAS_TOKEN", default=None),
        account_url=account_url,
        client_id=client_id,
        domain=env.str("PRODKIT_STORAGE_DOMAIN", default=None),
        static_container=env.str("PRODKIT_STATIC_CONTAINER", default=DEFAULT_STATIC_CONTAINER),
        media_container=env.str("PRODKIT_MEDIA_CONTAINER", default=DEFAULT_MEDIA_CONTAINER),
        manifest=env.bool("PRODKIT_STATIC_MANIFEST", default=True),
        media_private=env.bool("PRODKIT_MEDIA_PRIVATE", default=True),
        media_sas_seconds=env.int(
            "PRODKIT_MEDIA_SAS_SECONDS",
            default=DEFAULT_MEDIA_SAS_SECONDS,
            min=1,
            max=MAX_MEDIA_SAS_SECONDS,
        ),
        # 0 turns the limit off: the web server or the form may already enforce one.
        media_max_bytes=max_bytes or None,
        media_overwrite=env.bool("PRODKIT_MEDIA_OVERWRITE", default=False),
        sources={
            "connection_string": connection_name,
            "account_url": url_name,
            "account_name": "AZURE_STORAGE_ACCOUNT_NAME",
            "account_key": "AZURE_STORAGE_ACCOUNT_KEY",
            "sas_token": "AZURE_STORAGE_SAS_TOKEN",
            "domain": "PRODKIT_STORAGE_DOMAIN",
            "static_container": "PRODKIT_STATIC_CONTAINER",
            "media_container": "PRODKIT_MEDIA_CONTAINER",
            "media_sas_seconds": "PRODKIT_MEDIA_SAS_SECONDS",
            "media_max_bytes": "PRODKIT_MEDIA_MAX_BYTES",
        },
    )


def public_base_url(domain: str, source: str = "domain") -> str:
    """Return the base URL for a public domain setting: ``cdn.example.com`` becomes
    ``https://cdn.example.com``; a URL (``http://127.0.0.1:8080/prefix``) is kept, without
    its trailing slash."""
    value = domain.strip()
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{source} must be a host name or an http(s) URL without query "
            f"(e.g. cdn.example.com or https://cdn.example.com), got {domain!r}."
        )
    return value.rstrip("/")


def _account(
    *,
    account_name: str | None,
    account_key: str | None,
    sas_token: str | None,
    connection_string: str | None,
    account_url: str | None,
    named: Mapping[str, str],
) -> BlobAccount:
    """The account and its one credential, checked."""
    credentials = [
        named[arg]
        for arg, value in (
            ("connection_string", connection_string),
            ("account_key", account_key),
            ("sas_token", sas_token),
        )
        if value
    ]
    if len(credentials) > 1:
        raise ImproperlyConfigured(
            f"{' and '.join(credentials)} are both set. Give the storage account one credential: "
            "a connection string, an account key or a SAS token (or none of them for a "
            "managed identity)."
        )
    if connection_string:
        account = parse_storage_connection_string(
            connection_string, source=named["connection_string"]
        )
        for arg, given, found in (
            ("account_name", account_name, account["account_name"]),
            ("account_url", account_url, account["account_url"]),
        ):
            if given and given.rstrip("/") != found:
                raise ImproperlyConfigured(
                    f"{named[arg]} ({given!r}) names another account than "
                    f"{named['connection_string']}. Unset one of them."
                )
        return account
    if account_url:
        url = _account_url(account_url, named["account_url"])
    elif account_name:
        url = f"https://{_account_name(account_name, named['account_name'])}.blob.{ENDPOINT_SUFFIX}"
    else:
        raise ImproperlyConfigured(
            f"No storage account: set {named['connection_string']}, or "
            f"{named['account_name']} (with {named['account_key']}, {named['sas_token']} or "
            f"a managed identity), or {named['account_url']}."
        )
    if account_name:
        name: str | None = _account_name(account_name, named["account_name"])
    else:
        name = account_name_from_url(url)
        if name is not None:
            name = _account_name(name, f"The account name in {named['account_url']}")
    if account_key:
        if name is None:
            raise ImproperlyConfigured(
                f"{named['account_key']} is set but the account's name is not: set "
                f"{named['account_name']}."
            )
        _check_key(account_key, named["account_key"])
    return BlobAccount(
        account_url=url,
        account_name=name,
        account_key=account_key or None,
        sas_token=_sas_token(sas_token, named["sas_token"]) if sas_token else None,
    )


def _account_url(value: str, source: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ImproperlyConfigured(
            f"{source} must be the account's blob endpoint, an http(s) URL like "
            f"https://ACCOUNT.blob.core.windows.net, got {value!r}."
        )
    return value.strip().rstrip("/")


def _account_name(value: str, source: str) -> str:
    if not _ACCOUNT_NAME.match(value):
        raise ImproperlyConfigured(
            f"{source} must be a storage account name (3-24 lowercase letters and digits), "
            f"got {value!r}."
        )
    return value


def _container(value: str, source: str) -> str:
    if not _CONTAINER_NAME.match(value):
        raise ImproperlyConfigured(
            f"{source} must be a container name (3-63 lowercase letters, digits and single "
            f"hyphens), got {value!r}."
        )
    return value


def _check_key(value: str, source: str) -> None:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ImproperlyConfigured(f"{source} is not a base64 account key (value hidden).")


def _sas_token(value: str, source: str) -> str:
    token = value.strip().lstrip("?")
    if "sig=" not in token:
        raise ImproperlyConfigured(
            f"{source} is not a SAS token (value hidden): it has no sig= parameter."
        )
    return token


def _one_of(
    env: Env, names: tuple[str, ...], *, secret: bool = False, first_wins: bool = False
) -> tuple[str, str | None]:
    """The one variable of ``names`` that is set, and its value; two set is an error unless
    ``first_wins``. With nothing set, the first name and None."""
    found = []
    for name in names:
        value = env.secret(name, default=None) if secret else env.str(name, default=None)
        if value:
            found.append((name, value))
    if len(found) > 1 and not first_wins:
        raise ImproperlyConfigured(
            f"{found[0][0]} and {found[1][0]} are both set. Set only one of them."
        )
    return found[0] if found else (names[0], None)


__all__ = [
    "AZURE_MANIFEST_STATIC_STORAGE",
    "AZURE_MEDIA_STORAGE",
    "AZURE_STATIC_STORAGE",
    "FILE_STORAGE",
    "WHITENOISE_STORAGE",
    "BlobAccount",
    "account_name_from_url",
    "azure_configured",
    "azure_storages",
    "azure_storages_from_env",
    "local_storages",
    "parse_storage_connection_string",
    "public_base_url",
    "storages_from_env",
]
