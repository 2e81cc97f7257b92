"""Hostile input on every web ATM form: never a server error, and money moves only for a valid request.

Each test draws submissions with hypothesis (junk text, other scripts' digits, huge, negative,
fractional and exponent amounts, whitespace, NUL bytes, very long strings, missing and doubled
fields, JSON / plain-text / file bodies), sends them as Alice, and compares what changed in the
database with what the bank's rules (written out again in conftest) say that request must change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from accounts.iban import iban_is_valid, normalize_account_number
from accounts.pins import TRIVIAL_PINS
from tests.atm.conftest import atm_login
from tests.factories import CardHolder

from .conftest import (
    CHANGED,
    Outcome,
    Submission,
    amount_minor,
    amounts,
    assert_handled,
    effect,
    form,
    fuzz,
    hostile_client,
    junk_text,
    pins,
    post_watched,
    required_text,
    rolled_back,
    snapshot,
    submissions,
    tokens,
    well_formed_pin,
    well_formed_token,
)

pytestmark = pytest.mark.django_db

PIN = "2468"  # Alice's PIN (tests/conftest.py)
TOKEN = "0123456789abcdef0123456789abcdef"
NEW_PIN = "8031"
UNKNOWN_PAN = "4000000000000002"  # Luhn-valid, issued to nobody
UNKNOWN_IBAN = "NL02ABNA0123456789"  # a valid IBAN of no account here


class Atm:
    """Alice's web ATM session, put back before every example (an example may end or rotate it)."""

    def __init__(self, client: Client, holder: CardHolder) -> None:
        self.client, self.holder = client, holder
        self.cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    def send(self, page: str, submission: Submission) -> Outcome:
        """Send the submission to an ATM page in a rolled-back savepoint; return the response and its effect."""
        self.client.cookies[settings.SESSION_COOKIE_NAME] = self.cookie
        return post_watched(self.client, reverse(page), submission)


@pytest.fixture
def atm(alice_customer: CardHolder, charlie_customer: CardHolder, settings: Any) -> Atm:
    """Alice logged in at the web ATM; Charlie exists to receive transfers."""
    settings.ATM_SESSION_IDLE_SECONDS = 3600  # a long hypothesis run must not meet the idle timeout
    client = hostile_client()
    assert atm_login(client, alice_customer).status_code == 302
    return Atm(client, alice_customer)


def _wrong_pin_effect(holder: CardHolder) -> dict[str, Any]:
    return {"cards": {holder.card.pk: {"failed_pin_attempts": 1}}}


def _assert_receipt_or_form(outcome: Outcome) -> None:
    """Money that moved redirects to its receipt; anything else shows the form again with its errors."""
    if outcome.effect.get("new entries"):
        assert outcome.response.status_code == 302 and "/receipt/" in outcome.response["Location"]
    else:
        assert outcome.response.status_code == 200
        assert outcome.response.context["form"].errors


# --- Login --------------------------------------------------------------------------------------

CARD_NUMBERS = st.one_of(
    st.sampled_from(["{pan}", " {pan} ", "{pan_grouped}", "{pan_dashed}", UNKNOWN_PAN, "{pan}{pan}"]), junk_text()
)


def _pan_names(holder: CardHolder) -> dict[str, str]:
    pan = holder.pan
    return {"{pan_grouped}": " ".join(pan[i:i + 4] for i in range(0, len(pan), 4)),
            "{pan_dashed}": "-".join(pan[i:i + 4] for i in range(0, len(pan), 4)), "{pan}": pan}


