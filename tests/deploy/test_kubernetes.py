"""``deployconfig kubernetes``: the manifests under k8s/.

No cluster runs here: the manifests are parsed and checked for what they must say, the
probes' paths are asked of the example project served by gunicorn, and the CPU limit is
handed to prodkit's own worker sizing through a cgroup file of the test's own.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import replace

import pytest
import yaml

from django_prodkit.deploy import gunicorn, render
from django_prodkit.deploy.context import DeployContext
from django_prodkit.deploy.docker import APP_UID
from django_prodkit.deploy.kubernetes import cpu_limit
from django_prodkit.health import LIVENESS_PATH, READINESS_PATH
from django_prodkit.settings.server import cpu_cores
from tests.deploy import PLANTED
from tests.example import example_env, manage
from tests.example import gunicorn as example_gunicorn


@pytest.fixture
def context(settings, monkeypatch, planted, tmp_path) -> DeployContext:
    """The example's settings, uploads in the project, secrets planted in the environment."""
    project = tmp_path / "project"
    settings.BASE_DIR = project
    settings.STATIC_ROOT = project / "staticfiles"
    settings.MEDIA_ROOT = project / "media"
    settings.ALLOWED_HOSTS = ["www.example.com"]
    monkeypatch.setenv("PRODKIT_LOG_FORMAT", "json")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    return DeployContext.from_settings()


def manifests(context: DeployContext) -> dict[str, dict]:
    """The rendered files, each parsed (one document a file)."""
    return {name: yaml.safe_load(text) for name, text in render("kubernetes", context).items()}


def web(context: DeployContext) -> tuple[dict, dict]:
    """The Deployment's pod spec and its one container."""
    pod = manifests(context)["k8s/deployment.yaml"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return pod, container


def test_files_and_kinds(context):
    kinds = {name: manifest["kind"] for name, manifest in manifests(context).items()}
    assert kinds == {
        "k8s/configmap.yaml": "ConfigMap",
        "k8s/deployment.yaml": "Deployment",
        "k8s/service.yaml": "Service",
        "k8s/hpa.yaml": "HorizontalPodAutoscaler",
        "k8s/migrate-job.yaml": "Job",
        "k8s/media-pvc.yaml": "PersistentVolumeClaim",
    }
    for name, text in render("kubernetes", context).items():
        assert "Rendered by `manage.py deployconfig kubernetes`" in text, name


def test_uploads_on_blob_storage_need_no_volume(context):
    files = manifests(replace(context, media_root=None))
    assert "k8s/media-pvc.yaml" not in files
    pod = files["k8s/deployment.yaml"]["spec"]["template"]["spec"]
    assert [volume["name"] for volume in pod["volumes"]] == ["tmp"]


def test_no_secret_value_in_any_file(context):
    for name, text in render("kubernetes", context).items():
        assert PLANTED not in text, name
    data = manifests(context)["k8s/configmap.yaml"]["data"]
    assert "DATABASE_URL" not in data
    assert "DJANGO_SECRET_KEY" not in data


def test_configuration_comes_by_name(context):
    _, container = web(context)
    # Named after the settings' package: tests.settings here.
    assert container["envFrom"] == [
        {"configMapRef": {"name": "tests-config"}},
        {"secretRef": {"name": "tests-secrets"}},
    ]
    config = manifests(context)["k8s/configmap.yaml"]
    assert config["metadata"]["name"] == "tests-config"
    assert config["data"]["DJANGO_ALLOWED_HOSTS"] == "www.example.com"
    # Variables configured where the file was rendered are named, not valued.
    assert "# PRODKIT_LOG_FORMAT:" in render("kubernetes", context)["k8s/configmap.yaml"]
    header = render("kubernetes", context)["k8s/deployment.yaml"]
    assert "DATABASE_URL" in header
    assert "DJANGO_SECRET_KEY" in header


def test_the_container_starts_prodkits_gunicorn(context):
    _, container = web(context)
    assert container["command"] == gunicorn.command()
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env.items() >= gunicorn.environment(context).items()
    assert container["ports"] == [{"name": "http", "containerPort": context.port}]


def test_probes_ask_prodkits_health_endpoints(context):
    _, container = web(context)
    assert container["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}


@pytest.mark.slow
def test_the_probes_paths_answer_200_on_the_example(context, tmp_path):
    _, container = web(context)
    paths = {
        container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    env = example_env(tmp_path)
    manage(env, "migrate", "--noinput")
    with example_gunicorn(env, tmp_path / "gunicorn.log") as port:
        for path in sorted(paths):
            # The kubelet's Host header is the pod's address, not an allowed host.
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Host": "10.244.1.17"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200, path
                assert json.loads(response.read())["status"] == "ok"


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root(context):
    for name in ("k8s/deployment.yaml", "k8s/migrate-job.yaml"):
        pod = manifests(context)[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == APP_UID != 0
        [container] = pod["containers"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert mounts["tmp"] == "/tmp"
        assert "emptyDir" in volumes["tmp"]
        assert mounts["media"] == "/app/media"
        assert (
            volumes["media"]["persistentVolumeClaim"]["claimName"]
            == (manifests(context)["k8s/media-pvc.yaml"]["metadata"]["name"])
        )


@pytest.mark.parametrize("graceful", [1, 30, 120])
def test_termination_outlasts_the_graceful_timeout(context, graceful):
    pod, container = web(replace(context, graceful_timeout=graceful))
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > graceful + pre_stop


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5, 9, 17])
def test_the_cpu_limit_sizes_gunicorn_to_the_settings_workers(
    context, monkeypatch, tmp_path, workers
):
    _, container = web(replace(context, workers=workers))
    resources = container["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == str(cpu_limit(workers))
    # The quota Kubernetes sets for that limit, in a cgroup of the test's own, read by
    # prodkit's own sizing on a machine with more cores than the limit.
    (tmp_path / "cpu.max").write_text(f"{int(resources['limits']['cpu']) * 100000} 100000\n")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    started = cpu_cores(tmp_path) * 2 + 1
    env = {item["name"]: item["value"] for item in container["env"]}
    assert int(env.get("WEB_CONCURRENCY", started)) == workers
    assert ("WEB_CONCURRENCY" in env) == (started != workers)


def test_memory_limit_is_above_the_request(context):
    _, container = web(context)
    resources = container["resources"]
    request = int(resources["requests"]["memory"].removesuffix("Mi"))
    assert int(resources["limits"]["memory"].removesuffix("Mi")) >= request > 0


def test_service_and_autoscaler_target_the_deployment(context):
    files = manifests(context)
    deployment = files["k8s/deployment.yaml"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert "replicas" not in deployment["spec"]
    service = files["k8s/service.yaml"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    hpa = files["k8s/hpa.yaml"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
