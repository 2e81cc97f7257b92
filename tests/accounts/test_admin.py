"""The back office for customers, accounts and cards: pages, search, and actions over the services."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse

from accounts import admin as accounts_admin
from accounts.cards import pan_fingerprint
from accounts.customer_rules import postal_code_message
from accounts.exceptions import AccountsError, CardNotUsable
from accounts.models import Account, Card, Customer
from accounts.pins import verify_pin
from accounts.services import card_block
from tests.factories import customer_create
from tests.support.admin_actions import action_apply, action_choose
from transactions.models import LedgerEntry

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:accounts_customer_changelist")
ACCOUNTS = reverse("admin:accounts_account_changelist")
CARDS = reverse("admin:accounts_card_changelist")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(error) for errors in form.errors.values() for error in errors]


def _snapshot():
    return (list(Account.objects.order_by("pk").values_list("pk", "balance_minor", "status")),
            list(Card.objects.order_by("pk").values_list("pk", "status", "pin_hash")), LedgerEntry.objects.count())


def _columns_containing(needle: str) -> list[str]:
    """Return every column of every table in the database whose text holds `needle` anywhere."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                name = f"{connection.ops.quote_name(table)}.{connection.ops.quote_name(column.name)}"
                cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} "
                               f"WHERE CAST({name} AS TEXT) LIKE %s LIMIT 1", [f"%{needle}%"])
                if cursor.fetchone():
                    hits.append(f"{table}.{column.name}")
    return hits


def _issue(client, account):
    action_choose(client, ACCOUNTS, "issue_card", account.pk)
    return action_apply(client, ACCOUNTS, "issue_card", account.pk, network="mastercard")


@pytest.mark.parametrize("who", ["admin_client_", "teller_client"])
def test_it_shows_customer_account_and_card_pages_to_staff(request, who, alice_customer):
    client = request.getfixturevalue(who)
    urls = [
        CUSTOMERS, reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk]),
        reverse("admin:accounts_customer_add"),
        ACCOUNTS, reverse("admin:accounts_account_change", args=[alice_customer.account.pk]),
        CARDS, reverse("admin:accounts_card_change", args=[alice_customer.card.pk]),
        CUSTOMERS + "?gender=F&created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00",
        ACCOUNTS + "?kind=checking&status=open&currency=EUR",
        CARDS + "?network=visa&status=active&expiry=valid",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_it_shows_balances_and_cards_masked_never_the_pan_or_pin_hash(admin_client_, alice_customer):
    card = alice_customer.card
    pages = [
        admin_client_.get(reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk])),
        admin_client_.get(reverse("admin:accounts_account_change", args=[alice_customer.account.pk])),
        admin_client_.get(reverse("admin:accounts_card_change", args=[card.pk])),
        admin_client_.get(CARDS),
    ]
    for page in pages:
        content = page.content.decode()
        assert card.last4 in content
        assert alice_customer.pan not in content
        assert card.pin_hash not in content and card.pan_hmac not in content
    assert "500.00 EUR" in pages[0].content.decode()


def test_it_finds_customers_by_name_email_account_number_and_card_last_four(admin_client_, alice_customer,
                                                                            charlie_customer):
    def found(term: str) -> set[Customer]:
        return set(admin_client_.get(CUSTOMERS, {"q": term}).context["cl"].result_list)

    alice = alice_customer.customer
    number = alice_customer.account.number
    spaced = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    assert found("Alice") == {alice}
    assert found(alice.email) == found(f" {alice.email.upper()} ") == {alice}
    assert found(number) == {alice}
    assert found(spaced) == {alice}
    same_last4 = set(Customer.objects.filter(accounts__cards__last4=alice_customer.card.last4))
    assert alice in found(alice_customer.card.last4) == same_last4
    assert charlie_customer.customer not in found(number)