def _luhn_ok(digits: str) -> bool:
    """Return True when the digits pass the Luhn check: doubled alternate digits from the right."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def well_formed_pan(raw: str | None) -> str | None:
    """Return the card number (13-19 ASCII digits, spaces and dashes allowed, Luhn-valid), else None."""
    text = required_text(raw, 40)
    digits = text.replace(" ", "").replace("-", "") if text else ""
    ok = digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19 and _luhn_ok(digits)
    return digits if ok else None


@fuzz(60)
@example(form(card_number="{pan}", pin=PIN))
@example(form(card_number="{pan_grouped}", pin="9753"))
@given(submission=submissions({"card_number": CARD_NUMBERS, "pin": pins(PIN)}))
def test_it_logs_in_only_with_the_right_card_and_pin_and_counts_only_well_formed_tries(
    alice_customer: CardHolder, submission: Submission
) -> None:
    client = hostile_client()  # a new browser each time: no session, nothing to redirect
    with rolled_back():
        before = snapshot()
        response = submission.resolve(_pan_names(alice_customer)).send(client, reverse("atm:login"))
        after = snapshot()
    assert_handled(response)
    seen = submission.resolve(_pan_names(alice_customer)).seen()
    pan, pin = well_formed_pan(seen.get("card_number")), well_formed_pin(seen.get("pin"))
    expected: dict[str, Any] = {}
    if pan is not None and pin is not None:
        accepted = pan == alice_customer.pan and pin == PIN
        expected["new login_attempts"] = [("127.0.0.1", accepted)]
        if pan == alice_customer.pan and not accepted:
            expected.update(_wrong_pin_effect(alice_customer))
    assert effect(before, after) == expected
    if expected.get("new login_attempts") == [("127.0.0.1", True)]:
        assert response.status_code == 302 and response["Location"] == reverse("atm:balance")
    else:
        assert response.status_code == 200
        if expected:
            assert "Card number or PIN is not correct." in response.content.decode()


# --- Withdraw -----------------------------------------------------------------------------------


def _withdrawal_effect(holder: CardHolder, seen: dict[str, str]) -> dict[str, Any]:
    """Return the change a withdrawal must make: whole notes within balance and daily limit, right PIN."""
    amount, pin = amount_minor(seen.get("amount")), well_formed_pin(seen.get("pin"))
    if amount is None or pin is None or not well_formed_token(seen.get("token")):
        return {}
    if pin != PIN:
        return _wrong_pin_effect(holder)
    balance, limit = holder.account.balance_minor, holder.account.daily_withdrawal_limit_minor
    if amount % settings.ATM_SMALLEST_NOTE_MINOR or amount > min(balance, limit):
        return {}
    account = holder.account.pk
    return {"balances": {account: -amount}, "new entries": [(account, "withdrawal", -amount)]}


@fuzz(80)
@example(form(amount="20", pin=PIN, token=TOKEN))
@example(form(amount="500.00", pin=PIN, token=TOKEN))
@example(form(amount="20", pin="9753", token=TOKEN))
@example(form(amount="20", pin=PIN, token=TOKEN, encoding="json"))
@given(submission=submissions({"amount": amounts(), "pin": pins(PIN), "token": tokens()}))
def test_it_withdraws_exactly_a_valid_amount_and_nothing_for_anything_else(atm: Atm, submission: Submission) -> None:
    outcome = atm.send("atm:withdraw", submission)
    assert outcome.effect == _withdrawal_effect(atm.holder, submission.seen())
    _assert_receipt_or_form(outcome)


# --- Deposit ------------------------------------------------------------------------------------


@fuzz(60)
@example(form(amount="12,50", token=TOKEN))
@example(form(amount="1e3", token=TOKEN))
@example(form(amount="10000000000", token=TOKEN))
@given(submission=submissions({"amount": amounts(), "token": tokens()}))
def test_it_deposits_exactly_a_valid_amount_and_nothing_for_anything_else(atm: Atm, submission: Submission) -> None:
    outcome = atm.send("atm:deposit", submission)
    seen = submission.seen()
    amount = amount_minor(seen.get("amount"))
    expected: dict[str, Any] = {}
    whole_notes = amount is not None and amount % settings.ATM_DEPOSIT_NOTE_MINOR == 0
    capped = amount is not None and amount <= min(settings.ATM_DEPOSIT_MAX_MINOR, settings.ATM_DEPOSIT_DAILY_LIMIT_MINOR)
    if whole_notes and capped and well_formed_token(seen.get("token")):
        account = atm.holder.account.pk
        expected = {"balances": {account: amount}, "new entries": [(account, "deposit", amount)]}
    assert outcome.effect == expected
    _assert_receipt_or_form(outcome)


# --- Transfer -----------------------------------------------------------------------------------

TO_ACCOUNTS = st.one_of(
    st.sampled_from(["{to}", "{to_grouped}", "{to_lower}", "{own}", UNKNOWN_IBAN, "{to}0"]), junk_text()
)


def _account_names(atm: Atm, target: CardHolder) -> dict[str, str]:
    number = target.account.number
    return {"{to_grouped}": " ".join(number[i:i + 4] for i in range(0, len(number), 4)),
            "{to_lower}": number.lower(), "{to}": number, "{own}": atm.holder.account.number}


def _transfer_effect(atm: Atm, target: CardHolder, seen: dict[str, str]) -> dict[str, Any]:
    """Return the change a confirmed transfer must make: right PIN, to another existing account, within the balance.

    Without a PIN field the post is the first step, which only shows the confirmation page; with one
    but no confirmation page shown for it, nothing is checked and nothing moves.
    """
    amount, to_account = amount_minor(seen.get("amount")), required_text(seen.get("to_account"), 64)
    if "confirmation" not in seen or "pin" not in seen or amount is None or to_account is None or not well_formed_token(seen.get("token")):
        return {}
    if not iban_is_valid(normalize_account_number(to_account)):
        return {}
    pin = well_formed_pin(seen.get("pin"))
    if pin is None:
        return {}
    if pin != PIN:
        return _wrong_pin_effect(atm.holder)
    if to_account.replace(" ", "").upper() != target.account.number or amount > atm.holder.account.balance_minor:
        return {}
    source, receiver = atm.holder.account.pk, target.account.pk
    return {"balances": {source: -amount, receiver: amount},
            "new entries": sorted([(source, "transfer_out", -amount), (receiver, "transfer_in", amount)], key=repr)}


def _confirmed(atm: Atm, submission: Submission) -> Submission:
    """Post the submission without its PIN first, as the customer does; when that shows the confirmation
    page, return the submission carrying the page's token and signed confirmation, else unchanged."""
    first = atm.send("atm:transfer", replace(submission, fields={
        name: values for name, values in submission.fields.items() if name != "pin"}))
    assert first.effect == {}
    if first.response.status_code != 200 or "Confirm the transfer" not in first.response.content.decode():
        return submission
    page = first.response.context["form"]
    return submission.with_fixed(token=str(page["token"].value()), confirmation=str(page["confirmation"].value()))


