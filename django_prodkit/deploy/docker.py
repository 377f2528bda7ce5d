"""``deployconfig docker``: a multi-stage ``Dockerfile``, its ``.dockerignore``, a
``compose.yaml`` (the app behind nginx, PostgreSQL, Redis, Azurite) and the ``nginx.conf``
compose mounts.

The image holds the project at ``/app`` and runs prodkit's gunicorn config as a fixed
non-root user; static files are collected while the image is built, with a build-only key
that never reaches the final image. Compose takes every secret by reference (a ``secrets:``
file, or ``${VARIABLE}`` from the ``.env`` beside it), never by value. nginx runs in the
app's network namespace, so ``deployconfig nginx``'s site file (upstream 127.0.0.1) serves
unchanged; it is rendered here with the paths the files have inside the containers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import textwrap
from pathlib import Path, PurePosixPath

from django_prodkit.deploy import gunicorn, nginx
from django_prodkit.deploy.context import DeployContext, render_template

# Where the image keeps the project and the virtualenv.
APP_DIR = PurePosixPath("/app")
VENV_DIR = PurePosixPath("/opt/venv")
# A fixed UID/GID above the range distributions give their own users, so volumes and
# Kubernetes' runAsUser can name it.
APP_UID = 10001
# collectstatic imports the settings, which want a secret key and (prodkit's production
# settings) the host names: these exist only in the environment of that one RUN step of the
# builder, never in an ENV of the image.
BUILD_SECRET_KEY = "build-only-collectstatic-key-never-used-to-serve-requests-0000"  # noqa: S105
BUILD_ALLOWED_HOSTS = "localhost"
# Docker's health check: every 30 s, 5 s each, 3 failures in a row make it unhealthy.
HEALTH_INTERVAL = 30
HEALTH_TIMEOUT = 5
HEALTH_RETRIES = 3
# prodkit's gunicorn config starts a Python that loads the project to choose the worker
# class, then the workers load it again: the first checks may fail for that long.
HEALTH_START_PERIOD = 30
# Seconds a container is given to stop beyond gunicorn's graceful timeout before SIGKILL.
STOP_MARGIN = 10
NGINX_IMAGE = "nginx:stable-alpine"
# The port nginx's site file listens on.
NGINX_PORT = 80


def app_name(context: DeployContext) -> str:
    """The project's name as a DNS label (``my_site.settings`` -> ``my-site``): the image,
    the compose project and the Kubernetes objects are named after it."""
    package = context.settings_module.partition(".")[0] or context.project_dir.name
    label = re.sub(r"[^a-z0-9-]+", "-", package.lower()).strip("-")[:63].strip("-")
    return label or "app"


def container_path(context: DeployContext, path: Path) -> PurePosixPath:
    """Where ``path`` is inside the image: under ``/app`` when it is in the project, else the
    same absolute path (the settings put it outside the project)."""
    try:
        return APP_DIR / path.relative_to(context.project_dir).as_posix()
    except ValueError:
        return PurePosixPath(path.as_posix())


def container_context(context: DeployContext) -> DeployContext:
    """``context`` as seen inside the containers: the project at ``/app``, and nginx (in the
    app's network namespace) the one trusted proxy."""

    def moved(path: Path | None) -> Path | None:
        return Path(container_path(context, path)) if path is not None else None

    return dataclasses.replace(
        context,
        project_dir=Path(APP_DIR),
        static_root=moved(context.static_root),
        media_root=moved(context.media_root),
        trusted_proxies=(nginx.NGINX_ADDRESS,),
        proxy_hops=0,
    )


def healthcheck_command(context: DeployContext) -> list[str]:
    """The health check, exec form: GET the liveness path with Python (the slim image has no
    curl); anything but 200, a refused connection or a timeout exits non-zero."""
    url = f"http://127.0.0.1:{context.port}{context.liveness_path}"
    code = (
        "import sys, urllib.request; "
        f"sys.exit(urllib.request.urlopen({url!r}, timeout={HEALTH_TIMEOUT - 1}).status != 200)"
    )
    return ["python", "-c", code]


def stop_grace_period(context: DeployContext) -> int:
    """Seconds to let the app stop: gunicorn's graceful timeout and a margin."""
    return context.graceful_timeout + STOP_MARGIN


def header(context: DeployContext, kind: str, checks: list[str]) -> str:
    """The opening comment of a rendered file: where it came from, what it runs and what to
    check before use."""
    lines = [
        f"Rendered by `manage.py deployconfig {kind}` from the settings of "
        f"{context.settings_module}: render it again when they change.",
        *gunicorn.summary(context),
        "Check before use:",
        *(f"- {check}" for check in checks),
    ]
    return "\n".join(
        textwrap.fill(line, width=96, initial_indent="# ", subsequent_indent="#   ")
        for line in lines
    )


def _ignored(context: DeployContext, path: Path | None) -> str | None:
    """``path`` as a .dockerignore line when it is in the project, else None."""
    if path is None:
        return None
    try:
        return f"/{path.relative_to(context.project_dir).as_posix()}/"
    except ValueError:
        return None


def dockerfile(context: DeployContext) -> str:
    """The multi-stage Dockerfile: builder, web (nginx with the static files), app."""
    inside = container_context(context)
    environment = {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_DIR}/bin:$PATH",
        "DJANGO_SETTINGS_MODULE": context.settings_module,
        "PORT": str(context.port),
        **gunicorn.environment(context),
    }
    checks = [
        "requirements.txt installs django-prodkit with the 'server' extra and every extra the "
        "settings use (postgres, redis, azure...).",
        f"build it in the folder of manage.py: docker build --target app -t {app_name(context)} .",
        "libraries your wheels link against: -dev packages in the builder stage, the runtime "
        "packages in the app stage.",
    ]
    return render_template(
        "docker/Dockerfile",
        inside,
        header=header(context, "docker", checks),
        app_dir=APP_DIR,
        venv_dir=VENV_DIR,
        uid=APP_UID,
        build_environment=" ".join(
            f"{name}={shlex.quote(value)}"
            for name, value in {
                "DJANGO_SETTINGS_MODULE": context.settings_module,
                "DJANGO_SECRET_KEY": BUILD_SECRET_KEY,
                "DJANGO_ALLOWED_HOSTS": BUILD_ALLOWED_HOSTS,
            }.items()
        ),
        nginx_image=NGINX_IMAGE,
        environment=" \\\n    ".join(
            f"{name}={json.dumps(value)}" for name, value in environment.items()
        ),
        health_options=f"--interval={HEALTH_INTERVAL}s --timeout={HEALTH_TIMEOUT}s "
        f"--start-period={HEALTH_START_PERIOD}s --retries={HEALTH_RETRIES}",
        healthcheck=json.dumps(healthcheck_command(context)),
        cmd=json.dumps(gunicorn.command()),
    )


