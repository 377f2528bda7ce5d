from __future__ import annotations

import pytest

from tests.deploy import PLANTED


@pytest.fixture
def planted(monkeypatch) -> str:
    """Secret values in the environment, as on a configured host: a database password, the
    secret key, a storage key and the health token. Return the mark they all carry."""
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{PLANTED}@db.example.com/app")
    monkeypatch.setenv("DJANGO_SECRET_KEY", f"{PLANTED}-key-{'x' * 40}")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", PLANTED)
    monkeypatch.setenv("PRODKIT_HEALTH_TOKEN", f"{PLANTED}-token")
    return PLANTED
