"""Plain ``collectstatic`` straight to the Azure manifest storage: first run, re-run, a
change, ``--clear``; and the manifest read lazily, once, from STATIC_ROOT or the blob."""

from __future__ import annotations

import io
import json
import os
import re
import time

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command

from django_prodkit.settings.storages import AZURE_MANIFEST_STATIC_STORAGE
from django_prodkit.storage.azure import AzureManifestStaticStorage
from tests.servers import AZURITE_KEY, free_port
from tests.storage.conftest import fetch

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SOURCES = {
    "css/site.css": b'@import "base.css";\nbody { background: url("../img/bg.png"); }\n',
    "css/base.css": b"h1 { color: red; }\n",
    "img/bg.png": PNG,
    "js/app.js": b"console.log(1);\n//# sourceMappingURL=app.js.map\n",
    "js/app.js.map": b"{}",
    "fonts/inter.woff2": b"wOF2",
    "robots.txt": b"User-agent: *\n",
}


class Requests:
    """Every request the storage's client sends: (method, path and query)."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request):
        http = request.http_request
        self.seen.append((http.method, http.url.split("/", 3)[3]))

    def downloads(self, name_part: str = "") -> list[str]:
        """GETs of a blob (not listings)."""
        return [u for m, u in self.seen if m == "GET" and "comp=list" not in u and name_part in u]


@pytest.fixture
def sources(tmp_path, settings):
    """A static tree of the project's own, the only one collectstatic finds."""
    root = tmp_path / "assets"
    for name, content in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    settings.STATICFILES_DIRS = [root]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    return root


@pytest.fixture
def requests_seen():
    return Requests()


@pytest.fixture
def azure_static(use_azure, settings, requests_seen):
    """The manifest storage on this test's containers, its requests recorded."""

    def apply(**options):
        made = use_azure()
        settings.STORAGES = {
            **made["STORAGES"],
            "staticfiles": {
                "BACKEND": AZURE_MANIFEST_STATIC_STORAGE,
                "OPTIONS": {"client_options": {"raw_request_hook": requests_seen}, **options},
            },
        }
        return made

    return apply


