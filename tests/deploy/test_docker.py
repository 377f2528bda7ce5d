"""``deployconfig docker``: the Dockerfile, .dockerignore, compose.yaml and nginx.conf.

No container engine runs here, so the files are parsed and checked for what they must say;
the parts that run outside a container are run for real: the build's collectstatic step on the
example project, the health check against the example served by gunicorn, ``nginx -t`` on the
site file compose mounts.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml

from django_prodkit.deploy import gunicorn, render
from django_prodkit.deploy.context import DeployContext
from django_prodkit.deploy.docker import APP_UID, BUILD_SECRET_KEY, healthcheck_command
from django_prodkit.health import LIVENESS_PATH
from tests.deploy import PLANTED
from tests.example import BIN, EXAMPLE_PROJECT, example_env
from tests.example import gunicorn as example_gunicorn
from tests.nginx import nginx_test

COMPILERS = ("build-essential", "gcc", "g++", "clang")


@dataclass
class Stage:
    """One FROM of a Dockerfile: its image, its name and its instructions in order."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [arguments for found, arguments in self.instructions if found == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of ``text``: comments dropped, continued lines joined."""
    stages: list[Stage] = []
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (logical + line).strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            image, _, alias = arguments.partition(" AS ")
            stages.append(Stage(image.strip(), alias.strip() or None))
        else:
            stages[-1].instructions.append((keyword.upper(), " ".join(arguments.split())))
    return stages


def environment(stage: Stage) -> dict[str, str]:
    """The ENV of a stage, as the image's environment."""
    found = {}
    for arguments in stage.arguments("ENV"):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            found[name] = value
    return found


@pytest.fixture
def context(settings, planted, tmp_path) -> DeployContext:
    """The example's settings with static files and uploads in the project, and secrets
    planted in the environment they are read from."""
    project = tmp_path / "project"
    settings.BASE_DIR = project
    settings.STATIC_ROOT = project / "staticfiles"
    settings.MEDIA_ROOT = project / "media"
    settings.ALLOWED_HOSTS = ["www.example.com"]
    return DeployContext.from_settings()


@pytest.fixture
def blob_context(context) -> DeployContext:
    """The same site with static files and uploads on blob storage."""
    return replace(context, static_root=None, media_root=None)


def test_files(context):
    assert set(render("docker", context)) == {
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        "nginx.conf",
    }


@pytest.mark.parametrize("kind", ["context", "blob_context"])
def test_no_secret_value_in_any_file(kind, request):
    files = render("docker", request.getfixturevalue(kind))
    for name, text in files.items():
        assert PLANTED not in text, name
        assert "by `manage.py deployconfig" in text, name


# --- Dockerfile.


def test_the_final_stage_is_slim_has_no_compilers_and_runs_as_a_fixed_user(context):
    stages = parse_dockerfile(render("docker", context)["Dockerfile"])
    builder, final = stages[0], stages[-1]
    assert builder.name == "builder"
    assert any("build-essential" in run for run in builder.arguments("RUN"))
    assert final.image == f"python:{context.python_version}-slim"
    body = " ".join(arguments for _, arguments in final.instructions)
    assert not any(compiler in body.split() for compiler in COMPILERS)
    # What the final image holds comes from the builder: the venv and the project, no wheels
    # built here.
    assert not any("pip install" in run for run in final.arguments("RUN"))
    assert final.arguments("COPY") == [
        "--from=builder /opt/venv /opt/venv",
        "--from=builder /app /app",
    ]
    [user] = final.arguments("USER")
    assert user == f"{APP_UID}:{APP_UID}"
    assert user.partition(":")[0] not in {"0", "root"}


def test_the_final_stage_starts_prodkits_gunicorn(context):
    final = parse_dockerfile(render("docker", context)["Dockerfile"])[-1]
    [cmd] = final.arguments("CMD")
    assert json.loads(cmd) == gunicorn.command()
    env = environment(final)
    assert env.items() >= gunicorn.environment(context).items()
    assert env["DJANGO_SETTINGS_MODULE"] == context.settings_module
    assert env["PORT"] == str(context.port)
    assert (env["PYTHONDONTWRITEBYTECODE"], env["PYTHONUNBUFFERED"]) == ("1", "1")
    assert final.arguments("EXPOSE") == [str(context.port)]


