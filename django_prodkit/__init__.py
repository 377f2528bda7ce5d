"""Take a Django project from a laptop to production."""

from __future__ import annotations

__version__ = "0.1.0"
