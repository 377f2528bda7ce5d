"""Settings helpers: plain functions a project's ``settings.py`` calls; dicts out.

None of them reads Django's settings or touches the network, so each works alone and before
Django is set up.
"""

from __future__ import annotations

from django_prodkit.settings.caches import (
    cache_from_azure_connection_string,
    cache_from_url,
    cache_middleware_settings,
    caches_from_env,
    session_engine_for,
    session_settings,
)
from django_prodkit.settings.checks import checks_from_env
from django_prodkit.settings.database import (
    database_from_connection_string,
    database_from_env,
    database_from_url,
)
from django_prodkit.settings.email import email_from_env, email_from_url
from django_prodkit.settings.health import health_from_env, health_settings
from django_prodkit.settings.logging import logging_config, logging_from_env
from django_prodkit.settings.middleware import production_middleware
from django_prodkit.settings.platform import (
    Platform,
    detect_platform,
    host_settings,
    host_settings_from_env,
)
from django_prodkit.settings.profile import production_settings
from django_prodkit.settings.proxies import trusted_proxies, trusted_proxies_from_env
from django_prodkit.settings.security import security_from_env, security_settings
from django_prodkit.settings.server import server_timeout, server_workers
from django_prodkit.settings.storages import (
    azure_storages,
    azure_storages_from_env,
    local_storages,
    parse_storage_connection_string,
    storages_from_env,
)
from django_prodkit.settings.telemetry import telemetry_from_env, telemetry_settings

__all__ = [
    "Platform",
    "azure_storages",
    "azure_storages_from_env",
    "cache_from_azure_connection_string",
    "cache_from_url",
    "cache_middleware_settings",
    "caches_from_env",
    "checks_from_env",
    "database_from_connection_string",
    "database_from_env",
    "database_from_url",
    "detect_platform",
    "email_from_env",
    "email_from_url",
    "health_from_env",
    "health_settings",
    "host_settings",
    "host_settings_from_env",
    "local_storages",
    "logging_config",
    "logging_from_env",
    "parse_storage_connection_string",
    "production_middleware",
    "production_settings",
    "security_from_env",
    "security_settings",
    "server_timeout",
    "server_workers",
    "session_engine_for",
    "session_settings",
    "storages_from_env",
    "telemetry_from_env",
    "telemetry_settings",
    "trusted_proxies",
    "trusted_proxies_from_env",
]
