"""``manage.py prodcheck``: the production checklist, live probes of the real services, CI output.

Exit codes: 0 nothing at or above ``--fail-level``, 1 something is, 2 a usage error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.checks.registry import registry
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodkit.checks.context import deployment
from django_prodkit.checks.docs import render_markdown
from django_prodkit.checks.registry import LEVEL_NAMES, REGISTRY, Outcome
from django_prodkit.checks.report import (
    FAIL_LEVELS,
    FORMATS,
    Baseline,
    BaselineError,
    Report,
    format_text,
)
from django_prodkit.checks.run import dropped_ids, run_checks
from django_prodkit.conf import conf
from django_prodkit.probes import run_live_probes
from django_prodkit.probes.site import probe_site
from django_prodkit.redact import redact_url

USAGE_ERROR = 2


class Command(BaseCommand):
    help = (
        "Check the project for everything that breaks real deployments: Django's deploy "
        "checklist plus prodkit's checks, optionally live probes of the services the settings "
        "point at (--live) and of a deployed site (--url)."
    )
    # prodcheck runs the checks itself, reports them in its own formats and exit codes.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=["text", *FORMATS, "markdown"],
            default="text",
            help="Output format; markdown only with --list (the docs reference page).",
        )
        parser.add_argument(
            "--fail-level",
            choices=list(FAIL_LEVELS),
            default="ERROR",
            help="Exit 1 when a finding at or above this level is not accepted (default ERROR).",
        )
        parser.add_argument(
            "--tag",
            "-t",
            action="append",
            dest="tags",
            default=[],
            help="Run only checks with this tag (repeatable), e.g. prodkit, caches, security.",
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            metavar="ID",
            help="Skip a check ID (repeatable).",
        )
        parser.add_argument("--list", action="store_true", help="List prodkit's checks and exit.")
        parser.add_argument(
            "--live",
            action="store_true",
            help="Also probe the database, caches, storages, telemetry endpoint and SMTP server.",
        )
        parser.add_argument(
            "--url",
            help="Also probe a deployed site over HTTP(S), e.g. https://www.example.com/. "
            "The health token, when needed, is read from PRODKIT_HEALTH_TOKEN.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            help="Seconds each probe may take (default PRODKIT_PROBE_TIMEOUT, 5).",
        )
        parser.add_argument(
            "--baseline",
            type=Path,
            metavar="FILE",
            help="TOML file of accepted findings ([[accept]] id, object, reason, expires).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fmt = options["format"]
        if options["list"]:
            self.stdout.write(self._listing(fmt), ending="")
            return
        if fmt == "markdown":
            raise CommandError("--format markdown works only with --list.", returncode=USAGE_ERROR)
        self._validate(options)
        baseline = self._baseline(options["baseline"])
        timeout = (
            options["timeout"] if options["timeout"] is not None else conf.PRODKIT_PROBE_TIMEOUT
        )
        started = time.perf_counter()
        dropped = dropped_ids(options["skip"])
        outcomes: list[Outcome] = run_checks(tags=options["tags"], dropped=dropped)
        probes: list[Outcome] = []
        if options["live"]:
            probes += run_live_probes(timeout)
        if options["url"]:
            try:
                probes += probe_site(
                    options["url"], timeout=timeout, health_token=conf.PRODKIT_HEALTH_TOKEN
                )
            except ValueError as exc:
                raise CommandError(f"--url: {exc}", returncode=USAGE_ERROR) from None
        outcomes += [outcome.without(dropped) for outcome in probes]
        where = deployment()
        report = Report.build(
            outcomes,
            baseline=baseline,
            fail_level=FAIL_LEVELS[options["fail_level"]],
            seconds=time.perf_counter() - started,
            context={
                "platform": where.platform.kind,
                "instances": where.instances,
                "workers": where.workers,
                "tls_proxy": where.tls_proxy,
                "live": bool(options["live"]),
                "url": redact_url(options["url"]) if options["url"] else None,
            },
        )
        if fmt == "text":
            styles = {
                "ERROR": self.style.ERROR,
                "WARNING": self.style.WARNING,
                "INFO": self.style.NOTICE,
                "ACCEPTED": self.style.NOTICE,
                "SUCCESS": self.style.SUCCESS,
                "HEADING": self.style.MIGRATE_HEADING,
            }
            self.stdout.write(format_text(report, styles), ending="")
        else:
            self.stdout.write(FORMATS[fmt](report), ending="")
        if report.failed:
            raise CommandError(
                f"prodcheck found problems at or above {options['fail_level']}.", returncode=1
            )

    def _validate(self, options: dict[str, Any]) -> None:
        known_tags = registry.tags_available(deployment_checks=True)
        unknown = sorted(set(options["tags"]) - known_tags)
        if unknown:
            raise CommandError(
                f"There is no check with the tag(s) {', '.join(unknown)}; "
                f"available: {', '.join(sorted(known_tags))}.",
                returncode=USAGE_ERROR,
            )
        url = options["url"]
        if url is not None and (
            urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname
        ):
            raise CommandError(
                "--url must be an http:// or https:// URL with a host, e.g. https://www.example.com/.",
                returncode=USAGE_ERROR,
            )
        if options["timeout"] is not None and not 0 < options["timeout"] <= 300:
            raise CommandError(
                "--timeout must be between 0 and 300 seconds.", returncode=USAGE_ERROR
            )

    @staticmethod
    def _baseline(path: Path | None) -> Baseline | None:
        if path is None:
            return None
        try:
            return Baseline.load(path)
        except BaselineError as exc:
            raise CommandError(str(exc), returncode=USAGE_ERROR) from None

    @staticmethod
    def _listing(fmt: str) -> str:
        specs = list(REGISTRY.values())
        if fmt == "markdown":
            return render_markdown(specs)
        if fmt == "json":
            return (
                json.dumps(
                    [
                        {
                            "id": spec.id,
                            "level": LEVEL_NAMES[spec.level],
                            "area": spec.area.title,
                            "title": spec.title,
                            "tags": ["prodkit", spec.area.tag, *spec.tags],
                            "live": spec.live,
                            "docs": spec.url,
                        }
                        for spec in specs
                    ],
                    indent=2,
                )
                + "\n"
            )
        if fmt != "text":
            raise CommandError(
                f"--list supports text, json and markdown, not {fmt}.", returncode=USAGE_ERROR
            )
        lines = [
            f"{spec.id}  {LEVEL_NAMES[spec.level]:<7}  {'live' if spec.live else 'settings':<8}  "
            f"{spec.area.tag:<11}  {spec.title}"
            for spec in sorted(specs, key=lambda s: (s.id[9:], s.id))
        ]
        return "\n".join(lines) + f"\n{len(specs)} checks\n"
