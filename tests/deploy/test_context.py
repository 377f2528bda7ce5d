"""The deployment context read from the settings, the kinds' registry and the command."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from django_prodkit.deploy import KINDS, render
from django_prodkit.deploy.context import DeployContext, Variable, configured_variables

AZURE_STATIC = "django_prodkit.storage.azure.AzureManifestStaticStorage"
AZURE_MEDIA = "django_prodkit.storage.azure.AzureMediaStorage"


def test_context_from_the_example_settings(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.delenv("PRODKIT_WORKER_CLASS", raising=False)
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ALLOWED_HOSTS = ["www.example.com", "*"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
    context = DeployContext.from_settings()
    assert (context.worker_class, context.asgi) == ("gthread", False)
    assert context.entrypoint == "django_prodkit.wsgi:application"
    assert (context.port, context.workers, context.threads) == (8123, 3, 2)
    assert context.server_names == ("www.example.com",)
    assert context.static_root == tmp_path / "static"
    assert context.media_root == tmp_path / "media"
    # The largest upload Django takes, and room for the multipart framing around it.
    assert context.max_body_bytes > 5 * 1024 * 1024
    assert (context.liveness_path, context.readiness_path) == ("/healthz", "/readyz")
    assert context.protected_url == "/_protected/"


def test_files_on_blob_storage_have_no_local_root(settings):
    settings.PRODKIT_STORAGE_ACCOUNT_NAME = "account"
    settings.STORAGES = {
        "default": {"BACKEND": AZURE_MEDIA},
        "staticfiles": {"BACKEND": AZURE_STATIC},
    }
    context = DeployContext.from_settings()
    assert (context.static_root, context.media_root) == (None, None)


def test_an_async_project_is_served_by_uvicorn(settings, monkeypatch):
    monkeypatch.delenv("PRODKIT_WORKER_CLASS", raising=False)
    settings.ROOT_URLCONF = "tests.urls_async"
    context = DeployContext.from_settings()
    assert context.asgi
    assert context.entrypoint == "django_prodkit.asgi:application"


def test_variables_are_names_and_secrets_are_marked():
    environ = {
        "DATABASE_URL": "postgres://app:planted-SECRET@db.example.com/app",
        "CACHE_URL": "redis://cache.example.com:6379/0",
        "DJANGO_SECRET_KEY": "planted-SECRET",
        "DJANGO_ALLOWED_HOSTS": "www.example.com",
        "AZURE_STORAGE_CONNECTION_STRING": "AccountKey=planted-SECRET",
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "HOME": "/root",
    }
    assert configured_variables(environ) == (
        Variable("AZURE_STORAGE_CONNECTION_STRING", secret=True),
        Variable("CACHE_URL", secret=False),
        Variable("DATABASE_URL", secret=True),
        Variable("DJANGO_ALLOWED_HOSTS", secret=False),
        Variable("DJANGO_SECRET_KEY", secret=True),
    )


def test_unknown_kind():
    with pytest.raises(ValueError, match="Unknown kind 'iis': use one of nginx, apache"):
        render("iis", DeployContext.from_settings())


def test_every_kind_has_a_renderer():
    for kind in KINDS:
        assert callable(__import__(f"django_prodkit.deploy.{kind}", fromlist=["render"]).render)


def test_gunicorn_kind_starts_prodkit_config(monkeypatch):
    monkeypatch.setenv("PRODKIT_WORKER_CLASS", "uvicorn")
    [(name, text)] = render("gunicorn", DeployContext.from_settings()).items()
    assert name == "gunicorn.sh"
    assert text.startswith("#!/bin/sh\n")
    assert text.rstrip().endswith(
        "exec env PRODKIT_WORKER_CLASS=uvicorn_worker.UvicornWorker "
        "gunicorn -c python:django_prodkit.gunicorn_conf"
    )


def test_command_writes_files_and_keeps_existing_ones(tmp_path):
    out = StringIO()
    call_command("deployconfig", "gunicorn", "--output", str(tmp_path), stdout=out)
    assert (tmp_path / "gunicorn.sh").read_text().startswith("#!/bin/sh")
    assert f"wrote {tmp_path / 'gunicorn.sh'}" in out.getvalue()
    (tmp_path / "gunicorn.sh").write_text("mine")
    with pytest.raises(SystemExit) as exit_:
        call_command("deployconfig", "gunicorn", "--output", str(tmp_path), stderr=StringIO())
    assert exit_.value.code == 1
    assert (tmp_path / "gunicorn.sh").read_text() == "mine"
    call_command("deployconfig", "gunicorn", "--output", str(tmp_path), "--force", stdout=out)
    assert Path(tmp_path / "gunicorn.sh").read_text() != "mine"


def test_command_prints_to_stdout():
    out = StringIO()
    call_command("deployconfig", "gunicorn", stdout=out)
    assert out.getvalue().startswith("#!/bin/sh\n")
