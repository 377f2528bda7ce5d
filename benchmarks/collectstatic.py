"""Benchmark: publishing static files to Azure Blob Storage (Azurite), prodkit vs stock vs raw.

Run from the repository root after ``make test`` built .venv (and ``npm ci`` installed
Azurite, as scripts/system-deps.sh does):

    .venv/bin/python benchmarks/collectstatic.py --quick

The tree: ~2,000 generated files of mixed sizes (stylesheets that reference images and
fonts, scripts with source maps, images, fonts, JSON, text) in a temporary STATICFILES_DIRS,
plus the admin's and the example app's static files, collected by the example project.

Compared, each on a fresh Azurite of its own (started here on a free port, telemetry off):

- ``stock``: django-storages' ``AzureStorage`` as ``STORAGES['staticfiles']`` and plain
  ``manage.py collectstatic`` (the way the Azure docs show): first run, a re-run with nothing
  changed, a run after 10 files changed;
- ``manifest``: the same with Django's ``ManifestFilesMixin`` on ``AzureStorage`` (cache
  busting), first run and no-change re-run; its ``read_manifest`` is given the usual
  one-line shim (a missing blob means no manifest), without which the first run crashes.
  With ``--quick`` only the re-run is timed (it takes minutes), on a container that
  ``publishstatic --unhashed`` filled with the same blobs a first run leaves;
- ``prodkit``: ``manage.py publishstatic`` (local collect with hashed names, then the
  publish) with prodkit's Azure settings: first run (empty STATIC_ROOT and container),
  no-change re-run, 10 changed files; and, for reference, a no-change publish from a fresh
  STATIC_ROOT (a CI job that collects from scratch every time);
- ``raw``: a script using azure-storage-blob alone: the collected tree uploaded with 16
  threads, and a list-and-compare (one listing, every local file's MD5 against the blob's)
  with nothing to upload. The practical limit on this machine.

Every figure is the wall time of a fresh process (interpreter, Django or the SDK, the work),
so all sides pay their start-up. Rounds interleave the variants; figures are medians.
Traffic only ever goes to 127.0.0.1. The last line printed is one JSON object with the
figures and ``ratios`` (other's time / prodkit's time: > 1 means prodkit is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.example import EXAMPLE_PROJECT, example_env  # noqa: E402
from tests.servers import own_azurite  # noqa: E402

STATIC = "static"
MEDIA = "media"
GOALS = {
    "first_vs_stock": 4.0,
    "first_vs_raw": 0.77,
    "nochange_vs_stock": 10.0,
    "nochange_vs_manifest": 50.0,
    "nochange_vs_raw": 0.67,
    "changed10_vs_stock": 7.0,
}

SETTINGS = """\
import os

from example_project.settings import *  # noqa: F403

STATICFILES_DIRS = [os.environ["BENCH_TREE"]]
_AZURE = {
    "connection_string": os.environ["AZURE_STORAGE_CONNECTION_STRING"],
    "azure_container": os.environ["PRODKIT_STATIC_CONTAINER"],
}
_MODE = os.environ.get("BENCH_MODE", "prodkit")
if _MODE == "stock":
    STORAGES = {  # noqa: F405
        **STORAGES,  # noqa: F405
        "staticfiles": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": _AZURE,
        },
    }
elif _MODE == "manifest":
    STORAGES = {  # noqa: F405
        **STORAGES,  # noqa: F405
        "staticfiles": {"BACKEND": "bench_storage.StockManifestStorage", "OPTIONS": _AZURE},
    }