@fuzz(80)
@example(form(to_account="{to_grouped}", amount="25.50", token=TOKEN))
@example(form(to_account="{own}", amount="10", token=TOKEN))
@example(form(to_account="{to}", amount="500.01", token=TOKEN))
@example(form(to_account="{to}", amount="20", token=TOKEN, pin=PIN))
@example(form(to_account="{to}", amount="20", token=TOKEN, pin="9753"))
@given(submission=submissions({"to_account": TO_ACCOUNTS, "amount": amounts(), "token": tokens(), "pin": pins(PIN)}))
def test_it_transfers_exactly_a_valid_amount_to_another_account_and_nothing_else(
    atm: Atm, charlie_customer: CardHolder, submission: Submission
) -> None:
    submission = submission.resolve(_account_names(atm, charlie_customer))
    if "pin" in submission.seen():
        submission = _confirmed(atm, submission)
    outcome = atm.send("atm:transfer", submission)
    assert outcome.effect == _transfer_effect(atm, charlie_customer, submission.seen())
    if outcome.response.status_code == 200 and not outcome.response.context["form"].errors:
        assert "Confirm the transfer" in outcome.response.content.decode()  # a valid first step
    else:
        _assert_receipt_or_form(outcome)


# --- Change PIN ---------------------------------------------------------------------------------

NEW_PINS = st.one_of(st.sampled_from([NEW_PIN, "1234", "7777", PIN, "80315", "803"]), pins(NEW_PIN))
REPEATS = st.one_of(st.just("{new_pin}"), st.just("{new_pin}"), NEW_PINS)


def _new_pin_ok(new_pin: str | None, again: str | None, old_pin: str) -> bool:
    """Return True for a new PIN of 4-6 digits, not trivial, not the old one, typed the same twice."""
    if new_pin is None or new_pin in TRIVIAL_PINS or len(set(new_pin)) == 1 or new_pin == old_pin:
        return False
    return again is not None and "\x00" not in again and again.strip() == new_pin