def dockerignore(context: DeployContext) -> str:
    """``.dockerignore``: nothing secret, local or generated enters the build context."""
    generated = [
        line
        for line in (_ignored(context, context.static_root), _ignored(context, context.media_root))
        if line
    ]
    checks = ["anything else the image must not hold (data dumps, local settings)."]
    return render_template(
        "docker/dockerignore",
        context,
        header=header(context, "docker", checks),
        generated=generated,
    )


def compose(context: DeployContext) -> str:
    """``compose.yaml``: the app behind nginx, with PostgreSQL, Redis and Azurite."""
    inside = container_context(context)
    secrets = [variable.name for variable in context.variables if variable.secret]
    checks = [
        "a .env beside this file (never committed; .dockerignore keeps it out of the image) "
        "with POSTGRES_PASSWORD, REDIS_PASSWORD and AZURITE_ACCOUNT_KEY (base64): compose "
        "refuses to start without them.",
        "secrets/django_secret_key holds the secret key alone (DJANGO_SECRET_KEY_FILE).",
        f"nginx.conf is `deployconfig nginx` for the containers: nginx shares the app's "
        f"network and reaches it on 127.0.0.1:{context.port}.",
    ]
    if secrets:
        checks.append(f"the other secrets the project reads, in .env: {', '.join(secrets)}.")
    return render_template(
        "docker/compose.yaml",
        inside,
        header=header(context, "docker", checks),
        project=app_name(context),
        nginx_image=NGINX_IMAGE,
        nginx_port=NGINX_PORT,
        nginx_address=nginx.NGINX_ADDRESS,
        blob_storage=context.static_root is None or context.media_root is None,
        allowed_hosts=",".join([*context.server_names, "localhost", "127.0.0.1"]),
        https=str(context.https).lower(),
        environment=[
            f"{name}: {json.dumps(value)}"
            for name, value in {
                "DJANGO_SETTINGS_MODULE": context.settings_module,
                **gunicorn.environment(context),
            }.items()
        ],
        healthcheck=json.dumps(["CMD", *healthcheck_command(context)]),
        health_interval=HEALTH_INTERVAL,
        health_timeout=HEALTH_TIMEOUT,
        health_retries=HEALTH_RETRIES,
        health_start_period=HEALTH_START_PERIOD,
        command=json.dumps(gunicorn.command()),
        stop_grace_period=stop_grace_period(context),
    )


def render(context: DeployContext) -> dict[str, str]:
    """``Dockerfile``, ``.dockerignore``, ``compose.yaml`` and the ``nginx.conf`` it mounts."""
    return {
        "Dockerfile": dockerfile(context),
        ".dockerignore": dockerignore(context),
        "compose.yaml": compose(context),
        "nginx.conf": nginx.render(container_context(context))["nginx.conf"],
    }
