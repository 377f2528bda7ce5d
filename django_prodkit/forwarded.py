"""The client address of a request that came through proxies: what prodkit believes.

``TrustedProxyMiddleware`` writes it into ``REMOTE_ADDR``; the health endpoints, which answer
before that middleware runs, report it to ``prodcheck --url`` (with the health token), which
checks that a spoofed ``X-Forwarded-For`` is not believed.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from django_prodkit.conf import conf
from django_prodkit.settings.proxies import IPNetwork, parse_networks

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def believed_client(meta: Mapping[str, Any]) -> str:
    """Return the client address for a request's ``META``: ``REMOTE_ADDR`` unless a trusted
    proxy (``PRODKIT_TRUSTED_PROXIES``, ``PRODKIT_PROXY_HOPS``) forwarded the request."""
    peer = str(meta.get("REMOTE_ADDR", ""))
    networks = _networks(conf.PRODKIT_TRUSTED_PROXIES)
    hops = conf.PRODKIT_PROXY_HOPS
    if not networks and not hops:
        return peer
    header = conf.PRODKIT_CLIENT_IP_HEADER
    client = client_address(
        peer,
        str(meta.get("HTTP_X_FORWARDED_FOR", "")),
        networks=networks,
        hops=hops,
        client_ip=meta.get(_meta_name(header)) if header else None,
    )
    return peer if client is None else client


def parse_address(value: str) -> IPAddress | None:
    """Return the IP address in one forwarding-header entry, or None when it is not one.

    Accepts ``203.0.113.7``, ``203.0.113.7:51234`` (App Service and Application Gateway
    append the client's port), ``2001:db8::7``, ``[2001:db8::7]`` and ``[2001:db8::7]:443``.
    An IPv4-mapped IPv6 address (``::ffff:203.0.113.7``) gives the IPv4 one. Anything else
    (``unknown``, a host name, a bad port) gives None, never an error.
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[1:end], value[end + 1 :]
        if end < 0 or (rest and not (rest[0] == ":" and _is_port(rest[1:]))):
            return None
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        if not _is_port(port):
            return None
    else:
        host = value
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str,
    forwarded_for: str,
    *,
    networks: Sequence[IPNetwork] = (),
    hops: int = 0,
    client_ip: str | None = None,
) -> str | None:
    """Return the client's address behind the proxies, or None to keep ``REMOTE_ADDR``.

    With ``networks`` the headers count only when ``peer`` (``REMOTE_ADDR``) is in them;
    ``forwarded_for`` (``X-Forwarded-For``) is then read from the right, each entry
    having been appended by the proxy to its right, and the first entry that is not a
    trusted proxy is the client. With ``hops`` the client is instead that many entries from
    the right (the leftmost when there are fewer), trusted or not; without ``networks`` any
    peer may send them. An entry that is not an address ends the walk with nothing
    believed; ``client_ip`` (App Service's ``X-Client-IP``) is the fallback then.
    """
    if not networks and not hops:
        return None
    if networks:
        address = parse_address(peer)
        if address is None or not _in_networks(address, networks):
            return None
    found = _walk_forwarded_for(forwarded_for, networks, hops)
    if found is None and client_ip:
        found = parse_address(client_ip)
    return None if found is None else str(found)


def _walk_forwarded_for(header: str, networks: Sequence[IPNetwork], hops: int) -> IPAddress | None:
    if not header:
        return None
    address = None
    for position, entry in enumerate(reversed(header.split(",")), start=1):
        address = parse_address(entry)
        # Only proxies wrote what lies right of here; a malformed entry came from someone
        # else, and so did everything left of it.
        if address is None:
            return None
        if position == hops or (not hops and not _in_networks(address, networks)):
            return address
    # Every entry was a trusted proxy (or there were fewer than ``hops``): the leftmost is
    # the first address any of them saw.
    return address


def _in_networks(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    # An IPv4 address is simply not in an IPv6 network (and back): no error to catch.
    return any(address in network for network in networks)


@functools.lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Parsed once per distinct setting value; a bad entry raises ImproperlyConfigured
    # naming PRODKIT_TRUSTED_PROXIES on the first request.
    return tuple(parse_networks(entries))


def _is_port(value: str) -> bool:
    # isascii: str.isdigit() also accepts digits like '²'; the length check keeps int() cheap.
    return value.isascii() and value.isdigit() and len(value) <= 5 and int(value) <= 65535


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")
