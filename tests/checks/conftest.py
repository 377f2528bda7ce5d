"""Check tests run on one instance with one worker unless a test says otherwise."""

from __future__ import annotations

import pytest

# Variables by which detect_platform() recognises a platform; a test sets the one it needs.
PLATFORM_VARIABLES = (
    "WEBSITE_SITE_NAME",
    "WEBSITE_HOSTNAME",
    "WEBSITE_INSTANCE_ID",
    "KUBERNETES_SERVICE_HOST",
    "container",
    "WEB_CONCURRENCY",
    "PRODKIT_BEHIND_TLS_PROXY",
)


@pytest.fixture(autouse=True)
def _one_process(settings, monkeypatch):
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings.PRODKIT_INSTANCES = 1
    settings.PRODKIT_WORKERS = 1


@pytest.fixture
def several_processes(settings):
    """One instance, four workers."""
    settings.PRODKIT_WORKERS = 4


@pytest.fixture
def several_instances(settings):
    """Three instances, four workers each."""
    settings.PRODKIT_INSTANCES = 3
    settings.PRODKIT_WORKERS = 4
