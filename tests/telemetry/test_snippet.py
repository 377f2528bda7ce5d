"""``{% appinsights_snippet %}``: what it renders, and the JavaScript SDK it loads, run in
headless Chromium against the local collector."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import django
import pytest
from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

from django_prodkit.telemetry.context import Operation, _operation, is_sampled
from tests.collector import INSTRUMENTATION_KEY, Collector, running_collector
from tests.example import EXAMPLE_PROJECT, PASSWORD, example_env, gunicorn, prepare
from tests.servers import REPO_ROOT, require_binary, serving

CONNECTION_STRING = (
    f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=https://ingest.example.test/"
)
SDK_DIR = REPO_ROOT / "node_modules" / "@microsoft" / "applicationinsights-web" / "browser" / "es5"
SDK_FILE = "ai.3.gbl.min.js"
LOADER = REPO_ROOT / "django_prodkit" / "templates" / "django_prodkit" / "appinsights_loader.js"
OPERATION = Operation("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", None, True)
# The rendered call of the loader: (config, the server's sampling decision).
_CALL = re.compile(r"\}\)\((\{.*\}), (true|false|null)\);\s*</script>\s*$", re.DOTALL)


def render(request=None) -> str:
    context = Context({"request": request} if request is not None else {})
    return Template("{% load prodkit_telemetry %}{% appinsights_snippet %}").render(context)


def loader_call(html: str) -> tuple[dict, bool | None]:
    found = _CALL.search(html)
    assert found, html
    return json.loads(found.group(1)), json.loads(found.group(2))


@pytest.fixture
def telemetry_on(settings):
    settings.PRODKIT_TELEMETRY_BACKEND = "azure"
    settings.PRODKIT_TELEMETRY_CONNECTION_STRING = CONNECTION_STRING


@contextmanager
def current(operation: Operation) -> Iterator[Operation]:
    token = _operation.set(operation)
    try:
        yield operation
    finally:
        _operation.reset(token)


# --- what the tag renders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "connection_string"),
    [
        pytest.param("off", CONNECTION_STRING, id="backend-off"),
        pytest.param("azure", None, id="no-connection-string"),
        pytest.param("console", "", id="empty-connection-string"),
    ],
)
def test_renders_nothing_while_telemetry_is_off(settings, backend, connection_string):
    settings.PRODKIT_TELEMETRY_BACKEND = backend
    settings.PRODKIT_TELEMETRY_CONNECTION_STRING = connection_string
    with current(OPERATION):
        assert render() == ""


def test_config_names_the_resource_sdk_and_sampling_and_blocks_cdn_contact(settings, telemetry_on):
    settings.PRODKIT_TELEMETRY_SAMPLE_RATE = 0.25
    settings.PRODKIT_TELEMETRY_BROWSER_SDK_URL = "/static/ai/ai.3.gbl.min.js"
    config, _ = loader_call(render())
    assert config == {
        "src": "/static/ai/ai.3.gbl.min.js",
        "cr": False,
        "cfg": {
            "connectionString": CONNECTION_STRING,
            "samplingPercentage": 25.0,
            "extensionConfig": {"AppInsightsCfgSyncPlugin": {"blkCdnCfg": True}},
        },
    }


@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "not-sampled"])
def test_meta_traceparent_and_sampling_follow_the_current_operation(telemetry_on, sampled):
    operation = Operation(OPERATION.trace_id, OPERATION.span_id, None, sampled)
    with current(operation):
        html = render()
    flags = "01" if sampled else "00"
    assert html.startswith(
        f'<meta name="traceparent" content="00-{OPERATION.trace_id}-{OPERATION.span_id}-{flags}">'
    )
    assert loader_call(html)[1] is sampled


def test_outside_a_traced_request_the_sdk_starts_its_own_trace(telemetry_on):
    html = render()
    assert "traceparent" not in html
    assert loader_call(html)[1] is None


def test_loader_is_microsofts_script_unchanged(telemetry_on):
    loader = LOADER.read_text()
    script = loader[loader.index("{% endcomment %}") + len("{% endcomment %}") :].strip()
    assert script.startswith("/*! Application Insights SDK Loader Script")
    assert script in render()


@pytest.mark.parametrize("attribute", ["_csp_nonce", "csp_nonce"], ids=["django", "django-csp"])
def test_every_script_tag_carries_the_csp_nonce(telemetry_on, rf, attribute):
    request = rf.get("/")
    setattr(request, attribute, "n0nce-Value")
    html = render(request)
    assert re.findall(r"<script[^>]*>", html) == ['<script nonce="n0nce-Value">']
    # The loader puts it on the SDK's script tag.
    assert loader_call(html)[0]["nt"] == "n0nce-Value"


def test_without_a_nonce_no_nonce_is_rendered(telemetry_on, rf):
    html = render(rf.get("/"))
    assert "nonce" not in html.split("(function (cfg)")[0]
    assert "nt" not in loader_call(html)[0]


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP middleware is 6.0+")
def test_nonce_of_djangos_csp_middleware_reaches_header_and_snippet(settings, telemetry_on):
    from django.middleware.csp import ContentSecurityPolicyMiddleware
    from django.utils.csp import CSP

    settings.SECURE_CSP = {"script-src": [CSP.NONCE]}
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse(render(request)))
    response = middleware(RequestFactory().get("/"))
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_hostile_values_cannot_leave_the_script(settings, telemetry_on, rf):
    hostile = '</script><script>alert("x")</script><!--'
    settings.PRODKIT_TELEMETRY_CONNECTION_STRING = (
        f"InstrumentationKey=k;IngestionEndpoint={hostile}"
    )
    settings.PRODKIT_TELEMETRY_BROWSER_SDK_URL = f"https://cdn.example.test/{hostile}&amp;"
    request = rf.get("/")
    request.csp_nonce = f'"{hostile}'
    html = render(request)
    assert html.count("<script") == 1
    assert html.count("</script") == 1
    assert "<!--" not in html
    config, _ = loader_call(html)
    assert config["cfg"]["connectionString"] == settings.PRODKIT_TELEMETRY_CONNECTION_STRING
    assert config["src"] == settings.PRODKIT_TELEMETRY_BROWSER_SDK_URL
    assert config["nt"] == request.csp_nonce


# --- the SDK in headless Chromium ----------------------------------------------------------


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a test reads what Chromium requested from its own log."""


