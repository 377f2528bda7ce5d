from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "django_prodkit"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("django_prodkit-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def source_files() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


@pytest.mark.slow
def test_wheel_ships_every_file_of_the_package(wheel):
    # py.typed, gunicorn_conf.py, templates and every subpackage included: nothing in the
    # source tree may be left out of what users install.
    names = set(wheel.namelist())
    missing = [name for name in source_files() if name not in names]
    assert missing == []
    assert {"django_prodkit/py.typed", "django_prodkit/gunicorn_conf.py"} <= names


@pytest.mark.slow
def test_wheel_ships_nothing_outside_the_package(wheel):
    top_level = {name.split("/")[0] for name in wheel.namelist()}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"django_prodkit"}


@pytest.mark.slow
def test_wheel_metadata_declares_the_extras(wheel):
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    extras = set(metadata.get_all("Provides-Extra"))
    assert {
        "azure",
        "telemetry",
        "opentelemetry",
        "redis",
        "postgres",
        "mysql",
        "memcached",
        "server",
        "all",
    } <= extras
    requires = metadata.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.lower().startswith("django") for r in core)
    assert any(r.lower().startswith("whitenoise") for r in core)
