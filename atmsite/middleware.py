"""Forwarded headers are believed only from our own reverse proxy.

Behind nginx (DJANGO_BEHIND_PROXY=true) the app learns the client's address and scheme from
X-Forwarded-For and X-Forwarded-Proto, which nginx sets. A request reaching an app server from
any other peer (someone who got past the proxy) could set those headers itself: this middleware
removes them unless the peer's address is in DJANGO_TRUSTED_PROXIES, before anything reads them
(SecurityMiddleware's HTTPS redirect, request.is_secure(), the login throttle).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse the trusted proxies (addresses or networks); refuse the site a wrong entry."""
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"DJANGO_TRUSTED_PROXIES: {exc}") from exc


def from_trusted_proxy(remote_addr: str) -> bool:
    """Return True when the peer is one of our proxies (and we are behind one at all)."""
    if settings.SECURE_PROXY_SSL_HEADER is None:
        return False
    try:
        peer = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(peer in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


class TrustedProxyMiddleware:
    """Drop X-Forwarded-* request headers unless they come from a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for name in FORWARDED_HEADERS:
                request.META.pop(name, None)
        return self.get_response(request)
