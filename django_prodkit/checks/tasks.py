"""Checks 9xx: background work.

Two ways to run work outside the request are recognised from settings alone: Django's tasks
framework (``TASKS``, Django >= 6.0, or the ``django-tasks`` backport with the same setting) and
Celery configured from Django's settings (``CELERY_*`` names, its Django apps, or
``CELERY_BROKER_URL`` in the environment). Neither is imported.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage

from django_prodkit.checks.context import deployment
from django_prodkit.checks.inspect import backend_is, is_set_by_project
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.env import Env
from django_prodkit.settings.caches import LOCMEM_BACKEND
from django_prodkit.settings.storages import FILE_STORAGE

# Task backends that run nothing in another process: Django's (6.0+) and the backport's.
IMMEDIATE_TASK_BACKENDS = (
    "django.tasks.backends.immediate.ImmediateBackend",
    "django_tasks.backends.immediate.ImmediateBackend",
)
DUMMY_TASK_BACKENDS = (
    "django.tasks.backends.dummy.DummyBackend",
    "django_tasks.backends.dummy.DummyBackend",
)
# Django apps that come with Celery.
CELERY_APPS = ("django_celery_beat", "django_celery_results", "djcelery")
# Celery's setting names with the usual CELERY_ namespace, and the old unprefixed ones.
_BROKER_SETTINGS = ("CELERY_BROKER_URL", "BROKER_URL")
_EAGER_SETTINGS = ("CELERY_TASK_ALWAYS_EAGER", "CELERY_ALWAYS_EAGER")

W901 = Check(
    id="prodkit.W901",
    title="tasks run in the request, or never",
    msg="TASKS['default'] uses {backend}: {effect}.",
    hint=(
        "Use a backend whose worker runs beside the site, e.g. the database backend of the "
        "django-tasks package with its db_worker command."
    ),
    why=(
        "ImmediateBackend runs each task inside the request that enqueues it: the user waits "
        "for it and the front end's timeout applies. DummyBackend stores tasks and never runs "
        "them: mails and jobs silently never happen."
    ),
)
W902 = Check(
    id="prodkit.W902",
    title="Celery has no shared broker",
    msg="Celery is configured and its broker {problem}.",
    hint=(
        "Set CELERY_BROKER_URL to a broker every process reaches, e.g. rediss://:KEY@NAME"
        ".redis.cache.windows.net:6380/1 or an Azure Service Bus / RabbitMQ URL."
    ),
    why=(
        "The broker is how the web processes hand tasks to workers. With none Celery tries "
        "amqp://guest@localhost// and `.delay()` hangs retrying; with memory:// only the process "
        "that sends a task could run it, and the worker never sees it."
    ),
)
W903 = Check(
    id="prodkit.W903",
    title="Celery runs tasks eagerly",
    msg="{setting} is True: Celery runs every task inside the request that sends it.",
    hint="Remove it outside tests, and run a Celery worker with a shared broker.",
    why=(
        "Eager tasks run in the web worker, synchronously: requests take as long as their "
        "tasks, retries block, and the front end's timeout cuts long jobs off."
    ),
)
W904 = Check(
    id="prodkit.W904",
    title="the task worker and the site see different caches",
    msg=(
        "Background tasks run in other processes ({worker}) and the default cache is local to "
        "one process ({backend})."
    ),
    hint=(
        "Use a shared cache: set CACHE_URL=redis://... (rediss:// for Azure Cache for Redis) and "
        "build CACHES with django_prodkit.settings.caches_from_env(env)."
    ),
    why=(
        "A value a task caches, or a cache entry it invalidates, exists only in the worker's "
        "memory: the site keeps serving stale data, and cache-based locks and progress markers "
        "never reach it."
    ),
)
W905 = Check(
    id="prodkit.W905",
    title="the task worker cannot see uploaded files",
    msg=(
        "Background tasks run in other processes ({worker}), media files are on the local disk "
        "({backend}) and {deployment} serve the site."
    ),
    hint=(
        "Keep media on shared storage (AZURE_STORAGE_CONNECTION_STRING: storages_from_env() "
        "uses AzureMediaStorage), so every instance and the worker read the same files."
    ),
    why=(
        "A worker in its own container or on another instance has its own disk: a task that "
        "processes an upload (thumbnails, imports, virus scans) cannot find the file, and the "
        "files it writes are invisible to the site."
    ),
)


def tasks_backend() -> str | None:
    """Return ``TASKS['default']['BACKEND']`` when the project sets ``TASKS``, else None.

    Django 6.0's default (ImmediateBackend) is left alone: a project that does not configure
    tasks probably does not use them.
    """
    if not is_set_by_project("TASKS"):
        return None
    tasks = getattr(settings, "TASKS", None)
    default = tasks.get("default") if isinstance(tasks, dict) else None
    if not isinstance(default, dict):
        return None
    return str(default.get("BACKEND") or "")


def celery_configured(env: Env | None = None) -> bool:
    """Return True when Celery is configured from Django's settings or the environment."""
    apps = [str(app) for app in getattr(settings, "INSTALLED_APPS", ())]
    return (
        any(name.startswith("CELERY_") for name in dir(settings))
        or is_set_by_project("BROKER_URL")
        or any(app.split(".")[0] in CELERY_APPS for app in apps)
        or (env or Env()).is_set("CELERY_BROKER_URL")
    )


