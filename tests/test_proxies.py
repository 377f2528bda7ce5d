"""Trusted proxies: who the client is behind App Service, Application Gateway, nginx...

The client_address table, TrustedProxyMiddleware under WSGI and ASGI, the settings helper,
gunicorn's forwarded_allow_ips, and a real gunicorn + uvicorn server's access log.

This module is also the URLconf of its middleware tests: one view that echoes REMOTE_ADDR.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from hypothesis import given
from hypothesis import strategies as st

from django_prodkit.env import Env
from django_prodkit.forwarded import client_address, parse_address
from django_prodkit.settings.platform import Platform
from django_prodkit.settings.proxies import (
    APP_SERVICE_PROXIES,
    parse_networks,
    trusted_proxies,
    trusted_proxies_from_env,
)
from tests.example import BIN, example_env, gunicorn
from tests.test_health import asgi_get

APP_SERVICE = Platform(kind="appservice", hostnames=("site.azurewebsites.net",), tls_proxy=True)
GATEWAY = "10.1.2.0/24"  # an Application Gateway subnet
CLIENT = "203.0.113.7"


def remote_addr(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.META["REMOTE_ADDR"])


async def aremote_addr(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.META["REMOTE_ADDR"])


urlpatterns = [path("sync/", remote_addr), path("async/", aremote_addr)]


def case(peer, forwarded_for, expected, *, trusted=(), hops=0, client_ip=None, id):
    return pytest.param(peer, forwarded_for, trusted, hops, client_ip, expected, id=id)


CASES = [
    # Nothing configured: the headers mean nothing.
    case("10.0.0.2", CLIENT, None, id="nothing-configured"),
    # A peer that is not a trusted proxy cannot set its address.
    case("198.51.100.9", CLIENT, None, trusted=["10.0.0.0/8"], id="spoof-from-untrusted-peer"),
    case(
        "198.51.100.9", "", None, trusted=["10.0.0.0/8"], client_ip=CLIENT, id="spoof-x-client-ip"
    ),
    case("", CLIENT, None, trusted=["10.0.0.0/8"], id="no-peer"),
    case("unknown", CLIENT, None, trusted=["10.0.0.0/8"], id="garbage-peer"),
    # A trusted peer: the rightmost entry that is not a trusted proxy is the client.
    case("10.0.0.2", CLIENT, CLIENT, trusted=["10.0.0.0/8"], id="one-proxy"),
    case("10.0.0.2", f"1.2.3.4, {CLIENT}", CLIENT, trusted=["10.0.0.0/8"], id="client-spoofs-left"),
    case(
        "10.0.0.2",
        f"1.1.1.1, {CLIENT}, 192.0.2.10, 10.0.0.3",
        CLIENT,
        trusted=["10.0.0.0/8", "192.0.2.0/24"],
        id="several-trusted-hops",
    ),
    case("10.0.0.2", "10.0.0.9, 10.0.0.8", "10.0.0.9", trusted=["10.0.0.0/8"], id="all-trusted"),
    case("10.0.0.2", f" {CLIENT} ,  10.0.0.3 ", CLIENT, trusted=["10.0.0.0/8"], id="spaces"),
    case("10.0.0.3", f"{CLIENT},10.0.0.3", CLIENT, trusted=["10.0.0.3"], id="single-address"),
    # Ports: App Service and Application Gateway append them.
    case("10.0.0.2", f"{CLIENT}:51234", CLIENT, trusted=["10.0.0.0/8"], id="ipv4-port"),
    case("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7", trusted=["10.0.0.0/8"], id="ipv6-port"),
    case("10.0.0.2", "[2001:db8::7]", "2001:db8::7", trusted=["10.0.0.0/8"], id="ipv6-brackets"),
    case("10.0.0.2", "2001:db8::7", "2001:db8::7", trusted=["10.0.0.0/8"], id="ipv6"),
    case("10.0.0.2", "2001:DB8:0::7", "2001:db8::7", trusted=["10.0.0.0/8"], id="ipv6-spelling"),
    case("fd00::1", "2001:db8::7", "2001:db8::7", trusted=["fd00::/8"], id="ipv6-trusted-peer"),
    case("::ffff:10.0.0.2", CLIENT, CLIENT, trusted=["10.0.0.0/8"], id="ipv4-mapped-peer"),
    case("10.0.0.2", f"::ffff:{CLIENT}", CLIENT, trusted=["10.0.0.0/8"], id="ipv4-mapped-entry"),
    case("fe80::1%eth0", CLIENT, CLIENT, trusted=["fe80::/10"], id="ipv6-scoped-peer"),
    # Malformed entries never crash, and nothing left of one is believed.
    case("10.0.0.2", "unknown", None, trusted=["10.0.0.0/8"], id="garbage"),
    case("10.0.0.2", "example.com", None, trusted=["10.0.0.0/8"], id="host-name"),
    case(
        "10.0.0.2", f"{CLIENT}, garbage, 10.0.0.3", None, trusted=["10.0.0.0/8"], id="garbage-mid"
    ),
    case("10.0.0.2", f"garbage, {CLIENT}", CLIENT, trusted=["10.0.0.0/8"], id="garbage-left"),
    case("10.0.0.2", f"{CLIENT}:99999", None, trusted=["10.0.0.0/8"], id="port-too-big"),
    case("10.0.0.2", f"{CLIENT}:http", None, trusted=["10.0.0.0/8"], id="port-word"),
    case("10.0.0.2", f"{CLIENT}:²", None, trusted=["10.0.0.0/8"], id="port-unicode-digit"),
    case("10.0.0.2", f"{CLIENT}:" + "9" * 5000, None, trusted=["10.0.0.0/8"], id="port-huge"),
    case("10.0.0.2", "[2001:db8::7", None, trusted=["10.0.0.0/8"], id="ipv6-unclosed"),
    case("10.0.0.2", "[2001:db8::7]x", None, trusted=["10.0.0.0/8"], id="ipv6-junk"),
    case("10.0.0.2", "010.1.1.1", None, trusted=["10.0.0.0/8"], id="leading-zeros"),
    case("10.0.0.2", f"{CLIENT},", None, trusted=["10.0.0.0/8"], id="trailing-comma"),
    case("10.0.0.2", f",{CLIENT}", CLIENT, trusted=["10.0.0.0/8"], id="leading-comma"),
    case("10.0.0.2", "", None, trusted=["10.0.0.0/8"], id="no-header"),
    # A hop count: that many proxies, whatever their addresses.
    case("198.51.100.2", f"1.2.3.4, {CLIENT}", CLIENT, hops=1, id="hops-1"),
    case("198.51.100.2", f"1.2.3.4, {CLIENT}, 192.0.2.4", CLIENT, hops=2, id="hops-2"),
    case("198.51.100.2", CLIENT, CLIENT, hops=2, id="hops-fewer-entries"),
    case("198.51.100.2", f"{CLIENT}, junk", None, hops=2, id="hops-garbage"),
    # Both: the peer must be trusted, and the walk stops after the hops.
    case("10.0.0.2", "10.0.0.9, 10.0.0.8", "10.0.0.8", trusted=["10.0.0.0/8"], hops=1, id="both"),
    case(
        "169.254.130.1",
        f"6.6.6.6, {CLIENT}, 198.51.100.50:443",
        CLIENT,
        trusted=APP_SERVICE_PROXIES,
        hops=2,
        id="both-front-door-on-app-service",
    ),
    case(
        "10.0.0.2", f"{CLIENT}, 10.0.0.8", "10.0.0.8", trusted=["10.0.0.0/8"], hops=1, id="hops-win"
    ),
    case("198.51.100.2", CLIENT, None, trusted=["10.0.0.0/8"], hops=1, id="both-untrusted-peer"),
    # App Service: the front end's hop is link-local; it also sends X-Client-IP.
    case(
        "169.254.130.1",
        f"1.2.3.4, {CLIENT}:51234",
        CLIENT,
        trusted=APP_SERVICE_PROXIES,
        id="app-service",
    ),
    case(
        "169.254.130.1",
        "",
        CLIENT,
        trusted=APP_SERVICE_PROXIES,
        client_ip=f"{CLIENT}:51234",
        id="app-service-x-client-ip",
    ),
    case(
        "169.254.130.1",
        "8.8.8.8:1",
        "8.8.8.8",
        trusted=APP_SERVICE_PROXIES,
        client_ip=CLIENT,
        id="x-forwarded-for-before-x-client-ip",
    ),
    case(
        "169.254.130.1",
        "unknown",
        CLIENT,
        trusted=APP_SERVICE_PROXIES,
        client_ip=CLIENT,
        id="x-client-ip-when-x-forwarded-for-is-garbage",
    ),
    case(
        "169.254.130.1",
        "",
        None,
        trusted=APP_SERVICE_PROXIES,
        client_ip="unknown",
        id="garbage-x-client-ip",
    ),
    # Behind Application Gateway too: trust its subnet, or get its address.
    case(
        "169.254.130.1",
        f"{CLIENT}:50123, 10.1.2.4:61000",
        CLIENT,
        trusted=[*APP_SERVICE_PROXIES, GATEWAY],
        id="app-gateway-trusted",
    ),
    case(
        "169.254.130.1",
        f"{CLIENT}:50123, 10.1.2.4:61000",
        "10.1.2.4",
        trusted=APP_SERVICE_PROXIES,
        id="app-gateway-not-trusted",
    ),
]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "hops", "client_ip", "expected"), CASES
)
def test_client_address(peer, forwarded_for, trusted, hops, client_ip, expected):
    networks = parse_networks(trusted)
    assert (
        client_address(peer, forwarded_for, networks=networks, hops=hops, client_ip=client_ip)
        == expected
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("203.0.113.7", "203.0.113.7", id="ipv4"),
        pytest.param("203.0.113.7:0", "203.0.113.7", id="port-0"),
        pytest.param("203.0.113.7:65535", "203.0.113.7", id="port-max"),
        pytest.param("[::1]:8000", "::1", id="ipv6-loopback-port"),
        pytest.param("::1", "::1", id="ipv6-loopback"),
        pytest.param("203.0.113.7:", None, id="empty-port"),
        pytest.param(":80", None, id="no-host"),
        pytest.param("[]:80", None, id="empty-brackets"),
        pytest.param("", None, id="empty"),
        pytest.param('"203.0.113.7"', None, id="quoted"),
        pytest.param("for=203.0.113.7", None, id="forwarded-syntax"),
    ],
)
def test_parse_address(value, expected):
    address = parse_address(value)
    assert (None if address is None else str(address)) == expected


@given(st.text(max_size=200), st.text(max_size=60))
def test_any_header_from_an_untrusted_peer_is_ignored(forwarded_for, client_ip):
    networks = parse_networks(["10.0.0.0/8"])
    assert (
        client_address("198.51.100.9", forwarded_for, networks=networks, client_ip=client_ip)
        is None
    )


@given(st.text(max_size=200))
def test_any_header_from_a_trusted_peer_gives_an_address_or_nothing(forwarded_for):
    networks = parse_networks(["10.0.0.0/8"])
    found = client_address("10.0.0.2", forwarded_for, networks=networks, hops=3)
    if found is not None:
        ipaddress.ip_address(found)  # a plain address, never a port or a word


# --- The middleware, under WSGI and ASGI -------------------------------------------------

MIDDLEWARE = "django_prodkit.middleware.TrustedProxyMiddleware"


@pytest.fixture
def echo(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [MIDDLEWARE]
    settings.PRODKIT_TRUSTED_PROXIES = ["169.254.0.0/16", GATEWAY]
    return settings


def wsgi(path, peer, headers):
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers}
    return Client(REMOTE_ADDR=peer).get(path, **meta).content.decode()


def asgi(path, peer, headers):
    status, body = asgi_get(path, [("host", "testserver"), *headers], client=(peer, 50000))
    assert status == 200
    return body.decode()


SERVERS = [
    pytest.param(wsgi, "/sync/", id="wsgi"),
    pytest.param(asgi, "/async/", id="asgi"),
    pytest.param(asgi, "/sync/", id="asgi-sync-view"),
]


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_sets_remote_addr_from_a_trusted_peer(echo, serve, path):
    headers = [("X-Forwarded-For", f"1.2.3.4, {CLIENT}:50123, 10.1.2.4:61000")]
    assert serve(path, "169.254.130.1", headers) == CLIENT


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_ignores_headers_from_anyone_else(echo, serve, path):
    headers = [("X-Forwarded-For", CLIENT), ("X-Client-IP", CLIENT)]
    assert serve(path, "198.51.100.9", headers) == "198.51.100.9"


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_uses_the_client_ip_header_only_when_configured(echo, serve, path):
    headers = [("X-Client-IP", f"{CLIENT}:50123")]
    assert serve(path, "169.254.130.1", headers) == "169.254.130.1"
    echo.PRODKIT_CLIENT_IP_HEADER = "X-Client-IP"
    assert serve(path, "169.254.130.1", headers) == CLIENT


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_survives_garbage(echo, serve, path):
    headers = [("X-Forwarded-For", "unknown, [::1, 999.1.1.1:80, :::")]
    assert serve(path, "169.254.130.1", headers) == "169.254.130.1"


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_with_a_hop_count(echo, serve, path):
    echo.PRODKIT_TRUSTED_PROXIES = []
    echo.PRODKIT_PROXY_HOPS = 1
    assert serve(path, "198.51.100.2", [("X-Forwarded-For", f"1.2.3.4, {CLIENT}")]) == CLIENT


@pytest.mark.parametrize(("serve", "path"), SERVERS)
def test_middleware_does_nothing_unconfigured(settings, serve, path):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [MIDDLEWARE]
    assert serve(path, "10.0.0.2", [("X-Forwarded-For", CLIENT)]) == "10.0.0.2"


def test_middleware_names_a_bad_setting(echo):
    echo.PRODKIT_TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match=re.escape("entry '10.0.0.0/33'")):
        Client(REMOTE_ADDR="10.0.0.2").get("/sync/")


# --- The settings helper -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        pytest.param({}, None, ([], 0, None), id="nothing"),
        pytest.param(
            {},
            APP_SERVICE,
            (["169.254.0.0/16"], 0, "X-Client-IP"),
            id="app-service-default",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": f"{GATEWAY}, 169.254.0.0/16"},
            APP_SERVICE,
            (["169.254.0.0/16", GATEWAY], 0, "X-Client-IP"),
            id="app-service-plus-gateway",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7,2001:db8::/32,2001:DB8::1"},
            None,
            (["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "2001:db8::1"], 0, None),
            id="list",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "192.0.2.7/32"},
            None,
            (["192.0.2.7"], 0, None),
            id="slash-32",
        ),
        pytest.param({"PRODKIT_PROXY_HOPS": "2"}, None, ([], 2, None), id="hops"),
        pytest.param({"PRODKIT_TRUSTED_PROXIES": ""}, None, ([], 0, None), id="empty-is-unset"),
    ],
)
def test_trusted_proxies_from_env(environ, platform, expected):
    platform = platform or Platform(kind="local")
    config = trusted_proxies_from_env(Env(environ), platform=platform)
    assert (
        config["PRODKIT_TRUSTED_PROXIES"],
        config["PRODKIT_PROXY_HOPS"],
        config["PRODKIT_CLIENT_IP_HEADER"],
    ) == expected


def test_trusted_proxies_detects_app_service_itself():
    config = trusted_proxies_from_env(Env({"WEBSITE_SITE_NAME": "site"}))
    assert config["PRODKIT_TRUSTED_PROXIES"] == ["169.254.0.0/16"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "10.0.0.0/33"},
            "PRODKIT_TRUSTED_PROXIES entry '10.0.0.0/33' is not an IP address or CIDR network",
            id="bad-prefix",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"},
            "PRODKIT_TRUSTED_PROXIES entry 'proxy.internal' is not an IP address",
            id="host-name",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "10.0.0.5/24"},
            "PRODKIT_TRUSTED_PROXIES entry '10.0.0.5/24' has host bits set. "
            "Write the network as 10.0.0.0/24.",
            id="host-bits",
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "*"}, "PRODKIT_TRUSTED_PROXIES must list", id="star"
        ),
        pytest.param(
            {"PRODKIT_TRUSTED_PROXIES": "0.0.0.0/0"},
            "PRODKIT_TRUSTED_PROXIES entry '0.0.0.0/0' trusts every address",
            id="everything",
        ),
        pytest.param(
            {"PRODKIT_PROXY_HOPS": "-1"},
            "PRODKIT_PROXY_HOPS must be an integer from 0 to 20, got '-1'",
            id="negative-hops",
        ),
        pytest.param(
            {"PRODKIT_PROXY_HOPS": "two"}, "PRODKIT_PROXY_HOPS must be an integer", id="word-hops"
        ),
    ],
)
def test_bad_proxy_settings_name_the_variable(environ, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        trusted_proxies_from_env(Env(environ), platform=Platform(kind="local"))


def test_trusted_proxies_refuses_negative_hops():
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_PROXY_HOPS"):
        trusted_proxies(hops=-1)


# --- gunicorn -------------------------------------------------------------------------------


def gunicorn_config(environ):
    """Return gunicorn's own view of prodkit's configuration under ``environ``."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHON_DOTENV_DISABLED": "1",
        "PRODKIT_WORKER_CLASS": "gthread",
        **environ,
    }
    result = subprocess.run(
        [
            str(BIN / "gunicorn"),
            "-c",
            "python:django_prodkit.gunicorn_conf",
            "--print-config",
            "x:y",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, "[]", id="nothing-trusted"),
        pytest.param({"WEBSITE_SITE_NAME": "site"}, "['169.254.0.0/16']", id="app-service"),
        pytest.param(
            {"WEBSITE_SITE_NAME": "site", "PRODKIT_TRUSTED_PROXIES": f"{GATEWAY},192.0.2.7"},
            f"['169.254.0.0/16', '{GATEWAY}', '192.0.2.7']",
            id="app-service-and-gateway",
        ),
        pytest.param(
            {"FORWARDED_ALLOW_IPS": "127.0.0.1", "PRODKIT_TRUSTED_PROXIES": "10.0.0.0/8"},
            "['127.0.0.1']",
            id="gunicorn-variable-wins",
        ),
        pytest.param(
            {"WEBSITE_SITE_NAME": "site", "PRODKIT_PROXY_HOPS": "2"},
            "[]",
            id="hops-left-to-django",
        ),
    ],
)
def test_gunicorn_forwarded_allow_ips_from_the_environment(environ, expected):
    output = gunicorn_config(environ)
    assert re.search(r"^forwarded_allow_ips\s+= (.*)$", output, re.M)[1] == expected, output


