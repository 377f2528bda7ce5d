"""prodcheck's report: findings from checks and probes, a baseline of accepted ones, formats.

The formats are ``text`` (grouped by area, for people), ``json`` (versioned, described by
``prodcheck.schema.json`` beside this module), ``github`` (workflow annotations) and ``junit``
(test reports in Azure Pipelines, GitHub, GitLab). No format prints a setting's value: messages
are built from setting names, hosts and backend paths only, and every free text that could
hold one (a crashed check's exception) is redacted where it is made.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import django
from django.core import checks
from django.core.checks import CheckMessage

from django_prodkit import __version__
from django_prodkit.checks.registry import AREAS, LEVEL_NAMES, REGISTRY, Outcome

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("prodcheck.schema.json")
FAIL_LEVELS = {"ERROR": checks.ERROR, "WARNING": checks.WARNING, "INFO": checks.INFO}


class BaselineError(ValueError):
    """The baseline file cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class Accepted:
    """One accepted finding: its ID, optionally the object, why, and until when."""

    id: str
    reason: str
    object: str | None = None
    expires: datetime.date | None = None

    def matches(self, finding: Finding) -> bool:
        """True when this entry accepts ``finding``."""
        return self.id == finding.id and self.object in (None, finding.object)


@dataclass(frozen=True)
class Baseline:
    """Findings a project has accepted, read from a TOML file of ``[[accept]]`` tables."""

    entries: tuple[Accepted, ...] = ()
    expired: tuple[Accepted, ...] = ()

    @classmethod
    def load(cls, path: str | Path, today: datetime.date | None = None) -> Baseline:
        """Read ``path``; entries past their ``expires`` date no longer accept anything."""
        today = today or datetime.date.today()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BaselineError(f"Cannot read the baseline {path}: {exc}") from None
        tables = data.get("accept", [])
        if not isinstance(tables, list):
            raise BaselineError(f"{path}: 'accept' must be an array of tables ([[accept]]).")
        active: list[Accepted] = []
        expired: list[Accepted] = []
        for number, table in enumerate(tables, start=1):
            entry = _accepted(table, f"{path}: [[accept]] entry {number}")
            (expired if entry.expires and entry.expires < today else active).append(entry)
        return cls(tuple(active), tuple(expired))

    def accepting(self, finding: Finding) -> Accepted | None:
        """The entry that accepts ``finding``, if any."""
        return next((entry for entry in self.entries if entry.matches(finding)), None)


def _accepted(table: Any, where: str) -> Accepted:
    if not isinstance(table, dict):
        raise BaselineError(f"{where} is not a table.")
    unknown = set(table) - {"id", "object", "reason", "expires"}
    if unknown:
        raise BaselineError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    check_id, reason = table.get("id"), table.get("reason")
    if not isinstance(check_id, str) or not check_id:
        raise BaselineError(f'{where} needs an id (e.g. id = "prodkit.W501").')
    if not isinstance(reason, str) or not reason.strip():
        raise BaselineError(f"{where} ({check_id}) needs a reason: say why it is accepted.")
    obj, expires = table.get("object"), table.get("expires")
    if obj is not None and not isinstance(obj, str):
        raise BaselineError(f"{where} ({check_id}): object must be a string.")
    if expires is not None and not isinstance(expires, datetime.date):
        raise BaselineError(f"{where} ({check_id}): expires must be a date (2027-01-31).")
    return Accepted(id=check_id, reason=reason.strip(), object=obj, expires=expires)


@dataclass(frozen=True)
class Finding:
    """One message of a check or probe, ready for any format."""

    id: str
    level: int
    area: str
    message: str
    hint: str | None
    object: str | None
    docs: str | None
    kind: str
    accepted: Accepted | None = None

    @property
    def level_name(self) -> str:
        """ERROR, WARNING, INFO (CRITICAL counts as ERROR, DEBUG as INFO)."""
        if self.level >= checks.ERROR:
            return "ERROR"
        return "WARNING" if self.level >= checks.WARNING else "INFO"


def _finding(message: CheckMessage, kind: str, baseline: Baseline) -> Finding:
    spec = REGISTRY.get(message.id or "")
    obj = None if message.obj is None else _object_name(message.obj)
    finding = Finding(
        id=message.id or "?",
        level=message.level,
        area=spec.area.title if spec else _foreign_area(message.id),
        message=message.msg,
        hint=message.hint,
        object=obj,
        docs=spec.url if spec else None,
        kind=kind,
    )
    accepted = baseline.accepting(finding)
    return finding if accepted is None else _with(finding, accepted)


def _with(finding: Finding, accepted: Accepted) -> Finding:
    return Finding(**{**finding.__dict__, "accepted": accepted})


