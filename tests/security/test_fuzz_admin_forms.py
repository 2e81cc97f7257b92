"""Hostile input on every back-office form and list: never a server error, changes only when valid.

Staff forms (customer and account change, open account, issue card, reset PIN, staff adjustment,
ledger reversal) get hypothesis-drawn submissions; each is compared with the change the bank's
rules (written out again here and in conftest) say it must make, which is nothing for any invalid
one. Changelists get junk search terms, filters and lookups in their query strings.
The releases admin (hierarchy CSV uploads) is left to the engineer finishing it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from hypothesis import example, given
from hypothesis import strategies as st

from accounts.admin_forms import NETWORK_CHOICES
from accounts.customer_rules import birth_date_problem, postal_code_problem
from tests.factories import CardHolder
from transactions.models import LedgerEntry

from .conftest import (
    CHANGED,
    Submission,
    amount_minor,
    amounts,
    assert_handled,
    choice,
    effect,
    form,
    fuzz,
    hostile_client,
    junk_text,
    post_watched,
    request_key_hex,
    request_keys,
    required_text,
    rolled_back,
    snapshot,
    submissions,
)

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:accounts_customer_changelist")
ACCOUNTS = reverse("admin:accounts_account_changelist")
CARDS = reverse("admin:accounts_card_changelist")
LEDGER = reverse("admin:transactions_ledgerentry_changelist")
KEY = "6f1c1a52-8d0e-4d55-9d36-5a1f0c3b2e77"
NETWORKS = tuple(name for name, _label in NETWORK_CHOICES)
BIGINT_MAX = 2**63 - 1


@pytest.fixture
def staff(alice_customer: CardHolder, charlie_customer: CardHolder) -> Client:
    """A superuser's browser (every action offered), with Alice and Charlie as customers."""
    client = hostile_client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "root-password-1"))
    return client


def _pk_strings() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["{pk}", "{pk}", "{other}"]), st.integers(-5, 10**20).map(str), junk_text())


def selected(submission: Submission) -> list[int] | None:
    """Return the pks an action runs on: every `_selected_action` value, or None when one is not a pk."""
    if submission.encoding in ("json", "text") or submission.file_field == ACTION_CHECKBOX_NAME:
        return []
    values = submission.fields.get(ACTION_CHECKBOX_NAME, ())
    if not all(re.fullmatch(r"[0-9]{1,19}", value) and int(value) <= BIGINT_MAX for value in values):
        return None
    return sorted({int(value) for value in values})


