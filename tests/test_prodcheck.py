"""manage.py prodcheck: formats, exit codes, baseline, crash handling, secrets, start-up guard."""

from __future__ import annotations

import datetime
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import django
import jsonschema
import pytest
from django.core import checks
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import CommandError

import django_prodkit.probes  # noqa: F401 - records the live checks in the registry
from django_prodkit.checks.docs import render_markdown
from django_prodkit.checks.registry import REGISTRY, Outcome
from django_prodkit.checks.report import SCHEMA_PATH, Report, format_text
from tests.example import EXAMPLE_PROJECT, example_env, manage
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
SUMMARY = re.compile(r"^prodcheck: (\d+) passed, (\d+) warnings, (\d+) errors$", re.MULTILINE)


def prodcheck(*args: str) -> tuple[int, str]:
    """Run prodcheck in this process; return its exit code and stdout."""
    out = io.StringIO()
    try:
        call_command("prodcheck", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def local_cache_on_four_workers(settings, monkeypatch):
    """One finding to report: prodkit.W501 for CACHES['default']."""
    monkeypatch.delenv("WEBSITE_SITE_NAME", raising=False)
    settings.PRODKIT_INSTANCES = 1
    settings.PRODKIT_WORKERS = 4
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"


def test_text_groups_by_area_and_ends_with_the_summary(local_cache_on_four_workers):
    code, out = prodcheck("--tag", "caches")
    assert code == 0  # a warning, and the default fail level is ERROR
    assert "Caches and sessions\n" in out
    assert re.search(r"WARNING\s+prodkit\.W501 \[settings\.CACHES\['default'\]\]: ", out)
    assert "fix: Use a shared cache" in out
    assert "\x1b[" not in out  # no colours when stdout is not a terminal
    passed, warnings, errors = map(int, SUMMARY.findall(out)[-1])
    assert (warnings, errors) == (1, 0)
    assert passed > 5
    assert out.rstrip().splitlines()[-1].startswith("prodcheck: ")


def test_fail_level_sets_the_exit_code(local_cache_on_four_workers):
    assert prodcheck("--tag", "caches", "--fail-level", "WARNING")[0] == 1
    assert prodcheck("--tag", "caches", "--fail-level", "ERROR")[0] == 0


def test_skip_drops_a_check(local_cache_on_four_workers):
    code, out = prodcheck("--tag", "caches", "--fail-level", "WARNING", "--skip", "prodkit.W501")
    assert code == 0
    assert "prodkit.W501" not in out


def test_silenced_checks_stay_silent_in_prodcheck(settings, local_cache_on_four_workers):
    settings.SILENCED_SYSTEM_CHECKS = ["prodkit.W501"]
    code, out = prodcheck("--tag", "caches", "--fail-level", "WARNING")
    assert (code, "prodkit.W501" in out) == (0, False)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--tag", "no-such-tag"], id="unknown-tag"),
        pytest.param(["--format", "markdown"], id="markdown-without-list"),
        pytest.param(["--list", "--format", "junit"], id="list-as-junit"),
        pytest.param(["--url", "ftp://example.com/"], id="url-scheme"),
        pytest.param(["--url", "https://"], id="url-without-host"),
        pytest.param(["--timeout", "0"], id="timeout-zero"),
    ],
)
def test_usage_errors_exit_2(args):
    assert prodcheck(*args)[0] == 2


