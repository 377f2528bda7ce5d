"""The example project with the Azure variables set: collectstatic to Azurite, pages that
link static files there, an upload through the gallery's form that lands in the media
container and is linked by a signed URL that Azurite serves."""

from __future__ import annotations

import re

import pytest
import requests

from tests.example import example_env, gunicorn, links, manage, png_bytes
from tests.storage.conftest import fetch

pytestmark = pytest.mark.slow


def test_example_serves_static_and_media_from_azurite(
    azurite, azurite_url, containers, service, tmp_path
):
    static, media = containers
    env = example_env(
        tmp_path,
        AZURE_STORAGE_CONNECTION_STRING=azurite,
        PRODKIT_STATIC_CONTAINER=static,
        PRODKIT_MEDIA_CONTAINER=media,
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    uploaded = service.get_container_client(static).list_blob_names()
    assert "staticfiles.json" in set(uploaded)

    with gunicorn(env, tmp_path / "gunicorn.log") as port, requests.Session() as browser:
        site = f"http://127.0.0.1:{port}"
        index = browser.get(f"{site}/", timeout=10)
        assert index.status_code == 200
        [stylesheet] = links(index.text, r'<link rel="stylesheet" href="([^"]+)"')
        assert re.fullmatch(
            rf"{re.escape(azurite_url)}/{static}/gallery/site\.[0-9a-f]{{12}}\.css", stylesheet
        )
        status, headers, body = fetch(stylesheet)
        assert status == 200
        assert headers["Content-Type"] == "text/css; charset=utf-8"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert body

        image = png_bytes()
        posted = browser.post(
            f"{site}/",
            data={"title": "Teal", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            files={"image": ("teal.png", image, "image/png")},
            allow_redirects=False,
            timeout=10,
        )
        assert posted.status_code == 302, posted.text[:500]
        detail = browser.get(f"{site}{posted.headers['Location']}", timeout=10)
        [photo] = links(detail.text, r'<img class="photo" src="([^"]+)"')

    # The page links the upload in the private media container through a signed URL.
    assert photo.startswith(f"{azurite_url}/{media}/photos/")
    assert "sig=" in photo
    status, headers, body = fetch(photo)
    assert (status, body) == (200, image)
    assert headers["Content-Type"] == "image/png"
    assert fetch(photo.split("?")[0])[0] != 200
    [blob] = service.get_container_client(media).list_blob_names()
    assert photo.split("?")[0].endswith(blob)