def test_it_opens_an_account_for_a_customer(admin_client_, alice_customer):
    page = action_choose(admin_client_, CUSTOMERS, "open_account", alice_customer.customer.pk)
    assert page.status_code == 200
    assert page.context["form"]["currency"].value() == "EUR"
    response = action_apply(admin_client_, CUSTOMERS, "open_account", alice_customer.customer.pk,
                      kind="savings", currency="eur")
    assert response.status_code == 302
    account = Account.objects.filter(customer=alice_customer.customer, kind="savings").get()
    assert (account.currency, account.balance_minor, account.status) == ("EUR", 0, "open")
    assert _messages(response) == [f"Opened account {account.number} for {alice_customer.customer}."]


def test_it_refuses_a_bad_currency_and_opens_nothing(admin_client_, alice_customer):
    before = Account.objects.count()
    response = action_apply(admin_client_, CUSTOMERS, "open_account", alice_customer.customer.pk,
                      kind="savings", currency="E1")
    assert response.status_code == 200
    assert _form_errors(response) == ["A currency is a three-letter code, for example EUR."]
    response = action_apply(admin_client_, CUSTOMERS, "open_account", alice_customer.customer.pk,
                            kind="savings", currency="xyz")
    assert _form_errors(response) == ["The bank keeps no accounts in XYZ. Choose one of: EUR."]
    assert Account.objects.count() == before


def test_it_opens_accounts_for_all_selected_customers_or_none(admin_client_, alice_customer, charlie_customer,
                                                               monkeypatch):
    real_open = accounts_admin.account_open
    calls = []

    def open_then_refuse(**kwargs):
        calls.append(kwargs["customer"])
        if len(calls) == 2:
            raise AccountsError("The bank does not open accounts today.")
        return real_open(**kwargs)

    monkeypatch.setattr(accounts_admin, "account_open", open_then_refuse)
    before = Account.objects.count()
    customers = (alice_customer.customer.pk, charlie_customer.customer.pk)
    response = action_apply(admin_client_, CUSTOMERS, "open_account", *customers, kind="checking", currency="EUR")
    assert _form_errors(response) == ["The bank does not open accounts today."]
    assert len(calls) == 2 and Account.objects.count() == before


def test_it_refuses_to_open_accounts_for_too_many_customers_at_once(admin_client_):
    customers = [customer_create().pk for _ in range(accounts_admin.OPEN_ACCOUNT_BATCH + 1)]
    response = action_choose(admin_client_, CUSTOMERS, "open_account", *customers)
    assert _messages(response) == [f"Select at most {accounts_admin.OPEN_ACCOUNT_BATCH} customers at a time."]
    assert Account.objects.count() == 0


def test_it_shows_a_refusal_of_the_card_service_on_the_form(admin_client_, alice_customer, monkeypatch):
    def refuse(**kwargs):
        raise CardNotUsable("Cards cannot be issued on this account.")

    monkeypatch.setattr(accounts_admin, "card_issue", refuse)
    before = _snapshot()
    response = action_apply(admin_client_, ACCOUNTS, "issue_card", alice_customer.account.pk, network="visa")
    assert response.status_code == 200
    assert _form_errors(response) == ["Cards cannot be issued on this account."]
    assert "pan" not in response.context
    assert _snapshot() == before


def test_it_issues_a_card_and_shows_its_pan_and_pin_once(admin_client_, alice_customer):
    response = _issue(admin_client_, alice_customer.account)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    pan, pin = response.context["pan"], response.context["pin"]
    content = response.content.decode()
    assert " ".join(pan[i:i + 4] for i in range(0, 16, 4)) in content and pin in content
    card = Card.objects.get(pan_hmac=pan_fingerprint(pan))
    assert (card.account, card.network, card.bin, card.last4) == (alice_customer.account, "mastercard", pan[:6], pan[-4:])
    assert card.must_change_pin
    assert verify_pin(pin, card.pin_hash)
    for url in (ACCOUNTS, CARDS, reverse("admin:accounts_card_change", args=[card.pk]),
                reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk])):
        later = admin_client_.get(url).content.decode()
        assert pan not in later and pan[:4] + " " + pan[4:8] not in later
    assert _columns_containing(pan) == []
    assert _columns_containing(card.pan_hmac) == ["accounts_card.pan_hmac"]
    for session in Session.objects.all():
        assert pan not in str(session.get_decoded())
    assert all(pan not in cookie.value for cookie in admin_client_.cookies.values())


