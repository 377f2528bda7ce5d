"""The Azure storage classes against a real Azurite: names, headers, URLs, SAS, limits."""

from __future__ import annotations

import io
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import SimpleUploadedFile

from django_prodkit.probes import storage as storage_probes
from django_prodkit.storage import headers
from django_prodkit.storage.azure import (
    AzureMediaStorage,
    AzureStaticStorage,
    UploadTooLarge,
    normalise_blob_name,
    sas_window,
)
from tests.probes import ids, run_one
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY
from tests.storage.conftest import fetch

pytestmark = pytest.mark.slow


def properties(service, container, name):
    return service.get_blob_client(container, name).get_blob_properties()


def read(storage, name):
    with storage.open(name) as opened:
        return opened.read()


def blob_names(service, container):
    return sorted(service.get_container_client(container).list_blob_names())


# --- Static files: headers, overwrite, URLs.


@pytest.mark.parametrize(
    ("name", "content_type", "cache_control"),
    [
        pytest.param(
            "app/site.3f2a1b9c8d7e.css",
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
            id="hashed-css",
        ),
        pytest.param("app/site.css", "text/css; charset=utf-8", "public, max-age=300", id="css"),
        pytest.param(
            "app/main.0123456789ab.mjs",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
            id="mjs",
        ),
        pytest.param("logo.svg", "image/svg+xml; charset=utf-8", "public, max-age=300", id="svg"),
        pytest.param(
            "site.webmanifest",
            "application/manifest+json; charset=utf-8",
            "public, max-age=300",
            id="webmanifest",
        ),
        pytest.param(
            "app/main.js.map", "application/json; charset=utf-8", "public, max-age=300", id="map"
        ),
        pytest.param(
            "fonts/inter.aabbccddeeff.woff2",
            "font/woff2",
            "public, max-age=31536000, immutable",
            id="woff2",
        ),
        pytest.param(
            "staticfiles.json",
            "application/json; charset=utf-8",
            "public, max-age=300",
            id="manifest",
        ),
    ],
)
def test_static_files_get_content_type_and_cache_control_by_name(
    use_azure, service, containers, name, content_type, cache_control
):
    use_azure()
    storage = AzureStaticStorage()
    assert storage.save(name, ContentFile(b"x")) == name
    found = properties(service, containers[0], name).content_settings
    assert (found.content_type, found.cache_control) == (content_type, cache_control)


def test_static_save_overwrites_the_same_name(use_azure, service, containers):
    use_azure()
    storage = AzureStaticStorage()
    assert storage.save("js/app.js", ContentFile(b"one")) == "js/app.js"
    assert storage.save("js/app.js", ContentFile(b"two")) == "js/app.js"
    assert blob_names(service, containers[0]) == ["js/app.js"]
    assert read(storage, "js/app.js") == b"two"


def test_static_storage_exposes_the_contract_publishstatic_relies_on(use_azure, containers):
    use_azure()
    storage = AzureStaticStorage()
    assert storage.azure_container == containers[0]
    assert storage.client.container_name == containers[0]
    assert storage.location == ""
    storage.save("css/x.css", ContentFile(b"x"))
    # Taken names are not avoided: a hashed name's content never changes.
    assert storage.get_available_name("css/x.css") == "css/x.css"
    assert storage.get_available_name(".//css/x.css") == "css/x.css"