def _object_name(obj: Any) -> str:
    # Django's own rendering: "app_label.Model" for models, str() for the rest.
    meta = getattr(obj, "_meta", None)
    return str(meta.label) if meta is not None and hasattr(meta, "label") else str(obj)


def _foreign_area(check_id: str | None) -> str:
    prefix = (check_id or "other").split(".", 1)[0]
    return f"Django and other apps: {prefix}"


@dataclass
class Report:
    """Everything one prodcheck run found, and the numbers its summary line gives."""

    results: list[tuple[Outcome, list[Finding]]]
    fail_level: int = checks.ERROR
    seconds: float = 0.0
    expired: tuple[Accepted, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        outcomes: list[Outcome],
        *,
        baseline: Baseline | None = None,
        fail_level: int = checks.ERROR,
        seconds: float = 0.0,
        context: dict[str, Any] | None = None,
    ) -> Report:
        """Turn ``outcomes`` into findings, applying ``baseline``."""
        baseline = baseline or Baseline()
        results = [
            (outcome, [_finding(message, outcome.kind, baseline) for message in outcome.messages])
            for outcome in outcomes
        ]
        return cls(
            results=results,
            fail_level=fail_level,
            seconds=seconds,
            expired=baseline.expired,
            context=context or {},
        )

    @property
    def outcomes(self) -> list[Outcome]:
        """What each check function and probe found, in the order they ran."""
        return [outcome for outcome, _ in self.results]

    @property
    def findings(self) -> list[Finding]:
        """Every finding, in the order the checks and probes ran."""
        return [finding for _, findings in self.results for finding in findings]

    @property
    def checks_run(self) -> int:
        """Checks evaluated: each prodkit ID once, each other app's check function once."""
        return sum(len(outcome.ids) or 1 for outcome in self.outcomes)

    @property
    def passed(self) -> int:
        """Checks that reported nothing (accepted findings count as reported)."""
        failed = 0
        for outcome in self.outcomes:
            found = {m.id for m in outcome.messages}
            failed += len(found & set(outcome.ids)) if outcome.ids else int(bool(found))
        return self.checks_run - failed

    def count(self, level_name: str) -> int:
        """Findings of ``level_name`` that no baseline entry accepts."""
        return sum(1 for f in self.open_findings if f.level_name == level_name)

    @property
    def open_findings(self) -> list[Finding]:
        """Findings not accepted by the baseline."""
        return [f for f in self.findings if f.accepted is None]

    @property
    def failed(self) -> bool:
        """True when an open finding is at or above the fail level."""
        return any(f.level >= self.fail_level for f in self.open_findings)

    @property
    def summary(self) -> str:
        """The closing line: ``prodcheck: N passed, N warnings, N errors``."""
        return (
            f"prodcheck: {self.passed} passed, {self.count('WARNING')} warnings, "
            f"{self.count('ERROR')} errors"
        )


