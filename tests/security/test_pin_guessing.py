"""PIN guessing: three tries per card whatever the session, address or page, and a throttle per address and network.

A guesser who opens a new browser (a new session) for every try and spreads the tries over many
client addresses still gets three tries per card: the fourth is refused even when it is the right
PIN ("This card is blocked"). A number issued to nobody, or to a blocked or expired card, has its
tries counted by fingerprint in the database and answers the same sequence, whatever the browser. One address gets ATM_LOGIN_THROTTLE_ATTEMPTS
failures in the window, one /24 network ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS; the next attempt from
there is refused before any PIN is checked, unless the browser logged in with that card before, or
the number has no wrong PIN on record and has not been checked from that network in the window
(one check, so the right PIN on a shared address gets in; never at the global limit).
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import count, islice

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.urls import reverse

from accounts.cards import luhn_check_digit, pan_fingerprint
from accounts.models import Card, CardNumberTries, LoginAttempt
from accounts.services import card_block
from tests.factories import CardHolder, funded_card
from tests.support.threads import run_together

from .conftest import assert_handled, effect, hostile_client, snapshot

pytestmark = pytest.mark.django_db

GENERIC = "Card number or PIN is not correct."
JUST_BLOCKED = "Wrong PIN entered three times: this card is now blocked. Please contact your bank."
BLOCKED = "This card is blocked. Please contact your bank."
TWO_LEFT = f"{GENERIC} 2 tries left before the card is blocked."
ONE_LEFT = f"{GENERIC} 1 try left before the card is blocked."
THROTTLED = "Too many login attempts from this address. Please wait a few minutes and try again."
NETWORK_THROTTLED = "Too many login attempts from your network. Please wait a few minutes and try again."
EVERYWHERE_THROTTLED = "Too many login attempts at this ATM service right now. Please wait a few minutes and try again."
CARD_PINS = ("2468", "1357", "8031", "5192", "7340", "6029")


def addresses() -> Iterator[str]:
    """Yield distinct client addresses, each in a network (/24) of its own, as a botnet's are."""
    for number in count(1):
        yield f"10.{number // 250 % 250}.{number % 250}.7"


def unknown_pans(prefix: str = "400000") -> Iterator[str]:
    """Yield distinct Luhn-valid card numbers issued to nobody: each a fresh number with its three tries."""
    for number in count(1):
        body = f"{prefix}{number:09d}"
        yield body + luhn_check_digit(body)


def guess(pan: str, pin: str, address: str) -> HttpResponse:
    """Try a card and PIN from a new browser (so a new session) at `address`."""
    response = hostile_client().post(reverse("atm:login"), {"card_number": pan, "pin": pin}, REMOTE_ADDR=address)
    assert_handled(response)
    return response


def refusal(response: HttpResponse) -> str:
    """Return the login page's one error, or "logged in" for a login that got through.

    Read from the page itself: the test client's captured context is shared between threads.
    """
    if response.status_code == 302:
        return "logged in"
    shown = [message for message in (GENERIC, JUST_BLOCKED, BLOCKED, THROTTLED, NETWORK_THROTTLED, EVERYWHERE_THROTTLED)
             if message in response.text]
    assert len(shown) == 1, shown
    return shown[0]


def tries_answer(response: HttpResponse) -> str:
    """Return the login page's answer to a wrong PIN in full: which tries are left, or blocked."""
    shown = [message for message in (TWO_LEFT, ONE_LEFT, JUST_BLOCKED, BLOCKED) if message in response.text]
    assert len(shown) == 1, (shown, response.status_code)
    return shown[0]


def wrong_pins(right: str, rng: random.Random, how_many: int) -> list[str]:
    """Return distinct 4-digit PINs other than the right one."""
    return rng.sample([f"{n:04d}" for n in range(10_000) if f"{n:04d}" != right], how_many)


def _card(holder: CardHolder) -> Card:
    return Card.objects.get(pk=holder.card.pk)


