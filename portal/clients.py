"""The client's address, one rule for every use: rate limits, sign-in lockouts, logs and the
evidence kept with a consent.

`REMOTE_ADDR` is the peer that connected. Behind `TRUSTED_PROXY_COUNT` = N > 0 proxies, the
client is the address N hops from the right of X-Forwarded-For (each trusted proxy appends the
peer it saw; anything further left is whatever the client claimed) — but only when the peer is
one of those proxies (`FORWARDED_ALLOW_IPS`): a client reaching the web process directly is known
by its own address whatever headers it sends.
"""

import ipaddress
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str:
    """The client's address for a request; "" when absent or unparsable."""
    return client_address(request.META)


def client_address(meta: Mapping[str, Any]) -> str:
    """`client_ip` for a WSGI environ or `request.META`."""
    raw = str(meta.get("REMOTE_ADDR", ""))
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if trusted > 0 and from_trusted_proxy(meta):
        hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
        hops = [hop for hop in hops if hop]
        if hops:
            # Fewer hops than proxies: every hop was added by a trusted proxy; take the first.
            raw = hops[max(0, len(hops) - trusted)]
    return normalise_ip(raw)


def from_trusted_proxy(meta: Mapping[str, Any]) -> bool:
    """Whether the connected peer is one of the proxies in `FORWARDED_ALLOW_IPS`."""
    networks = trusted_networks(
        tuple(getattr(settings, "FORWARDED_ALLOW_IPS", ("127.0.0.1", "::1")))
    )
    if networks is None:
        return True
    peer = normalise_ip(str(meta.get("REMOTE_ADDR", "")))
    if not peer:
        return False
    address = ipaddress.ip_address(peer)
    return any(address in network for network in networks)


@cache
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...] | None:
    """The networks in `FORWARDED_ALLOW_IPS`; None for "*" (every peer is a proxy)."""
    if "*" in entries:
        return None
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"FORWARDED_ALLOW_IPS: {error}") from error


def normalise_ip(raw: str) -> str:
    """One spelling per address: compressed IPv6 without zone, IPv4-mapped IPv6 as plain IPv4."""
    try:
        address = ipaddress.ip_address(raw.strip().split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