def test_the_build_key_stays_in_the_builders_collectstatic_step(context):
    text = render("docker", context)["Dockerfile"]
    stages = parse_dockerfile(text)
    [step] = [run for run in stages[0].arguments("RUN") if BUILD_SECRET_KEY in run]
    assert "collectstatic --noinput" in step
    assert text.count(BUILD_SECRET_KEY) == 1
    for stage in stages:
        assert not any("SECRET_KEY" in name for name in environment(stage))
        assert not stage.arguments("ARG")


def test_static_files_reach_nginx_from_the_build(context):
    stages = {
        stage.name: stage for stage in parse_dockerfile(render("docker", context)["Dockerfile"])
    }
    assert stages["web"].image == "nginx:stable-alpine"
    assert stages["web"].arguments("COPY") == ["--from=builder /app/staticfiles /app/staticfiles"]


def test_static_files_on_blob_storage_are_not_collected_in_the_build(blob_context):
    text = render("docker", blob_context)["Dockerfile"]
    assert "collectstatic" not in "".join(
        run for stage in parse_dockerfile(text) for run in stage.arguments("RUN")
    )
    assert [stage.name for stage in parse_dockerfile(text)] == ["builder", "app"]
    assert "manage.py publishstatic" in text


def test_healthcheck_asks_the_liveness_path_with_a_timeout(context):
    final = parse_dockerfile(render("docker", context)["Dockerfile"])[-1]
    [check] = final.arguments("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert "--timeout=5s" in options.split()
    assert json.loads(command) == healthcheck_command(context)
    assert f":{context.port}{LIVENESS_PATH}'" in command


@pytest.mark.slow
def test_the_build_step_collects_the_examples_static_files(context, tmp_path):
    """The collectstatic RUN of the builder, with nothing but the variables it sets itself:
    enough for the example's production settings."""
    example = replace(context, settings_module="example_project.settings")
    stages = parse_dockerfile(render("docker", example)["Dockerfile"])
    [step] = [run for run in stages[0].arguments("RUN") if "collectstatic" in run]
    words = shlex.split(step)
    variables = dict(word.split("=", 1) for word in words if "=" in word and word[0].isupper())
    command = [word for word in words if word not in {f"{k}={v}" for k, v in variables.items()}]
    assert command[:2] == ["python", "manage.py"]
    static_root = tmp_path / "staticfiles"
    result = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=EXAMPLE_PROJECT,
        # Only the destination differs from the image's: the repository stays clean.
        env={
            "PATH": str(BIN),
            "PYTHON_DOTENV_DISABLED": "1",
            "DJANGO_STATIC_ROOT": str(static_root),
            **variables,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (static_root / "staticfiles.json").is_file()
    assert list(static_root.glob("admin/css/base.*.css"))


@pytest.mark.slow
def test_the_healthcheck_passes_on_a_live_server_and_fails_without_one(context, tmp_path):
    env = example_env(tmp_path)
    with example_gunicorn(env, tmp_path / "gunicorn.log") as port:
        command = healthcheck_command(replace(context, port=port))
        up = subprocess.run(
            [sys.executable, *command[1:]], capture_output=True, timeout=30, check=False
        )
        assert up.returncode == 0, up.stderr
    down = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, timeout=30, check=False
    )
    assert down.returncode != 0


# --- .dockerignore.


def test_dockerignore_keeps_secrets_and_local_files_out(context):
    lines = render("docker", context)[".dockerignore"].splitlines()
    for pattern in (".git", ".venv", "**/__pycache__", ".env", "secrets", "node_modules"):
        assert pattern in lines
    assert "*.sqlite3" in lines
    assert {"/staticfiles/", "/media/"} <= set(lines)


# --- compose.yaml.


def compose_file(context: DeployContext) -> dict:
    return yaml.safe_load(render("docker", context)["compose.yaml"])


def test_compose_services_and_their_order(context):
    services = compose_file(context)["services"]
    assert set(services) == {"app", "migrate", "nginx", "db", "redis", "azurite"}
    assert services["azurite"]["image"].startswith("mcr.microsoft.com/azure-storage/azurite")
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            )
            assert condition == {"condition": expected}, (name, dependency)
            if dependency != "migrate":
                assert "healthcheck" in services[dependency], dependency
    assert set(services["app"]["depends_on"]) == {"migrate", "db", "redis", "azurite"}
    assert services["nginx"]["depends_on"] == {"app": {"condition": "service_healthy"}}


