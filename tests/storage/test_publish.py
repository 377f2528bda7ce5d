"""``manage.py publishstatic`` against a real Azurite.

A small HTTP relay of our own sits between the publisher and Azurite: it records the order of
the requests (the manifest must be the last blob written) and injects the faults of a real
network (503s, dropped connections, a process killed mid-way). Azurite itself is never mocked.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from azure.storage.blob import (
    AccountSasPermissions,
    ContentSettings,
    ResourceTypes,
    generate_account_sas,
)
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from django_prodkit.management.commands.publishstatic import _ProgressBar
from django_prodkit.storage.headers import IMMUTABLE, SHORT_STATIC
from django_prodkit.storage.publish import StaticPublisher, collect_locally
from tests.example import EXAMPLE_PROJECT, example_env, manage
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string, serving

SUMMARY = re.compile(
    r"^publishstatic: (?P<uploaded>\d+) uploaded, (?P<skipped>\d+) skipped, "
    r"(?P<pruned>\d+) pruned, (?P<bytes>\d+) bytes, (?P<seconds>\d+\.\d) s$",
    re.MULTILINE,
)
MANIFEST = "staticfiles.json"
HISTORY = ".prodkit/manifests/"

SOURCES = {
    "img/a.png": b"\x89PNG a",
    "img/b.png": b"\x89PNG b",
    "img/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>',
    "fonts/f.woff2": b"wOF2 font",
    "css/base.css": b'.a { background: url("../img/a.png"); }\n'
    b'@font-face { src: url("../fonts/f.woff2"); }\n',
    "css/theme.css": b'@import "base.css";\n.b { background: url(../img/b.png); }\n',
    "js/app.js": b"console.log(1);\n//# sourceMappingURL=app.js.map\n",
    "js/app.js.map": b'{"version": 3}',
    "js/module.mjs": b"export const x = 1;\n",
    "site.webmanifest": b'{"name": "x"}',
    **{f"pages/p{i:02d}.txt": f"page {i}\n".encode() for i in range(20)},
}


# --- A relay in front of Azurite: records requests, injects faults.


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Relay

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = self.server.before(self.command, self.path)
        if action == "reset":
            # The connection dies with the request unanswered.
            self.close_connection = True
            return
        if action == "503":
            payload = b"<?xml version='1.0'?><Error><Code>ServerBusy</Code></Error>"
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("host", "connection", "keep-alive", "content-length")
        }
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.server.after(self.command, self.path, response.status)
        self.send_response_only(response.status)
        for name, value in response.getheaders():
            if name.lower() in ("transfer-encoding", "connection", "keep-alive"):
                continue
            if name.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _relay

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``requests``."""


