"""``manage.py serve``: run gunicorn with prodkit's config, or print the line that does.

The worker class is decided here, where Django is set up (uvicorn workers when the project needs
ASGI, gthread when not: ``django_prodkit.server``), and passed on in ``PRODKIT_WORKER_CLASS``,
so gunicorn's master does not load the project a second time to decide it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodkit.deploy import gunicorn
from django_prodkit.deploy.context import DeployContext


class Command(BaseCommand):
    help = (
        "Serve the project with gunicorn and prodkit's tuned config (worker class chosen from "
        "the project: uvicorn workers for async views, gthread otherwise), or print the "
        "command line (--print), e.g. for App Service's startup command."
    )
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--print",
            action="store_true",
            dest="print_only",
            help="Print the command line and what it runs, instead of running it.",
        )

    def handle(self, *args: Any, print_only: bool, **options: Any) -> None:
        context = DeployContext.from_settings()
        if print_only:
            for line in gunicorn.summary(context):
                self.stdout.write(f"# {line}")
            self.stdout.write(gunicorn.command_line(context))
            return
        # The gunicorn of this interpreter's environment first, then the one on PATH.
        beside = Path(sys.executable).with_name("gunicorn")
        executable = str(beside) if beside.exists() else shutil.which("gunicorn")
        if executable is None:
            raise CommandError(
                "gunicorn is not installed. Install the server extra: "
                "pip install 'django-prodkit[server]'."
            )
        self.stdout.flush()
        os.execve(  # noqa: S606 - gunicorn, found above, with fixed arguments
            executable,
            [executable, *gunicorn.command()[1:]],
            {**os.environ, **gunicorn.environment(context)},
        )