def test_it_issues_cards_only_on_one_open_account(admin_client_, alice_customer, charlie_customer):
    before = _snapshot()
    Account.objects.filter(pk=charlie_customer.account.pk).update(status="frozen")
    action_choose(admin_client_, ACCOUNTS, "issue_card", charlie_customer.account.pk)
    frozen = action_apply(admin_client_, ACCOUNTS, "issue_card", charlie_customer.account.pk, network="visa")
    assert _form_errors(frozen) == [
        f"Account {charlie_customer.account.number} is frozen: cards go on open accounts only."
    ]
    two = action_choose(admin_client_, ACCOUNTS, "issue_card", alice_customer.account.pk, charlie_customer.account.pk)
    assert _messages(two) == ["Select exactly one account for this action."]
    assert Card.objects.count() == len(before[1])


def test_it_resets_a_pin_and_shows_the_new_one_once(admin_client_, alice_customer):
    card = alice_customer.card
    confirm = action_choose(admin_client_, CARDS, "reset_pin", card.pk)
    assert confirm.status_code == 200 and Card.objects.get(pk=card.pk).pin_hash == card.pin_hash
    response = action_apply(admin_client_, CARDS, "reset_pin", card.pk)
    assert "no-store" in response["Cache-Control"]
    pin = response.context["pin"]
    card.refresh_from_db()
    assert verify_pin(pin, card.pin_hash) and not verify_pin(alice_customer.pin, card.pin_hash)
    assert card.must_change_pin
    assert f'<code class="card-pin">{pin}</code>' in response.content.decode()
    assert "card-pin" not in admin_client_.get(reverse("admin:accounts_card_change", args=[card.pk])).content.decode()


def test_it_blocks_and_unblocks_cards_resetting_failed_attempts(teller_client, alice_customer, charlie_customer):
    cards = [alice_customer.card.pk, charlie_customer.card.pk]
    asked = action_choose(teller_client, CARDS, "block_cards", *cards)
    assert "Give the reason" not in asked.content.decode() and 'name="reason"' in asked.content.decode()
    refused = action_apply(teller_client, CARDS, "block_cards", *cards, reason="")
    assert "Give the reason for blocking; it is kept in the card&#x27;s history." in refused.content.decode()
    assert set(Card.objects.filter(pk__in=cards).values_list("status", flat=True)) == {"active"}
    blocked = action_apply(teller_client, CARDS, "block_cards", *cards, reason="Reported stolen")
    assert _messages(blocked) == ["Blocked 2 cards."]
    assert set(Card.objects.filter(pk__in=cards).values_list("status", flat=True)) == {"blocked"}
    history = teller_client.get(reverse("admin:accounts_card_history", args=[alice_customer.card.pk]))
    assert "Blocked through the back office: Reported stolen" in history.content.decode()
    listed = teller_client.get(CARDS).content.decode()
    assert '<span class="badge badge--blocked">Blocked</span>' in listed
    Card.objects.filter(pk=alice_customer.card.pk).update(failed_pin_attempts=3)
    Card.objects.filter(pk=charlie_customer.card.pk).update(status="active", blocked_at=None)
    unblocked = action_choose(teller_client, CARDS, "unblock_cards", *cards)
    assert _messages(unblocked)[-1] == "Unblocked 1 card; failed PIN attempts reset."
    card = Card.objects.get(pk=alice_customer.card.pk)
    assert (card.status, card.failed_pin_attempts, card.blocked_at) == ("active", 0, None)