def test_static_url_is_the_public_blob_url_and_serves_the_file(use_azure, azurite_url, containers):
    use_azure()
    storage = AzureStaticStorage()
    storage.save("css/site.css", ContentFile(b"body{}"))
    url = storage.url("css/site.css")
    assert url == f"{azurite_url}/{containers[0]}/css/site.css"
    status, headers, body = fetch(url)
    assert (status, body) == (200, b"body{}")
    assert headers["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("credential", ["connection_string", "account_key", "sas_token"])
def test_custom_domain_is_used_with_every_credential(
    use_azure, azurite, azurite_url, containers, cdn, credential
):
    if credential == "connection_string":
        use_azure(domain=cdn.url)
    elif credential == "account_key":
        use_azure(
            connection_string=None,
            account_url=azurite_url,
            account_key=AZURITE_KEY,
            domain=cdn.url,
        )
    else:
        use_azure(
            connection_string=None, account_url=azurite_url, sas_token=account_sas(), domain=cdn.url
        )
    storage = AzureStaticStorage()
    storage.save("img/a.txt", ContentFile(b"through the CDN"))
    url = storage.url("img/a.txt")
    assert url == f"{cdn.url}/{containers[0]}/img/a.txt"
    assert fetch(url)[::2] == (200, b"through the CDN")
    assert f"/{containers[0]}/img/a.txt" in cdn.paths


def account_sas(permission="racwdl", hours=1):
    return generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions.from_string(permission),
        expiry=datetime.now(UTC) + timedelta(hours=hours),
    )


def test_a_sas_token_credential_never_reaches_a_url(use_azure, azurite_url):
    token = account_sas()
    use_azure(connection_string=None, account_url=azurite_url, sas_token=token)
    storage = AzureStaticStorage()
    storage.save("a.css", ContentFile(b"a{}"))
    url = storage.url("a.css")
    assert "sig=" not in url
    assert token.split("sig=")[1] not in url
    assert fetch(url)[::2] == (200, b"a{}")


def test_location_prefixes_blob_names_and_urls(use_azure, service, containers, azurite_url):
    use_azure()
    storage = AzureStaticStorage(location="assets/v1")
    assert storage.save("a.css", ContentFile(b"a")) == "a.css"
    assert blob_names(service, containers[0]) == ["assets/v1/a.css"]
    assert storage.url("a.css") == f"{azurite_url}/{containers[0]}/assets/v1/a.css"
    assert storage.exists("a.css")
    assert storage.listdir("") == ([], ["a.css"])


def test_listdir_lists_one_level_and_exists_knows_directories(use_azure):
    use_azure()
    storage = AzureStaticStorage()
    for name in ("top.txt", "css/a.css", "css/deep/b.css", "js/c.js"):
        storage.save(name, ContentFile(b"x"))
    assert storage.listdir("") == (["css", "js"], ["top.txt"])
    assert storage.listdir("css") == (["deep"], ["a.css"])
    assert storage.listdir("css/deep/") == ([], ["b.css"])
    assert [storage.exists(name) for name in ("css", "css/deep", "top.txt")] == [True] * 3
    assert [storage.exists(name) for name in ("cs", "css/a")] == [False] * 2


def test_missing_blob_opens_as_file_not_found(use_azure):
    use_azure()
    with pytest.raises(FileNotFoundError):
        read(AzureStaticStorage(), "nothing.css")


# --- Names: normalised, traversal refused (static and media alike).


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("../settings.py", "climb out", id="parent"),
        pytest.param("photos/../../etc/passwd", "climb out", id="nested-parent"),
        pytest.param("/etc/passwd", "absolute", id="absolute"),
        pytest.param("C:/Windows/win.ini", "absolute", id="drive"),
        pytest.param("..\\..\\web.config", "backslash", id="backslash-parent"),
        pytest.param("photos\\a.png", "backslash", id="backslash"),
        pytest.param("a\x00.png", "control character", id="nul"),
        pytest.param("a\n.png", "control character", id="newline"),
        pytest.param("photos/", "end in '/'", id="directory"),
        pytest.param("photos/a.", "end in '/' or '.'", id="trailing-dot"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_media_refuses_unsafe_names_and_writes_nothing(
    use_azure, service, containers, name, reason
):
    use_azure()
    storage = AzureMediaStorage()
    with pytest.raises(SuspiciousFileOperation):
        storage._save(name, ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation, match=reason):
        normalise_blob_name(name)
    assert blob_names(service, containers[1]) == []


@pytest.mark.parametrize("operation", ["save", "url", "exists", "open", "delete", "size"])
def test_every_operation_refuses_traversal(use_azure, operation):
    use_azure()
    storage = AzureMediaStorage()
    call = {
        "save": lambda: storage.save("../x.png", ContentFile(b"x")),
        "url": lambda: storage.url("../x.png"),
        "exists": lambda: storage.exists("a/../../x.png"),
        "open": lambda: storage.open("/x.png"),
        "delete": lambda: storage.delete("..\\x.png"),
        "size": lambda: storage.size("a\x00"),
    }[operation]
    with pytest.raises(SuspiciousFileOperation):
        call()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("photos//2024/./a.png", "photos/2024/a.png", id="empty-and-dot-segments"),
        pytest.param("./a.png", "a.png", id="leading-dot"),
        pytest.param(unicodedata.normalize("NFD", "café.png"), "café.png", id="nfc"),
    ],
)
def test_names_are_normalised(use_azure, service, containers, name, expected):
    use_azure()
    assert AzureMediaStorage().save(name, ContentFile(b"x")) == expected
    assert blob_names(service, containers[1]) == [expected]