def action(name: str, fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[Submission]:
    """Draw a submitted action page: its own fields plus the selection, with the hidden action fields set."""
    drawn = submissions({**fields, ACTION_CHECKBOX_NAME: _pk_strings()})
    return drawn.map(lambda submission: submission.with_fixed(action=name, apply="1"))


def _action_form(name: str, **fields: str) -> Submission:
    return form(**fields, **{ACTION_CHECKBOX_NAME: "{pk}"}).with_fixed(action=name, apply="1")


def _one(pks: list[int] | None, existing: set[int]) -> int | None:
    """Return the single existing object an "exactly one" action runs on, or None."""
    chosen = [pk for pk in pks or [] if pk in existing]
    return chosen[0] if len(chosen) == 1 else None


# --- Customer change ----------------------------------------------------------------------------

CUSTOMER_MANAGEMENT = {"accounts-TOTAL_FORMS": "0", "accounts-INITIAL_FORMS": "0",
                       "accounts-MIN_NUM_FORMS": "0", "accounts-MAX_NUM_FORMS": "1000"}
NAMES = st.one_of(st.text(st.characters(categories=["L"]), min_size=1, max_size=100), junk_text())
OPTIONAL = st.one_of(st.just(""), st.text(st.characters(categories=["L", "N", "Zs"]), max_size=60), junk_text())
DATES = st.one_of(st.dates().map(datetime.date.isoformat), st.dates().map("{:%m/%d/%Y}".format), junk_text())
CUSTOMER_FIELDS = {
    "first_name": NAMES, "last_name": NAMES, "email": st.one_of(st.emails(), st.just(""), junk_text()),
    "phone": OPTIONAL, "street_address": OPTIONAL, "birth_date": DATES,
    "gender": st.one_of(st.sampled_from(["F", "M", "X", "f", " F"]), junk_text()),
    "country": st.one_of(st.sampled_from(["NL", "BE", "DE", "FR", "GB", "nl", "US"]), junk_text()),
    "postal_code": st.one_of(st.from_regex(r"[0-9]{4,5} ?[A-Z]{0,2}", fullmatch=True),
                             st.sampled_from(["1012 AB", "1000", "10115", "SW1A 1AA"]), junk_text()),
    "city": NAMES,
}


def _email(raw: str | None) -> str | None:
    """Return the cleaned email: blank is allowed, else an address Django's validator accepts (254 chars)."""
    if raw is None or not raw.strip():
        return ""
    text = required_text(raw, 254)
    if text is None:
        return None
    try:
        validate_email(text)
    except ValidationError:
        return None
    return text


def _date(raw: str | None) -> datetime.date | None:
    """Return the date typed in one of the accepted input formats, else None."""
    text = required_text(raw, 10_000)
    for pattern in get_format("DATE_INPUT_FORMATS") if text else ():
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _optional(raw: str | None) -> str | None:
    if raw is None:
        return ""
    return None if "\x00" in raw else raw.strip()


def _customer_values(seen: dict[str, str]) -> dict[str, Any] | None:
    """Return the customer's columns as the change form must save them, or None when it must refuse."""
    values = {
        "first_name": required_text(seen.get("first_name"), 100), "last_name": required_text(seen.get("last_name"), 100),
        "email": _email(seen.get("email")), "phone": _optional(seen.get("phone")),
        "street_address": _optional(seen.get("street_address")), "birth_date": _date(seen.get("birth_date")),
        "gender": choice(seen.get("gender"), ("F", "M", "X")), "country": choice(seen.get("country"), ("NL", "BE", "DE", "FR", "GB")),
        "postal_code": required_text(seen.get("postal_code"), 12),
        "city": required_text(seen.get("city"), 100),
    }
    if None in values.values():
        return None
    # the customer rules: an adult's birth date, a postal code of the customer's country
    if (birth_date_problem(values["birth_date"], timezone.localdate())
            or postal_code_problem(values["postal_code"], values["country"])):
        return None
    return values


@fuzz(70)
@example(form(first_name="Alice", last_name="Jansen", email="alice@example.com", phone="+31 6 1234 5678",
              street_address="Damrak 1", birth_date="1980-02-03", gender="F", country="NL", postal_code="1012 AB",
              city="Amsterdam"))
@example(form(first_name="Alice", last_name="Jansen", email="", phone="", street_address="", birth_date="1980-02-03",
              gender="F", country="BE", postal_code="1012 AB", city="Brussel"))
@example(form(first_name="Alice", last_name="", email="x", phone="", street_address="", birth_date="1980-02-30",
              gender="Q", country="XX", postal_code="1" * 13, city="\x00"))
@given(submission=submissions(CUSTOMER_FIELDS))
def test_it_saves_a_customer_exactly_as_typed_when_valid_and_nothing_otherwise(
    staff: Client, alice_customer: CardHolder, submission: Submission
) -> None:
    customer = alice_customer.customer
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    outcome = post_watched(staff, url, submission.with_fixed(**CUSTOMER_MANAGEMENT))
    values = _customer_values(submission.seen())
    if values is None:
        assert outcome.effect == {}
        assert outcome.response.status_code == 200
        return
    stored = snapshot()["customers"][customer.pk]
    changed = {column: value for column, value in values.items() if stored[column] != value}
    assert outcome.effect == ({"customers": {customer.pk: changed}} if changed else {})
    assert outcome.response.status_code == 302


def _form_count(text: str) -> int | None:
    """Return the number of forms a management form field means (int() digits, "3.0" too), up to 1000.

    A negative count means no forms at all, as zero does.
    """
    try:
        count = int(re.sub(r"\.0*\s*$", "", text))
    except ValueError:
        return None
    return count if count <= 1000 else None


@fuzz(15)
@given(count=st.one_of(st.sampled_from(["", "x", "-1", "1e3", "\x00", "99999999999999999999"]), junk_text()))
def test_it_saves_nothing_when_the_inline_management_form_is_forged(
    staff: Client, alice_customer: CardHolder, count: str
) -> None:
    url = reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk])
    valid = form(first_name="Mallory", last_name="Jansen", email="", phone="", street_address="",
                 birth_date="1980-02-03", gender="F", country="BE", postal_code="1012", city="Brussel")
    forged = {**CUSTOMER_MANAGEMENT, "accounts-TOTAL_FORMS": count}
    outcome = post_watched(staff, url, valid.with_fixed(**forged))
    if _form_count(count) is not None:
        return  # a real count of empty extra forms: the customer may be saved
    assert outcome.effect == {}
    assert outcome.response.status_code == 200


