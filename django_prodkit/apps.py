"""Django app configuration for django_prodkit."""

from __future__ import annotations

import sys
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models.signals import post_migrate
from django.utils.module_loading import import_string


class ProdkitConfig(AppConfig):
    """The ``django_prodkit`` app: add it to ``INSTALLED_APPS``."""

    name = "django_prodkit"
    verbose_name = "django-prodkit"

    def ready(self) -> None:
        # Registers the checks with Django. The live checks' specs are recorded when
        # django_prodkit.probes is imported (prodcheck does); web workers never need them.
        import django_prodkit.checks  # noqa: F401

        post_migrate.connect(create_cache_tables, dispatch_uid="django_prodkit.cache_tables")


def create_cache_tables(
    sender: AppConfig, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, **kwargs: Any
) -> None:
    """After ``migrate``, create the tables of the ``CACHES`` entries that are DatabaseCaches.

    Only missing tables are created (by ``createcachetable``), on the database ``migrate``
    ran on and only where the router allows it, so this is safe after every ``migrate``.
    """
    # post_migrate is sent once per app with models, in app order: act on the last one, after
    # every migration has run, and only once.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if not with_models or sender is not with_models[-1]:
        return
    tables = [
        str(entry.get("LOCATION", ""))
        for entry in settings.CACHES.values()
        if _is_database_cache(entry)
    ]
    if not tables:
        return
    existing = set(connections[using].introspection.table_names())
    stdout = kwargs.get("stdout") or sys.stdout
    for table in dict.fromkeys(tables):
        model = BaseDatabaseCache(table, {}).cache_model_class
        if table in existing or not router.allow_migrate_model(using, model):
            continue
        call_command("createcachetable", table, database=using, verbosity=0)
        if verbosity >= 1:
            stdout.write(f"  Created cache table {table!r}.\n")


def _is_database_cache(entry: dict[str, Any]) -> bool:
    try:
        backend = import_string(entry.get("BACKEND", ""))
    except ImportError:
        return False
    return isinstance(backend, type) and issubclass(backend, BaseDatabaseCache)