def test_static_names_from_windows_paths_use_slashes(use_azure, service, containers):
    use_azure()
    assert (
        AzureStaticStorage().save("admin\\css\\base.css", ContentFile(b"x")) == "admin/css/base.css"
    )
    assert blob_names(service, containers[0]) == ["admin/css/base.css"]


# --- Media: no overwrite, size limit, content types.


def test_media_never_overwrites_an_existing_blob(use_azure, service, containers):
    use_azure()
    storage = AzureMediaStorage()
    first = storage.save("photos/a.png", ContentFile(b"first"))
    second = storage.save("photos/a.png", ContentFile(b"second"))
    assert first == "photos/a.png"
    assert second != first
    assert second.startswith("photos/a_")
    assert second.endswith(".png")
    assert read(storage, first) == b"first"
    assert read(storage, second) == b"second"


def test_media_upload_racing_for_a_name_gets_another(use_azure, service, containers):
    # Two requests both found the name free (get_available_name) before either uploaded:
    # the upload itself is conditional, so the second one moves to a new name.
    use_azure()
    storage = AzureMediaStorage()
    assert storage._save("photos/race.png", ContentFile(b"one")) == "photos/race.png"
    other = storage._save("photos/race.png", ContentFile(b"two"))
    assert other != "photos/race.png"
    assert read(storage, "photos/race.png") == b"one"
    assert read(storage, other) == b"two"


def test_media_overwrite_can_be_turned_on(use_azure):
    use_azure(media_overwrite=True)
    storage = AzureMediaStorage()
    assert storage.save("a.png", ContentFile(b"one")) == "a.png"
    assert storage.save("a.png", ContentFile(b"two")) == "a.png"
    assert read(storage, "a.png") == b"two"