def test_usage_errors_exit_2_from_the_shell(tmp_path):
    """The real process: argparse's own errors and prodcheck's both give exit code 2."""
    env = example_env(tmp_path)
    for args in (["--fail-level", "LOUD"], ["--tag", "no-such-tag"]):
        result = subprocess.run(
            [sys.executable, "manage.py", "prodcheck", *args],
            cwd=EXAMPLE_PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (args, result.stderr)


def test_json_output_matches_its_schema(local_cache_on_four_workers):
    code, out = prodcheck("--format", "json", "--fail-level", "WARNING")
    assert code == 1
    document = json.loads(out)
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    assert document["version"] == 1
    assert document["summary"]["failed"] is True
    assert document["context"]["workers"] == 4
    [w501] = [f for f in document["findings"] if f["id"] == "prodkit.W501"]
    assert w501["level"] == "WARNING"
    assert w501["area"] == "Caches and sessions"
    assert w501["docs"].endswith("docs/checks.md#prodkit-w501")
    assert document["summary"]["checks"] >= len(REGISTRY) - len(
        [s for s in REGISTRY.values() if s.live]
    )


def test_junit_output_parses_and_counts(local_cache_on_four_workers):
    code, out = prodcheck("--format", "junit", "--fail-level", "WARNING", "--tag", "caches")
    assert code == 1
    root = ET.fromstring(out.split("\n", 1)[1])  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("tests")) == len(cases) > 5
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(root.get("failures")) == len(failures) == 1
    assert failures[0].get("name").startswith("prodkit.W501: ")
    assert "CACHES['default']" in failures[0].find("failure").text
    suites = {s.get("name") for s in root.findall("testsuite")}
    assert "Caches and sessions" in suites


def test_github_output_is_one_annotation_per_finding(local_cache_on_four_workers):
    code, out = prodcheck("--format", "github", "--tag", "caches")
    assert code == 0
    lines = out.splitlines()
    [annotation] = [line for line in lines if line.startswith("::")]
    assert annotation.startswith("::warning title=prodkit.W501 settings.CACHES['default']::")
    assert "%0AFix: Use a shared cache" in annotation
    assert lines[-1].startswith("prodcheck: ")


def test_a_crashing_check_is_reported_and_the_run_goes_on(local_cache_on_four_workers):
    @checks.register("prodkit-test-crash", deploy=True)
    def exploding(app_configs=None, **kwargs):
        raise RuntimeError("boom at postgres://admin:hunter2@db.example.com/app")

    try:
        code, out = prodcheck("--tag", "prodkit-test-crash", "--tag", "caches")
    finally:
        registry.deployment_checks.discard(exploding)
    assert code == 1
    assert "prodkit.E000" in out
    assert "exploding crashed: RuntimeError: boom at postgres://admin:***@db.example.com" in out
    assert "hunter2" not in out
    assert "prodkit.W501" in out  # the checks after it still ran


def _baseline(tmp_path, text):
    path = tmp_path / "prodcheck-baseline.toml"
    path.write_text(text)
    return str(path)


def test_baseline_accepts_a_finding_with_a_reason(tmp_path, local_cache_on_four_workers):
    path = _baseline(
        tmp_path,
        """
        [[accept]]
        id = "prodkit.W501"
        object = "settings.CACHES['default']"
        reason = "One worker per box until Redis is provisioned (OPS-12)."
        expires = 2999-01-01
        """,
    )
    code, out = prodcheck("--tag", "caches", "--fail-level", "WARNING", "--baseline", path)
    assert code == 0
    assert "ACCEPTED prodkit.W501" in out
    assert "accepted until 2999-01-01: One worker per box" in out
    assert SUMMARY.findall(out)[-1][1:] == ("0", "0")
    document = json.loads(prodcheck("--tag", "caches", "--format", "json", "--baseline", path)[1])
    assert document["summary"]["accepted"] == 1
    assert document["summary"]["warnings"] == 0


def test_baseline_for_another_object_accepts_nothing(tmp_path, local_cache_on_four_workers):
    path = _baseline(
        tmp_path,
        '[[accept]]\nid = "prodkit.W501"\nobject = "settings.CACHES[\'pages\']"\n'
        'reason = "pages only"\n',
    )
    assert prodcheck("--tag", "caches", "--fail-level", "WARNING", "--baseline", path)[0] == 1


