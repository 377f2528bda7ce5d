"""The example project behind nginx, handing protected files to it (tests/storage)."""

from __future__ import annotations

from example_project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_protected"
PRODKIT_PROTECTED_MODE = "nginx"