class Unsized(io.RawIOBase):
    """A stream that cannot tell its size (a socket, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        pytest.param(lambda data: ContentFile(data), "11 bytes", id="sized"),
        pytest.param(lambda data: File(Unsized(data), name="x"), "more than 10 bytes", id="stream"),
    ],
)
def test_media_upload_above_the_limit_is_refused(use_azure, service, containers, content, shown):
    use_azure(media_max_bytes=10)
    storage = AzureMediaStorage()
    with pytest.raises(UploadTooLarge) as caught:
        storage.save("big.bin", content(b"x" * 11))
    assert str(caught.value).startswith(f"The upload 'big.bin' is {shown};")
    assert str(caught.value).endswith("takes at most 10 (PRODKIT_MEDIA_MAX_BYTES).")
    assert blob_names(service, containers[1]) == []
    assert storage.save("ok.bin", content(b"x" * 10)) == "ok.bin"
    assert read(storage, "ok.bin") == b"x" * 10


@pytest.mark.parametrize(
    ("name", "claimed", "content_type", "disposition"),
    [
        pytest.param("photo.png", "text/html", "image/png", None, id="png"),
        pytest.param("page.html", "image/png", "text/html; charset=utf-8", "attachment", id="html"),
        pytest.param(
            "icon.svg", "image/svg+xml", "image/svg+xml; charset=utf-8", "attachment", id="svg"
        ),
        pytest.param("notes.pdf", "image/png", "application/pdf", None, id="pdf"),
    ],
)
def test_media_content_type_comes_from_the_name_not_the_client(
    use_azure, service, containers, name, claimed, content_type, disposition
):
    use_azure(media_private=False)
    upload = SimpleUploadedFile(name, b"<html><script>alert(1)</script>", content_type=claimed)
    saved = AzureMediaStorage().save(name, upload)
    found = properties(service, containers[1], saved).content_settings
    assert (found.content_type, found.content_disposition) == (content_type, disposition)
    assert found.cache_control == "public, max-age=86400"


# --- Private media: SAS URLs.


def sas_parameters(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_private_media_urls_are_signed_and_the_bare_url_is_refused(
    use_azure, azurite_url, containers, service
):
    use_azure()
    storage = AzureMediaStorage()
    name = storage.save("private/scan.png", ContentFile(b"secret scan"))
    url = storage.url(name)
    bare = url.split("?")[0]
    assert bare == f"{azurite_url}/{containers[1]}/private/scan.png"
    assert fetch(url)[::2] == (200, b"secret scan")
    assert fetch(bare)[0] in (401, 403, 404)
    assert properties(service, containers[1], name).content_settings.cache_control == (
        "private, max-age=3600"
    )


def test_private_media_sas_url_stops_working_after_its_expiry(use_azure):
    use_azure(media_sas_seconds=2)
    storage = AzureMediaStorage()
    name = storage.save("soon-gone.txt", ContentFile(b"now you see me"))
    url = storage.url(name)
    expiry = datetime.fromisoformat(sas_parameters(url)["se"].replace("Z", "+00:00"))
    assert fetch(url)[::2] == (200, b"now you see me")
    time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 1.5)
    assert fetch(url)[0] == 403


def test_sas_starts_in_the_past_for_clock_skew(use_azure):
    use_azure()
    url = AzureMediaStorage().url("a.png")
    start = datetime.fromisoformat(sas_parameters(url)["st"].replace("Z", "+00:00"))
    assert start <= datetime.now(UTC) - timedelta(minutes=14)


def test_private_media_sas_url_works_on_the_custom_domain(use_azure, cdn, containers):
    use_azure(domain=cdn.url)
    storage = AzureMediaStorage()
    name = storage.save("cdn/private.txt", ContentFile(b"signed via cdn"))
    url = storage.url(name)
    assert url.startswith(f"{cdn.url}/{containers[1]}/cdn/private.txt?")
    assert fetch(url)[::2] == (200, b"signed via cdn")
    assert fetch(url.split("?")[0])[0] != 200


def test_public_media_urls_are_not_signed(use_azure, service, containers):
    service.get_container_client(containers[1]).set_container_access_policy(
        {}, public_access="blob"
    )
    use_azure(media_private=False)
    storage = AzureMediaStorage()
    name = storage.save("pub.txt", ContentFile(b"public"))
    url = storage.url(name)
    assert "?" not in url
    assert fetch(url)[::2] == (200, b"public")


def test_private_media_with_a_sas_token_credential_cannot_sign(use_azure, azurite_url):
    use_azure(connection_string=None, account_url=azurite_url, sas_token=account_sas())
    with pytest.raises(ImproperlyConfigured, match="cannot sign URLs with a SAS token"):
        AzureMediaStorage().url("a.png")


@pytest.mark.parametrize(
    ("seconds", "now", "start", "expiry"),
    [
        pytest.param(
            3600, "2025-01-01T10:07:31", "2025-01-01T09:50:00", "2025-01-01T11:10:00", id="hour"
        ),
        pytest.param(
            2, "2025-01-01T10:07:31.4", "2025-01-01T09:52:31", "2025-01-01T10:07:34", id="seconds"
        ),
    ],
)
def test_sas_window_rounds_so_urls_are_stable_and_starts_early(seconds, now, start, expiry):
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    begin, end = sas_window(moment, seconds)
    assert (begin.isoformat()[:19], end.isoformat()[:19]) == (start, expiry)
    assert end - moment >= timedelta(seconds=seconds)


def test_private_media_urls_are_stable_within_a_step(use_azure):
    use_azure()
    storage = AzureMediaStorage()
    now = datetime(2025, 1, 1, 10, 0, 1, tzinfo=UTC)
    first = storage.sas_query("a.png", 3600, now=now)
    assert storage.sas_query("a.png", 3600, now=now + timedelta(seconds=200)) == first
    assert storage.sas_query("a.png", 3600, now=now + timedelta(seconds=400)) != first


# --- Construction and configuration.


def test_options_win_over_settings_and_a_connection_string_is_taken_apart(
    use_azure, azurite, azurite_url, cdn
):
    use_azure(connection_string=None, account_url="https://other.blob.core.windows.net")
    storage = AzureMediaStorage(connection_string=azurite, custom_domain=cdn.url)
    assert storage.account_url == azurite_url
    assert (storage.account_name, storage.account_key) == (AZURITE_ACCOUNT, AZURITE_KEY)
    assert storage.url("x.png").startswith(f"{cdn.url}/")


def test_a_bad_connection_string_option_is_reported_without_it(settings):
    planted = "AccountKey=PLANTED-SECRET-VALUE"
    with pytest.raises(ImproperlyConfigured) as caught:
        AzureMediaStorage(connection_string=f"{planted};nonsense")
    assert "AzureMediaStorage's connection_string" in str(caught.value)
    assert "PLANTED" not in str(caught.value)


def test_storage_without_an_account_says_what_to_set(settings):
    for name in ("PRODKIT_STORAGE_ACCOUNT_URL", "PRODKIT_STORAGE_ACCOUNT_NAME"):
        if hasattr(settings, name):
            delattr(settings, name)
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_STORAGE_ACCOUNT_NAME"):
        AzureStaticStorage()


def test_containers_default_to_static_and_media(settings):
    settings.PRODKIT_STORAGE_ACCOUNT_NAME = "prodkitexample"
    assert AzureStaticStorage().azure_container == "static"
    assert AzureMediaStorage().azure_container == "media"
    assert AzureMediaStorage().account_url == "https://prodkitexample.blob.core.windows.net"


def test_prodchecks_storage_probes_pass_on_the_azure_preset(use_azure, service, containers):
    use_azure()
    assert ids(run_one(storage_probes, "storage:default")) == []
    assert ids(run_one(storage_probes, "storage:staticfiles")) == []
    assert blob_names(service, containers[0]) == blob_names(service, containers[1]) == []


def test_prodchecks_probe_catches_media_in_a_public_container(use_azure, service, containers):
    service.get_container_client(containers[1]).set_container_access_policy(
        {}, public_access="blob"
    )
    use_azure()
    assert ids(run_one(storage_probes, "storage:default")) == ["prodkit.E451"]


@pytest.mark.parametrize(
    ("name", "content_type", "disposition"),
    [
        pytest.param("site.css.gz", "application/gzip", None, id="gzip"),
        pytest.param("site.css.br", "application/x-brotli", None, id="brotli"),
        pytest.param("page.xhtml", "application/xhtml+xml", "attachment", id="xhtml"),
        pytest.param("data.xml", "application/xml; charset=utf-8", "attachment", id="xml"),
        pytest.param("app.js", "text/javascript; charset=utf-8", "attachment", id="js"),
        pytest.param("photo.jpg", "image/jpeg", None, id="jpeg"),
    ],
)
def test_header_helpers_for_compressed_copies_and_active_media(name, content_type, disposition):
    assert headers.content_type(name) == content_type
    assert headers.media_content_disposition(name) == disposition