class Relay(http.server.ThreadingHTTPServer):
    """An HTTP relay on 127.0.0.1 in front of Azurite.

    ``requests``: (method, blob or container path, status) in the order Azurite answered;
    ``fault(method, path, puts_so_far)`` may return "reset" or "503"; ``delay`` slows
    every blob upload down (to kill a publish mid-way)."""

    daemon_threads = True

    def __init__(self, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.faults: list[tuple[str, str, str]] = []
        self.fault: Callable[[str, str, int], str | None] | None = None
        self.delay = 0.0
        self.attempted_puts = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def before(self, method: str, path: str) -> str | None:
        with self.lock:
            if method == "PUT":
                self.attempted_puts += 1
            number = self.attempted_puts
            fault = self.fault
        if method == "PUT" and self.delay:
            time.sleep(self.delay)
        action = fault(method, path, number) if fault else None
        if action:
            with self.lock:
                self.faults.append((method, path, action))
        return action

    def after(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.requests.append((method, path, status))

    def puts(self, container: str) -> list[str]:
        """Blob names written into ``container``, in order."""
        return [name for method, name in self.blob_requests(container) if method == "PUT"]

    def blob_requests(self, container: str) -> list[tuple[str, str]]:
        prefix = f"/{AZURITE_ACCOUNT}/{container}/"
        with self.lock:
            found = list(self.requests)
        return [
            (method, unquote(urlsplit(path).path)[len(prefix) :])
            for method, path, status in found
            if unquote(urlsplit(path).path).startswith(prefix) and status < 300
        ]

    def listings(self, container: str) -> int:
        with self.lock:
            found = list(self.requests)
        return sum(
            1
            for method, path, _ in found
            if method == "GET" and f"/{container}?" in path and "comp=list" in path
        )

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.fault = None
            self.delay = 0.0
            self.attempted_puts = 0


@contextmanager
def own_relay(upstream: int) -> Iterator[Relay]:
    server = Relay(upstream)
    with serving(server):
        yield server


def azurite_port(connection_string: str) -> int:
    return int(connection_string.split("127.0.0.1:")[1].split("/")[0])


@pytest.fixture(scope="module")
def relay(azurite) -> Iterator[Relay]:
    with own_relay(azurite_port(azurite)) as server:
        yield server


@pytest.fixture
def relayed(relay) -> Iterator[Relay]:
    relay.reset()
    yield relay
    relay.reset()


# --- The site: prodkit's Azure storages (through the relay), a small source tree.


def write(root: Path, name: str, content: bytes, *, changed: bool = True) -> None:
    """Write a file: originals long ago, changes a second ahead (collectstatic copies a file
    only when its source is newer in whole seconds than its last copy)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stamp = time.time() + 1 if changed else time.time() - 1000
    os.utime(path, (stamp, stamp))


class Site:
    """The test's static site: its sources, STATIC_ROOT, container and relay."""

    def __init__(self, sources: Path, static_root: Path, container: str, relay: Relay, service):
        self.sources = sources
        self.static_root = static_root
        self.container = container
        self.relay = relay
        self.service = service

    def change(self, name: str, content: bytes | None = None) -> None:
        old = (self.sources / name).read_bytes()
        write(self.sources, name, content if content is not None else old + b" changed")

    def manifest(self) -> dict[str, str]:
        return json.loads((self.static_root / MANIFEST).read_text())["paths"]

    def blobs(self) -> dict[str, object]:
        client = self.service.get_container_client(self.container)
        return {blob.name: blob for blob in client.list_blobs()}

    def publish(self, *args: str) -> dict[str, int]:
        """Run publishstatic; return its summary's numbers."""
        out = io.StringIO()
        call_command("publishstatic", *args, stdout=out)
        return summary(out.getvalue())


def summary(output: str) -> dict[str, int]:
    match = SUMMARY.search(output)
    assert match, output
    return {k: int(v) for k, v in match.groupdict().items() if k != "seconds"}


@pytest.fixture
def site(settings, tmp_path, azurite, relayed, service, use_azure, containers) -> Site:
    """prodkit's Azure settings (manifest static storage) pointed at the relay; sources of
    our own only (no app directories: the admin's 100 files would only slow this down)."""
    sources = tmp_path / "sources"
    for name, content in SOURCES.items():
        write(sources, name, content, changed=False)
    use_azure(connection_string=azurite_connection_string(relayed.port))
    settings.STATICFILES_DIRS = [str(sources)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.DEBUG = False
    return Site(sources, Path(settings.STATIC_ROOT), containers[0], relayed, service)


def hashed_names(manifest: dict[str, str]) -> set[str]:
    return set(manifest.values())


def history(blobs: dict[str, object]) -> list[str]:
    return sorted(name for name in blobs if name.startswith(HISTORY))


# --- Publishing.


def test_first_publish_uploads_the_hashed_files_then_the_manifest(site):
    numbers = site.publish()
    manifest = site.manifest()
    assert numbers["uploaded"] == len(manifest) + 1
    assert numbers["skipped"] == 0
    assert numbers["bytes"] == sum(
        (site.static_root / name).stat().st_size for name in [*manifest.values(), MANIFEST]
    )
    blobs = site.blobs()
    [entry] = history(blobs)
    assert set(blobs) == hashed_names(manifest) | {MANIFEST, entry}
    # Only what {% static %} resolves to: the hashed names, not the originals.
    assert "css/base.css" not in blobs
    puts = site.relay.puts(site.container)
    assert puts[-2:] == [entry, MANIFEST]
    assert set(puts[:-2]) == hashed_names(manifest)


def test_files_needing_no_rewrite_are_uploaded_while_collecting(site):
    storage = storages["staticfiles"]
    with StaticPublisher(storage, site.static_root) as publisher:
        assert publisher.listing() == {}
        collected = collect_locally(site.static_root, publisher=publisher, originals=False)
        result = publisher.publish()
    plain = [name for name in SOURCES if not name.endswith((".css", ".js"))]
    assert result.early == len(plain)
    assert len(result.uploaded) == collected.found + 1
    # STATIC_ROOT gets the hashed copies and the manifest, not the originals.
    assert not (site.static_root / "img" / "a.png").exists()
    site.change("img/b.png")
    out = io.StringIO()
    call_command("publishstatic", "-v", "2", stdout=out)
    assert re.search(
        r"collected \d+ files into .* \(partial: \d+ post-processed, 0 originals copied\) "
        r"in [0-9.]+ s; [01] uploaded while collecting",
        out.getvalue(),
    )

    # The image, the stylesheet that uses it, the manifest.
    assert summary(out.getvalue())["uploaded"] == 3


def test_rerun_with_nothing_changed_uploads_nothing_after_one_listing(site):
    site.publish()
    cache = site.static_root / ".prodkit" / "md5.json"
    written = cache.stat().st_mtime_ns
    site.relay.reset()
    numbers = site.publish()
    assert numbers == {
        "uploaded": 0,
        "skipped": len(site.manifest()) + 1,
        "pruned": 0,
        "bytes": 0,
    }
    assert site.relay.puts(site.container) == []
    assert site.relay.listings(site.container) == 1
    # Every local MD5 came from the cache, which had nothing new to record.
    assert cache.stat().st_mtime_ns == written


def test_ten_changed_sources_upload_their_new_hashed_names_and_the_manifest(site):
    site.publish()
    before = site.manifest()
    changed = [f"pages/p{i:02d}.txt" for i in range(0, 20, 2)]
    for name in changed:
        site.change(name)
    site.relay.reset()
    numbers = site.publish()
    after = site.manifest()
    new = {after[name] for name in changed}
    assert numbers["uploaded"] == 11
    assert set(site.relay.puts(site.container)[:-2]) == new
    assert site.relay.puts(site.container)[-1] == MANIFEST
    assert {name for name in after if after[name] != before[name]} == set(changed)


def test_a_changed_image_republishes_the_stylesheets_that_use_it(site):
    site.publish()
    before = site.manifest()
    site.change("img/a.png")
    site.relay.reset()
    site.publish()
    after = site.manifest()
    moved = {name for name in after if after[name] != before[name]}
    assert moved == {"img/a.png", "css/base.css", "css/theme.css"}
    assert set(site.relay.puts(site.container)[:-2]) == {after[name] for name in moved}
    css = site.service.get_blob_client(site.container, after["css/base.css"])
    assert after["img/a.png"].split("/")[-1].encode() in css.download_blob().readall()


def test_ten_changed_files_of_a_plain_static_root_upload_exactly_ten(site, use_azure, relayed):
    # A static storage without hashed names: STATIC_ROOT is published as it is.
    use_azure(connection_string=azurite_connection_string(relayed.port), manifest=False)
    assert site.publish()["uploaded"] == len(SOURCES)
    changed = sorted(SOURCES)[:10]
    for name in changed:
        path = site.static_root / name
        path.write_bytes(path.read_bytes() + b" edited")
    site.relay.reset()
    numbers = site.publish("--no-collect")
    assert (numbers["uploaded"], numbers["skipped"]) == (10, len(SOURCES) - 10)
    assert sorted(site.relay.puts(site.container)) == changed


def test_uploaded_blobs_carry_content_type_and_cache_control(site):
    site.publish()
    manifest = site.manifest()
    blobs = site.blobs()
    expected = {
        "css/base.css": "text/css; charset=utf-8",
        "js/app.js": "text/javascript; charset=utf-8",
        "js/module.mjs": "text/javascript; charset=utf-8",
        "js/app.js.map": "application/json; charset=utf-8",
        "img/logo.svg": "image/svg+xml; charset=utf-8",
        "img/a.png": "image/png",
        "fonts/f.woff2": "font/woff2",
        "site.webmanifest": "application/manifest+json; charset=utf-8",
    }
    for name, content_type in expected.items():
        settings_ = blobs[manifest[name]].content_settings
        assert (settings_.content_type, settings_.cache_control) == (content_type, IMMUTABLE)
        assert settings_.content_md5 is not None
    live = blobs[MANIFEST].content_settings
    assert (live.content_type, live.cache_control) == (
        "application/json; charset=utf-8",
        SHORT_STATIC,
    )


def test_unhashed_option_publishes_the_original_names_with_a_short_ttl(site):
    site.publish("--unhashed")
    blobs = site.blobs()
    assert set(site.manifest()) <= set(blobs)
    assert blobs["css/base.css"].content_settings.cache_control == SHORT_STATIC


def test_precompressed_variants_are_not_published(site, use_azure, relayed):
    use_azure(connection_string=azurite_connection_string(relayed.port), manifest=False)
    root = site.static_root
    for name in ("app.css", "app.css.gz", "app.css.br", "deep/x.js", "deep/x.js.gz"):
        write(root, name, b"body {}")
    numbers = site.publish("--no-collect")
    assert numbers["uploaded"] == 2
    assert set(site.blobs()) == {"app.css", "deep/x.js"}


def test_a_blob_with_wrong_headers_is_uploaded_again(site):
    site.publish()
    hashed = site.manifest()["js/app.js"]
    blob = site.service.get_blob_client(site.container, hashed)
    # As stock django-storages would have left it: the right bytes, the wrong type.
    blob.upload_blob(
        (site.static_root / hashed).read_bytes(),
        overwrite=True,
        content_settings=ContentSettings(content_type="application/octet-stream"),
    )
    site.relay.reset()
    assert site.publish()["uploaded"] == 1
    assert blob.get_blob_properties().content_settings.content_type.startswith("text/javascript")


def test_a_static_location_keeps_everything_under_its_prefix(site, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {**settings.STORAGES["staticfiles"], "OPTIONS": {"location": "site-a"}},
    }
    container = site.service.get_container_client(site.container)
    container.upload_blob("elsewhere/keep.txt", b"not ours")
    site.publish()
    site.change("img/a.png")
    site.publish("--prune", "--keep", "1")
    blobs = site.blobs()
    assert "elsewhere/keep.txt" in blobs
    assert f"site-a/{MANIFEST}" in blobs
    assert all(name.startswith("site-a/") for name in blobs if name != "elsewhere/keep.txt")
    assert f"site-a/{site.manifest()['img/a.png']}" in blobs


# --- Failures, retries and an interrupted publish.


def test_transient_errors_are_retried(site):
    def flaky(method, path, number):
        if method == "PUT" and number % 5 == 0:
            return "503"
        if method == "PUT" and number % 7 == 0:
            return "reset"
        return None

    site.relay.fault = flaky
    numbers = site.publish()
    manifest = site.manifest()
    assert numbers["uploaded"] == len(manifest) + 1
    actions = {action for _, _, action in site.relay.faults}
    assert actions == {"503", "reset"}
    assert set(site.blobs()) >= hashed_names(manifest) | {MANIFEST}


def test_interrupted_publish_leaves_the_old_release_live_and_a_rerun_completes_it(site):
    site.publish()
    first = site.manifest()
    for name in ("img/a.png", "img/b.png", "js/app.js", *[f"pages/p{i:02d}.txt" for i in range(8)]):
        site.change(name)
    site.relay.reset()
    # The storage service fails every request after 5 uploads.
    site.relay.fault = lambda method, path, number: "503" if number > 5 else None
    with pytest.raises(CommandError, match="Run publishstatic again") as caught:
        site.publish("--workers", "2")
    assert "the manifest was not" in str(caught.value)
    assert MANIFEST not in site.relay.puts(site.container)
    live = site.service.get_blob_client(site.container, MANIFEST).download_blob().readall()
    assert json.loads(live)["paths"] == first
    site.relay.reset()
    numbers = site.publish()
    second = site.manifest()
    changed = {name for name in second if second[name] != first[name]}
    assert numbers["uploaded"] == len(changed) + 1 - 5
    assert site.relay.puts(site.container)[-1] == MANIFEST
    assert set(site.blobs()) >= hashed_names(first) | hashed_names(second) | {MANIFEST}


def test_a_failure_exits_1_and_shows_no_secret(azurite, tmp_path):
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    endpoint = azurite.split("BlobEndpoint=")[1].rstrip(";")
    env = example_env(
        tmp_path,
        AZURE_STORAGE_CONNECTION_STRING=f"BlobEndpoint={endpoint};SharedAccessSignature={sas}",
        PRODKIT_STATIC_CONTAINER="no-such-container",
        PRODKIT_MEDIA_CONTAINER="media",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "publishstatic"],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "The container 'no-such-container' does not exist" in output
    signature = re.search(r"sig=([^&]+)", sas)[1]
    for secret in (signature, unquote(signature), AZURITE_KEY, sas):
        assert secret not in output


def test_killed_publish_rerun_ends_consistent(azurite, relayed, service, containers, tmp_path):
    """The example project's own manage.py, killed with SIGKILL mid-way, then run again."""
    static, media = containers
    env = example_env(
        tmp_path,
        AZURE_STORAGE_CONNECTION_STRING=azurite_connection_string(relayed.port),
        PRODKIT_STATIC_CONTAINER=static,
        PRODKIT_MEDIA_CONTAINER=media,
    )
    relayed.delay = 0.05
    process = subprocess.Popen(
        [sys.executable, "manage.py", "publishstatic", "--workers", "2"],
        cwd=EXAMPLE_PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(relayed.puts(static)) < 20:
            assert process.poll() is None, "publishstatic ended before it could be killed"
            assert time.monotonic() < deadline, "publishstatic never uploaded 20 files"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    written = set(relayed.puts(static))
    assert MANIFEST not in written
    relayed.delay = 0.0
    output = manage(env, "publishstatic")
    numbers = summary(output)
    manifest = json.loads((tmp_path / "static" / MANIFEST).read_text())["paths"]
    assert "admin/css/base.css" in manifest
    assert numbers["skipped"] >= len(written)
    assert numbers["uploaded"] + numbers["skipped"] == len(manifest) + 1
    with service.get_container_client(static) as client:
        blobs = set(client.list_blob_names())
    assert blobs >= set(manifest.values()) | {MANIFEST}
    assert relayed.puts(static)[-1] == MANIFEST


# --- Prune.


def release(site: Site, number: int) -> dict[str, str]:
    """Publish a new release: img/a.png (and so both stylesheets) changes."""
    site.change("img/a.png", f"\x89PNG release {number}".encode())
    site.publish()
    return site.manifest()


@pytest.mark.parametrize(("keep", "kept_releases"), [(1, [3]), (2, [2, 3]), (3, [1, 2, 3])])
def test_prune_keeps_the_files_of_the_last_n_releases(site, keep, kept_releases):
    releases = {number: release(site, number) for number in (1, 2)}
    site.change("img/a.png", b"\x89PNG release 3")
    site.relay.reset()
    numbers = site.publish("--prune", "--keep", str(keep))
    releases[3] = site.manifest()
    blobs = site.blobs()
    for number, manifest in releases.items():
        present = hashed_names(manifest) <= set(blobs)
        assert present == (number in kept_releases), number
    assert len(history(blobs)) == keep
    assert numbers["pruned"] == 3 * (3 - keep) + (3 - keep)  # a.png, 2 css + a manifest copy
    # Deletes come after the manifest went live.
    order = site.relay.blob_requests(site.container)
    last_put = max(i for i, (method, _) in enumerate(order) if method == "PUT")
    assert order[last_put][1] == MANIFEST
    assert all(method == "PUT" for method, _ in order[:last_put])


def test_prune_keeps_a_live_release_published_without_history(site):
    first = release(site, 1)
    container = site.service.get_container_client(site.container)
    # As if collectstatic had published it: no prodkit history in the container.
    for name in history(site.blobs()):
        container.delete_blob(name)
    site.change("img/a.png", b"\x89PNG release 2")
    site.publish("--prune")
    blobs = site.blobs()
    assert hashed_names(first) <= set(blobs)
    assert hashed_names(site.manifest()) <= set(blobs)
    assert len(history(blobs)) == 2


def test_prune_removes_blobs_no_release_uses(site):
    site.publish()
    container = site.service.get_container_client(site.container)
    container.upload_blob("old/stale.js", b"gone")
    assert site.publish("--prune")["pruned"] == 1
    assert "old/stale.js" not in site.blobs()


def test_dry_run_lists_what_would_change_and_writes_nothing(site):
    first = release(site, 1)
    release(site, 2)
    site.change("img/a.png", b"\x89PNG release 3")
    before = {name: blob.etag for name, blob in site.blobs().items()}
    site.relay.reset()
    out = io.StringIO()
    call_command("publishstatic", "--dry-run", "--prune", "--keep", "2", stdout=out)
    output = out.getvalue()
    assert {name: blob.etag for name, blob in site.blobs().items()} == before
    assert [m for m, _ in site.relay.blob_requests(site.container) if m != "GET"] == []
    third = site.manifest()
    assert f"upload {third['img/a.png']}" in output
    assert f"upload {MANIFEST} (last)" in output
    assert f"prune {first['img/a.png']}" in output
    assert re.search(
        r"^publishstatic --dry-run: 4 to upload, \d+ skipped, 4 to prune, \d+ bytes", output, re.M
    ), output
    # The real run then does exactly that.
    numbers = site.publish("--prune", "--keep", "2")
    assert (numbers["uploaded"], numbers["pruned"]) == (4, 4)


# --- Credentials other than a key.


def test_publishes_with_a_sas_token(site, azurite, use_azure):
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    endpoint = azurite_connection_string(site.relay.port).split("BlobEndpoint=")[1].rstrip(";")
    use_azure(connection_string=f"BlobEndpoint={endpoint};SharedAccessSignature={sas}")
    numbers = site.publish("--prune")
    assert numbers["uploaded"] == len(site.manifest()) + 1
    assert hashed_names(site.manifest()) | {MANIFEST} <= set(site.blobs())


def test_publishes_with_a_token_credential_over_https(
    settings, tmp_path, secure_azurite, secure_service
):
    from tests.storage.conftest import FakeCredential

    name = f"static-{os.urandom(5).hex()}"
    secure_service.create_container(name)
    sources = tmp_path / "sources"
    for source, content in list(SOURCES.items())[:6]:
        write(sources, source, content, changed=False)
    credential = FakeCredential()
    settings.STATICFILES_DIRS = [str(sources)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django_prodkit.storage.azure.AzureManifestStaticStorage",
            "OPTIONS": {
                "account_url": secure_azurite.account_url,
                "token_credential": credential,
                "azure_container": name,
                # The storage's own client options (the test CA) reach the publisher's client.
                "client_options": {"connection_verify": str(secure_azurite.ca)},
            },
        },
    }
    out = io.StringIO()
    call_command("publishstatic", stdout=out)
    assert summary(out.getvalue())["uploaded"] == 7
    assert ("https://storage.azure.com/.default",) in credential.scopes
    with secure_service.get_container_client(name) as client:
        assert MANIFEST in set(client.list_blob_names())
    secure_service.delete_container(name)


# --- The command's surface.


def test_no_collect_without_a_manifest_is_a_clear_error(site):
    with pytest.raises(CommandError, match=r"staticfiles\.json is missing or is not a"):
        call_command("publishstatic", "--no-collect")


def test_a_terminal_gets_a_progress_bar(azurite, containers, tmp_path):
    import pty

    static, media = containers
    env = example_env(
        tmp_path,
        AZURE_STORAGE_CONNECTION_STRING=azurite,
        PRODKIT_STATIC_CONTAINER=static,
        PRODKIT_MEDIA_CONTAINER=media,
    )
    primary, secondary = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "manage.py", "publishstatic"],
            cwd=EXAMPLE_PROJECT,
            env=env,
            stdout=secondary,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
    assert process.returncode == 0, process.stderr
    text = output.decode()
    assert "\rpublishstatic [" in text
    assert re.search(r"\] (\d+)/\1 files", text)
    assert SUMMARY.search(text.replace("\r\n", "\n"))


@pytest.mark.parametrize(
    "backend",
    [
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "django.contrib.staticfiles.storage.StaticFilesStorage",
    ],
)
def test_a_staticfiles_storage_not_on_azure_is_a_clear_error(settings, backend):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": backend}}
    with pytest.raises(CommandError) as caught:
        call_command("publishstatic")
    message = str(caught.value)
    assert f"STORAGES['staticfiles'] is {backend}, not an AzureStorage" in message
    assert "django_prodkit.storage.azure.AzureManifestStaticStorage" in message


@pytest.mark.parametrize(
    "args",
    [["--workers", "0"], ["--workers", "65"], ["--keep", "0"], ["--workers", "many"]],
    ids=["no-workers", "too-many-workers", "keep-nothing", "not-a-number"],
)
def test_out_of_range_options_are_usage_errors(args):
    with pytest.raises(CommandError, match=r"argument --(workers|keep)"):
        call_command("publishstatic", *args)


def test_progress_bar_draws_one_line_and_ends_it():
    stream = io.StringIO()
    bar = _ProgressBar(stream)
    bar.update(0, 4, 0, 4000)
    bar.update(4, 4, 4000, 4000)
    bar.finish()
    lines = stream.getvalue().split("\r")
    assert lines[-1] == "publishstatic [" + "#" * 30 + "] 4/4 files, 0.0/0.0 MB\n"
    assert "\n" not in "".join(lines[:-1])


def test_summary_is_one_line_off_a_terminal(site):
    out = io.StringIO()
    call_command("publishstatic", stdout=out)
    assert len(out.getvalue().splitlines()) == 1
    assert SUMMARY.match(out.getvalue())