@pytest.mark.slow
def test_gunicorn_refuses_a_bad_trusted_proxy():
    output = gunicorn_config({"PRODKIT_TRUSTED_PROXIES": "10.0.0.5/24"})
    assert "PRODKIT_TRUSTED_PROXIES entry '10.0.0.5/24' has host bits set" in output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("worker", "application"),
    [
        # uvicorn rewrites the client itself, from gunicorn's forwarded_allow_ips.
        pytest.param("uvicorn_worker.UvicornWorker", "asgi", id="uvicorn"),
        # Under WSGI TrustedProxyMiddleware does, in the environ gunicorn logs from.
        pytest.param("gthread", "wsgi", id="gthread"),
    ],
)
def test_real_server_logs_the_client_not_the_proxy(tmp_path, worker, application):
    """gunicorn behind a 'proxy' on 127.0.0.1: the server's access log and prodkit's name
    the client from X-Forwarded-For, never the proxy, nor the address a client wrote there."""
    env = example_env(
        tmp_path,
        PRODKIT_WORKER_CLASS=worker,
        PRODKIT_TRUSTED_PROXIES="127.0.0.1",
        PRODKIT_SERVER_ACCESS_LOG="true",
    )
    log = tmp_path / "server.log"
    with gunicorn(env, log, f"django_prodkit.{application}:application") as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(
                "GET", "/nothing-here/", headers={"X-Forwarded-For": f"6.6.6.6, {CLIENT}:51234"}
            )
            response = connection.getresponse()
            response.read()
            assert response.status == 404
        finally:
            connection.close()
    output = log.read_text()
    # uvicorn logs the port X-Forwarded-For carried, gunicorn's own log the address alone.
    assert re.search(
        rf'{re.escape(CLIENT)}(:51234)? - .*"GET /nothing-here/ HTTP/1.1" 404', output
    ), output
    # prodkit's own line: the client the middleware believed, the request id, the duration.
    assert re.search(
        rf'django_prodkit.access \[[0-9a-f]{{32}}\] {re.escape(CLIENT)} "GET /nothing-here/" '
        r"404 \d+\.\dms",
        output,
    ), output
    assert "6.6.6.6" not in output
    assert not re.search(r"127\.0\.0\.1(:\d+)? - .*GET /nothing-here/", output), output


def test_asgi_runs_prodkit_middleware_without_a_thread_hop(settings, caplog):
    # Django logs each sync_to_async/async_to_sync adaptation at DEBUG when DEBUG is on.
    settings.DEBUG = True
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [
        "django_prodkit.middleware.HealthCheckMiddleware",
        MIDDLEWARE,
        "django_prodkit.middleware.RequestIdMiddleware",
    ]
    settings.PRODKIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    caplog.set_level("DEBUG", logger="django.request")
    assert asgi("/async/", "10.0.0.2", [("X-Forwarded-For", CLIENT)]) == CLIENT
    assert not [r for r in caplog.records if "adapted for middleware" in r.getMessage()]
