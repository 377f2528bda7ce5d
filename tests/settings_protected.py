"""The example project with protected downloads in the mode the environment names
(``PRODKIT_PROTECTED_MODE``), the URLs of tests/urls_protected.py."""

from __future__ import annotations

import os

from example_project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_protected"
PRODKIT_PROTECTED_MODE = os.environ.get("PRODKIT_PROTECTED_MODE", "nginx")