def test_it_lets_tellers_change_an_accounts_status_and_limit_but_not_its_balance(teller_client, alice_customer):
    account = alice_customer.account
    url = reverse("admin:accounts_account_change", args=[account.pk])
    response = teller_client.post(url, {
        "status": "frozen", "daily_withdrawal_limit_minor": "250.50", "balance_minor": "99999999",
        "opening_balance_minor": "99999999", "currency": "USD", "number": "NL00HACK",
        "cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0", "cards-MIN_NUM_FORMS": "0", "cards-MAX_NUM_FORMS": "0",
    })
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.status, account.daily_withdrawal_limit_minor) == ("frozen", 25_050)
    assert (account.balance_minor, account.opening_balance_minor, account.currency) == (50_000, 0, "EUR")
    assert account.number == alice_customer.account.number


def test_it_refuses_a_negative_daily_limit(teller_client, alice_customer):
    url = reverse("admin:accounts_account_change", args=[alice_customer.account.pk])
    response = teller_client.post(url, {
        "status": "open", "daily_withdrawal_limit_minor": "-5",
        "cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0", "cards-MIN_NUM_FORMS": "0", "cards-MAX_NUM_FORMS": "0",
    })
    assert response.status_code == 200
    # The one amount rule of accounts.money, worded for a field where zero is allowed.
    assert response.context["adminform"].form.errors["daily_withdrawal_limit_minor"] == [
        "The amount cannot be negative."]
    assert Account.objects.get(pk=alice_customer.account.pk).daily_withdrawal_limit_minor == 100_000


def test_it_never_offers_the_plain_add_or_delete_of_accounts_and_cards(admin_client_, alice_customer):
    assert admin_client_.get(reverse("admin:accounts_account_add")).status_code == 403
    assert admin_client_.get(reverse("admin:accounts_card_add")).status_code == 403
    assert admin_client_.post(reverse("admin:accounts_card_delete", args=[alice_customer.card.pk])).status_code == 403
    card_url = reverse("admin:accounts_card_change", args=[alice_customer.card.pk])
    assert admin_client_.post(card_url, {"status": "active", "must_change_pin": "on"}).status_code == 403
    assert Card.objects.filter(pk=alice_customer.card.pk).exists()


def test_it_lists_a_customers_cards_with_status_on_the_customer_page(teller_client, alice_customer):
    card_block(card_id=alice_customer.card.pk)
    page = teller_client.get(reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk]))
    content = page.content.decode()
    assert f"{alice_customer.card.masked_pan}</a> on {alice_customer.account.number}: Blocked" in content


def test_it_refuses_a_resubmitted_card_issue_instead_of_issuing_a_second_card(admin_client_, alice_customer):
    key = str(uuid.uuid4())
    first = action_apply(admin_client_, ACCOUNTS, "issue_card", alice_customer.account.pk, network="visa", request_key=key)
    assert first.status_code == 200 and "pan" in first.context
    cards_before = Card.objects.count()
    again = action_apply(admin_client_, ACCOUNTS, "issue_card", alice_customer.account.pk, network="visa", request_key=key)
    assert _form_errors(again) == [
        "This request was already carried out (the form was sent twice); nothing was done again."]
    assert Card.objects.count() == cards_before


def test_it_refuses_to_close_an_account_that_still_holds_money(teller_client, alice_customer):
    url = reverse("admin:accounts_account_change", args=[alice_customer.account.pk])
    inline = {"cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0", "cards-MIN_NUM_FORMS": "0",
              "cards-MAX_NUM_FORMS": "0"}
    response = teller_client.post(url, {"status": "closed", "daily_withdrawal_limit_minor": "1000", **inline})
    assert response.status_code == 200
    assert "Pay out the balance before closing the account." in response.content.decode()
    assert Account.objects.get(pk=alice_customer.account.pk).status == "open"
    response = teller_client.post(url, {"status": "frozen", "daily_withdrawal_limit_minor": "250.50", **inline})
    assert response.status_code == 302
    account = Account.objects.get(pk=alice_customer.account.pk)
    assert (account.status, account.daily_withdrawal_limit_minor, account.balance_minor) == ("frozen", 25_050, 50_000)


