"""atmsite/middleware.py: X-Forwarded-* headers count only when our own proxy sent them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from atmsite.middleware import TrustedProxyMiddleware, trusted_networks

FORWARDED = {"HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_FORWARDED_PROTO": "https",
             "HTTP_X_FORWARDED_HOST": "evil.example"}


def _seen(remote_addr: str) -> HttpRequest:
    """Return the request as the view behind the middleware sees it."""
    seen: list[HttpRequest] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse()

    TrustedProxyMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=remote_addr, **FORWARDED))
    return seen[0]


@pytest.fixture
def behind_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.20.0.0/16"]
    return settings


@pytest.mark.parametrize("proxy", ["127.0.0.1", "10.20.3.4"])
def test_it_keeps_the_headers_our_proxies_set(behind_proxy, proxy):
    request = _seen(proxy)
    assert request.is_secure()
    assert request.META["HTTP_X_FORWARDED_FOR"] == "198.51.100.7"


@pytest.mark.parametrize("peer", ["10.21.0.1", "192.0.2.1", "::1", "not-an-address"])
def test_it_drops_them_from_anyone_else(behind_proxy, peer):
    request = _seen(peer)
    assert not request.is_secure()
    assert not {"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"} & set(request.META)


def test_it_drops_them_from_everyone_when_not_behind_a_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    assert "HTTP_X_FORWARDED_FOR" not in _seen("127.0.0.1").META


def test_a_login_behind_the_proxy_counts_under_the_address_the_proxy_saw(behind_proxy, client, db):
    from accounts.models import LoginAttempt

    client.post("/", {"card_number": "4000001234567899", "pin": "1234"}, REMOTE_ADDR="192.0.2.50",
                HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert list(LoginAttempt.objects.values_list("address", flat=True)) == ["192.0.2.50"]


def test_a_wrong_trusted_proxy_entry_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="DJANGO_TRUSTED_PROXIES"):
        trusted_networks(("10.0.0.0/33",))