def test_it_gives_every_card_three_tries_whatever_the_session_or_address() -> None:
    holders = [funded_card(first_name=f"Target{n}", pin=pin, balance_minor=0) for n, pin in enumerate(CARD_PINS)]
    rng, where = random.Random(20_250_101), addresses()
    plans = {holder.pan: [*wrong_pins(holder.pin, rng, 3), holder.pin, *wrong_pins(holder.pin, rng, 2)]
             for holder in holders}
    outcomes: dict[str, list[str]] = {holder.pan: [] for holder in holders}
    for round_ in range(6):  # the cards' tries interleaved, each from a new address and session
        for holder in holders:
            outcomes[holder.pan].append(refusal(guess(holder.pan, plans[holder.pan][round_], next(where))))
    for holder in holders:
        assert outcomes[holder.pan] == [GENERIC, GENERIC, JUST_BLOCKED, BLOCKED, BLOCKED, BLOCKED]
        card = _card(holder)
        assert (card.failed_pin_attempts, card.status) == (3, Card.Status.BLOCKED)
    assert not LoginAttempt.objects.filter(succeeded=True).exists()


@pytest.mark.parametrize("kind", ["unknown number", "staff-blocked card", "expired card"])
def test_it_answers_a_number_without_a_usable_card_as_a_live_card_across_browsers(alice_customer, kind) -> None:
    other = funded_card(first_name="Other", pin="4826", balance_minor=0)
    if kind == "staff-blocked card":
        card_block(card_id=other.card.pk)
    elif kind == "expired card":
        Card.objects.filter(pk=other.card.pk).update(expiry=datetime.date(2020, 1, 31))
    pan = next(unknown_pans()) if kind == "unknown number" else other.pan
    where, answers = addresses(), {alice_customer.pan: [], pan: []}
    for _ in range(5):  # interleaved, every try from a new browser at a new address
        for number in answers:
            answers[number].append(tries_answer(guess(number, "9753", next(where))))
    assert answers[pan] == answers[alice_customer.pan] == [TWO_LEFT, ONE_LEFT, JUST_BLOCKED, BLOCKED, BLOCKED]
    assert tries_answer(guess(pan, other.pin, next(where))) == BLOCKED  # even the right PIN, as for a real card


def tried_pans() -> Iterator[str]:
    """Yield unknown card numbers that each have one wrong PIN on record: a throttled source never checks them."""
    for pan in unknown_pans(prefix="400009"):
        CardNumberTries.objects.create(pan_hmac=pan_fingerprint(pan), failed_pin_attempts=1)
        yield pan


def throttle_address(address: str) -> None:
    """Fail logins from `address` up to its limit, on numbers issued to nobody."""
    for pan in islice(unknown_pans(), settings.ATM_LOGIN_THROTTLE_ATTEMPTS):
        assert refusal(guess(pan, "1111", address)) == GENERIC
    assert refusal(guess(next(tried_pans()), "1111", address)) == THROTTLED


def test_it_lets_the_right_pin_in_once_on_a_throttled_shared_address(alice_customer: CardHolder, settings) -> None:
    settings.ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS = settings.ATM_LOGIN_THROTTLE_ATTEMPTS  # the /24 is throttled too
    address = "198.51.100.77"
    throttle_address(address)
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == "logged in"  # no device cookie
    checked = LoginAttempt.objects.get(pan_hmac=alice_customer.card.pan_hmac)
    assert (checked.address, checked.succeeded) == (address, True)
    before = snapshot()
    # A second check of the same number from there in the window is refused, right PIN or not, before any check.
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == THROTTLED
    assert refusal(guess(alice_customer.pan, alice_customer.pin, "198.51.100.78")) == NETWORK_THROTTLED  # same /24
    assert effect(before, snapshot()) == {}
    assert refusal(guess(alice_customer.pan, alice_customer.pin, "198.51.101.78")) == "logged in"  # another /24


