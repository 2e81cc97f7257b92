"""The ledger in the back office: browsable, never editable, corrected only by reversal entries."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.iban import iban_is_valid
from accounts.models import Account, Card
from tests.support.admin_actions import action_apply, action_choose
from transactions.admin import EstimatedCountPaginator
from transactions.models import LedgerEntry, Terminal
from transactions.services import adjustment_create, withdrawal_create

pytestmark = pytest.mark.django_db

LEDGER = reverse("admin:transactions_ledgerentry_changelist")
TERMINALS = reverse("admin:transactions_terminal_changelist")


def _deposit(holder) -> LedgerEntry:
    return LedgerEntry.objects.get(account=holder.account, kind="deposit")


def _listed(client, **params) -> list[LedgerEntry]:
    response = client.get(LEDGER, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _reverse(client, entry, reason):
    page = client.post(LEDGER, {"action": "reverse_entry", "index": "0", ACTION_CHECKBOX_NAME: [str(entry.pk)]})
    key = page.context["form"]["request_key"].value()
    return client.post(LEDGER, {"action": "reverse_entry", "apply": "1", ACTION_CHECKBOX_NAME: [str(entry.pk)],
                                "request_key": str(key), "reason": reason})


def _snapshot():
    return list(Account.objects.order_by("pk").values_list("pk", "balance_minor")), LedgerEntry.objects.count()


@pytest.mark.parametrize("who", ["admin_client_", "teller_client"])
def test_it_shows_the_ledger_and_terminals_to_staff(request, who, alice_customer):
    client = request.getfixturevalue(who)
    terminal = Terminal.objects.create(code="ATM-001", kind="atm", name="Dam", city="Amsterdam", postal_code="1012")
    entry = _deposit(alice_customer)
    for url in (LEDGER, LEDGER + "?kind=deposit&channel=branch&amount=100-500&created_at__year=2000",
                reverse("admin:transactions_ledgerentry_change", args=[entry.pk]),
                TERMINALS, reverse("admin:transactions_terminal_change", args=[terminal.pk])):
        assert client.get(url).status_code == 200, url
    row = client.get(LEDGER).content.decode()
    assert "+500.00 EUR" in row and alice_customer.account.number in row


def test_it_refuses_every_edit_of_a_ledger_entry_even_to_a_superuser(admin_client_, alice_customer):
    entry = _deposit(alice_customer)
    change = reverse("admin:transactions_ledgerentry_change", args=[entry.pk])
    assert admin_client_.post(change, {"amount_minor": "99", "kind": "deposit", "reason": "x"}).status_code == 403
    assert admin_client_.get(reverse("admin:transactions_ledgerentry_add")).status_code == 403
    delete = reverse("admin:transactions_ledgerentry_delete", args=[entry.pk])
    assert admin_client_.post(delete, {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.get(pk=entry.pk).amount_minor == 50_000
    assert 'name="_save"' not in admin_client_.get(change).content.decode()


def test_it_lets_a_teller_view_but_never_edit_ledger_and_terminals(teller_client, alice_customer):
    before = _snapshot()
    entry = _deposit(alice_customer)
    before = _snapshot()
    assert teller_client.post(reverse("admin:transactions_ledgerentry_change", args=[entry.pk]),
                              {"reason": "x"}).status_code == 403
    assert teller_client.post(reverse("admin:transactions_ledgerentry_delete", args=[entry.pk]),
                              {"post": "yes"}).status_code == 403
    assert teller_client.get(reverse("admin:transactions_terminal_add")).status_code == 403
    assert teller_client.get(LEDGER).status_code == 200
    assert _snapshot() == before


def test_it_reverses_an_entry_with_a_compensating_entry(admin_client_, alice_customer):
    entry = _deposit(alice_customer)
    response = _reverse(admin_client_, entry, "Deposit keyed on the wrong account")
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (reversal.reverses, reversal.amount_minor, reversal.balance_after_minor) == (entry, -50_000, 0)
    assert (reversal.reference, reversal.staff_user.username) == (entry.reference, "root")
    assert reversal.reason == "Deposit keyed on the wrong account"
    assert Account.objects.get(pk=alice_customer.account.pk).balance_minor == 0
    assert _messages(response) == [
        f"Reversal {entry.reference} of -500.00 EUR posted on {alice_customer.account.number}."
    ]
    page = admin_client_.get(reverse("admin:transactions_ledgerentry_change", args=[entry.pk])).content.decode()
    assert f"Reversal #{reversal.pk} (Deposit keyed on the wrong account)" in page


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "A reason is required for a reversal."), ("  ", "A reason is required for a reversal.")],
)
def test_it_refuses_a_reversal_without_reason(admin_client_, alice_customer, reason, message):
    before = _snapshot()
    response = _reverse(admin_client_, _deposit(alice_customer), reason)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == [message]
    assert _snapshot() == before


def test_it_refuses_to_reverse_an_entry_twice_or_below_zero(admin_client_, alice_customer):
    entry = _deposit(alice_customer)
    _reverse(admin_client_, entry, "First correction")
    before = _snapshot()
    offered = admin_client_.post(LEDGER, {"action": "reverse_entry", "index": "0", ACTION_CHECKBOX_NAME: [str(entry.pk)]})
    assert offered.status_code == 302  # no reversal form for an entry that cannot be reversed
    assert _messages(offered)[-1] == f"{entry.reference}: This entry has already been reversed."
    reversal = LedgerEntry.objects.get(reverses=entry)
    offered = admin_client_.post(LEDGER, {"action": "reverse_entry", "index": "0",
                                          ACTION_CHECKBOX_NAME: [str(reversal.pk)]})
    assert _messages(offered)[-1] == (f"{reversal.reference}: A reversal cannot itself be reversed; post an "
                                      "adjustment instead.")
    twice = admin_client_.post(LEDGER, {"action": "reverse_entry", "apply": "1", ACTION_CHECKBOX_NAME: [str(entry.pk)],
                                        "request_key": str(uuid.uuid4()), "reason": "Second correction"})
    assert twice.context["form"].non_field_errors() == ["This entry has already been reversed."]
    refund = adjustment_create(account_id=alice_customer.account.pk, amount_minor=3_000, staff_user=None,
                               reason="Goodwill", idempotency_key="goodwill")
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=3_000, idempotency_key="spent")
    spent = _reverse(admin_client_, refund.entry, "Goodwill was a mistake")
    assert spent.context["form"].non_field_errors() == ["Insufficient funds for this amount."]
    assert _snapshot() == (before[0], before[1] + 2)


def test_it_filters_entries_by_amount_range_both_signs(admin_client_, alice_customer, charlie_customer):
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=15_000, idempotency_key="w150")
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w10")
    amounts = sorted(entry.amount_minor for entry in _listed(admin_client_, amount="100-500"))
    assert amounts == [-15_000, 10_000]
    assert [entry.amount_minor for entry in _listed(admin_client_, amount="under-20")] == [-1_000]
    assert len(_listed(admin_client_, amount="no-such-bucket")) == 4


def test_it_finds_entries_by_account_number_or_account_id(admin_client_, alice_customer, charlie_customer):
    number = alice_customer.account.number
    spaced = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    expected = [_deposit(alice_customer)]
    assert _listed(admin_client_, q=number) == expected
    assert _listed(admin_client_, q=spaced) == expected
    assert _listed(admin_client_, account__id__exact=alice_customer.account.pk) == expected
    account_page = admin_client_.get(reverse("admin:accounts_account_change", args=[alice_customer.account.pk]))
    assert f"{LEDGER}?account__id__exact={alice_customer.account.pk}" in account_page.content.decode()


def _reference_passing_the_iban_checksum() -> str:
    return next(ref for i in range(10_000) if iban_is_valid(ref := f"AB{i:014X}"))


def test_it_finds_an_entry_by_a_reference_that_passes_the_iban_checksum(admin_client_, alice_customer,
                                                                        monkeypatch):
    reference = _reference_passing_the_iban_checksum()
    monkeypatch.setattr("transactions.services.new_reference", lambda: reference)
    entry = withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w1").entry
    assert _listed(admin_client_, q=reference) == [entry]
    assert _listed(admin_client_, q=f" {reference.lower()} ") == [entry]
    assert _listed(admin_client_, q=reference, kind="deposit") == []


def test_it_finds_entries_by_reference_card_last_four_and_customer_name(admin_client_, alice_customer,
                                                                        charlie_customer):
    entry = withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w1").entry
    alices = {entry, _deposit(alice_customer)}
    assert _listed(admin_client_, q=entry.reference) == [entry]
    assert set(_listed(admin_client_, q=alice_customer.card.last4)) >= alices
    assert set(_listed(admin_client_, q="alice")) == alices
    assert set(_listed(admin_client_, q=str(alice_customer.customer))) == alices
    page = admin_client_.get(LEDGER).content.decode()
    assert "Search by reference, account number, a card&#x27;s last four digits or the customer&#x27;s name." in page


def test_it_counts_exactly_off_postgresql_or_when_filtered(alice_customer, charlie_customer):
    paginator = EstimatedCountPaginator(LedgerEntry.objects.filter(kind="deposit"), 10)
    paginator.exact_below = 0
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 2
    assert "pg_class" not in " ".join(query["sql"] for query in queries)


@pytest.mark.postgres
def test_it_estimates_the_count_of_an_unfiltered_ledger_on_postgresql(alice_customer, charlie_customer):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE transactions_ledgerentry")
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'transactions_ledgerentry'")
        estimate = int(cursor.fetchone()[0])
    paginator = EstimatedCountPaginator(LedgerEntry.objects.all(), 10)
    paginator.exact_below = 0
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == estimate
    sql = " ".join(query["sql"] for query in queries)
    assert "pg_class" in sql and "COUNT(" not in sql.upper()
    small = EstimatedCountPaginator(LedgerEntry.objects.all(), 10)
    assert small.count == 2  # below exact_below: the exact count


ACCOUNTS = reverse("admin:accounts_account_changelist")


def _form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(error) for errors in form.errors.values() for error in errors]


def _accounts_and_cards():
    return (list(Account.objects.order_by("pk").values_list("pk", "balance_minor", "status")),
            list(Card.objects.order_by("pk").values_list("pk", "status", "pin_hash")), LedgerEntry.objects.count())


# --- Staff adjustments: the ledger's action on the account admin ---------------------------------

def _adjust(client, account, **fields):
    page = action_choose(client, ACCOUNTS, "post_adjustment", account.pk)
    key = page.context["form"]["request_key"].value()
    data = {"request_key": str(key), **fields}
    return key, action_apply(client, ACCOUNTS, "post_adjustment", account.pk, **data)


def test_it_posts_a_staff_deposit_through_the_ledger(admin_client_, alice_customer):
    _key, response = _adjust(admin_client_, alice_customer.account, direction="credit", amount="25.50",
                             reason="Cash deposit at the counter")
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert (entry.amount_minor, entry.balance_after_minor, entry.channel) == (2_550, 52_550, "back_office")
    assert (entry.staff_user.username, entry.reason) == ("root", "Cash deposit at the counter")
    assert Account.objects.get(pk=alice_customer.account.pk).balance_minor == 52_550
    assert _messages(response) == [
        f"Adjustment {entry.reference} of 25.50 EUR posted on {alice_customer.account.number}."
    ]


def test_it_posts_a_double_submitted_adjustment_once(admin_client_, alice_customer):
    key, first = _adjust(admin_client_, alice_customer.account, direction="debit", amount="10", reason="Fee refund")
    again = action_apply(admin_client_, ACCOUNTS, "post_adjustment", alice_customer.account.pk, request_key=str(key),
                   direction="debit", amount="10", reason="Fee refund")
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert entry.amount_minor == -1_000
    assert Account.objects.get(pk=alice_customer.account.pk).balance_minor == 49_000
    assert _messages(again)[-1] == f"Adjustment {entry.reference} was already posted; nothing was posted again."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"direction": "credit", "amount": "25", "reason": ""}, "A reason is required for a staff adjustment."),
        ({"direction": "credit", "amount": "25", "reason": "   "}, "A reason is required for a staff adjustment."),
        ({"direction": "credit", "amount": "12.345", "reason": "Typo"}, "Use at most two decimals."),
        ({"direction": "credit", "amount": "0", "reason": "Typo"}, "The amount must be more than zero."),
        ({"direction": "debit", "amount": "500.01", "reason": "Too much"}, "Insufficient funds for this amount."),
    ],
)
def test_it_refuses_bad_adjustments_and_changes_nothing(admin_client_, alice_customer, fields, message):
    before = _accounts_and_cards()
    _key, response = _adjust(admin_client_, alice_customer.account, **fields)
    assert response.status_code == 200
    assert _form_errors(response) == [message]
    assert message in response.content.decode()
    assert _accounts_and_cards() == before


def test_it_refuses_an_adjustment_on_a_closed_account(admin_client_, alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(status="closed")
    before = _accounts_and_cards()
    _key, response = _adjust(admin_client_, alice_customer.account, direction="credit", amount="5", reason="Late")
    assert _form_errors(response) == [f"Account {alice_customer.account.number} is closed."]
    assert _accounts_and_cards() == before


def test_it_lets_tellers_post_staff_deposits_with_a_reason(teller_client, alice_customer):
    page = teller_client.get(ACCOUNTS)
    assert "post_adjustment" in page.content.decode()
    response = action_apply(teller_client, ACCOUNTS, "post_adjustment", alice_customer.account.pk,
                      direction="credit", amount="100", reason="Cash paid in at the counter")
    assert response.status_code == 302
    assert Account.objects.get(pk=alice_customer.account.pk).balance_minor == 60_000


# --- Four eyes: staff postings above the approval threshold ----------------------------------------

STAFF_POSTINGS = reverse("admin:transactions_staffposting_changelist")


@pytest.fixture
def second_teller(db):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("tina", password="teller-password-2", is_staff=True)
    user.groups.add(Group.objects.get(name="Tellers"))
    return user


def test_it_holds_a_large_adjustment_until_a_second_teller_approves_it(teller_client, bob_teller, second_teller,
                                                                        alice_customer, client):
    from transactions.models import StaffPosting

    before = _accounts_and_cards()
    _key, response = _adjust(teller_client, alice_customer.account, direction="credit", amount="1000.01",
                             reason="Branch cash count")
    request = StaffPosting.objects.get()
    assert (request.status, request.amount_minor, request.maker) == ("pending", 100_001, bob_teller)
    assert _messages(response) == [
        f"Adjustment of 1,000.01 EUR on {alice_customer.account.number} is above 1,000.00 EUR: request "
        f"#{request.pk} waits for a second staff member's approval. Nothing is posted until then."
    ]
    assert _accounts_and_cards() == before
    own = action_choose(teller_client, STAFF_POSTINGS, "approve", request.pk)
    assert _messages(own)[-1] == "A second staff member must decide: you made this request."
    assert _accounts_and_cards() == before
    client.force_login(second_teller)
    approved = action_choose(client, STAFF_POSTINGS, "approve", request.pk)
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert (entry.amount_minor, entry.staff_user, entry.approved_by) == (100_001, bob_teller, second_teller)
    assert Account.objects.get(pk=alice_customer.account.pk).balance_minor == 150_001
    request.refresh_from_db()
    assert (request.status, request.checker, request.entry) == ("approved", second_teller, entry)
    again = action_choose(client, STAFF_POSTINGS, "approve", request.pk)
    assert _messages(again)[-1] == "This request is already approved and posted."
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert approved.status_code == 302


def test_it_records_a_rejection_with_its_reason_and_posts_nothing(teller_client, bob_teller, second_teller,
                                                                  alice_customer, client, settings):
    from transactions.models import StaffPosting

    adjustment_create(account_id=alice_customer.account.pk, amount_minor=90_000, staff_user=None,
                      reason="Opening cash", idempotency_key="big")
    settings.STAFF_APPROVAL_THRESHOLD_MINOR = 50_000
    big = LedgerEntry.objects.get(idempotency_key="big")
    _reverse(teller_client, LedgerEntry.objects.get(pk=big.pk), "Keyed twice")
    request = StaffPosting.objects.get()
    assert (request.kind, request.amount_minor, request.reverses) == ("reversal", -90_000, big)
    before = _accounts_and_cards()
    client.force_login(second_teller)
    page = action_choose(client, STAFF_POSTINGS, "reject", request.pk)
    assert page.status_code == 200
    empty = action_apply(client, STAFF_POSTINGS, "reject", request.pk, reason=" ")
    assert _form_errors(empty) == ["A reason is required to reject a request."]
    action_apply(client, STAFF_POSTINGS, "reject", request.pk, reason="The cash count was right")
    request.refresh_from_db()
    assert (request.status, request.checker, request.rejection_reason) == (
        "rejected", second_teller, "The cash count was right")
    assert _accounts_and_cards() == before
    assert not LedgerEntry.objects.filter(kind="reversal").exists()


def test_it_offers_the_reversal_button_only_on_an_entry_that_can_be_reversed(admin_client_, alice_customer):
    entry = _deposit(alice_customer)
    url = reverse("admin:transactions_ledgerentry_change", args=[entry.pk])
    assert ">Reverse…</button>" in admin_client_.get(url).content.decode()
    _reverse(admin_client_, entry, "Booked twice")
    assert ">Reverse…</button>" not in admin_client_.get(url).content.decode()
    reversal = LedgerEntry.objects.get(reverses=entry)
    page = admin_client_.get(reverse("admin:transactions_ledgerentry_change", args=[reversal.pk])).content.decode()
    assert ">Reverse…</button>" not in page


def test_it_offers_no_reversal_on_the_other_leg_of_a_transfer_reversed_as_a_whole(admin_client_, alice_customer,
                                                                                    charlie_customer):
    from transactions.services import transfer_create

    posting = transfer_create(from_account_id=alice_customer.account.pk,
                              to_account_number=charlie_customer.account.number, amount_minor=2_000,
                              idempotency_key="transfer-1")
    sent = posting.entry
    received = LedgerEntry.objects.get(reference=sent.reference, kind="transfer_in")
    urls = [reverse("admin:transactions_ledgerentry_change", args=[leg.pk]) for leg in (sent, received)]
    assert all(">Reverse…</button>" in admin_client_.get(url).content.decode() for url in urls)
    _reverse(admin_client_, received, "Sent to the wrong person")
    assert LedgerEntry.objects.filter(kind="reversal", reverses__in=[sent, received]).count() == 2
    assert all(">Reverse…</button>" not in admin_client_.get(url).content.decode() for url in urls)
    before = _accounts_and_cards()
    refused = admin_client_.post(LEDGER, {"action": "reverse_entry", "index": "0", ACTION_CHECKBOX_NAME: [str(sent.pk)]})
    assert _messages(refused) == [f"{sent.reference}: This entry has already been reversed."]
    assert _accounts_and_cards() == before


def test_it_offers_approve_and_reject_buttons_only_while_a_request_waits(teller_client, second_teller,
                                                                         alice_customer, client):
    from transactions.models import StaffPosting

    _adjust(teller_client, alice_customer.account, direction="credit", amount="1000.01", reason="Branch cash count")
    request = StaffPosting.objects.get()
    url = reverse("admin:transactions_staffposting_change", args=[request.pk])
    client.force_login(second_teller)
    page = client.get(url).content.decode()
    assert ">Approve and post</button>" in page and ">Reject…</button>" in page
    assert '<span class="badge badge--pending">Pending approval</span>' in client.get(STAFF_POSTINGS).content.decode()
    action_choose(client, STAFF_POSTINGS, "approve", request.pk)
    page = client.get(url).content.decode()
    assert ">Approve and post</button>" not in page and ">Reject…</button>" not in page
    assert '<span class="badge badge--approved">Approved and posted</span>' in client.get(
        STAFF_POSTINGS).content.decode()
