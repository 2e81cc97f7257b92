"""Sessions and CSRF: a forged, foreign, stale, replayed or fixed session moves no money.

The ATM session holds only the card id and the time of the last request, so a session cookie is
exactly the power of that one card: these tests swap, forge, replay and age cookies and check that
nothing else can be reached and nothing moves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import assume, example, given
from hypothesis import strategies as st

from atm.session import SESSION_ACTIVITY_KEY, SESSION_CARD_KEY, idle_message
from tests.atm.conftest import atm_login
from tests.factories import CardHolder
from transactions.models import LedgerEntry

from .conftest import assert_handled, effect, fuzz, hostile_client, junk_text, rolled_back, snapshot

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SESSION = settings.SESSION_COOKIE_NAME


def _logged_in(holder: CardHolder, **kwargs: Any) -> Client:
    client = hostile_client(**kwargs)
    response = atm_login(client, holder)
    assert response.status_code == 302 and response["Location"] == reverse("atm:balance")
    return client


def _token(client: Client, page: str) -> str:
    return client.get(reverse(page)).context["form"]["token"].value()


def _confirmation(client: Client, first_step: dict[str, str]) -> dict[str, str]:
    """Post a transfer's first step and return the hidden fields of the confirmation page it shows."""
    page = client.post(reverse("atm:transfer"), first_step)
    assert page.status_code == 200 and "Confirm the transfer" in page.content.decode()
    form = page.context["form"]
    return {field.name: str(field.value()) for field in form.hidden_fields()}


def _operations(client: Client, holder: CardHolder, target: CardHolder) -> dict[str, dict[str, str]]:
    """Return a valid submission for every ATM page that changes something, with fresh form tokens."""
    return {
        "atm:withdraw": {"amount": "20", "pin": holder.pin, "token": _token(client, "atm:withdraw")},
        "atm:deposit": {"amount": "20", "token": _token(client, "atm:deposit")},
        "atm:transfer": {"to_account": target.account.number, "amount": "20", "token": _token(client, "atm:transfer")},
        "atm:pin": {"old_pin": holder.pin, "new_pin": "8031", "new_pin_again": "8031"},
    }