elif _MODE == "plain":
    STORAGES = {  # noqa: F405
        **STORAGES,  # noqa: F405
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
"""

STORAGE = """\
from azure.core.exceptions import ResourceNotFoundError
from django.contrib.staticfiles.storage import ManifestFilesMixin
from storages.backends.azure_storage import AzureStorage


class StockManifestStorage(ManifestFilesMixin, AzureStorage):
    def read_manifest(self):
        # django-storages raises the SDK's error, not FileNotFoundError, for a missing blob.
        try:
            return super().read_manifest()
        except ResourceNotFoundError:
            return None
"""

RAW = r"""
import hashlib, os, sys, time
from concurrent.futures import ThreadPoolExecutor

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import ContainerClient

mode, connection_string, container, root = sys.argv[1:5]
session = requests.Session()
adapter = requests.adapters.HTTPAdapter(pool_maxsize=16)
session.mount("http://", adapter)
client = ContainerClient.from_connection_string(
    connection_string, container, transport=RequestsTransport(session=session)
)
files = []
for directory, _, names in os.walk(root):
    for name in names:
        path = os.path.join(directory, name)
        files.append((os.path.relpath(path, root).replace(os.sep, "/"), path))


def md5(path):
    with open(path, "rb") as handle:
        return hashlib.md5(handle.read()).digest()


if mode == "upload":
    def upload(item):
        name, path = item
        with open(path, "rb") as handle:
            client.upload_blob(name, handle, overwrite=True)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, files))
    print(len(files))
else:
    remote = {
        blob.name: bytes(blob.content_settings.content_md5 or b"") for blob in client.list_blobs()
    }
    print(sum(1 for name, path in files if remote.get(name) != md5(path)))