def test_expired_baseline_entries_no_longer_accept(tmp_path, local_cache_on_four_workers):
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    path = _baseline(
        tmp_path,
        f'[[accept]]\nid = "prodkit.W501"\nreason = "temporary"\nexpires = {yesterday}\n',
    )
    code, out = prodcheck("--tag", "caches", "--fail-level", "WARNING", "--baseline", path)
    assert code == 1
    assert f"baseline: the acceptance of prodkit.W501 expired on {yesterday}" in out


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('[[accept]]\nid = "prodkit.W501"\n', id="no-reason"),
        pytest.param('[[accept]]\nreason = "x"\n', id="no-id"),
        pytest.param(
            '[[accept]]\nid = "prodkit.W501"\nreason = "x"\nexpire = 2030-01-01\n', id="unknown-key"
        ),
        pytest.param(
            '[[accept]]\nid = "prodkit.W501"\nreason = "x"\nexpires = "soon"\n',
            id="expires-not-a-date",
        ),
        pytest.param("accept = 3\n", id="not-tables"),
        pytest.param("[[accept]\n", id="not-toml"),
    ],
)
def test_bad_baseline_is_a_usage_error(tmp_path, text):
    assert prodcheck("--baseline", _baseline(tmp_path, text))[0] == 2


def test_missing_baseline_file_is_a_usage_error(tmp_path):
    assert prodcheck("--baseline", str(tmp_path / "nope.toml"))[0] == 2


def test_list_names_every_check():
    code, out = prodcheck("--list")
    assert code == 0
    for check_id in REGISTRY:
        assert check_id in out
    assert out.rstrip().endswith(f"{len(REGISTRY)} checks")
    listed = json.loads(prodcheck("--list", "--format", "json")[1])
    assert [c["id"] for c in listed] == list(REGISTRY)
    assert {c["level"] for c in listed} <= {"ERROR", "WARNING", "INFO"}


def test_docs_reference_page_is_generated_from_the_registry():
    page = (ROOT / "docs" / "checks.md").read_text()
    assert page == render_markdown(REGISTRY.values()), (
        "docs/checks.md is stale: regenerate it with "
        "`python example_project/manage.py prodcheck --list --format markdown > docs/checks.md`"
    )
    for spec in REGISTRY.values():
        assert f"{{#{spec.anchor}}}" in page


def test_every_check_has_a_test():
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    missing = [check_id for check_id in REGISTRY if check_id not in tests]
    assert not missing, f"checks without a test naming them: {missing}"


def test_every_check_says_why_and_how_to_fix():
    for spec in REGISTRY.values():
        assert spec.title, spec.id
        assert spec.title == spec.title.strip(), spec.id
        assert len(spec.why) > 40, spec.id
        assert len(spec.hint) > 15, spec.id
        assert "\n" not in spec.msg, spec.id


def _run_example(env, *args):
    return subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_output_format_shows_a_secret(tmp_path):
    """Settings full of secrets, every format, live and site probes included."""
    closed = free_port()
    secrets_planted = {
        "secret key": "changeme-Sk-0f3c9a-planted",
        "database password": "Pg-0f3c9a-planted",
        "redis password": "Rd-0f3c9a-planted",
        "smtp password": "Em-0f3c9a-planted",
        "instrumentation key": "4b1d9e0f-planted-0f3c9a",
        "health token": "Ht-0f3c9a-planted",
    }
    s = secrets_planted
    env = example_env(
        tmp_path,
        DJANGO_SECRET_KEY=s["secret key"],
        DJANGO_SECRET_KEY_FALLBACKS=s["secret key"],
        DATABASE_URL=f"postgres://app:{s['database password']}@127.0.0.1:{closed}/app",
        CACHE_URL=f"redis://:{s['redis password']}@127.0.0.1:{closed}/0",
        EMAIL_URL=f"smtp://mailer:{s['smtp password']}@127.0.0.1:{closed}",
        APPLICATIONINSIGHTS_CONNECTION_STRING=(
            f"InstrumentationKey={s['instrumentation key']};IngestionEndpoint=http://127.0.0.1:{closed}/"
        ),
        PRODKIT_HEALTH_TOKEN=s["health token"],
        WEB_CONCURRENCY="4",
    )
    outputs = []
    for fmt in ("text", "json", "github", "junit"):
        result = _run_example(
            env,
            "manage.py",
            "prodcheck",
            "--live",
            "--url",
            f"http://127.0.0.1:{closed}/",
            "--timeout",
            "1",
            "--format",
            fmt,
        )
        assert result.returncode == 1, result.stderr  # the dead services are errors
        outputs.append(result.stdout + result.stderr)
    outputs.append(_run_example(env, "manage.py", "prodcheck", "--list").stdout)
    everything = "\n".join(outputs)
    assert "prodkit.E" in everything  # findings were reported...
    for what, value in secrets_planted.items():
        assert value not in everything, f"the {what} leaked"  # ...and nothing secret in them


