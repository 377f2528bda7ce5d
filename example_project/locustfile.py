"""Visitors of the example gallery, for Locust: load-test a deployment before sizing its plan.

    locust -f example_project/locustfile.py --headless -u 50 -r 5 -t 5m \\
        --host https://<app>.azurewebsites.net --only-summary --csv gallery

Each simulated user is one visit: the home page and what a browser loads with it, then a
few seconds of reading between pages (mostly the home page and photos, the about page and
the JSON API now and then). One task in about twenty uploads a one-pixel photo; against a
site whose storage should not fill with them, add ``--exclude-tags upload``.
See docs/scaling.md.
"""

from __future__ import annotations

import base64
import random
import re

from locust import HttpUser, between, tag, task

# A valid 1x1 PNG, so the upload needs no image library on the load generator.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# What a browser fetches with a page: the stylesheet, the script and the logo (hashed names,
# possibly on another host: blob storage or a CDN).
ASSETS = re.compile(r'(?:<link rel="stylesheet" href|<script src|<link rel="icon" href)="([^"]+)"')
PHOTO_LINK = re.compile(r'href="/photos/(\d+)/"')
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class GalleryVisitor(HttpUser):
    """Someone browsing the gallery: reads a page, waits, follows a link."""

    wait_time = between(1, 5)

    def on_start(self) -> None:
        self.photo_ids: list[int] = []
        self.assets: list[str] = []
        self.csrf_token = ""
        # A first visit: the page, then everything it links that the browser does not have.
        self.home()
        for asset in self.assets:
            self.client.get(asset, name="static")

    @task(6)
    def home(self) -> None:
        with self.client.get("/", name="/", catch_response=True) as response:
            page = response.text or ""
            if "<h1>Photos</h1>" not in page:
                response.failure("the home page does not list the photos")
                return
        self.assets = ASSETS.findall(page)
        self.photo_ids = [int(pk) for pk in PHOTO_LINK.findall(page)] or self.photo_ids
        token = CSRF_TOKEN.search(page)
        self.csrf_token = token.group(1) if token else ""

    @task(4)
    def photo(self) -> None:
        if not self.photo_ids:
            self.home()
            return
        pk = random.choice(self.photo_ids)  # noqa: S311 - picks a page, not a secret
        self.client.get(f"/photos/{pk}/", name="/photos/[id]/")

    @task(2)
    def about(self) -> None:
        self.client.get("/about/", name="/about/")

    @task(2)
    def api(self) -> None:
        response = self.client.get("/api/photos/", name="/api/photos/")
        if response.ok:
            self.photo_ids = [photo["id"] for photo in response.json()["photos"]] or self.photo_ids

    @task(1)
    def static(self) -> None:
        """A visitor whose browser cache is cold (a new tab, a private window)."""
        if self.assets:
            self.client.get(random.choice(self.assets), name="static")  # noqa: S311

    @tag("upload")
    @task(1)
    def upload(self) -> None:
        # Django checks the Referer of a form posted over HTTPS.
        with self.client.post(
            "/",
            data={"title": "Load test", "csrfmiddlewaretoken": self.csrf_token},
            files={"image": ("pixel.png", PIXEL, "image/png")},
            headers={"Referer": f"{self.host}/"},
            name="/ [upload]",
            catch_response=True,
        ) as response:
            # A refused form is shown again with a 200: only landing on the photo is success.
            if "/photos/" not in response.url:
                response.failure("the upload was not accepted")