# --- Account change -----------------------------------------------------------------------------

ACCOUNT_MANAGEMENT = {"cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0",
                      "cards-MIN_NUM_FORMS": "0", "cards-MAX_NUM_FORMS": "1000"}
LIMIT_ZERO = re.compile(r"0+(?:[.,]0{0,2})?|[.,]0{1,2}")
STATUSES = st.one_of(st.sampled_from(["open", "frozen", "closed", "OPEN", " open"]), junk_text())


def daily_limit_minor(raw: str | None) -> int | None:
    """Return a daily limit typed in major units (an amount as accounts.money reads it, or zero) in cents."""
    text = required_text(raw, 20)
    if text is not None and LIMIT_ZERO.fullmatch(text):
        return 0
    return amount_minor(raw)


def _account_effect(holder: CardHolder, seen: dict[str, str]) -> dict[str, Any] | None:
    """Return the change the account form must make (None: it must refuse; a funded account stays open)."""
    status, limit = choice(seen.get("status"), ("open", "frozen", "closed")), daily_limit_minor(
        seen.get("daily_withdrawal_limit_minor"))
    if status is None or limit is None or (status == "closed" and holder.account.balance_minor > 0):
        return None
    account = holder.account
    changed = {column: value for column, value in (("status", status), ("daily_withdrawal_limit_minor", limit))
               if getattr(account, column) != value}
    return {"accounts": {account.pk: changed}} if changed else {}


@fuzz(80)
@example(form(status="frozen", daily_withdrawal_limit_minor="250.50"))
@example(form(status="open", daily_withdrawal_limit_minor="1e3"))
@example(form(status="open", daily_withdrawal_limit_minor="１０００"))
@example(form(status="closed", daily_withdrawal_limit_minor="100"))
@given(submission=submissions({"status": STATUSES, "daily_withdrawal_limit_minor": amounts()}))
def test_it_changes_status_and_daily_limit_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, submission: Submission
) -> None:
    url = reverse("admin:accounts_account_change", args=[alice_customer.account.pk])
    outcome = post_watched(staff, url, submission.with_fixed(**ACCOUNT_MANAGEMENT))
    expected = _account_effect(alice_customer, submission.seen())
    assert outcome.effect == (expected or {})
    assert outcome.response.status_code == (200 if expected is None else 302)


# --- Open an account (customers' action) ----------------------------------------------------------

CURRENCIES = st.one_of(st.sampled_from(["EUR", "usd", " gbp ", "EU", "EURO", "€UR"]), junk_text())


def _currency(raw: str | None) -> str | None:
    text = required_text(raw, 3)
    code = text.upper() if text else ""
    return code if code in settings.ATM_CURRENCIES else None


def _open_account_effect(submission: Submission, customers: set[int]) -> dict[str, Any]:
    seen = submission.seen()
    kind, currency = choice(seen.get("kind"), ("checking", "savings")), _currency(seen.get("currency"))
    key, pks = request_key_hex(seen.get("request_key")), selected(submission)
    chosen = [pk for pk in pks or [] if pk in customers]
    if kind is None or currency is None or key is None or not chosen:
        return {}
    return {"new accounts": sorted(((pk, kind, currency, 0, "open", 100_000) for pk in chosen), key=repr),
            "new processed_requests": sorted((f"open-account:{key}:{pk}",) for pk in chosen)}


