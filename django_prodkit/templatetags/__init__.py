"""Template tags of django-prodkit: ``{% load prodkit_telemetry %}``."""

from __future__ import annotations
