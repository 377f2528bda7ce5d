"""The gunicorn start command: ``deployconfig gunicorn`` and ``manage.py serve``.

The worker class is decided where Django is set up (here) and passed to gunicorn in
``PRODKIT_WORKER_CLASS``, so its master does not load the project again to decide it; every
other value is prodkit's gunicorn config's own (``django_prodkit.gunicorn_conf``).
"""

from __future__ import annotations

import shlex

from django_prodkit.deploy.context import DeployContext

CONFIG = "python:django_prodkit.gunicorn_conf"


def command() -> list[str]:
    """gunicorn's arguments: prodkit's config, which names the application itself."""
    return ["gunicorn", "-c", CONFIG]


def environment(context: DeployContext) -> dict[str, str]:
    """The variables the command needs beyond the project's own."""
    return {"PRODKIT_WORKER_CLASS": context.worker_class}


def command_line(context: DeployContext) -> str:
    """The start command as one shell line, e.g. App Service's startup command."""
    variables = " ".join(
        f"{name}={shlex.quote(value)}" for name, value in environment(context).items()
    )
    return f"{variables} {shlex.join(command())}"


def summary(context: DeployContext) -> list[str]:
    """What the command runs, in words: two comment lines."""
    return [
        f"worker class {context.worker_class}: {context.worker_reason}",
        f"{context.workers} workers x {context.threads} thread(s), timeout {context.timeout} s, "
        f"port {context.port}",
    ]


def render(context: DeployContext) -> dict[str, str]:
    """``gunicorn.sh``: the start command for a host or a container."""
    comments = "".join(f"# {line}\n" for line in summary(context))
    return {
        "gunicorn.sh": "#!/bin/sh\n"
        "# Start the site with prodkit's gunicorn config (manage.py deployconfig gunicorn).\n"
        f"{comments}"
        f"exec env {command_line(context)}\n"
    }