def test_it_refuses_the_right_pin_after_a_wrong_one_while_throttled(alice_customer: CardHolder) -> None:
    address = "198.51.100.77"
    throttle_address(address)
    assert tries_answer(guess(alice_customer.pan, "9753", address)) == TWO_LEFT  # checked, and counted
    assert LoginAttempt.objects.filter(address=address, succeeded=False).count() == settings.ATM_LOGIN_THROTTLE_ATTEMPTS + 1
    before = snapshot()
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == THROTTLED
    assert effect(before, snapshot()) == {}  # no PIN checked, no attempt recorded
    assert _card(alice_customer).failed_pin_attempts == 1
    # Even after the window, the number's wrong PIN stays on record: no free check until its owner logs in.
    LoginAttempt.objects.filter(pan_hmac=alice_customer.card.pan_hmac).delete()
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == THROTTLED
    assert refusal(guess(alice_customer.pan, alice_customer.pin, "198.51.101.78")) == "logged in"


def test_it_answers_an_unknown_number_on_a_throttled_address_as_a_card(alice_customer, monkeypatch) -> None:
    import accounts.services

    checks: list[str] = []
    real_verify = accounts.services.verify_pin
    monkeypatch.setattr(accounts.services, "verify_pin", lambda pin, h: checks.append(pin) or real_verify(pin, h))
    staff_blocked = funded_card(first_name="Blocked", pin="4826", balance_minor=0)
    card_block(card_id=staff_blocked.card.pk)
    address = "198.51.100.77"
    throttle_address(address)
    checks.clear()
    answers = {pan: [refusal(guess(pan, "9753", address)), refusal(guess(pan, "9753", address))]
               for pan in (alice_customer.pan, next(unknown_pans(prefix="400001")), staff_blocked.pan)}
    assert list(answers.values()) == [[GENERIC, THROTTLED]] * 3
    assert checks == ["9753"] * 3  # one argon2 check each, whether or not a usable card exists
    pans = list(answers)
    assert tries_answer(guess(pans[1], "9753", "192.0.2.1")) == tries_answer(guess(pans[0], "9753", "192.0.2.2")) \
        == ONE_LEFT


