"""Which proxies in front of the app may say who the client is (``X-Forwarded-For``).

``TrustedProxyMiddleware`` and gunicorn's ``forwarded_allow_ips`` both read the list made
here, so Django and the server agree on it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, TypeAlias

from django.core.exceptions import ImproperlyConfigured

from django_prodkit.env import Env
from django_prodkit.settings.platform import Platform, detect_platform

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Linux App Service runs the app in a container whose peer is the front end's hop on the
# link-local network: Microsoft's own quickstart log shows every request coming from
# 169.254.130.1 (learn.microsoft.com/azure/app-service/quickstart-python, "Stream logs").
# Routers never forward link-local source addresses (RFC 3927 section 7), so no client on
# the internet can reach the app from this range to forge the headers itself.
APP_SERVICE_PROXIES = ("169.254.0.0/16",)

# App Service's front ends put the address they saw in X-Client-IP as well.
APP_SERVICE_CLIENT_IP_HEADER = "X-Client-IP"

MAX_PROXY_HOPS = 20


def parse_networks(
    entries: Sequence[str], *, source: str = "PRODKIT_TRUSTED_PROXIES"
) -> list[IPNetwork]:
    """Return ``entries`` (IP addresses and CIDR networks) as networks; ``source`` names them
    in errors.

    A network with host bits set (``10.0.0.5/24``) is refused rather than widened: gunicorn
    and uvicorn read the same list and would reject it or silently never match it.
    """
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = str(raw).strip()
        try:
            network = ipaddress.ip_network(entry)
        except ValueError:
            if entry == "*":
                raise ImproperlyConfigured(
                    f"{source} must list the proxies' addresses; '*' would let any client set "
                    "its own. To trust a fixed number of proxies whose addresses change, set "
                    "PRODKIT_PROXY_HOPS instead."
                ) from None
            if "/" in entry and _is_network_with_host_bits(entry):
                base = ipaddress.ip_network(entry, strict=False)
                raise ImproperlyConfigured(
                    f"{source} entry {entry!r} has host bits set. Write the network as {base}."
                ) from None
            raise ImproperlyConfigured(
                f"{source} entry {entry!r} is not an IP address or CIDR network. Expected a "
                "form like 10.0.0.0/24, 203.0.113.7 or 2001:db8::/32, comma-separated."
            ) from None
        if network.prefixlen == 0:
            raise ImproperlyConfigured(
                f"{source} entry {entry!r} trusts every address, so any client could set its "
                "own. List the proxies' addresses; to trust a fixed number of proxies whose "
                "addresses change, set PRODKIT_PROXY_HOPS instead."
            )
        networks.append(network)
    return networks


def trusted_proxies(
    proxies: Sequence[str] = (),
    *,
    hops: int = 0,
    platform: Platform | None = None,
    source: str = "PRODKIT_TRUSTED_PROXIES",
) -> dict[str, Any]:
    """Return ``PRODKIT_TRUSTED_PROXIES``, ``PRODKIT_PROXY_HOPS`` and
    ``PRODKIT_CLIENT_IP_HEADER``.

    ``proxies`` lists the proxies' IP addresses or CIDR networks; on App Service its front
    ends (``APP_SERVICE_PROXIES``) are added and ``X-Client-IP`` is named as the fallback
    client header. ``hops`` (0: unused) says how many proxies append to ``X-Forwarded-For``:
    the client is that many entries from the right, whatever their addresses. The list then
    only says which peers may send the header at all; with no list any peer may, which is
    safe only where nothing but those proxies can reach the app.
    """
    if hops < 0 or hops > MAX_PROXY_HOPS:
        raise ImproperlyConfigured(
            f"PRODKIT_PROXY_HOPS must be an integer from 0 to {MAX_PROXY_HOPS}, got {hops!r}."
        )
    on_app_service = platform is not None and platform.kind == "appservice"
    own = parse_networks(proxies, source=source)
    defaults = parse_networks(APP_SERVICE_PROXIES) if on_app_service else []
    networks = list(dict.fromkeys([*defaults, *own]))
    return {
        "PRODKIT_TRUSTED_PROXIES": [_spelled(network) for network in networks],
        "PRODKIT_PROXY_HOPS": hops,
        "PRODKIT_CLIENT_IP_HEADER": APP_SERVICE_CLIENT_IP_HEADER if on_app_service else None,
    }


def trusted_proxies_from_env(
    env: Env | None = None, *, platform: Platform | None = None
) -> dict[str, Any]:
    """Return ``trusted_proxies`` from ``PRODKIT_TRUSTED_PROXIES`` (comma-separated),
    ``PRODKIT_PROXY_HOPS`` and the detected platform."""
    env = env or Env()
    return trusted_proxies(
        env.list("PRODKIT_TRUSTED_PROXIES", default=()),
        hops=env.int("PRODKIT_PROXY_HOPS", default=0, min=0, max=MAX_PROXY_HOPS),
        platform=platform or detect_platform(env),
    )


def _is_network_with_host_bits(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _spelled(network: IPNetwork) -> str:
    # A single address reads better without /32 (or /128); every consumer accepts both.
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


__all__ = [
    "APP_SERVICE_CLIENT_IP_HEADER",
    "APP_SERVICE_PROXIES",
    "parse_networks",
    "trusted_proxies",
    "trusted_proxies_from_env",
]