def collectstatic(*args):
    out = io.StringIO()
    call_command("collectstatic", *args, interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


def blobs(service, container):
    client = service.get_container_client(container)
    return {blob.name: blob for blob in client.list_blobs()}


def manifest(service, container, name="staticfiles.json"):
    data = service.get_blob_client(container, name).download_blob().readall()
    return json.loads(data)["paths"]


def test_first_run_uploads_hashed_files_and_the_manifest(
    azure_static, sources, service, containers, requests_seen
):
    azure_static()
    output = collectstatic()
    assert "7 static files copied" in output
    assert "post-processed" in output
    paths = manifest(service, containers[0])
    assert sorted(paths) == sorted(SOURCES)
    found = blobs(service, containers[0])
    for original, hashed in paths.items():
        assert re.fullmatch(r".+\.[0-9a-f]{12}\.[^/]+", hashed), hashed
        assert hashed in found
        assert found[hashed].content_settings.cache_control == (
            "public, max-age=31536000, immutable"
        )
        assert original in found
    assert found["staticfiles.json"].content_settings.cache_control == "public, max-age=300"
    # Hashes came from the local sources: no blob was read back over the network.
    assert requests_seen.downloads() == []


def test_first_run_serves_rewritten_css_from_a_fresh_process(
    azure_static, sources, service, containers
):
    azure_static()
    collectstatic()
    # A new storage object: what a freshly started app instance has.
    fresh = AzureManifestStaticStorage()
    paths = manifest(service, containers[0])
    url = fresh.url("css/site.css")
    assert url.endswith(paths["css/site.css"])
    status, headers, body = fetch(url)
    assert status == 200
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert paths["img/bg.png"].split("/")[-1].encode() in body
    assert paths["css/base.css"].split("/")[-1].encode() in body
    assert fetch(fresh.url("img/bg.png"))[::2] == (200, PNG)


def test_rerun_with_nothing_changed_copies_nothing_and_keeps_the_manifest(
    azure_static, sources, service, containers
):
    azure_static()
    collectstatic()
    before = blobs(service, containers[0])
    paths = manifest(service, containers[0])
    output = collectstatic()
    assert "0 static files copied" in output
    assert "7 unmodified" in output
    after = blobs(service, containers[0])
    assert sorted(after) == sorted(before)
    assert manifest(service, containers[0]) == paths
    # Files nothing refers to were not uploaded again.
    for name in ("img/bg.png", "fonts/inter.woff2", "robots.txt"):
        assert after[paths[name]].etag == before[paths[name]].etag


def test_rerun_after_a_change_adds_new_names_and_keeps_the_old_ones(
    azure_static, sources, service, containers
):
    azure_static()
    collectstatic()
    old = manifest(service, containers[0])
    changed = sources / "img" / "bg.png"
    changed.write_bytes(PNG + b"changed")
    later = time.time() + 5  # newer than the blob, whatever the clocks' resolution
    os.utime(changed, (later, later))
    output = collectstatic()
    assert "1 static file copied" in output
    new = manifest(service, containers[0])
    assert new["img/bg.png"] != old["img/bg.png"]
    # site.css refers to the image: its content and hash change with it.
    assert new["css/site.css"] != old["css/site.css"]
    assert new["css/base.css"] == old["css/base.css"]
    found = blobs(service, containers[0])
    # Pages rendered by the previous release still find their files.
    assert {old["img/bg.png"], old["css/site.css"], new["img/bg.png"]} <= set(found)
    status, _, body = fetch(AzureManifestStaticStorage().url("css/site.css"))
    assert status == 200
    assert new["img/bg.png"].split("/")[-1].encode() in body


@pytest.mark.parametrize("location", ["", "assets/v2"])
def test_clear_removes_stale_blobs_at_every_depth_and_rebuilds(
    azure_static, sources, service, containers, location
):
    azure_static(location=location)
    client = service.get_container_client(containers[0])
    prefix = f"{location}/" if location else ""
    for stale in ("stale.txt", "old/deep/gone.css", "css/removed.css"):
        client.upload_blob(f"{prefix}{stale}", b"stale")
    if location:
        client.upload_blob("outside/keep.txt", b"not ours")
    output = collectstatic("--clear")
    assert "7 static files copied" in output
    names = set(blobs(service, containers[0]))
    assert (
        not {f"{prefix}{s}" for s in ("stale.txt", "old/deep/gone.css", "css/removed.css")} & names
    )
    assert f"{prefix}staticfiles.json" in names
    assert {f"{prefix}{name}" for name in SOURCES} <= names
    if location:
        assert "outside/keep.txt" in names
    paths = manifest(service, containers[0], f"{prefix}staticfiles.json")
    assert fetch(staticfiles_storage.url("robots.txt"))[::2] == (200, SOURCES["robots.txt"])
    assert staticfiles_storage.url("robots.txt").endswith(f"{prefix}{paths['robots.txt']}")


def test_clear_twice_in_a_row_works(azure_static, sources, service, containers):
    azure_static()
    collectstatic()
    collectstatic("--clear")
    assert "7 static files copied" in collectstatic("--clear")
    assert sorted(manifest(service, containers[0])) == sorted(SOURCES)


# --- The manifest at run time.


def test_building_the_storage_sends_no_request(use_azure):
    use_azure(
        connection_string=None,
        account_url=f"http://127.0.0.1:{free_port()}/devstoreaccount1",
        account_key=AZURITE_KEY,
    )
    storage = AzureManifestStaticStorage()  # nothing listens on that port: no error yet
    assert storage.azure_container.startswith("static-")


def test_manifest_in_static_root_wins_and_is_read_without_a_request(
    azure_static, settings, tmp_path, requests_seen
):
    azure_static()
    settings.STATIC_ROOT = tmp_path / "collected"
    settings.STATIC_ROOT.mkdir()
    (settings.STATIC_ROOT / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"a.css": "a.0123456789ab.css"}, "hash": "x"})
    )
    assert staticfiles_storage.url("a.css").endswith("/a.0123456789ab.css")
    assert requests_seen.seen == []


def test_manifest_blob_is_read_once_per_process(azure_static, sources, requests_seen):
    azure_static()
    collectstatic()
    storage = AzureManifestStaticStorage(client_options={"raw_request_hook": requests_seen})
    requests_seen.seen.clear()
    for _ in range(5):
        storage.url("css/site.css")
        storage.url("js/app.js")
    assert requests_seen.downloads("staticfiles.json") != []
    assert len(requests_seen.seen) == 1


def test_missing_manifest_is_looked_for_again_later(
    azure_static, service, containers, requests_seen
):
    azure_static()
    storage = AzureManifestStaticStorage(client_options={"raw_request_hook": requests_seen})
    with pytest.raises(ValueError, match=r"Missing staticfiles manifest entry for 'a\.css'"):
        storage.url("a.css")
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        storage.url("a.css")
    assert len(requests_seen.downloads("staticfiles.json")) == 1  # not once per request
    payload = {"version": "1.1", "paths": {"a.css": "a.0123456789ab.css"}, "hash": "x"}
    service.get_blob_client(containers[0], "staticfiles.json").upload_blob(json.dumps(payload))
    storage.manifest_retry_seconds = 0
    assert storage.url("a.css").endswith("/a.0123456789ab.css")


def test_manifest_is_overwritten_in_place_never_deleted(azure_static, sources, requests_seen):
    azure_static()
    collectstatic()
    requests_seen.seen.clear()
    collectstatic()
    assert [u for m, u in requests_seen.seen if m == "DELETE"] == []
