"""Client addresses: who is asking, and which network the address belongs to.

Shared by the web ATM's login throttle and the staff login lockout (django-axes), so both see the
same address behind the reverse proxy.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# An IPv4 customer usually holds one address of a /24; an IPv6 customer is given a whole /64.
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 64


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """Return the client's IP address: REMOTE_ADDR, or behind our proxy the address it appended.

    Behind a reverse proxy (DJANGO_BEHIND_PROXY) the proxy appends the peer it saw to
    X-Forwarded-For; earlier entries come from the client and are not trusted.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "")) or "0.0.0.0"
    if settings.SECURE_PROXY_SSL_HEADER is None:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return _valid_ip(forwarded.rsplit(",", 1)[-1]) or remote


def client_network(address: str) -> str:
    """Return the network of an address in CIDR form: its /24 for IPv4, its /64 for IPv6."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_NETWORK_PREFIX if ip.version == 4 else IPV6_NETWORK_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
