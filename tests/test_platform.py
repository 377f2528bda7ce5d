from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env
from django_prodkit.settings.platform import (
    FORWARDED_PROTO_HEADER,
    Platform,
    detect_platform,
    host_settings,
    host_settings_from_env,
)

APP_SERVICE = {
    "WEBSITE_SITE_NAME": "mysite",
    "WEBSITE_HOSTNAME": "MySite.azurewebsites.net",
    "WEBSITE_INSTANCE_ID": "a1b2c3",
    "PORT": "8181",
}


@pytest.mark.parametrize(
    ("environ", "markers", "kind"),
    [
        pytest.param(APP_SERVICE, [], "appservice", id="app-service"),
        pytest.param(
            {"WEBSITE_HOSTNAME": "x.azurewebsites.net"},
            [],
            "appservice",
            id="app-service-hostname-only",
        ),
        pytest.param(
            {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "web-7d9"},
            [],
            "kubernetes",
            id="kubernetes",
        ),
        pytest.param({}, [".dockerenv"], "container", id="docker"),
        pytest.param({}, ["run/.containerenv"], "container", id="podman-file"),
        pytest.param({"container": "podman"}, [], "container", id="podman-variable"),
        pytest.param({}, [], "local", id="local"),
    ],
)
def test_detects_the_platform(tmp_path, environ, markers, kind):
    for marker in markers:
        (tmp_path / marker).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / marker).touch()
    assert detect_platform(Env(environ), root=tmp_path).kind == kind


def test_app_service_details(tmp_path):
    platform = detect_platform(Env(APP_SERVICE), root=tmp_path)
    assert platform == Platform(
        kind="appservice",
        hostnames=("mysite.azurewebsites.net",),
        tls_proxy=True,
        port=8181,
        site_name="mysite",
        instance_id="a1b2c3",
    )


def test_websites_port_wins_over_port(tmp_path):
    assert detect_platform(Env({"WEBSITES_PORT": "9000", "PORT": "80"}), root=tmp_path).port == 9000


def test_bad_port_names_the_variable(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="PORT must be an integer from 1 to 65535"):
        detect_platform(Env({"PORT": "99999"}), root=tmp_path)


def test_app_service_hosts_origins_and_proxy_header():
    platform = Platform(kind="appservice", hostnames=("mysite.azurewebsites.net",), tls_proxy=True)
    config = host_settings(platform, allowed_hosts=["www.example.com"])
    assert config == {
        "ALLOWED_HOSTS": ["mysite.azurewebsites.net", "www.example.com"],
        "CSRF_TRUSTED_ORIGINS": ["https://mysite.azurewebsites.net", "https://www.example.com"],
        "SECURE_PROXY_SSL_HEADER": FORWARDED_PROTO_HEADER,
    }


@pytest.mark.parametrize("kind", ["local", "container", "kubernetes"])
def test_no_proxy_header_where_no_tls_proxy_is_known(kind):
    # On a bare host any client could send X-Forwarded-Proto: https and pass as secure.
    config = host_settings(Platform(kind=kind), allowed_hosts=["example.com"])
    assert config["SECURE_PROXY_SSL_HEADER"] is None


def test_tls_proxy_can_be_declared_or_denied():
    assert host_settings(Platform(kind="kubernetes"), allowed_hosts=["a"], behind_tls_proxy=True)[
        "SECURE_PROXY_SSL_HEADER"
    ] == ("HTTP_X_FORWARDED_PROTO", "https")
    app_service = Platform(kind="appservice", hostnames=("a",), tls_proxy=True)
    assert host_settings(app_service, behind_tls_proxy=False)["SECURE_PROXY_SSL_HEADER"] is None


def test_wildcard_hosts_map_to_csrf_wildcards():
    config = host_settings(Platform(kind="local"), allowed_hosts=[".example.com", "*"])
    assert config["CSRF_TRUSTED_ORIGINS"] == ["https://*.example.com"]


def test_no_hosts_outside_debug_is_an_error():
    with pytest.raises(ImproperlyConfigured, match=r"^DJANGO_ALLOWED_HOSTS is not set"):
        host_settings(Platform(kind="local"))


def test_no_hosts_in_debug_means_local_names():
    assert host_settings(Platform(kind="local"), debug=True)["ALLOWED_HOSTS"] == [
        "localhost",
        "127.0.0.1",
        "[::1]",
    ]


def test_trusted_origin_without_scheme_is_an_error():
    with pytest.raises(
        ImproperlyConfigured,
        match=r"DJANGO_CSRF_TRUSTED_ORIGINS entry 'example\.com' has no scheme",
    ):
        host_settings(
            Platform(kind="local"), allowed_hosts=["a"], csrf_trusted_origins=["example.com"]
        )


def test_host_settings_from_env():
    env = Env(
        {
            **APP_SERVICE,
            "DJANGO_ALLOWED_HOSTS": "www.example.com, example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://admin.example.net",
            "PRODKIT_BEHIND_TLS_PROXY": "",
        }
    )
    config = host_settings_from_env(env)
    assert config["ALLOWED_HOSTS"] == ["mysite.azurewebsites.net", "www.example.com", "example.com"]
    assert config["CSRF_TRUSTED_ORIGINS"][-1] == "https://admin.example.net"
    assert config["SECURE_PROXY_SSL_HEADER"] == FORWARDED_PROTO_HEADER
