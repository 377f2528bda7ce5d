"""``manage.py publishstatic``: collect static files locally, then publish only what changed to
the Azure static container, the manifest last.

Exit codes: 0 published (or nothing to do), 1 it failed (nothing new went live unless the
manifest was written; run it again to finish), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodkit.redact import describe_error

FIX = (
    "Point STORAGES['staticfiles'] at django_prodkit.storage.azure.AzureManifestStaticStorage "
    "(production_settings() does when the Azure storage variables are set), or run "
    "collectstatic instead."
)


class Command(BaseCommand):
    help = (
        "Collect static files into STATIC_ROOT with hashed names (only what changed), then "
        "upload the new and changed files to the Azure static container in parallel, the "
        "manifest last; optionally prune blobs older releases no longer reference."
    )
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        from django_prodkit.storage.publish import DEFAULT_KEEP, DEFAULT_WORKERS, MAX_WORKERS

        parser.add_argument(
            "--no-collect",
            action="store_false",
            dest="collect",
            help="Publish STATIC_ROOT as it is, without running collectstatic first.",
        )
        parser.add_argument(
            "--workers",
            type=_bounded(1, MAX_WORKERS),
            default=DEFAULT_WORKERS,
            help=f"Parallel uploads, 1 to {MAX_WORKERS} (default {DEFAULT_WORKERS}).",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete blobs that neither this release nor the last --keep releases use.",
        )
        parser.add_argument(
            "--keep",
            type=_bounded(1, None),
            default=DEFAULT_KEEP,
            metavar="N",
            help=(
                f"With --prune: keep the files of the last N manifests, this one included "
                f"(default {DEFAULT_KEEP}: instances still on the previous release keep working)."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be uploaded and pruned; write nothing to the container.",
        )
        parser.add_argument(
            "--unhashed",
            action="store_true",
            help="Also publish the original, unhashed names (for hard-coded /static/ paths).",
        )
        parser.add_argument(
            "--ignore",
            "-i",
            action="append",
            default=[],
            dest="ignore_patterns",
            metavar="PATTERN",
            help="Passed to collectstatic: ignore files matching this glob (repeatable).",
        )
        parser.add_argument(
            "--no-default-ignore",
            action="store_false",
            dest="use_default_ignore_patterns",
            help="Passed to collectstatic: don't ignore 'CVS', '.*' and '*~'.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            from django_prodkit.storage import publish
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        storage = self._static_storage(publish.is_azure_storage)
        static_root = self._static_root()
        verbosity = int(options["verbosity"])
        dry_run = options["dry_run"]
        # On a terminal, a progress bar; with -v 2 the per-file lines say as much.
        bar = _ProgressBar(self.stdout) if verbosity == 1 and _is_tty(self.stdout) else None
        try:
            collected, result = publish.publish_static(
                storage,
                static_root,
                collect=options["collect"],
                ignore_patterns=options["ignore_patterns"],
                use_default_ignore_patterns=options["use_default_ignore_patterns"],
                unhashed=options["unhashed"],
                workers=options["workers"],
                prune=options["prune"],
                keep=options["keep"],
                dry_run=dry_run,
                log=self._logger(verbosity, dry_run=dry_run),
                progress=bar.update if bar is not None and not dry_run else None,
            )
        except publish.PublishError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # an SDK or OS error nobody foresaw: still no secrets
            raise CommandError(f"publishstatic failed: {describe_error(exc)}") from None
        finally:
            if bar is not None:
                bar.finish()
        if collected is not None and verbosity >= 2:
            self.stdout.write(
                f"collected {collected.found} files into {static_root} ({collected.mode}: "
                f"{collected.post_processed} post-processed, {collected.copied} originals "
                f"copied) in {collected.seconds:.1f} s; {result.early} uploaded while collecting"
            )
        result.seconds = time.perf_counter() - started
        if verbosity >= 1:
            self.stdout.write(result.summary())

    def _static_storage(self, is_azure: Any) -> Any:
        backend = settings.STORAGES.get("staticfiles", {}).get("BACKEND", "(not set)")
        try:
            storage = storages["staticfiles"]
        except Exception as exc:
            raise CommandError(
                f"STORAGES['staticfiles'] ({backend}) could not be loaded: "
                f"{describe_error(exc)}. {FIX}"
            ) from None
        if not is_azure(storage):
            raise CommandError(
                "publishstatic publishes to Azure Blob Storage, but STORAGES['staticfiles'] "
                f"is {backend}, not an AzureStorage. {FIX}"
            )
        return storage

    def _static_root(self) -> Path:
        root = getattr(settings, "STATIC_ROOT", None)
        if not root:
            raise CommandError(
                "STATIC_ROOT is not set: publishstatic collects into it and publishes it. "
                "Set it (production_settings() reads DJANGO_STATIC_ROOT)."
            )
        return Path(root)

    def _logger(self, verbosity: int, *, dry_run: bool) -> Any:
        # A dry run lists every change at the default verbosity; a real run only with -v 2.
        threshold = 1 if dry_run else 2

        def log(message: str) -> None:
            if verbosity >= threshold:
                self.stdout.write(message)

        return log


def _bounded(low: int, high: int | None) -> Any:
    """An argparse type: an integer from ``low`` to ``high`` (a usage error otherwise)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        if number < low or (high is not None and number > high):
            limit = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {limit}, got {number}")
        return number

    return parse


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _ProgressBar:
    """``[#####.....] 120/2131 files, 12.3/40.1 MB`` on one terminal line, ten times a second
    at most."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream: TextIO = getattr(stream, "_out", stream) or sys.stdout
        self.shown = 0.0
        self.drawn = False

    def update(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < 0.1:
            return
        self.shown = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(
            f"\rpublishstatic [{bar}] {done}/{total} files, "
            f"{done_bytes / 1e6:.1f}/{total_bytes / 1e6:.1f} MB"
        )
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
