"""The branded error pages: they say what happened and reveal nothing, with DEBUG on or off."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import technical_500_response

from atmsite.errors import DebugErrorPagesMiddleware

pytestmark = pytest.mark.django_db

# Words of Django's debug pages: the URL pattern listing, the traceback and the settings dump.
DEBUG_WORDS = ("URLconf", "urlpatterns", "Traceback", "DJANGO_SETTINGS_MODULE", "favicon.ico", "receipt/<int:entry_id>/")


def _assert_branded(response, status: int, heading: str, brand: str) -> str:
    assert response.status_code == status
    body = response.content.decode()
    assert f"<h1>{heading}</h1>" in body
    assert brand in body
    for word in DEBUG_WORDS:
        assert word not in body, word
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_it_answers_an_unknown_atm_address_with_the_atm_404_page(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/receipt/not-a-number/")
    body = _assert_branded(response, 404, "Page not found", "atmsite <span class=\"brand__tag\">ATM</span>")
    assert 'href="/"' in body
    # django-csp leaves DEBUG's 404 and 500 pages without the header (Django's own pages need inline styles)
    assert debug or "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("debug", [False, True])
def test_it_answers_an_unknown_back_office_address_with_the_back_office_404_page(admin_client, settings, debug):
    settings.DEBUG = debug
    response = admin_client.get("/admin/no-such-page/")
    body = _assert_branded(response, 404, "Page not found", "back office")
    assert 'href="/admin/"' in body


@pytest.mark.parametrize("debug", [False, True])
def test_it_shows_a_teller_the_branded_403_on_releases(client, bob_teller, settings, debug):
    settings.DEBUG = debug
    client.force_login(bob_teller)
    response = client.get(reverse("admin:anonymization_release_changelist"))
    _assert_branded(response, 403, "Not allowed", "back office")


@pytest.mark.parametrize("debug", [False, True])
def test_it_explains_an_expired_form_without_details(settings, alice_customer, debug):
    from django.test import Client

    settings.DEBUG = debug
    response = Client(enforce_csrf_checks=True).post("/", {"card_number": alice_customer.pan, "pin": "2468"})
    body = _assert_branded(response, 403, "Form expired", "ATM")
    assert "CSRF" not in body and alice_customer.pan not in body


def test_it_puts_the_branded_500_in_place_of_the_debug_traceback(settings):
    settings.DEBUG = True
    request = RequestFactory().get("/balance/")
    try:
        raise RuntimeError("the secret detail")
    except RuntimeError as exc:
        technical = technical_500_response(request, type(exc), exc, exc.__traceback__)
    response = DebugErrorPagesMiddleware(lambda _: technical)(request)
    body = _assert_branded(response, 500, "Something went wrong", "ATM")
    assert "the secret detail" not in body


def test_it_leaves_a_plain_text_error_a_view_wrote_on_purpose(settings):
    settings.DEBUG = True
    request = RequestFactory().get("/releases/policies/1/increments.csv")
    plain = HttpResponse("from must not be after to", status=400, content_type="text/plain")
    assert DebugErrorPagesMiddleware(lambda _: plain)(request) is plain
