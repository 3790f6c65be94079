"""Where webhooks may go: https (http only where `WEBHOOK_ALLOW_HTTP`), never a redirect, and
never a private, loopback, link-local or otherwise non-public address unless
`WEBHOOK_ALLOWED_NETWORKS` names it. Checked when an endpoint is saved and again before each send,
since a name can resolve elsewhere later."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class DestinationRefused(ValueError):
    """The URL may not receive webhooks; the message says why in words."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def check_url(url: str) -> list[str]:
    """Raise `DestinationRefused` unless `url` may receive webhooks; the addresses it resolves to."""
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed_schemes:
        raise DestinationRefused("Webhook URLs must start with https://.")
    if not parts.hostname:
        raise DestinationRefused("The webhook URL has no host name.")
    if parts.username or parts.password:
        raise DestinationRefused("Webhook URLs may not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise DestinationRefused(
            "The webhook URL's port is not a number from 1 to 65535."
        ) from error
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise DestinationRefused(f"The host name {parts.hostname} cannot be found.") from error
    addresses = sorted({str(info[4][0]) for info in infos})
    networks = _allowed_networks()
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            continue
        if not address.is_global or address.is_multicast:
            raise DestinationRefused(
                f"{parts.hostname} is a private, loopback or link-local address ({address}); "
                "webhooks go only to public addresses unless WEBHOOK_ALLOWED_NETWORKS names it."
            )
    return addresses