def _pin_change_effect(holder: CardHolder, seen: dict[str, str]) -> dict[str, Any]:
    old, new = well_formed_pin(seen.get("old_pin")), well_formed_pin(seen.get("new_pin"))
    if old is None or not _new_pin_ok(new, seen.get("new_pin_again"), old):
        return {}
    if old != PIN:
        return _wrong_pin_effect(holder)
    return {"cards": {holder.card.pk: {"pin_hash": CHANGED}}}


@fuzz(60)
@example(form(old_pin=PIN, new_pin=NEW_PIN, new_pin_again="{new_pin}"))
@example(form(old_pin="9753", new_pin=NEW_PIN, new_pin_again="{new_pin}"))
@example(form(old_pin=PIN, new_pin="1234", new_pin_again="{new_pin}"))
@given(submission=submissions({"old_pin": pins(PIN), "new_pin": NEW_PINS, "new_pin_again": REPEATS}))
def test_it_changes_the_pin_only_for_a_valid_request(atm: Atm, submission: Submission) -> None:
    typed_new = submission.fields["new_pin"][-1] if submission.fields["new_pin"] else ""
    submission = submission.resolve({"{new_pin}": typed_new})
    outcome = atm.send("atm:pin", submission)
    expected = _pin_change_effect(atm.holder, submission.seen())
    assert outcome.effect == expected
    if expected.get("cards", {}).get(atm.holder.card.pk, {}).get("pin_hash") == CHANGED:
        assert outcome.response.status_code == 302 and outcome.response["Location"] == reverse("atm:balance")
    else:
        assert outcome.response.status_code == 200


# --- Bodies that are not forms at all -----------------------------------------------------------

URLENCODED = "application/x-www-form-urlencoded"
MALFORMED_BODIES = {
    # name: (method, body, content type, status)
    "larger than DATA_UPLOAD_MAX_MEMORY_SIZE": ("post", "amount=" + "9" * 3_000_000, URLENCODED, 400),
    "more than DATA_UPLOAD_MAX_NUMBER_FIELDS": ("post", "&".join(f"f{n}=1" for n in range(1_500)), URLENCODED, 400),
    "multipart without a boundary": ("post", "amount=20", "multipart/form-data", 400),
    "multipart that does not parse": ("post", "--xyz\r\ngarbage", "multipart/form-data; boundary=xyz", 200),
    "invalid UTF-8": ("post", b"\xff\xfe\x00amount=20&token=%ff", URLENCODED, 200),
    "PUT": ("put", "amount=20", URLENCODED, 405),
    "DELETE": ("delete", "", URLENCODED, 405),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
@pytest.mark.parametrize("page", ["atm:login", "atm:withdraw", "atm:deposit", "atm:transfer", "atm:pin"])
def test_it_answers_a_body_that_is_no_form_with_a_client_error_or_the_form(
    atm: Atm, page: str, case: str
) -> None:
    method, body, content_type, status = MALFORMED_BODIES[case]
    client = hostile_client() if page == "atm:login" else atm.client
    before = snapshot()
    response = getattr(client, method)(reverse(page), body, content_type=content_type)
    assert_handled(response)
    assert response.status_code == status
    assert effect(before, snapshot()) == {}


@fuzz(30)
@given(page=st.sampled_from(["atm:login", "atm:balance", "atm:withdraw", "atm:deposit", "atm:transfer", "atm:pin",
                             "atm:statement"]),
       query=st.lists(st.tuples(st.sampled_from(["amount", "pin", "token", "page", "card_id", "q"]), junk_text()),
                      max_size=3))
def test_it_shows_atm_pages_whatever_their_query_string(atm: Atm, page: str, query: list[tuple[str, str]]) -> None:
    atm.client.cookies[settings.SESSION_COOKIE_NAME] = atm.cookie
    with rolled_back():
        before = snapshot()
        response = atm.client.get(reverse(page), query)
        after = snapshot()
    assert_handled(response)
    if any("\x00" in key + value for key, value in query):  # PostgreSQL cannot hold it: refused at the door
        assert response.status_code == 400
    else:
        assert response.status_code == (302 if page == "atm:login" else 200)
    assert effect(before, after) == {}