def ordered_findings(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Group findings by area: prodkit's areas in order, then other apps', errors first."""
    order = {area.title: area.number for area in AREAS}
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.area, []).append(finding)
    return [
        (area, sorted(items, key=lambda f: (-f.level, f.id, f.object or "")))
        for area, items in sorted(groups.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    ]


Styler = Callable[[str], str]


def format_text(report: Report, styles: Mapping[str, Styler] | None = None) -> str:
    """Findings grouped by area, each with its fix, then the summary line."""
    styles = styles or {}

    def style(name: str, text: str) -> str:
        return styles.get(name, str)(text)

    lines: list[str] = []
    for area, findings in ordered_findings(report.findings):
        lines.append(style("HEADING", area))
        for f in findings:
            where = f" [{f.object}]" if f.object else ""
            label = "ACCEPTED" if f.accepted else f.level_name
            lines.append(f"  {style(label, f'{label:<8}')} {f.id}{where}: {f.message}")
            if f.accepted:
                until = f" until {f.accepted.expires}" if f.accepted.expires else ""
                lines.append(f"           accepted{until}: {f.accepted.reason}")
            elif f.hint:
                lines.append(f"           fix: {f.hint}")
        lines.append("")
    for entry in report.expired:
        lines.append(
            style("WARNING", f"baseline: the acceptance of {entry.id} expired on {entry.expires}")
        )
    probes = [o for o in report.outcomes if o.kind != "check"]
    for outcome in probes:
        state = "problem" if outcome.messages else "ok" if outcome.ids else "skipped"
        lines.append(f"probe {outcome.name}: {state} ({outcome.seconds:.2f} s)")
    closing = style("ERROR" if report.failed else "SUCCESS", report.summary)
    return "\n".join([*lines, closing]) + "\n"


def as_json(report: Report) -> dict[str, Any]:
    """The JSON document (schema ``prodcheck.schema.json``, version ``SCHEMA_VERSION``)."""
    return {
        "schema": "django-prodkit/prodcheck",
        "version": SCHEMA_VERSION,
        "prodkit": __version__,
        "django": django.get_version(),
        "context": report.context,
        "summary": {
            "checks": report.checks_run,
            "passed": report.passed,
            "errors": report.count("ERROR"),
            "warnings": report.count("WARNING"),
            "info": report.count("INFO"),
            "accepted": sum(1 for f in report.findings if f.accepted),
            "fail_level": LEVEL_NAMES[report.fail_level],
            "failed": report.failed,
            "seconds": round(report.seconds, 3),
        },
        "findings": [
            {
                "id": f.id,
                "level": f.level_name,
                "area": f.area,
                "message": f.message,
                "hint": f.hint,
                "object": f.object,
                "docs": f.docs,
                "kind": f.kind,
                "accepted": None
                if f.accepted is None
                else {
                    "reason": f.accepted.reason,
                    "expires": _date(f.accepted.expires),
                },
            }
            for f in report.findings
        ],
        "probes": [
            {
                "name": o.name,
                "kind": o.kind,
                "ok": not o.messages,
                "seconds": round(o.seconds, 3),
            }
            for o in report.outcomes
            if o.kind != "check"
        ],
        "baseline_expired": [
            {
                "id": e.id,
                "object": e.object,
                "expires": e.expires.isoformat() if e.expires else None,
            }
            for e in report.expired
        ],
    }


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def format_json(report: Report) -> str:
    """``as_json`` as one indented document."""
    return json.dumps(as_json(report), indent=2) + "\n"


_GITHUB_COMMANDS = {"ERROR": "error", "WARNING": "warning", "INFO": "notice"}


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def format_github(report: Report) -> str:
    """One workflow annotation per open finding (``::error title=ID::message``), then
    the summary line."""
    lines = []
    for f in report.open_findings:
        title = f"{f.id} {f.object}" if f.object else f.id
        body = f.message + (f"\nFix: {f.hint}" if f.hint else "")
        lines.append(
            f"::{_GITHUB_COMMANDS[f.level_name]} "
            f"title={_github_escape(title, property_value=True)}::{_github_escape(body)}"
        )
    return "\n".join([*lines, report.summary]) + "\n"


def format_junit(report: Report) -> str:
    """JUnit XML: a test suite per area, a test case per check; findings at or above the
    fail level are failures, accepted ones skipped, the rest pass with their text in
    ``system-out``."""
    suites = ET.Element("testsuites", name="prodcheck")
    by_area: dict[str, list[tuple[str, str, list[Finding], float]]] = {}
    for outcome, mine in report.results:
        for case_id in outcome.ids or (outcome.name,):
            spec = REGISTRY.get(case_id)
            area = spec.area.title if spec else _foreign_area(mine[0].id if mine else None)
            found = [f for f in mine if f.id == case_id or not outcome.ids]
            name = f"{case_id}: {spec.title}" if spec else case_id
            by_area.setdefault(area, []).append((outcome.name, name, found, outcome.seconds))
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for area, cases in by_area.items():
        suite = ET.SubElement(suites, "testsuite", name=area)
        counts = {"tests": len(cases), "failures": 0, "skipped": 0}
        for classname, name, found, seconds in cases:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=name, time=f"{seconds:.4f}"
            )
            _junit_case(case, found, report.fail_level, counts)
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("skipped", str(counts["skipped"]))
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{report.seconds:.3f}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _junit_case(
    case: ET.Element, found: Sequence[Finding], fail_level: int, counts: dict[str, int]
) -> None:
    failing = [f for f in found if f.accepted is None and f.level >= fail_level]
    accepted = [f for f in found if f.accepted is not None]
    if failing:
        counts["failures"] += 1
        first = failing[0]
        failure = ET.SubElement(case, "failure", type=first.level_name, message=first.message)
        failure.text = "\n".join(_junit_text(f) for f in failing)
    elif accepted and len(accepted) == len(found):
        counts["skipped"] += 1
        reason = accepted[0].accepted.reason if accepted[0].accepted else ""
        ET.SubElement(case, "skipped", message=f"accepted: {reason}")
    if found and not failing:
        ET.SubElement(case, "system-out").text = "\n".join(_junit_text(f) for f in found)


def _junit_text(f: Finding) -> str:
    where = f" [{f.object}]" if f.object else ""
    return f"{f.level_name} {f.id}{where}: {f.message}" + (f"\nFix: {f.hint}" if f.hint else "")


FORMATS: dict[str, Callable[[Report], str]] = {
    "json": format_json,
    "github": format_github,
    "junit": format_junit,
}