@pytest.fixture
def sdk_url() -> Iterator[str]:
    """The npm package's SDK file (package.json), served on a loopback port of its own: a
    self-hosted copy on another origin than the site, as from a CDN."""
    if not (SDK_DIR / SDK_FILE).exists():
        message = (
            f"{(SDK_DIR / SDK_FILE).relative_to(REPO_ROOT)} is missing "
            "(run `npm ci` at the repository root; scripts/system-deps.sh does)"
        )
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    handler = functools.partial(_QuietFiles, directory=str(SDK_DIR))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/{SDK_FILE}"


@pytest.fixture
def chromium(tmp_path, monkeypatch) -> Iterator[webdriver.Chrome]:
    """Headless Chromium through chromedriver, unable to reach anything but loopback."""
    binary = require_binary("chromium", "chromium")
    driver_binary = require_binary("chromedriver", "chromium-driver")
    # Selenium Manager is not needed with both paths given; were it run, no usage report.
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = Options()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        # No name resolves and every non-loopback address goes to a proxy that is not there.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-domain-reliability",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_binary))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_page_view(driver: webdriver.Chrome, collector: Collector, url: str) -> dict:
    """The PageView of ``url`` once the collector has it. The SDK sends in batches every 15 s;
    asking it to flush on each turn makes that sooner."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        driver.execute_script("window.appInsights && window.appInsights.flush()")
        if collector.wait_for(lambda c: bool(page_views(c, url)), timeout=1.0):
            return page_views(collector, url)[0]
    pytest.fail(
        f"no PageView of {url} reached the collector; browser log: {driver.get_log('browser')}"
    )


def page_views(collector: Collector, url: str) -> list[dict]:
    # The JavaScript SDK names its envelopes "...Pageview" (the server SDKs: "PageView").
    return [v for v in collector.items("Pageview") if v["data"]["baseData"].get("url") == url]


def contacted_origins(driver: webdriver.Chrome) -> set[str]:
    """Every origin the browser sent a request to so far (Chromium's network log)."""
    origins = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            parts = urlsplit(message["params"]["request"]["url"])
            if parts.scheme in ("http", "https", "ws", "wss"):
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def site_env(
    tmp_path: Path, collector: Collector, sdk_url: str, **overrides: str
) -> dict[str, str]:
    return example_env(
        tmp_path,
        APPLICATIONINSIGHTS_CONNECTION_STRING=collector.connection_string,
        PRODKIT_TELEMETRY_BACKEND="azure",
        PRODKIT_TELEMETRY_BROWSER_SDK_URL=sdk_url,
        PRODKIT_TELEMETRY_EXPORT_INTERVAL="0.2",
        **overrides,
    )


def strict_csp_site_env(
    tmp_path: Path, collector: Collector, sdk_url: str, **overrides: str
) -> dict[str, str]:
    """``site_env`` with the page under a strict CSP, ``/strict-csp/`` (tests/urls_snippet.py):
    it needs no database and no collected static files."""
    return site_env(
        tmp_path,
        collector,
        sdk_url,
        DJANGO_SETTINGS_MODULE="tests.settings_snippet",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(EXAMPLE_PROJECT.parent), os.environ.get("PYTHONPATH")])
        ),
        **overrides,
    )