@fuzz(60)
@example(_action_form("open_account", kind="savings", currency="usd", request_key=KEY))
@example(_action_form("open_account", kind="savings", currency="usd", request_key="not-a-key"))
@given(submission=action("open_account", {
    "kind": st.one_of(st.sampled_from(["checking", "savings", "Savings", "loan"]), junk_text()),
    "currency": CURRENCIES, "request_key": request_keys(),
}))
def test_it_opens_accounts_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, charlie_customer: CardHolder, submission: Submission
) -> None:
    names = {"{pk}": str(alice_customer.customer.pk), "{other}": str(charlie_customer.customer.pk)}
    submission = submission.resolve(names)
    outcome = post_watched(staff, CUSTOMERS, submission)
    customers = {alice_customer.customer.pk, charlie_customer.customer.pk}
    assert outcome.effect == _open_account_effect(submission, customers)


# --- Issue a card (accounts' action) --------------------------------------------------------------


def _accounts(alice: CardHolder, charlie: CardHolder) -> dict[str, str]:
    return {"{pk}": str(alice.account.pk), "{other}": str(charlie.account.pk)}


@fuzz(50)
@example(_action_form("issue_card", network="mastercard", request_key=KEY))
@example(_action_form("issue_card", network="diners", request_key=KEY))
@given(submission=action("issue_card", {
    "network": st.one_of(st.sampled_from([*NETWORKS, "VISA", "diners"]), junk_text()), "request_key": request_keys(),
}))
def test_it_issues_a_card_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, charlie_customer: CardHolder, submission: Submission
) -> None:
    submission = submission.resolve(_accounts(alice_customer, charlie_customer))
    outcome = post_watched(staff, ACCOUNTS, submission)
    seen = submission.seen()
    account = _one(selected(submission), {alice_customer.account.pk, charlie_customer.account.pk})
    key = request_key_hex(seen.get("request_key"))
    expected: dict[str, Any] = {}
    if account is not None and key is not None and choice(seen.get("network"), NETWORKS):
        expected = {"new cards": [(account, "active", 0, True)],
                    "new processed_requests": [(f"issue-card:{key}:{account}",)]}
    assert outcome.effect == expected
    if expected:
        assert outcome.response.status_code == 200 and "no-store" in outcome.response["Cache-Control"]


# --- Reset a PIN (cards' action) -----------------------------------------------------------------


@fuzz(40)
@example(_action_form("reset_pin", request_key=KEY))
@given(submission=action("reset_pin", {"request_key": request_keys()}))
def test_it_resets_a_pin_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, charlie_customer: CardHolder, submission: Submission
) -> None:
    names = {"{pk}": str(alice_customer.card.pk), "{other}": str(charlie_customer.card.pk)}
    submission = submission.resolve(names)
    outcome = post_watched(staff, CARDS, submission)
    card = _one(selected(submission), {alice_customer.card.pk, charlie_customer.card.pk})
    key = request_key_hex(submission.seen().get("request_key"))
    expected: dict[str, Any] = {}
    if card is not None and key is not None:
        expected = {"cards": {card: {"pin_hash": CHANGED, "must_change_pin": True}},
                    "new processed_requests": [(f"reset-pin:{key}:{card}",)]}
    assert outcome.effect == expected


# --- Staff adjustment (accounts' action) ----------------------------------------------------------

REASONS = st.one_of(st.text(st.characters(categories=["L", "N", "Zs", "P"]), min_size=1, max_size=80),
                    st.sampled_from(["", "   ", "x" * 500, "x" * 501]), junk_text())