def _messages(response: HttpResponse) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _to_login(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("atm:login")


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_alice(alice_customer: CardHolder) -> Client:
    """Alice logged in from a browser whose POSTs must carry the CSRF token, as real browsers' do."""
    client = hostile_client(enforce_csrf_checks=True)
    client.get(reverse("atm:login"))
    secret = client.cookies[settings.CSRF_COOKIE_NAME].value
    data = {"card_number": alice_customer.pan, "pin": alice_customer.pin, "csrfmiddlewaretoken": secret}
    assert client.post(reverse("atm:login"), data).status_code == 302
    return client


@pytest.mark.parametrize("forged", [None, "", "x" * 32, "other-browser"])
def test_it_refuses_every_atm_post_without_this_browsers_csrf_token(
    csrf_alice: Client, alice_customer: CardHolder, charlie_customer: CardHolder, forged: str | None
) -> None:
    if forged == "other-browser":
        other = hostile_client(enforce_csrf_checks=True)
        other.get(reverse("atm:login"))
        forged = other.cookies[settings.CSRF_COOKIE_NAME].value
    before = snapshot()
    for page, data in {**_operations(csrf_alice, alice_customer, charlie_customer), "atm:logout": {}}.items():
        if forged is not None:
            data = {**data, "csrfmiddlewaretoken": forged}
        assert csrf_alice.post(reverse(page), data).status_code == 403, page
    assert effect(before, snapshot()) == {}
    assert csrf_alice.get(reverse("atm:balance")).status_code == 200  # still logged in: logout was refused too


def test_it_rotates_the_csrf_token_at_login(alice_customer: CardHolder) -> None:
    client = hostile_client(enforce_csrf_checks=True)
    client.get(reverse("atm:login"))
    known_before_login = client.cookies[settings.CSRF_COOKIE_NAME].value  # e.g. planted by an attacker
    data = {"card_number": alice_customer.pan, "pin": alice_customer.pin, "csrfmiddlewaretoken": known_before_login}
    assert client.post(reverse("atm:login"), data).status_code == 302
    assert client.cookies[settings.CSRF_COOKIE_NAME].value != known_before_login
    before = snapshot()
    forged = {"amount": "20", "token": _token(client, "atm:deposit"), "csrfmiddlewaretoken": known_before_login}
    assert client.post(reverse("atm:deposit"), forged).status_code == 403
    assert effect(before, snapshot()) == {}


def test_it_moves_money_when_the_csrf_token_is_sent(csrf_alice: Client, alice_customer: CardHolder) -> None:
    secret = csrf_alice.cookies[settings.CSRF_COOKIE_NAME].value
    before = snapshot()
    data = {"amount": "20", "token": _token(csrf_alice, "atm:deposit"), "csrfmiddlewaretoken": secret}
    response = csrf_alice.post(reverse("atm:deposit"), data)
    assert response.status_code == 302
    account = alice_customer.account.pk
    assert effect(before, snapshot()) == {"balances": {account: 2_000}, "new entries": [(account, "deposit", 2_000)]}


def test_it_refuses_a_staff_adjustment_without_a_csrf_token(alice_customer: CardHolder) -> None:
    staff = hostile_client(enforce_csrf_checks=True)
    staff.force_login(User.objects.create_superuser("root", "root@example.com", "root-password-1"))
    before = snapshot()
    response = staff.post(reverse("admin:accounts_account_changelist"), {
        "action": "post_adjustment", "apply": "1", ACTION_CHECKBOX_NAME: [str(alice_customer.account.pk)],
        "request_key": "6f1c1a52-8d0e-4d55-9d36-5a1f0c3b2e77", "direction": "credit", "amount": "1000",
        "reason": "Cross-site request",
    })
    assert response.status_code == 403
    assert effect(before, snapshot()) == {}


# --- Another customer's session ----------------------------------------------------------------


def test_it_shows_no_receipt_of_another_account(alice_customer: CardHolder, charlie_customer: CardHolder) -> None:
    alice, charlie = _logged_in(alice_customer), _logged_in(charlie_customer)
    data = {"to_account": charlie_customer.account.number, "amount": "30", "token": _token(alice, "atm:transfer")}
    confirmation = _confirmation(alice, data)
    assert alice.post(reverse("atm:transfer"), {**confirmation, "pin": alice_customer.pin}).status_code == 302
    legs = {entry.account_id: entry.pk for entry in LedgerEntry.objects.filter(kind__startswith="transfer")}
    alice_deposit = LedgerEntry.objects.get(account=alice_customer.account, kind="deposit").pk
    for entry in (legs[alice_customer.account.pk], alice_deposit):
        assert charlie.get(reverse("atm:receipt", args=[entry])).status_code == 404
    assert charlie.get(reverse("atm:receipt", args=[legs[charlie_customer.account.pk]])).status_code == 200
    assert alice.get(reverse("atm:receipt", args=[legs[charlie_customer.account.pk]])).status_code == 404


def test_it_acts_only_as_the_card_whose_session_cookie_is_sent(
    alice_customer: CardHolder, charlie_customer: CardHolder
) -> None:
    alice, charlie = _logged_in(alice_customer), _logged_in(charlie_customer)
    browser = hostile_client()
    browser.cookies[SESSION] = alice.cookies[SESSION].value  # Alice's cookie in another browser
    page = browser.get(reverse("atm:balance")).content.decode()
    assert alice_customer.account.number in page and charlie_customer.account.number not in page
    smuggled = {name: str(value) for name, value in (
        ("account", charlie_customer.account.pk), ("account_id", charlie_customer.account.pk),
        ("card", charlie_customer.card.pk), ("card_id", charlie_customer.card.pk),
        (SESSION_CARD_KEY, charlie_customer.card.pk), ("from_account", charlie_customer.account.number))}
    before = snapshot()
    browser.post(reverse("atm:deposit"), {"amount": "15", "token": _token(browser, "atm:deposit"), **smuggled})
    first_step = {"to_account": charlie_customer.account.number, "amount": "5",
                  "token": _token(browser, "atm:transfer"), **smuggled}
    browser.post(reverse("atm:transfer"), {**_confirmation(browser, first_step), "pin": alice_customer.pin,
                                           **smuggled})
    alice_account, charlie_account = alice_customer.account.pk, charlie_customer.account.pk
    assert effect(before, snapshot()) == {
        "balances": {alice_account: 1_000, charlie_account: 500},
        "new entries": sorted([(alice_account, "deposit", 1_500), (alice_account, "transfer_out", -500),
                               (charlie_account, "transfer_in", 500)], key=repr),
    }
    assert charlie.session[SESSION_CARD_KEY] == charlie_customer.card.pk


# --- Forged, replayed, stale and fixed sessions -------------------------------------------------------


def _tampered(key: str, how: int, junk: str) -> str:
    """Return a session key changed one way: a flipped, dropped or added character, or junk."""
    flipped = key[:-1] + ("a" if key[-1] != "a" else "b")
    return (flipped, key[:-1], key + "0", key.upper(), junk, key + junk)[how]


def _raw_cookie(value: str) -> str:
    """Return a Cookie header as a WSGI server hands it to Django: the bytes sent, read as Latin-1."""
    return f"{SESSION}={value}".encode().decode("latin-1")


@fuzz(40)
@example(how=0, junk="")
@example(how=4, junk='"abcdefgh;ijk"')
@example(how=4, junk="abcdefgh%00ijk")
@example(how=5, junk="\u2000x")
@example(how=4, junk="abcdefgh\x00ijk")
@example(how=4, junk='"abcdefgh\\000ijk"')
@given(how=st.integers(0, 5), junk=st.one_of(junk_text(), st.from_regex(r"[a-z0-9]{32}", fullmatch=True)))
def test_it_treats_a_tampered_session_cookie_as_logged_out(
    alice_customer: CardHolder, how: int, junk: str
) -> None:
    with rolled_back():
        alice = _logged_in(alice_customer)
        token = _token(alice, "atm:deposit")
        value = _tampered(alice.cookies[SESSION].value, how, junk)
        # Django reads the header back as UTF-8 and strips each value: make sure the key really differs.
        assume(parse_cookie(f"{SESSION}={value}").get(SESSION) != alice.cookies[SESSION].value)
        header = _raw_cookie(value)
        browser = hostile_client()
        before = snapshot()
        responses = [browser.get(reverse("atm:balance"), HTTP_COOKIE=header),
                     browser.post(reverse("atm:deposit"), {"amount": "20", "token": token}, HTTP_COOKIE=header)]
        after = snapshot()
    for response in responses:
        assert_handled(response)
        assert _to_login(response)
    assert effect(before, after) == {}


def test_it_refuses_a_session_cookie_replayed_after_logout(
    alice_customer: CardHolder, charlie_customer: CardHolder
) -> None:
    alice = _logged_in(alice_customer)
    stolen = alice.cookies[SESSION].value
    operations = _operations(alice, alice_customer, charlie_customer)
    assert _to_login(alice.post(reverse("atm:logout")))
    replayer = hostile_client()
    before = snapshot()
    for page, data in operations.items():
        replayer.cookies[SESSION] = stolen
        assert _to_login(replayer.post(reverse(page), data)), page
    replayer.cookies[SESSION] = stolen
    assert _to_login(replayer.get(reverse("atm:balance")))
    assert effect(before, snapshot()) == {}


def _age_session(client: Client, seconds: float) -> None:
    session = client.session
    session[SESSION_ACTIVITY_KEY] = time.time() - seconds
    session.save()


@pytest.mark.parametrize("page", ["atm:withdraw", "atm:deposit", "atm:transfer", "atm:pin"])
def test_it_moves_nothing_after_the_idle_timeout(
    alice_customer: CardHolder, charlie_customer: CardHolder, page: str
) -> None:
    alice = _logged_in(alice_customer)
    data = _operations(alice, alice_customer, charlie_customer)[page]
    _age_session(alice, settings.ATM_SESSION_IDLE_SECONDS + 1)
    before = snapshot()
    response = alice.post(reverse(page), data)
    assert _to_login(response)
    assert _messages(response) == [idle_message()]
    assert effect(before, snapshot()) == {}
    assert SESSION_CARD_KEY not in alice.session
    assert _to_login(alice.post(reverse(page), data))  # the ended session stays ended


def test_it_still_serves_a_session_just_inside_the_idle_window(alice_customer: CardHolder) -> None:
    alice = _logged_in(alice_customer)
    data = {"amount": "20", "token": _token(alice, "atm:deposit")}
    _age_session(alice, settings.ATM_SESSION_IDLE_SECONDS - 5)
    assert alice.post(reverse("atm:deposit"), data).status_code == 302
    assert LedgerEntry.objects.filter(account=alice_customer.account, kind="deposit").count() == 2


def test_it_gives_a_new_session_key_at_login_and_drops_a_planted_one(alice_customer: CardHolder) -> None:
    planted = import_module(settings.SESSION_ENGINE).SessionStore()
    planted["planted"] = True
    planted.save()
    victim = hostile_client()
    victim.cookies[SESSION] = planted.session_key  # set by an attacker before the victim logs in
    assert victim.get(reverse("atm:login")).status_code == 200
    assert atm_login(victim, alice_customer).status_code == 302
    assert victim.cookies[SESSION].value != planted.session_key
    attacker = hostile_client()
    attacker.cookies[SESSION] = planted.session_key
    assert _to_login(attacker.get(reverse("atm:balance")))


def test_it_ignores_a_made_up_session_id_at_login(alice_customer: CardHolder) -> None:
    victim = hostile_client()
    victim.cookies[SESSION] = "attackerchosensessionid0123456789"
    assert atm_login(victim, alice_customer).status_code == 302
    assert victim.cookies[SESSION].value != "attackerchosensessionid0123456789"


# --- Cookie attributes --------------------------------------------------------------------------


def _cookie_flags(response: HttpResponse, name: str) -> tuple[bool, str, bool]:
    cookie = response.cookies[name]
    return bool(cookie["httponly"]), cookie["samesite"], bool(cookie["secure"])


def test_it_sets_the_session_cookie_http_only_and_same_site_lax(alice_customer: CardHolder) -> None:
    response = atm_login(hostile_client(), alice_customer)
    assert _cookie_flags(response, SESSION) == (True, "Lax", settings.SESSION_COOKIE_SECURE)


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_it_marks_every_atm_cookie_secure_with_secure_cookies_on(alice_customer: CardHolder) -> None:
    client = hostile_client()
    page = client.get(reverse("atm:login"))
    login = atm_login(client, alice_customer)
    logout = client.post(reverse("atm:logout"))
    assert _cookie_flags(login, SESSION) == (True, "Lax", True)
    assert _cookie_flags(page, settings.CSRF_COOKIE_NAME)[1:] == ("Lax", True)
    assert _cookie_flags(logout, "messages") == (True, "Lax", True)


def _production_cookie_settings(**environment: str) -> list[str]:
    """Return the cookie settings that atmsite.settings computes from a bare production environment."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "ATM_", "DATABASE_", "CELERY_"))}
    env.update({"DJANGO_ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "atmsite.settings", **environment})
    for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
        env[name] = "production-secret-" + "x" * 40
    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE)")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.split()


def test_it_makes_cookies_secure_by_default_in_production() -> None:
    assert _production_cookie_settings() == ["True", "True", "True", "Lax", "Lax"]
    assert _production_cookie_settings(DJANGO_DEBUG="true") == ["False", "False", "True", "Lax", "Lax"]
