"""Two instances of the example project behind nginx act as one site, and survive losing one.

Each instance is gunicorn with prodkit's config and two uvicorn workers, on a port of its own,
with a static root of its own (as on two hosts). They share what a scaled-out site shares: a
PostgreSQL database of the test's own, the shared Redis under a key prefix of the test's own,
and an Azurite of the test's own for static files and uploads. nginx (an instance of the
test's own, tests/nginx.py) balances over both, retrying idempotent requests on the other
instance when one fails, and has one more port pinned to each instance: a request through
``via_a`` is served by A, through ``via_b`` by B, each still through the proxy.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from tests.example import (
    PASSWORD,
    browser,
    example_env,
    gunicorn,
    links,
    log_in,
    open_page,
    png_bytes,
    prepare,
)
from tests.nginx import PORT, own_nginx
from tests.servers import FrontEnd, free_port, own_azurite
from tests.storage.conftest import fetch

pytestmark = pytest.mark.slow

HEALTH_TOKEN = uuid.uuid4().hex
CONCURRENCY = 8  # client connections of the load through the balancer
CLIENT = "203.0.113.7"  # TEST-NET-3: a visitor's address only the proxy headers can carry

# What a production nginx in front of several instances says to each of them: the Host the
# visitor asked for, the address it saw and the scheme (docs/proxies.md), and HTTP/1.1 with
# kept-alive connections. A request that fails to connect, times out or gets a 502/503 is
# tried once more on the other instance; nginx never retries a POST it has already sent.
PROXY = """
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 2;
        proxy_connect_timeout 2s;
        client_max_body_size 6m;
        add_header X-Upstream $upstream_addr always;