def _adjustment_effect(submission: Submission, balances: dict[int, int]) -> dict[str, Any]:
    """Return the posting a staff adjustment must make: credit anything, debit within the balance."""
    seen = submission.seen()
    account, amount = _one(selected(submission), set(balances)), amount_minor(seen.get("amount"))
    direction = choice(seen.get("direction"), ("credit", "debit"))
    if None in (account, amount, direction, required_text(seen.get("reason"), 500),
                request_key_hex(seen.get("request_key"))):
        return {}
    signed = amount if direction == "credit" else -amount
    if balances[account] + signed < 0:
        return {}
    return {"balances": {account: signed}, "new entries": [(account, "adjustment", signed)]}


@fuzz(80)
@example(_action_form("post_adjustment", direction="credit", amount="25.50", reason="Counter deposit", request_key=KEY))
@example(_action_form("post_adjustment", direction="debit", amount="500.01", reason="Fee", request_key=KEY))
@example(_action_form("post_adjustment", direction="debit", amount="-5", reason="Fee", request_key=KEY))
@given(submission=action("post_adjustment", {
    "direction": st.one_of(st.sampled_from(["credit", "debit", "both"]), junk_text()), "amount": amounts(),
    "reason": REASONS, "request_key": request_keys(),
}))
def test_it_posts_an_adjustment_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, charlie_customer: CardHolder, submission: Submission
) -> None:
    submission = submission.resolve(_accounts(alice_customer, charlie_customer))
    outcome = post_watched(staff, ACCOUNTS, submission)
    balances = {holder.account.pk: holder.account.balance_minor for holder in (alice_customer, charlie_customer)}
    expected = _adjustment_effect(submission, balances)
    assert outcome.effect == expected
    if expected:
        assert outcome.response.status_code == 302


# --- Ledger reversal (ledger's action) ------------------------------------------------------------


@fuzz(60)
@example(_action_form("reverse_entry", reason="Deposit booked twice", request_key=KEY))
@example(_action_form("reverse_entry", reason=" \x00 ", request_key=KEY))
@given(submission=action("reverse_entry", {"reason": REASONS, "request_key": request_keys()}))
def test_it_reverses_an_entry_only_for_a_valid_request(
    staff: Client, alice_customer: CardHolder, charlie_customer: CardHolder, submission: Submission
) -> None:
    deposits = {holder.account.pk: LedgerEntry.objects.get(account=holder.account, kind="deposit")
                for holder in (alice_customer, charlie_customer)}
    alice_entry, charlie_entry = deposits[alice_customer.account.pk], deposits[charlie_customer.account.pk]
    submission = submission.resolve({"{pk}": str(alice_entry.pk), "{other}": str(charlie_entry.pk)})
    outcome = post_watched(staff, LEDGER, submission)
    seen = submission.seen()
    entry_pk = _one(selected(submission), {alice_entry.pk, charlie_entry.pk})
    expected: dict[str, Any] = {}
    if entry_pk is not None and required_text(seen.get("reason"), 500) and request_key_hex(seen.get("request_key")):
        entry = LedgerEntry.objects.get(pk=entry_pk)
        expected = {"balances": {entry.account_id: -entry.amount_minor},
                    "new entries": [(entry.account_id, "reversal", -entry.amount_minor)]}
    assert outcome.effect == expected


# --- Changelists: search, filters and lookups ---------------------------------------------------

CHANGELISTS = {
    CUSTOMERS: ["city", "gender", "created_at__gte", "created_at__lt", "first_name__startswith", "email__icontains",
                "accounts__number", "birth_date__year", "pk__in"],
    ACCOUNTS: ["kind", "status", "currency", "balance_minor__gte", "daily_withdrawal_limit_minor__range",
               "customer__id__exact", "opened_at__year", "number__in"],
    CARDS: ["network", "status", "expiry", "failed_pin_attempts__gt", "expiry__iso_year", "pin_hash__startswith",
            "account__id__exact", "issued_at__date"],
    LEDGER: ["kind", "channel", "amount", "terminal__id__exact", "account__id__exact", "created_at__year",
             "created_at__month", "created_at__day", "amount_minor__lt", "reference__in", "reverses__isnull"],
    reverse("admin:accounts_loginattempt_changelist"): ["succeeded__exact", "address", "address__in",
                                                        "created_at__year", "created_at__gte"],
    reverse("admin:transactions_terminal_changelist"): ["kind", "city", "code__range", "latitude__gte"],
}
COMMON_PARAMETERS = ["q", "q", "o", "p", "e", "all", "_facets", "_to_field", "_popup", "address__contains"]
QUERY_VALUES = st.one_of(st.sampled_from(["", "1", "open", "NL91ATMB0417164300", "2025", "13", "a@b.c", "10.0.0.1"]),
                         junk_text())


