"""The test settings with a URLconf of async views: a project that needs ASGI."""

from __future__ import annotations

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_async"