def test_it_refuses_even_the_right_pin_of_a_number_with_a_wrong_try_from_an_address_that_failed_too_often(
        alice_customer: CardHolder) -> None:
    limit, address = settings.ATM_LOGIN_THROTTLE_ATTEMPTS, "198.51.100.77"
    decoys = [funded_card(first_name=f"Decoy{n}", pin="4826", balance_minor=0) for n in range(limit // 2 + 1)]
    for attempt in range(limit):  # at most two wrong PINs per card: no card gets blocked
        assert refusal(guess(decoys[attempt % len(decoys)].pan, "1111", address)) == GENERIC
    before = snapshot()
    for decoy in decoys:
        assert refusal(guess(decoy.pan, decoy.pin, address)) == THROTTLED
    assert effect(before, snapshot()) == {}  # no PIN checked, no attempt recorded
    assert LoginAttempt.objects.filter(address=address, succeeded=False).count() == limit
    assert {_card(decoy).status for decoy in decoys} == {Card.Status.ACTIVE}
    assert refusal(guess(decoys[0].pan, decoys[0].pin, "198.51.101.78")) == "logged in"


def test_it_gives_an_attacker_on_a_throttled_network_one_check_per_number_within_the_global_limit(settings) -> None:
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS, settings.ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS = 2, 8
    pans = list(islice(unknown_pans(), 10))
    first = [refusal(guess(pan, "1111", "203.0.113.9")) for pan in pans]
    assert first == [GENERIC] * 8 + [EVERYWHERE_THROTTLED] * 2  # 2 under the limit, then one free check a number
    settings.ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS = 100
    again = [refusal(guess(pan, "2222", "203.0.113.9")) for pan in pans]
    assert again == [THROTTLED] * 8 + [GENERIC] * 2  # only the numbers never checked get their one check
    assert LoginAttempt.objects.count() == 10


def test_it_still_lets_in_a_browser_that_logged_in_with_the_card_before(alice_customer: CardHolder) -> None:
    limit, address = settings.ATM_LOGIN_THROTTLE_ATTEMPTS, "198.51.100.77"
    regular = hostile_client()
    assert regular.post(reverse("atm:login"), {"card_number": alice_customer.pan, "pin": alice_customer.pin},
                        REMOTE_ADDR=address).status_code == 302
    regular.post(reverse("atm:logout"))
    for pan in islice(unknown_pans(), limit):  # others at the shared address guess on cards that do not exist
        assert refusal(guess(pan, "1111", address)) == GENERIC
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == "logged in"  # a new browser, once
    assert refusal(guess(alice_customer.pan, alice_customer.pin, address)) == THROTTLED  # and not twice
    for _ in range(2):
        back = regular.post(reverse("atm:login"), {"card_number": alice_customer.pan, "pin": alice_customer.pin},
                            REMOTE_ADDR=address)
        assert back.status_code == 302
        regular.post(reverse("atm:logout"))
    # The device cookie is for Alice's card only: it lets no other card through.
    other = funded_card(first_name="Other", pin="4826", balance_minor=0)
    Card.objects.filter(pk=other.card.pk).update(failed_pin_attempts=1)  # a wrong PIN on record: no free check
    stranger = regular.post(reverse("atm:login"), {"card_number": other.pan, "pin": other.pin}, REMOTE_ADDR=address)
    assert refusal(stranger) == THROTTLED


def test_it_throttles_a_network_however_its_addresses_are_spread(settings) -> None:
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS, settings.ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS = 3, 5
    pans = tried_pans()
    outcomes = [refusal(guess(next(pans), "1111", f"203.0.113.{n + 1}")) for n in range(8)]
    assert outcomes == [GENERIC] * 5 + [NETWORK_THROTTLED] * 3  # each address tried once: the network's limit
    assert refusal(guess(next(pans), "1111", "203.0.113.1")) == NETWORK_THROTTLED
    assert refusal(guess(next(pans), "1111", "203.0.114.1")) == GENERIC  # the next /24
    v6 = [refusal(guess(next(pans), "1111", f"2001:db8:0:1:{n:x}::1")) for n in range(6)]
    assert v6 == [GENERIC] * 5 + [NETWORK_THROTTLED]  # one /64
    assert LoginAttempt.objects.filter(network="2001:db8:0:1::/64").count() == 5


def test_it_throttles_everywhere_at_the_global_limit(settings, alice_customer: CardHolder) -> None:
    settings.ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS = 4
    pans = unknown_pans()
    outcomes = [refusal(guess(next(pans), "1111", address)) for address in islice(addresses(), 6)]
    assert outcomes == [GENERIC] * 4 + [EVERYWHERE_THROTTLED] * 2
    # No free check at the global limit, even for a number with no wrong PIN and the right PIN.
    assert refusal(guess(alice_customer.pan, alice_customer.pin, "192.0.2.50")) == EVERYWHERE_THROTTLED


def test_it_answers_an_unknown_a_blocked_and_a_wrong_pin_card_alike(alice_customer, monkeypatch) -> None:
    """Same message, and the same argon2 work (timing is measured by benchmarks/pin_guessing.py)."""
    import accounts.services

    checks: list[str] = []
    real_verify = accounts.services.verify_pin
    monkeypatch.setattr(accounts.services, "verify_pin", lambda pin, h: checks.append(pin) or real_verify(pin, h))
    blocked = funded_card(first_name="Blocked", pin="4826", balance_minor=0)
    Card.objects.filter(pk=blocked.card.pk).update(status=Card.Status.BLOCKED)
    answers = [refusal(guess(pan, pin, f"192.0.2.{n}")) for n, (pan, pin) in enumerate(
        [(next(unknown_pans()), "4826"), (blocked.pan, blocked.pin), (alice_customer.pan, "9753")])]
    assert answers == [GENERIC] * 3
    assert checks == ["4826", blocked.pin, "9753"]


def test_it_counts_pin_tries_on_the_money_pages_toward_the_same_three(alice_customer: CardHolder) -> None:
    client = hostile_client()
    assert client.post(reverse("atm:login"), {"card_number": alice_customer.pan, "pin": alice_customer.pin}
                       ).status_code == 302
    token = client.get(reverse("atm:withdraw")).context["form"]["token"].value()
    before = snapshot()
    first = client.post(reverse("atm:withdraw"), {"amount": "20", "pin": "9753", "token": token})
    assert first.context["form"].errors["pin"] == ["The PIN is not correct. 2 tries left before the card is blocked."]
    second = client.post(reverse("atm:pin"), {"old_pin": "9754", "new_pin": "8031", "new_pin_again": "8031"})
    assert second.context["form"].errors["old_pin"] == ["The current PIN is not correct."]
    token = first.context["form"]["token"].value()
    third = client.post(reverse("atm:withdraw"), {"amount": "20", "pin": "9755", "token": token})
    assert third.status_code == 302 and third["Location"] == reverse("atm:login")
    blocked_at = _card(alice_customer).blocked_at
    assert effect(before, snapshot()) == {
        "cards": {alice_customer.card.pk: {"failed_pin_attempts": 3, "status": "blocked", "blocked_at": "<changed>"}},
        # the number remembers it was blocked, whatever staff later do to the card's own count
        "new card_number_tries": [(alice_customer.card.pan_hmac, 3)],
    } and blocked_at is not None
    assert refusal(guess(alice_customer.pan, alice_customer.pin, "198.51.100.9")) == BLOCKED


def _in_threads(work: list[Callable[[], str]]) -> list[str]:
    """Run the calls in threads released together; return their results (a crash is an outcome too)."""
    outcomes = run_together(work, after_each=lambda: connection.close())
    return [outcome.value if outcome.error is None else f"raised {outcome.error!r}" for outcome in outcomes]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["card", "unknown number"])
def test_it_counts_parallel_guesses_on_one_number_exactly_whether_or_not_it_is_a_card(kind) -> None:
    holder = funded_card(first_name="Target", pin="2468", balance_minor=0)
    pan = holder.pan if kind == "card" else next(unknown_pans())
    where, pins = addresses(), wrong_pins(holder.pin, random.Random(3), 12)
    tries = [(pin, next(where)) for pin in pins]  # each from its own address and browser: only the count applies
    work = [lambda pin=pin, address=address: tries_answer(guess(pan, pin, address)) for pin, address in tries]
    outcomes = Counter(_in_threads(work))
    assert outcomes == {TWO_LEFT: 1, ONE_LEFT: 1, JUST_BLOCKED: 1, BLOCKED: 9}
    if kind == "card":
        card = _card(holder)
        assert (card.failed_pin_attempts, card.status) == (3, Card.Status.BLOCKED)
    else:
        assert CardNumberTries.objects.get(pan_hmac=pan_fingerprint(pan)).failed_pin_attempts == 3
    assert refusal(guess(pan, holder.pin, next(where))) == BLOCKED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_at_most_the_limit_of_parallel_attempts_from_one_address_check_a_pin(settings) -> None:
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 4
    pans = list(islice(tried_pans(), 12))  # each with a wrong PIN on record: no free check once throttled
    work = [lambda pan=pan: refusal(guess(pan, "2468", "198.51.100.200")) for pan in pans]
    outcomes = Counter(_in_threads(work))
    assert outcomes == {GENERIC: 4, THROTTLED: len(pans) - 4}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_checks_a_number_once_however_many_parallel_tries_hit_a_throttled_address(settings) -> None:
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS, address = 4, "198.51.100.201"
    for pan in islice(tried_pans(), 4):
        assert refusal(guess(pan, "2468", address)) == GENERIC
    pan = next(unknown_pans(prefix="400002"))
    work = [lambda pin=pin: refusal(guess(pan, pin, address)) for pin in ("1357", "8031", "5192", "7340", "6029", "2468")]
    assert Counter(_in_threads(work)) == {GENERIC: 1, THROTTLED: 5}
    assert CardNumberTries.objects.get(pan_hmac=pan_fingerprint(pan)).failed_pin_attempts == 1
