"""``manage.py deployconfig KIND``: deployment files rendered from the current settings.

To stdout (each file under a ``# --- NAME ---`` line when there are several), or written to
``--output DIR``. Exit codes: 0 rendered, 1 a file exists (without ``--force``), 2 usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_prodkit.deploy import KINDS, render
from django_prodkit.deploy.context import DeployContext


class Command(BaseCommand):
    help = (
        "Render deployment files from the current settings: "
        f"{', '.join(KINDS)}. Paths, URLs, upload limit, trusted proxies, health paths, port "
        "and workers come from the settings; secrets only ever by name."
    )
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS, help="What to render.")
        parser.add_argument(
            "--output", type=Path, help="Write the files into this folder instead of stdout."
        )
        parser.add_argument(
            "--force", action="store_true", help="Overwrite files that exist in --output."
        )

    def handle(
        self, *args: Any, kind: str, output: Path | None, force: bool, **options: Any
    ) -> None:
        files = render(kind, DeployContext.from_settings())
        if output is None:
            for name, text in files.items():
                if len(files) > 1:
                    self.stdout.write(f"# --- {name} ---")
                self.stdout.write(text.rstrip("\n"))
            return
        existing = [name for name in files if (output / name).exists()]
        if existing and not force:
            self.stderr.write(
                f"deployconfig: {', '.join(existing)} already exist(s) in {output}; "
                "use --force to overwrite."
            )
            sys.exit(1)
        for name, text in files.items():
            path = output / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text if text.endswith("\n") else text + "\n")
            self.stdout.write(f"wrote {path}")