def _customer_form(**changes: str) -> dict[str, str]:
    """Return the customer change form's fields as a browser posts them (no account rows), with `changes`."""
    return {"first_name": "Alice", "last_name": "Jansen", "email": "", "phone": "", "street_address": "",
            "birth_date": "1980-02-03", "gender": "F", "country": "NL", "postal_code": "1012 AB", "city": "Amsterdam",
            "accounts-TOTAL_FORMS": "0", "accounts-INITIAL_FORMS": "0", "accounts-MIN_NUM_FORMS": "0",
            "accounts-MAX_NUM_FORMS": "1000", **changes}


def test_it_refuses_a_future_birth_date_and_a_junk_postal_code_and_saves_nothing(admin_client_, alice_customer):
    customer = alice_customer.customer
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    page = admin_client_.get(url).content.decode()
    assert '<input type="email" name="email"' in page and '<input type="tel" name="phone"' in page
    data = _customer_form(birth_date="2030-01-01", postal_code="!!!")
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["birth_date"] == ["The birth date must be in the past."]
    assert errors["postal_code"] == [postal_code_message("NL")]
    customer.refresh_from_db()
    assert customer.last_name != "Jansen" or customer.postal_code != "!!!"
    assert customer.birth_date != datetime.date(2030, 1, 1)
    response = admin_client_.post(url, {**data, "birth_date": "1980-02-03", "postal_code": "1012 AB"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.birth_date, customer.postal_code) == (datetime.date(1980, 2, 3), "1012 AB")


def test_it_checks_the_postal_code_against_the_customers_country_and_saves_nothing_on_a_mismatch(
        admin_client_, alice_customer):
    customer = alice_customer.customer
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    data = _customer_form(country="DE", postal_code="1012 AB", city="Berlin")
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["postal_code"] == [
        "Enter a postal code of Germany: five digits, for example 10115."]
    customer.refresh_from_db()
    assert (customer.country, customer.city) == ("NL", "Amsterdam")
    response = admin_client_.post(url, {**data, "country": "ZZ"})
    assert "Select a valid choice. ZZ is not one of the available choices." in response.content.decode()
    customer.refresh_from_db()
    assert customer.country == "NL"
    response = admin_client_.post(url, {**data, "postal_code": "10115"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.country, customer.postal_code, customer.city) == ("DE", "10115", "Berlin")


def test_it_filters_customers_without_a_list_of_every_city(admin_client_, alice_customer):
    page = admin_client_.get(CUSTOMERS).content.decode()
    assert "By city" not in page
    assert "By country" in page and "?country__exact=BE" in page
    belgian = customer_create(country="BE", postal_code="1000", city="Brussel")
    listed = admin_client_.get(CUSTOMERS, {"country__exact": "BE"}).context["cl"].result_list
    assert list(listed) == [belgian]
    found = admin_client_.get(CUSTOMERS, {"q": alice_customer.customer.city}).context["cl"].result_list
    assert alice_customer.customer in list(found)


def test_it_offers_the_actions_that_fit_on_the_card_account_and_customer_pages(teller_client, alice_customer):
    card_page = teller_client.get(reverse("admin:accounts_card_change", args=[alice_customer.card.pk])).content.decode()
    assert '<input type="hidden" name="action" value="block_cards">' in card_page
    assert 'value="unblock_cards"' not in card_page and ">Reset PIN…</button>" in card_page
    card_block(card_id=alice_customer.card.pk)
    card_page = teller_client.get(reverse("admin:accounts_card_change", args=[alice_customer.card.pk])).content.decode()
    assert 'value="unblock_cards"' in card_page and 'value="block_cards"' not in card_page
    account = teller_client.get(reverse("admin:accounts_account_change", args=[alice_customer.account.pk]))
    assert ">Issue a card</button>" in account.content.decode()
    customer = teller_client.get(reverse("admin:accounts_customer_change", args=[alice_customer.customer.pk]))
    assert ">Open an account</button>" in customer.content.decode()
    # a button posts what the action menu posts: the same action page
    page = teller_client.post(CARDS, {"action": "unblock_cards", "index": "0",
                                      "_selected_action": str(alice_customer.card.pk)})
    assert page.status_code == 302 and Card.objects.get(pk=alice_customer.card.pk).status == "active"