"""


def nginx_config(a: int, b: int, via_a: int, via_b: int) -> str:
    """The balancer on ``@PORT@`` over instances ``a`` and ``b``; ``via_a``/``via_b`` pinned."""
    return f"""
    upstream example {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=30s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{PORT};
        location / {{ proxy_pass http://example; {PROXY} }}
    }}
    server {{
        listen 127.0.0.1:{via_a};
        location / {{ proxy_pass http://127.0.0.1:{a}; {PROXY} }}
    }}
    server {{
        listen 127.0.0.1:{via_b};
        location / {{ proxy_pass http://127.0.0.1:{b}; {PROXY} }}
    }}
    """


@dataclass
class Site:
    """The running site: URLs through the balancer and pinned to each instance, the
    instances' ports, pid files and logs, nginx, and the storage it all uses."""

    balancer: str
    via_a: str
    via_b: str
    ports: dict[str, int]
    pid_files: dict[str, Path]
    logs: dict[str, Path]
    nginx: FrontEnd
    storage: BlobServiceClient
    media_container: str

    def instance(self, upstream: str) -> str:
        """Which instance (``a``/``b``) served a response, from its last ``X-Upstream``."""
        last = upstream.split(",")[-1].strip()
        by_address = {f"127.0.0.1:{port}": name for name, port in self.ports.items()}
        return by_address.get(last, f"? {upstream}")

    def kill(self, name: str) -> None:
        """SIGKILL instance ``name``'s whole process group: master and workers, no goodbye."""
        master = int(self.pid_files[name].read_text())
        os.killpg(master, signal.SIGKILL)

    def report(self) -> str:
        """Every server's log, for a failure message."""
        parts = [f"--- gunicorn {name} ---\n{path.read_text()}" for name, path in self.logs.items()]
        return "\n".join([*parts, self.nginx.logs()])


@pytest.fixture
def site(tmp_path, postgres_database, redis_url, cache_prefix) -> Iterator[Site]:
    with ExitStack() as stack:
        connection_string = stack.enter_context(own_azurite())
        storage = stack.enter_context(BlobServiceClient.from_connection_string(connection_string))
        static, media = f"static-{uuid.uuid4().hex[:10]}", f"media-{uuid.uuid4().hex[:10]}"
        storage.create_container(static, public_access="blob")
        storage.create_container(media)
        shared = example_env(
            tmp_path,
            DATABASE_URL=postgres_database,
            CACHE_URL=redis_url,
            PRODKIT_CACHE_KEY_PREFIX=cache_prefix,
            AZURE_STORAGE_CONNECTION_STRING=connection_string,
            PRODKIT_STATIC_CONTAINER=static,
            PRODKIT_MEDIA_CONTAINER=media,
            PRODKIT_TRUSTED_PROXIES="127.0.0.1",
            PRODKIT_HEALTH_TOKEN=HEALTH_TOKEN,
            PRODKIT_WORKER_CLASS="uvicorn",
            WEB_CONCURRENCY="2",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        prepare(shared)

        ports, pid_files, logs = {}, {}, {}
        for name in ("a", "b"):
            # Each on a host of its own: no file on disk in common, not even the manifest.
            home = tmp_path / name
            pid_files[name], logs[name] = home / "gunicorn.pid", home / "gunicorn.log"
            env = {
                **shared,
                "DJANGO_STATIC_ROOT": str(home / "static"),
                "DJANGO_MEDIA_ROOT": str(home / "media"),
                "GUNICORN_CMD_ARGS": f"--pid {pid_files[name]}",
            }
            home.mkdir()
            ports[name] = stack.enter_context(gunicorn(env, logs[name]))

        via_a, via_b = free_port(), free_port()
        config = nginx_config(ports["a"], ports["b"], via_a, via_b)
        nginx = stack.enter_context(own_nginx(config, tmp_path / "nginx"))
        site = Site(
            balancer=f"http://127.0.0.1:{nginx.port}",
            via_a=f"http://127.0.0.1:{via_a}",
            via_b=f"http://127.0.0.1:{via_b}",
            ports=ports,
            pid_files=pid_files,
            logs=logs,
            nginx=nginx,
            storage=storage,
            media_container=media,
        )
        try:
            yield site
        finally:
            # Shown by pytest only when the test failed.
            print(site.report())
            for name in (static, media):
                storage.delete_container(name)


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, allow_redirects=False, timeout=10)


def test_two_instances_behind_nginx_act_as_one_site(site):
    # Health passes through the balancer; with the token /readyz says what it probed: all
    # three shared services, from behind nginx.
    for path in ("/healthz", "/readyz"):
        response = get(f"{site.balancer}{path}")
        assert response.status_code == 200, (path, response.text)
    detailed = get(f"{site.balancer}/readyz", Authorization=f"Bearer {HEALTH_TOKEN}").json()
    checks = {name: check["status"] for name, check in detailed["checks"].items()}
    assert checks == {"database": "ok", "cache": "ok", "storage": "ok"}, detailed

    # The balancer spreads requests over both instances.
    served = {
        site.instance(get(f"{site.balancer}/healthz").headers["X-Upstream"]) for _ in range(6)
    }
    assert served == {"a", "b"}

    # Both believe nginx (PRODKIT_TRUSTED_PROXIES=127.0.0.1) about who the visitor is.
    for via in (site.via_a, site.via_b):
        assert get(f"{via}/api/photos/", **{"X-Forwarded-For": CLIENT}).status_code == 200
    for name, log in site.logs.items():
        assert CLIENT in log.read_text(), f"instance {name} logged no request from {CLIENT}"

    # Static files: both link the same hashed names (B never saw the manifest A's
    # collectstatic wrote: it reads it from the container), and the files are there.
    pattern = r'(?:href|src)="([^"]*/gallery/[^"]+\.(?:css|js|svg))"'
    linked_by_a, linked_by_b = (
        links(get(f"{via}/").text, pattern) for via in (site.via_a, site.via_b)
    )
    assert linked_by_a == linked_by_b
    assert len(set(linked_by_a)) == 3, linked_by_a
    for url in set(linked_by_a):
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", url), url
        assert fetch(url)[0] == 200, url

    # A page cached by A is served from the cache by B: the same render, to the microsecond.
    rendered = re.compile(r'<time id="rendered-at">([^<]+)</time>')
    by_a, by_b = get(f"{site.via_a}/about/"), get(f"{site.via_b}/about/")
    assert (by_a.status_code, by_b.status_code) == (200, 200)
    assert site.instance(by_b.headers["X-Upstream"]) == "b"
    assert rendered.search(by_b.text).group(1) == rendered.search(by_a.text).group(1)

    # A photo uploaded through A is shown by B, and its bytes are on the blob storage.
    with requests.Session() as visitor:
        assert visitor.get(f"{site.via_a}/", timeout=10).status_code == 200
        image = png_bytes()
        posted = visitor.post(
            f"{site.via_a}/",
            data={"title": "Teal", "csrfmiddlewaretoken": visitor.cookies["csrftoken"]},
            files={"image": ("teal.png", image, "image/png")},
            allow_redirects=False,
            timeout=10,
        )
        assert posted.status_code == 302, posted.text[:500]
        assert site.instance(posted.headers["X-Upstream"]) == "a"
        detail = visitor.get(f"{site.via_b}{posted.headers['Location']}", timeout=10)
        assert detail.status_code == 200
        assert site.instance(detail.headers["X-Upstream"]) == "b"
        [photo] = links(detail.text, r'<img class="photo" src="([^"]+)"')
        assert "Teal" in visitor.get(f"{site.via_b}/", timeout=10).text
    status, headers, body = fetch(photo)
    assert (status, body, headers["Content-Type"]) == (200, image, "image/png"), photo
    [blob] = site.storage.get_container_client(site.media_container).list_blob_names()
    assert urllib.parse.unquote(photo.split("?")[0]).endswith(blob)

    # An admin logged in on A is logged in on B.
    opener, _ = browser()
    url, status, html = log_in(opener, site.via_a)
    assert (urllib.parse.urlsplit(url).path, status) == ("/admin/", 200)
    url, status, html = open_page(opener, f"{site.via_b}/admin/")
    assert (urllib.parse.urlsplit(url).path, status) == ("/admin/", 200)
    assert "Site administration" in html


@dataclass
class Outcome:
    """One request of the load: when it ended, and whether (and where) it was served."""

    ended: float
    ok: bool
    served_by: str = ""
    error: str = ""


def load(site: Site, stop: threading.Event, outcomes: list[Outcome]) -> None:
    """GET a database-backed page through the balancer until ``stop``, on one kept-alive
    connection (a new one after an error), recording every outcome."""
    host = urllib.parse.urlsplit(site.balancer)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    while not stop.is_set():
        try:
            connection.request("GET", "/api/photos/")
            response = connection.getresponse()
            response.read()
            served_by = site.instance(response.headers.get("X-Upstream", ""))
            ok = response.status == 200
            outcome = Outcome(time.monotonic(), ok, served_by, "" if ok else str(response.status))
        except (OSError, http.client.HTTPException) as error:
            outcome = Outcome(time.monotonic(), False, error=repr(error))
            connection.close()
        outcomes.append(outcome)
    connection.close()


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {timeout} s"
        time.sleep(0.05)


def test_killing_an_instance_mid_load_loses_no_request(site):
    stop = threading.Event()
    outcomes: list[Outcome] = []

    def served(name: str, after: float = 0.0) -> int:
        return sum(o.ok and o.served_by == name and o.ended > after for o in list(outcomes))

    threads = [
        threading.Thread(target=load, args=(site, stop, outcomes), name=f"load-{n}")
        for n in range(CONCURRENCY)
    ]
    for thread in threads:
        thread.start()
    try:
        # Load on both instances first, then A goes, then B carries on alone for a while.
        wait_until(lambda: served("a") >= 50 and served("b") >= 50, "load on both instances")
        site.kill("a")
        killed = time.monotonic()
        wait_until(lambda: served("b", after=killed) >= 200, "load on B after killing A")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    failures = [o for o in outcomes if not o.ok]
    after = [o for o in outcomes if o.ended > killed]
    summary = {
        "requests": len(outcomes),
        "failures": len(failures),
        "after the kill": len(after),
        "after the kill served by": sorted({o.served_by for o in after if o.ok}),
        "errors": sorted({o.error for o in failures})[:5],
    }
    print(json.dumps(summary))
    # Only requests in flight at the kill may fail; nginx retries those on B, so ideally none.
    assert len(failures) <= CONCURRENCY, summary
    # Once nginx has seen A fail, B serves everything.
    assert all(o.ok and o.served_by == "b" for o in outcomes[-100:]), summary