@pytest.mark.slow
def test_page_view_continues_the_trace_of_the_request_that_served_the_page(
    tmp_path, chromium, sdk_url
):
    with running_collector() as collector:
        env = site_env(tmp_path, collector, sdk_url, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
        prepare(env)
        with gunicorn(env, tmp_path / "gunicorn.log") as port:
            url = f"http://127.0.0.1:{port}/"
            chromium.get(url)
            page_view = wait_for_page_view(chromium, collector, url)
            assert collector.wait_for(
                lambda c: any(r["data"]["baseData"]["url"] == url for r in c.items("Request"))
            ), (tmp_path / "gunicorn.log").read_text()
        request = next(r for r in collector.items("Request") if r["data"]["baseData"]["url"] == url)
        assert page_view["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
        assert page_view["tags"]["ai.operation.parentId"] == request["data"]["baseData"]["id"]
        assert contacted_origins(chromium) <= {
            origin(url),
            origin(sdk_url),
            collector.endpoint[:-1],
        }


@pytest.mark.slow
def test_sdk_works_under_a_strict_csp_with_no_violation(tmp_path, chromium, sdk_url):
    with running_collector() as collector:
        env = strict_csp_site_env(tmp_path, collector, sdk_url)
        with gunicorn(env, tmp_path / "gunicorn.log") as port:
            url = f"http://127.0.0.1:{port}/strict-csp/"
            chromium.get(url)
            wait_for_page_view(chromium, collector, url)
            assert chromium.execute_script("return window.cspViolations") == []
            assert contacted_origins(chromium) <= {
                origin(url),
                origin(sdk_url),
                collector.endpoint[:-1],
            }
            # The control: the page does see a violation when there is one (on Django 6,
            # once per policy: the page's and the example's report-only one).
            chromium.execute_script(f"fetch('{sdk_url}').catch(function () {{}})")
            WebDriverWait(chromium, 10).until(
                lambda driver: driver.execute_script("return window.cspViolations.length")
            )
            assert set(chromium.execute_script("return window.cspViolations")) == {
                f"connect-src {sdk_url}"
            }


def probe(driver: webdriver.Chrome, name: str) -> None:
    """Track an event named ``name`` once the SDK is up, and flush synchronously."""
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return !!(window.appInsights && window.appInsights.core)")
    )
    driver.execute_script(
        "window.appInsights.trackEvent({name: arguments[0]});"
        "window.appInsights.flush(false, function () {});",
        name,
    )


@pytest.mark.slow
def test_browser_keeps_the_traces_the_server_kept(tmp_path, chromium, sdk_url):
    # At 50 % the SDK alone would sample by its user cookie, not by the trace.
    kept, dropped = "0" * 31 + "1", "f" * 32
    assert is_sampled(kept, 0.5)
    assert not is_sampled(dropped, 0.5)
    with running_collector() as collector:
        env = strict_csp_site_env(tmp_path, collector, sdk_url, PRODKIT_TELEMETRY_SAMPLE_RATE="0.5")
        with gunicorn(env, tmp_path / "gunicorn.log") as port:
            chromium.execute_cdp_cmd("Network.enable", {})
            for trace_id in (dropped, kept):
                chromium.execute_cdp_cmd(
                    "Network.setExtraHTTPHeaders",
                    {"headers": {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}},
                )
                chromium.get(f"http://127.0.0.1:{port}/strict-csp/")
                probe(chromium, trace_id)
            assert collector.wait_for(lambda c: bool(c.items("Event")))
        events = collector.items("Event")
        assert [e["data"]["baseData"]["name"] for e in events] == [kept]
        assert events[0]["tags"]["ai.operation.id"] == kept
        assert events[0]["sampleRate"] == 50.0
