"""``deployconfig kubernetes``: a Deployment, Service, HorizontalPodAutoscaler, ConfigMap and
migrate Job (and a media volume claim when uploads are on local disk) under ``k8s/``.

The pods run the image of ``deployconfig docker`` as its non-root user on a read-only root
file system, with probes on prodkit's health endpoints and a CPU limit that makes prodkit's
gunicorn config start the context's worker count. Configuration comes from a ConfigMap and a
Secret named here: the Secret's keys are listed in the header, its values never appear.
"""

from __future__ import annotations

import json
import math
import re

from django_prodkit.deploy import gunicorn
from django_prodkit.deploy.context import DeployContext, render_template
from django_prodkit.deploy.docker import (
    APP_UID,
    STOP_MARGIN,
    app_name,
    container_context,
    header,
)

# Seconds the pod waits after it is taken out of the Service before gunicorn gets SIGTERM:
# endpoints and ingress controllers learn of it a moment later and still send requests.
PRESTOP_SECONDS = 5
# Start-up budget: failures of the startup probe, 5 s apart.
STARTUP_FAILURES = 24
# Memory per gunicorn process, MiB. Measured on the example project (RSS after serving
# pages): ~50 per worker, ~30 for the master; a real project loads more code.
WORKER_MIB = 128
MASTER_MIB = 64
MIN_REPLICAS = 2
MAX_REPLICAS = 10
# Scale out before the workers are all busy: requests queue long before CPU reaches 100%.
CPU_TARGET = 70


def cpu_limit(workers: int) -> int:
    """The whole cores whose quota makes prodkit start ``workers`` gunicorn workers
    (2 x cores + 1, ``django_prodkit.settings.server.default_workers``), at least one."""
    return max(1, math.ceil((workers - 1) / 2))


def quota_workers(cores: int) -> int:
    """The workers prodkit's gunicorn config starts under a quota of ``cores`` cores."""
    return 2 * cores + 1


def _values(context: DeployContext) -> dict[str, object]:
    """What the templates share."""
    project = app_name(context)
    inside = container_context(context)
    cores = cpu_limit(context.workers)
    environment = dict(gunicorn.environment(context))
    # Only when the quota alone would start another count than the settings chose.
    web_concurrency = context.workers != quota_workers(cores)
    if web_concurrency:
        environment["WEB_CONCURRENCY"] = str(context.workers)
    memory = MASTER_MIB + WORKER_MIB * context.workers
    secrets = [variable.name for variable in context.variables if variable.secret]
    configured = {"DJANGO_ALLOWED_HOSTS", "PRODKIT_HTTPS", *environment}
    checks = [
        f"the image: `deployconfig docker`'s app stage pushed to your registry; set it in "
        f"deployment.yaml and migrate-job.yaml ({project}:latest now), by tag or digest.",
        f"the Secret {project}-secrets exists with the project's secrets, e.g. kubectl create "
        f"secret generic {project}-secrets --from-env-file=secrets.env"
        + (f", holding {', '.join(secrets)}." if secrets else "."),
        "PRODKIT_TRUSTED_PROXIES (configmap.yaml): the addresses your ingress controller "
        "connects to the pods from, or the client address is the controller's.",
        "apply: kubectl apply -f k8s/ (run migrate-job.yaml for each release first).",
    ]
    return {
        "header": header(context, "kubernetes", checks),
        "project": project,
        "image": f"{project}:latest",
        "configmap": f"{project}-config",
        "secret": f"{project}-secrets",
        "uid": APP_UID,
        "media_root": inside.media_root,
        "allowed_hosts": json.dumps(",".join(context.server_names)),
        "https": str(context.https).lower(),
        "placeholders": sorted(
            {variable.name for variable in context.variables if not variable.secret} - configured
            | {"PRODKIT_TRUSTED_PROXIES"}
        ),
        "environment": [(name, json.dumps(value)) for name, value in environment.items()],
        "web_concurrency": web_concurrency,
        "command": json.dumps(gunicorn.command()),
        "cpus": cores,
        "quota_workers": quota_workers(cores),
        "worker_mib": WORKER_MIB,
        "master_mib": MASTER_MIB,
        "memory_request": memory,
        "memory_limit": 2 * memory,
        "prestop": PRESTOP_SECONDS,
        "grace_period": grace_period(context),
        "startup_failures": STARTUP_FAILURES,
        "startup_seconds": 5 * STARTUP_FAILURES,
        "min_replicas": MIN_REPLICAS,
        "max_replicas": MAX_REPLICAS,
        "cpu_target": CPU_TARGET,
    }


def grace_period(context: DeployContext) -> int:
    """``terminationGracePeriodSeconds``: the preStop pause, gunicorn's graceful timeout and a
    margin, so Kubernetes never kills a worker that is finishing its requests."""
    return PRESTOP_SECONDS + context.graceful_timeout + STOP_MARGIN


def render(context: DeployContext) -> dict[str, str]:
    """The manifests under ``k8s/``; ``k8s/media-pvc.yaml`` only for uploads on local disk."""
    values = _values(context)
    names = ["configmap", "deployment", "service", "hpa", "migrate-job"]
    if context.media_root is not None:
        names.append("media-pvc")
    # The included pod and container parts leave blank lines behind; YAML needs none.
    return {
        f"k8s/{name}.yaml": re.sub(
            r"\n{2,}", "\n", render_template(f"kubernetes/{name}.yaml", context, **values)
        )
        for name in names
    }