def test_compose_runs_the_image_as_the_dockerfile_says(context):
    app = compose_file(context)["services"]["app"]
    assert app["build"] == {"context": ".", "target": "app"}
    assert app["command"] == gunicorn.command()
    assert app["healthcheck"]["test"] == ["CMD", *healthcheck_command(context)]
    assert LIVENESS_PATH in app["healthcheck"]["test"][-1]
    assert app["environment"]["PRODKIT_WORKER_CLASS"] == context.worker_class
    assert app["stop_grace_period"] == f"{context.graceful_timeout + 10}s"


def test_compose_takes_secrets_by_reference(context):
    compose = compose_file(context)
    app = compose["services"]["app"]
    assert app["environment"]["DJANGO_SECRET_KEY_FILE"] == "/run/secrets/django_secret_key"
    assert "DJANGO_SECRET_KEY" not in app["environment"]
    assert compose["secrets"] == {"django_secret_key": {"file": "./secrets/django_secret_key"}}
    assert "${POSTGRES_PASSWORD:?" in app["environment"]["DATABASE_URL"]
    assert "${REDIS_PASSWORD:?" in app["environment"]["CACHE_URL"]
    db = compose["services"]["db"]["environment"]
    assert db["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert (
        "${AZURITE_ACCOUNT_KEY:?"
        in compose["services"]["azurite"]["environment"]["AZURITE_ACCOUNTS"]
    )


def test_compose_wires_azurite_in_when_files_are_on_blob_storage(context, blob_context):
    assert (
        "AZURE_STORAGE_CONNECTION_STRING"
        not in compose_file(context)["services"]["app"]["environment"]
    )
    blob = compose_file(blob_context)["services"]
    assert (
        "AccountKey=${AZURITE_ACCOUNT_KEY:?"
        in blob["app"]["environment"]["AZURE_STORAGE_CONNECTION_STRING"]
    )
    assert blob["nginx"]["image"] == "nginx:stable-alpine"
    assert "volumes" not in blob["app"]


def test_nginx_shares_the_apps_network_and_files(context):
    services = compose_file(context)["services"]
    nginx = services["nginx"]
    assert nginx["network_mode"] == "service:app"
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert "media:/app/media:ro" in nginx["volumes"]
    assert services["app"]["volumes"] == ["media:/app/media"]
    assert services["app"]["environment"]["PRODKIT_TRUSTED_PROXIES"] == "127.0.0.1"


@pytest.mark.slow
def test_nginx_accepts_the_site_file_compose_mounts(context, tmp_path):
    site = render("docker", context)["nginx.conf"]
    assert "server 127.0.0.1:8000;" in site
    assert "alias /app/staticfiles/;" in site
    nginx_test(site, tmp_path / "nginx")


def test_paths_outside_the_project_keep_their_place(context, tmp_path):
    outside = replace(context, static_root=Path("/srv/static"))
    stages = {
        stage.name: stage for stage in parse_dockerfile(render("docker", outside)["Dockerfile"])
    }
    assert stages["web"].arguments("COPY") == ["--from=builder /srv/static /srv/static"]
    assert "/staticfiles/" not in render("docker", outside)[".dockerignore"]