def _celery_eager() -> str | None:
    """The setting that makes Celery run tasks eagerly, or None."""
    return next((name for name in _EAGER_SETTINGS if getattr(settings, name, False)), None)


def _celery_broker(env: Env) -> str | None:
    # Celery reads the CELERY_BROKER_URL variable before any setting.
    value = env.raw("CELERY_BROKER_URL")
    if value is None:
        values = [getattr(settings, name, None) for name in _BROKER_SETTINGS]
        value = next((item for item in values if item), None)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value).split(";")[0].strip()


def background_worker(env: Env | None = None) -> str | None:
    """Return what runs tasks in other processes (for a message), or None when nothing does."""
    env = env or Env()
    backend = tasks_backend()
    if backend and not backend_is(backend, *IMMEDIATE_TASK_BACKENDS, *DUMMY_TASK_BACKENDS):
        return f"TASKS backend {backend}"
    if celery_configured(env) and _celery_eager() is None:
        return "Celery"
    return None


@prodkit_check(W901)
def check_tasks_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W901: the project's TASKS run immediately or never."""
    backend = tasks_backend()
    if not backend:
        return []
    if backend_is(backend, *IMMEDIATE_TASK_BACKENDS):
        effect = "every task runs inside the request that enqueues it"
    elif backend_is(backend, *DUMMY_TASK_BACKENDS):
        effect = "tasks are stored and never run"
    else:
        return []
    return [W901.message(obj="settings.TASKS['default']", backend=backend, effect=effect)]


@prodkit_check(W902)
def check_celery_broker(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W902: Celery without a broker, or with the in-memory one."""
    env = Env()
    if not celery_configured(env) or _celery_eager() is not None:
        return []
    broker = _celery_broker(env)
    if not broker:
        problem = "is not set (CELERY_BROKER_URL): Celery falls back to amqp://guest@localhost//"
    elif urlsplit(broker).scheme.lower() == "memory":
        problem = "is memory://, which lives inside one process"
    else:
        return []
    return [W902.message(obj="settings.CELERY_BROKER_URL", problem=problem)]


@prodkit_check(W903)
def check_celery_eager(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W903: Celery runs tasks eagerly."""
    setting = _celery_eager()
    if setting is None:
        return []
    return [W903.message(obj=f"settings.{setting}", setting=setting)]


@prodkit_check(W904)
def check_worker_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W904: a task worker in other processes and a local-memory default cache."""
    worker = background_worker()
    caches = getattr(settings, "CACHES", None) or {}
    backend = str(caches.get("default", {}).get("BACKEND", ""))
    if worker is None or not backend_is(backend, LOCMEM_BACKEND):
        return []
    return [W904.message(obj="settings.CACHES['default']", worker=worker, backend=backend)]


@prodkit_check(W905)
def check_worker_media(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W905: a task worker in another container or instance and media on the local disk."""
    env = Env()
    worker = background_worker(env)
    where = deployment(env)
    if worker is None or (where.platform.kind == "local" and not where.several_instances):
        return []
    storages = getattr(settings, "STORAGES", None) or {}
    backend = str(storages.get("default", {}).get("BACKEND", ""))
    if not backend_is(backend, FILE_STORAGE):
        return []
    return [
        W905.message(
            obj="settings.STORAGES['default']",
            worker=worker,
            backend=backend,
            deployment=where.describe(),
        )
    ]