@st.composite
def query_strings(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """Draw a changelist and one to three parameters for it: its filters, lookups, or junk keys."""
    url = draw(st.sampled_from(sorted(CHANGELISTS)))
    keys = st.one_of(st.sampled_from(CHANGELISTS[url] + COMMON_PARAMETERS), st.text(max_size=12))
    return url, draw(st.lists(st.tuples(keys, QUERY_VALUES), min_size=1, max_size=3))


@fuzz(150)
@example((CUSTOMERS, [("city", "\x00")]))
@example((LEDGER, [("created_at__year", "99999999999999999999")]))
@example((reverse("admin:accounts_loginattempt_changelist"), [("address", "x")]))
@example((ACCOUNTS, [("daily_withdrawal_limit_minor__range", "5")]))
@example((CARDS, [("expiry__iso_year", "0")]))
@given(query=query_strings())
def test_it_answers_any_changelist_query_without_a_server_error_or_a_change(
    staff: Client, query: tuple[str, list[tuple[str, str]]]
) -> None:
    url, parameters = query
    with rolled_back():
        before = snapshot()
        response = staff.get(url, parameters)
        after = snapshot()
    assert_handled(response)
    assert effect(before, after) == {}
    assert response.status_code in (200, 302, 400)
    if response.status_code == 302:
        assert response["Location"] == f"{url}?e=1"


@fuzz(40)
@example(("customer", "\x00"))
@given(lookup=st.tuples(st.sampled_from(["customer", "terminal", "account", "counterparty", "nothing"]),
                        st.one_of(st.just("\x00"), junk_text())))
def test_it_answers_autocomplete_searches_without_a_server_error(staff: Client, lookup: tuple[str, str]) -> None:
    field, term = lookup
    model = "ledgerentry" if field in ("terminal", "counterparty") else "card" if field == "account" else "account"
    app = "transactions" if model == "ledgerentry" else "accounts"
    response = staff.get(reverse("admin:autocomplete"),
                         {"term": term, "app_label": app, "model_name": model, "field_name": field})
    assert_handled(response)
    assert response.status_code in ((400,) if "\x00" in term else (200, 403, 404))


@fuzz(40)
@given(submission=submissions({"username": st.one_of(st.just("root"), junk_text()),
                               "password": st.one_of(st.just("root-password-1"), junk_text())}))
def test_it_refuses_junk_staff_logins_without_a_server_error(staff: Client, submission: Submission) -> None:
    outcome = post_watched(hostile_client(), reverse("admin:login"), submission)
    seen = submission.seen()
    assert outcome.effect == {}
    if (seen.get("username"), seen.get("password")) != ("root", "root-password-1"):
        assert outcome.response.status_code in (200, 429)  # 429: the address is locked out (django-axes)


@pytest.mark.parametrize("junk", ["1 OR 1=1", "", "٣", " 1", "99999999999999999999", "\x00"])
def test_it_refuses_an_action_on_a_selection_that_is_not_row_ids(
    staff: Client, alice_customer: CardHolder, junk: str
) -> None:
    before = snapshot()
    response = staff.post(CUSTOMERS, {"action": "open_account", "apply": "1", "kind": "checking", "currency": "EUR",
                                      "request_key": KEY,
                                      ACTION_CHECKBOX_NAME: [str(alice_customer.customer.pk), junk]})
    assert response.status_code == 302 and response["Location"] == CUSTOMERS
    assert effect(before, snapshot()) == {}
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "The selection is not a list of rows of this page. Nothing was done."
    ]
