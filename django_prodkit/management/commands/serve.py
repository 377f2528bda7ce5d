"""``manage.py serve``: run gunicorn with prodkit's config, or print the line that does.

The worker class is decided here, where Django is set up (uvicorn workers when the project needs
ASGI, gthread when not: ``django_prodkit.server``), and passed on in ``PRODKIT_WORKER_CLASS``,
so gunicorn's master does not load the project a second time to decide it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodkit.env import Env
from django_prodkit.server import worker_class
from django_prodkit.settings.server import (
    server_bind,
    server_threads,
    server_timeout,
    server_workers,
)

CONFIG = "python:django_prodkit.gunicorn_conf"


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
        env = Env()
        worker, reason = worker_class(env)
        command = ["gunicorn", "-c", CONFIG]
        if print_only:
            threads = server_threads(env)
            self.stdout.write(
                f"# worker class {worker}: {reason}\n"
                f"# {server_workers(env)} workers x {threads} thread(s), timeout "
                f"{server_timeout(env)} s, listening on {server_bind(env)}\n"
                f"PRODKIT_WORKER_CLASS={shlex.quote(worker)} {shlex.join(command)}"
            )
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
            executable, [executable, *command[1:]], {**os.environ, "PRODKIT_WORKER_CLASS": worker}
        )
