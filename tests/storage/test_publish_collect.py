"""publishstatic's local collect: Django's manifest storage, re-hashing only what changed.

Every incremental result is compared with what Django's own ManifestStaticFilesStorage writes
from scratch for the same sources: the same manifest, the same bytes in every hashed file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from django.contrib.staticfiles.management.commands.collectstatic import Command as Collect
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command

from django_prodkit.storage.publish import (
    COLLECT_STATE,
    IncrementalManifestStorage,
    _CollectStatic,
    collect_locally,
)

SOURCES = {
    "img/a.png": b"\x89PNG a",
    "img/b.png": b"\x89PNG b",
    "fonts/f.woff2": b"wOF2 font",
    "css/base.css": b'.a { background: url("../img/a.png"); }\n'
    b'@font-face { src: url("../fonts/f.woff2?#iefix"); }\n',
    "css/theme.css": b'@import "base.css";\n.b { background: url(../img/b.png); }\n',
    "css/nested/deep.css": b".d { background: url('../../img/a.png'); }\n",
    "css/absolute.css": b".e { background: url(/static/img/b.png); }\n",
    "js/app.js": b"console.log(1);\n//# sourceMappingURL=app.js.map\n",
    "js/app.js.map": b'{"version": 3}',
    "js/other.js": b"console.log(2);\n",
    "site.webmanifest": b'{"name": "x"}',
}


def write(root: Path, name: str, content: bytes, *, changed: bool = True) -> None:
    """Write a source file: the originals long ago, a change a second from now (collectstatic
    copies a file only when its source is newer in whole seconds than the last copy)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stamp = time.time() + 1 if changed else time.time() - 1000
    os.utime(path, (stamp, stamp))


@pytest.fixture
def sources(settings, tmp_path) -> Path:
    root = tmp_path / "sources"
    for name, content in SOURCES.items():
        write(root, name, content, changed=False)
    settings.STATICFILES_DIRS = [str(root)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_URL = "/static/"
    settings.DEBUG = False
    return root


def django_collect(static_root: Path) -> dict[str, str]:
    """Django's own manifest collect from scratch; return its manifest's paths."""
    command = Collect()
    command.storage = ManifestStaticFilesStorage(location=static_root)
    call_command(command, interactive=False, verbosity=0)
    return json.loads((static_root / "staticfiles.json").read_text())["paths"]


def assert_same_as_django(static_root: Path, reference: Path) -> None:
    paths = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    expected = django_collect(reference)
    assert paths == expected
    for hashed in expected.values():
        assert (static_root / hashed).read_bytes() == (reference / hashed).read_bytes(), hashed


@pytest.mark.parametrize("originals", [True, False], ids=["with-originals", "hashed-only"])
def test_first_collect_is_djangos_full_run(sources, tmp_path, originals):
    summary = collect_locally(tmp_path / "static", originals=originals)
    assert summary.mode == "full"
    assert summary.found == len(SOURCES)
    assert summary.copied == (len(SOURCES) if originals else 0)
    assert (tmp_path / "static" / COLLECT_STATE).is_file()
    assert (tmp_path / "static" / "css" / "base.css").exists() == originals
    assert_same_as_django(tmp_path / "static", tmp_path / "reference")


def test_nothing_changed_reads_no_file_and_keeps_the_manifest(sources, tmp_path):
    static = tmp_path / "static"
    collect_locally(static)
    manifest = static / "staticfiles.json"
    before = manifest.stat().st_mtime_ns
    summary = collect_locally(static)
    assert (summary.mode, summary.copied, summary.post_processed) == ("unchanged", 0, 0)
    assert manifest.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            {"img/a.png": b"\x89PNG a2"},
            ["css/base.css", "css/nested/deep.css", "css/theme.css", "img/a.png"],
            id="image-referenced-by-css-and-through-an-import",
        ),
        pytest.param(
            {"img/b.png": b"\x89PNG b2"},
            ["css/absolute.css", "css/theme.css", "img/b.png"],
            id="image-referenced-by-static-url",
        ),
        pytest.param(
            {"css/base.css": b'.a { background: url("../img/a.png"); color: red; }\n'},
            ["css/base.css", "css/theme.css"],
            id="imported-stylesheet",
        ),
        pytest.param(
            {"fonts/f.woff2": b"wOF2 font 2"},
            ["css/base.css", "css/theme.css", "fonts/f.woff2"],
            id="font-with-query-and-fragment",
        ),
        pytest.param({"js/app.js.map": b'{"version": 3, "x": 1}'}, ["js/app.js", "js/app.js.map"]),
        pytest.param({"js/other.js": b"console.log(3);\n"}, ["js/other.js"], id="plain-script"),
        pytest.param({"new/added.txt": b"new"}, ["new/added.txt"], id="added-file"),
    ],
)
@pytest.mark.parametrize("originals", [True, False], ids=["with-originals", "hashed-only"])
def test_changed_files_and_their_dependents_are_rehashed(
    sources, tmp_path, change, expected, originals
):
    static = tmp_path / "static"
    collect_locally(static, originals=originals)
    for name, content in change.items():
        write(sources, name, content)
    storage = IncrementalManifestStorage(location=static)
    command = _CollectStatic()
    command.originals = originals
    command.storage = storage
    call_command(command, interactive=False, verbosity=0)
    assert storage.mode == "partial"
    assert storage.reprocessed == expected
    assert_same_as_django(static, tmp_path / "reference")
    # And the run after it has nothing left to do.
    assert collect_locally(static, originals=originals).mode == "unchanged"


