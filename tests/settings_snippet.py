"""The example project plus a page under a strict Content-Security-Policy with a nonce
(tests/urls_snippet.py), for the browser snippet's tests; on any Django version."""

from __future__ import annotations

from example_project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_snippet"
