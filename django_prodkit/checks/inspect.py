"""Small facts about configured backends that several check areas need."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.utils.module_loading import import_string


def backend_class(path: Any) -> type | None:
    """Return the class a dotted ``BACKEND`` path names, or None when it does not import."""
    try:
        found = import_string(str(path))
    except ImportError:
        return None
    return found if isinstance(found, type) else None


def backend_is(path: Any, *bases: str) -> bool:
    """Return True when ``path`` names one of ``bases`` or a subclass of one."""
    cls = backend_class(path)
    if cls is None:
        return str(path) in bases
    for base in bases:
        base_cls = backend_class(base)
        if base_cls is not None and issubclass(cls, base_cls):
            return True
    return False


def middleware_paths() -> list[str]:
    """The dotted paths in ``MIDDLEWARE``, in order."""
    return [str(name) for name in getattr(settings, "MIDDLEWARE", None) or ()]


def is_set_by_project(name: str) -> bool:
    """Return True when the project's settings (or a test override) set ``name``."""
    # LazySettings forwards is_overridden() to Settings/UserSettingsHolder; the stubs omit it.
    return bool(cast(Any, settings).is_overridden(name))