def test_startup_guard_refuses_to_start_on_errors(tmp_path):
    env = example_env(tmp_path, DJANGO_DEBUG="true", PRODKIT_STARTUP_CHECKS="true")
    for entrypoint in ("django_prodkit.wsgi", "django_prodkit.asgi"):
        result = _run_example(env, "-c", f"import {entrypoint}")
        assert result.returncode != 0
        assert "PRODKIT_STARTUP_CHECKS is on" in result.stderr
        assert "prodkit.E001" in result.stderr
    env["PRODKIT_STARTUP_CHECKS"] = "false"
    result = _run_example(env, "-c", "import django_prodkit.wsgi")
    assert result.returncode == 0, result.stderr


def test_startup_guard_starts_a_clean_project(tmp_path):
    # Django 6.1's own deploy checks count console mail as an error.
    env = example_env(
        tmp_path, PRODKIT_STARTUP_CHECKS="true", EMAIL_URL="submission://mailer:pw@smtp.example.com"
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    result = _run_example(env, "-c", "import django_prodkit.asgi")
    assert result.returncode == 0, result.stderr


def test_example_configured_for_production_passes(tmp_path, redis_url):
    """The example with production variables: no error, and only findings with a reason."""
    env = example_env(
        tmp_path,
        PRODKIT_HTTPS="true",
        DJANGO_ALLOWED_HOSTS="www.example.com",
        WEB_CONCURRENCY="4",
        CACHE_URL=redis_url,
        GALLERY_SERVE_MEDIA="false",
        EMAIL_URL=(
            "submission://mailer:pw@smtp.example.com"
            "?from=gallery@example.com&server_email=errors@example.com"
        ),
        APPLICATIONINSIGHTS_CONNECTION_STRING=(
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
        ),
        OTEL_PYTHON_EXCLUDED_URLS="/healthz,/readyz",
    )
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    document = json.loads(manage(env, "prodcheck", "--format", "json"))
    assert document["summary"]["errors"] == 0
    # What remains is a choice prodkit leaves to the project: joining the HSTS preload list,
    # moving the admin, and the CSP (none before Django 6.0, report-only first from 6.0).
    csp = "prodkit.W110" if django.VERSION < (6, 0) else "prodkit.I111"
    assert sorted(f["id"] for f in document["findings"]) == sorted(
        ["security.W021", "prodkit.I805", csp]
    )


def test_text_says_which_probes_passed_and_which_were_skipped():
    report = Report.build(
        [
            Outcome("url:forwarded-for", (), [], 0.1, kind="url"),  # no token: nothing judged
            Outcome("url:hsts", ("prodkit.W175",), [], 0.1, kind="url"),
        ]
    )
    text = format_text(report)
    assert "probe url:forwarded-for: skipped (0.10 s)" in text
    assert "probe url:hsts: ok (0.10 s)" in text