def test_removed_source_leaves_the_manifest(sources, tmp_path):
    static = tmp_path / "static"
    collect_locally(static)
    (sources / "js" / "other.js").unlink()
    summary = collect_locally(static)
    assert summary.mode == "partial"
    paths = json.loads((static / "staticfiles.json").read_text())["paths"]
    assert "js/other.js" not in paths
    assert_same_as_django(static, tmp_path / "reference")


def test_successive_changes_stay_equal_to_a_full_run(sources, tmp_path):
    static = tmp_path / "static"
    collect_locally(static, originals=False)
    for round_, name in enumerate(["img/a.png", "css/base.css", "js/app.js.map", "img/b.png"]):
        write(sources, name, SOURCES[name] + f"/* {round_} */".encode())
        assert collect_locally(static, originals=False).mode == "partial"
    assert_same_as_django(static, tmp_path / "reference")
    assert not (static / "css" / "base.css").exists()


def test_hashed_copies_of_unchanged_bytes_share_the_original_copy(sources, tmp_path):
    static = tmp_path / "static"
    collect_locally(static)
    paths = json.loads((static / "staticfiles.json").read_text())["paths"]
    # A file post-processing leaves as it is: one file on disk under two names.
    assert (static / paths["img/a.png"]).stat().st_ino == (static / "img/a.png").stat().st_ino
    # A rewritten stylesheet is a file of its own.
    assert (static / paths["css/base.css"]).read_bytes() != SOURCES["css/base.css"]


@pytest.mark.parametrize(
    "disturb",
    [
        pytest.param(lambda s, static: setattr(s, "STATIC_URL", "/assets/"), id="static-url"),
        pytest.param(
            lambda s, static: (static / "staticfiles.json").write_text(
                json.dumps({"version": "1.1", "paths": {}, "hash": ""})
            ),
            id="manifest-edited",
        ),
        pytest.param(lambda s, static: (static / COLLECT_STATE).unlink(), id="state-removed"),
        pytest.param(
            lambda s, static: (static / COLLECT_STATE).write_text("{not json"), id="state-corrupt"
        ),
        pytest.param(
            lambda s, static: next(static.glob("img/a.*.png")).unlink(), id="hashed-file-removed"
        ),
    ],
)
def test_any_doubt_means_a_full_or_repairing_run(sources, settings, tmp_path, disturb):
    static = tmp_path / "static"
    collect_locally(static)
    disturb(settings, static)
    summary = collect_locally(static)
    assert summary.mode in ("full", "partial")
    assert summary.post_processed >= 1
    reference = tmp_path / "reference"
    assert_same_as_django(static, reference)


def test_plain_collect_without_hashes(sources, tmp_path):
    summary = collect_locally(tmp_path / "static", hashed=False)
    assert summary.mode == "plain"
    assert (tmp_path / "static" / "css" / "base.css").read_bytes() == SOURCES["css/base.css"]
    assert not (tmp_path / "static" / "staticfiles.json").exists()


def test_collect_ignore_patterns_are_passed_on(sources, tmp_path):
    collect_locally(tmp_path / "static", ignore_patterns=["*.webmanifest"])
    paths = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    assert "site.webmanifest" not in paths
    assert "js/app.js.map" in paths