"""

SUMMARY = re.compile(r"publishstatic: (\d+) uploaded, (\d+) skipped, (\d+) pruned, (\d+) bytes")


# --- The tree.


def make_tree(root: Path, count: int, seed: int = 5) -> list[str]:
    """Write ``count`` files of mixed kinds and sizes under ``root``; return the names of the
    plain files (nothing references them) a "10 files changed" run edits."""
    rng = random.Random(seed)
    kinds = [
        ("js", 0.28),
        ("css", 0.12),
        ("png", 0.18),
        ("svg", 0.14),
        ("woff2", 0.05),
        ("json", 0.08),
        ("txt", 0.05),
        ("jpg", 0.05),
        ("map", 0.05),
    ]
    names: list[tuple[str, str]] = []
    for number in range(count):
        pick, total = rng.random(), 0.0
        extension = kinds[-1][0]
        for extension, share in kinds:  # noqa: B007 - the loop picks one
            total += share
            if pick <= total:
                break
        names.append((f"lib{number % 7}/{extension}/g{number % 13}/f{number:04d}", extension))
    assets = [f"{n}.{e}" for n, e in names if e in ("png", "svg", "woff2", "jpg")]
    plain: list[str] = []
    for base, extension in names:
        size = max(200, min(int(rng.lognormvariate(9.2, 1.1)), 2_000_000))  # median ~10 KB
        if extension == "map":
            # A source map and the script it belongs to.
            write(root / f"{base}.js.map", b'{"version": 3, "mappings": "' + b"A" * size + b'"}')
            write(root / f"{base}.js", b"var a = 1;\n" * (size // 11) + _map_comment(base))
            continue
        name = f"{base}.{extension}"
        if extension in ("png", "jpg", "woff2"):
            content = rng.randbytes(size)
        elif extension == "css":
            directory = posixpath.dirname(name)
            rules = [
                f".c{k} {{ background: url('{posixpath.relpath(target, directory)}'); }}\n"
                for k, target in enumerate(rng.sample(assets, 3))
            ]
            content = (
                "".join(rules) + ".x { color: #123456; margin: 0 auto; }\n" * (size // 40)
            ).encode()
        elif extension == "js":
            content = b"function f(a, b) { return a + b * 2; } // padding\n" * (size // 50)
            plain.append(name)
        elif extension == "svg":
            content = (
                b'<svg xmlns="http://www.w3.org/2000/svg">'
                + b"<rect width='1' height='1'/>" * (size // 28)
                + b"</svg>"
            )
        else:
            content = (f'{{"k": {rng.randint(0, 10**9)}}}\n' * (size // 16)).encode()
            plain.append(name)
        write(root / name, content)
    return plain


def _map_comment(base: str) -> bytes:
    return f"//# sourceMappingURL={posixpath.basename(base)}.js.map\n".encode()


def write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def change(tree: Path, names: list[str], round_: int) -> None:
    """Edit ``names``: new content, a new modification time (as an editor would)."""
    for name in names:
        path = tree / name
        path.write_bytes(path.read_bytes() + f"\n/* edit {round_} */\n".encode())
        stamp = time.time()
        os.utime(path, (stamp, stamp))


# --- Azurite and the processes.


@contextmanager
def azurite() -> Iterator[str]:
    """A fresh Azurite blob service on a free port (tests/servers.py), with the static and
    media containers; yield its connection string."""
    from azure.storage.blob import BlobServiceClient

    with own_azurite() as connection_string:
        with BlobServiceClient.from_connection_string(connection_string) as service:
            service.create_container(STATIC, public_access="blob")
            service.create_container(MEDIA)
        yield connection_string


def timed(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path = EXAMPLE_PROJECT
) -> tuple[float, str]:
    """Run ``argv``; return its wall time and stdout (stop the benchmark if it fails)."""
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def manage(env: dict[str, str], *args: str) -> tuple[float, str]:
    return timed([sys.executable, "manage.py", *args], env)


def uploaded(output: str) -> int:
    match = SUMMARY.search(output)
    if not match:
        raise SystemExit(f"no publishstatic summary in:\n{output}")
    return int(match[1])


class Bench:
    """One temporary directory: the tree, the settings modules, the collected copies."""

    def __init__(self, tmp: Path, files: int) -> None:
        self.tmp = tmp
        self.tree = tmp / "tree"
        self.plain = make_tree(self.tree, files)
        (tmp / "bench_settings.py").write_text(SETTINGS)
        (tmp / "bench_storage.py").write_text(STORAGE)
        self.round = 0
        self.quick = False
        self.raw_files = 0
        self.published = 0

    def env(self, connection_string: str, mode: str, static_root: Path) -> dict[str, str]:
        return example_env(
            self.tmp,
            DJANGO_SETTINGS_MODULE="bench_settings",
            PYTHONPATH=f"{self.tmp}{os.pathsep}{EXAMPLE_PROJECT}{os.pathsep}{ROOT}",
            BENCH_TREE=str(self.tree),
            BENCH_MODE=mode,
            AZURE_STORAGE_CONNECTION_STRING=connection_string,
            PRODKIT_STATIC_CONTAINER=STATIC,
            PRODKIT_MEDIA_CONTAINER=MEDIA,
            DJANGO_STATIC_ROOT=str(static_root),
        )

    def changed10(self) -> list[str]:
        self.round += 1
        return random.Random(self.round).sample(self.plain, 10)

    def fresh_root(self, name: str) -> Path:
        root = self.tmp / name
        shutil.rmtree(root, ignore_errors=True)
        return root

    # -- the variants

    def stock(self) -> dict[str, float]:
        with azurite() as connection_string:
            env = self.env(connection_string, "stock", self.fresh_root("stock_root"))
            first = manage(env, "collectstatic", "--noinput", "--verbosity", "0")[0]
            nochange = manage(env, "collectstatic", "--noinput", "--verbosity", "0")[0]
            change(self.tree, self.changed10(), self.round)
            changed = manage(env, "collectstatic", "--noinput", "--verbosity", "0")[0]
        return {"stock_first": first, "stock_nochange": nochange, "stock_changed10": changed}

    def manifest(self) -> dict[str, float]:
        with azurite() as connection_string:
            env = self.env(connection_string, "manifest", self.fresh_root("manifest_root"))
            if self.quick:
                # The container as the stock first run leaves it (originals, hashed copies,
                # manifest), written by publishstatic --unhashed in a fraction of the time.
                prodkit = self.env(connection_string, "prodkit", self.fresh_root("setup_root"))
                manage(prodkit, "publishstatic", "--unhashed")
                figures = {}
            else:
                first = manage(env, "collectstatic", "--noinput", "--verbosity", "0")[0]
                figures = {"manifest_first": first}
            nochange = manage(env, "collectstatic", "--noinput", "--verbosity", "0")[0]
        return {**figures, "manifest_nochange": nochange}

    def prodkit(self) -> dict[str, float]:
        with azurite() as connection_string:
            root = self.fresh_root("prodkit_root")
            env = self.env(connection_string, "prodkit", root)
            first, output = manage(env, "publishstatic")
            count = uploaded(output)
            nochange, output = manage(env, "publishstatic")
            if uploaded(output) != 0:
                raise SystemExit(f"a no-change publish uploaded files:\n{output}")
            change(self.tree, self.changed10(), self.round)
            changed, output = manage(env, "publishstatic")
            if uploaded(output) != 11:
                raise SystemExit(f"10 changed files should upload 10 + the manifest:\n{output}")
            # A CI job: STATIC_ROOT from scratch, the container already up to date.
            ci_env = self.env(connection_string, "prodkit", self.fresh_root("prodkit_ci_root"))
            ci, output = manage(ci_env, "publishstatic")
            if uploaded(output) != 0:
                raise SystemExit(f"a fresh STATIC_ROOT re-uploaded files:\n{output}")
        self.published = count
        return {
            "prodkit_first": first,
            "prodkit_nochange": nochange,
            "prodkit_changed10": changed,
            "prodkit_ci_nochange": ci,
        }

    def raw(self) -> dict[str, float]:
        # The tree as collectstatic collects it (not timed), uploaded by the SDK alone.
        collected = self.tmp / "raw_root"
        if not collected.exists():
            env = self.env("UseDevelopmentStorage=true", "plain", collected)
            manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            self.raw_files = sum(1 for p in collected.rglob("*") if p.is_file())
        with azurite() as connection_string:
            argv = [sys.executable, "-c", RAW]
            upload, output = timed([*argv, "upload", connection_string, STATIC, str(collected)])
            compare, output = timed([*argv, "compare", connection_string, STATIC, str(collected)])
            if output.strip() != "0":
                raise SystemExit(f"the raw compare found {output.strip()} files to upload")
        return {"raw_upload": upload, "raw_compare": compare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (under 5 minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; --quick 1)")
    parser.add_argument("--files", type=int, default=2000, help="generated files (2000)")
    parser.add_argument(
        "--only",
        default="raw,prodkit,stock,manifest",
        help="comma-separated variants to run (all by default; ratios need all four)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    started = time.monotonic()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="prodkit-bench-") as name:
        bench = Bench(Path(name), args.files)
        bench.quick = args.quick
        variants = [getattr(bench, name) for name in args.only.split(",")]
        for number in range(1, rounds + 1):
            # Interleaved, and the order rotates: no variant always runs on a warm cache.
            order = variants[number - 1 :] + variants[: number - 1]
            for variant in order:
                print(f"round {number}/{rounds}: {variant.__name__}", file=sys.stderr)
                for key, value in variant().items():
                    times.setdefault(key, []).append(value)
        tree_files = sum(1 for p in bench.tree.rglob("*") if p.is_file())
        tree_bytes = sum(p.stat().st_size for p in bench.tree.rglob("*") if p.is_file())
    wall = {key: round(statistics.median(values), 3) for key, values in times.items()}
    pairs = {
        "first_vs_stock": ("stock_first", "prodkit_first"),
        "first_vs_raw": ("raw_upload", "prodkit_first"),
        "nochange_vs_stock": ("stock_nochange", "prodkit_nochange"),
        "nochange_vs_manifest": ("manifest_nochange", "prodkit_nochange"),
        "nochange_vs_raw": ("raw_compare", "prodkit_nochange"),
        "changed10_vs_stock": ("stock_changed10", "prodkit_changed10"),
    }
    ratios = {
        key: round(wall[other] / wall[ours], 2)
        for key, (other, ours) in pairs.items()
        if other in wall and ours in wall
    }
    for key, value in wall.items():
        print(f"{key:>20}: {value:8.2f} s")
    for key, value in ratios.items():
        verdict = "ok" if value >= GOALS[key] else "below goal"
        print(f"{key:>20}: {value:8.2f}  (goal >= {GOALS[key]}, {verdict})")
    print(
        json.dumps(
            {
                "benchmark": "collectstatic",
                "quick": args.quick,
                "rounds": rounds,
                "generated_files": args.files,
                "tree_files": tree_files,
                "tree_bytes": tree_bytes,
                "collected_files": bench.raw_files,
                "published_files": bench.published,
                "seconds": round(time.monotonic() - started, 1),
                "wall_s": wall,
                "runs_s": {key: [round(v, 3) for v in values] for key, values in times.items()},
                "goals": GOALS,
                "ratios": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
