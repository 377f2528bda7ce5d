from __future__ import annotations

import io
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image

from gallery.models import Photo

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"


def png_bytes(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client, title="Sunset", content=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("sunset.png", content or png_bytes(), content_type="image/png")
    return client.post(reverse("gallery:index"), {"title": title, "image": image})


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["gallery:index", "gallery:about", "gallery:api-photos", "admin:login"]
)
def test_pages_answer_200(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200


@pytest.mark.django_db
def test_upload_stores_the_image_as_media_and_lists_it(client, settings):
    response = upload(client)
    photo = Photo.objects.get()
    assert response.status_code == 302
    assert response["Location"] == photo.get_absolute_url()
    assert (Path(settings.MEDIA_ROOT) / photo.image.name).read_bytes() == png_bytes()
    detail = client.get(photo.get_absolute_url())
    assert detail.status_code == 200
    assert photo.image.url in detail.content.decode()
    media = client.get(photo.image.url)
    assert media.status_code == 200
    assert b"".join(media.streaming_content) == png_bytes()


@pytest.mark.django_db
def test_same_name_uploads_do_not_overwrite_each_other(client):
    upload(client, "first", png_bytes("red"))
    upload(client, "second", png_bytes("blue"))
    first, second = Photo.objects.order_by("id")
    assert first.image.name != second.image.name


@pytest.mark.django_db
def test_upload_limit_is_enforced(client, settings):
    settings.GALLERY_MAX_UPLOAD_BYTES = 10
    response = upload(client)
    assert response.status_code == 200
    assert "Images up to" in response.content.decode()
    assert not Photo.objects.exists()


@pytest.mark.django_db
def test_not_an_image_is_refused(client):
    response = upload(client, content=b"not an image at all")
    assert response.status_code == 200
    assert not Photo.objects.exists()


@pytest.mark.django_db
def test_json_endpoint_lists_photos_with_absolute_urls(client):
    upload(client, "Sunset")
    data = client.get(reverse("gallery:api-photos")).json()
    assert [p["title"] for p in data["photos"]] == ["Sunset"]
    assert data["photos"][0]["url"].startswith("http://testserver/media/photos/")


@pytest.mark.django_db
def test_about_page_is_cached(client):
    first = client.get(reverse("gallery:about"))
    upload(client)
    second = client.get(reverse("gallery:about"))
    assert first.content == second.content
    assert "max-age=60" in second["Cache-Control"]


@pytest.mark.django_db
def test_templates_use_static_urls(client):
    html = client.get(reverse("gallery:index")).content.decode()
    assert 'href="/static/gallery/site.css"' in html
    assert 'src="/static/gallery/site.js"' in html


def test_example_passes_djangos_deploy_checks_with_https_settings(tmp_path):
    env = {
        "PATH": str(Path(sys.executable).parent),
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "www.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # Production mail; the console default is an error in Django 6.1's deploy checks.
        "EMAIL_URL": "submission://mailer:password@smtp.example.com",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(collect, cwd=EXAMPLE, env=env, check=True, timeout=120)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Of Django's own checks only the HSTS preload list remains: joining it is a commitment
    # prodkit leaves to you. (prodkit's checks are judged in test_prodcheck.py.)
    found = re.findall(r"\((\w+\.\w\d+)\)", result.stderr)
    assert [check_id for check_id in found if not check_id.startswith("prodkit.")] == [
        "security.W021"
    ]
