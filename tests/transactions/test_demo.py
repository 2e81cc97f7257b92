"""Demo data (transactions/demo.py): a valid ledger, realistic customers, determinism, clear refusals."""

from __future__ import annotations

import datetime
import io
import re
from collections import defaultdict

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Card, Customer
from tests.support.demo import demo_command_lines
from transactions.models import LedgerEntry, Terminal

pytestmark = pytest.mark.django_db



@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True
    return settings




def _entries() -> list[LedgerEntry]:
    return list(LedgerEntry.objects.select_related("account", "terminal").order_by("created_at", "pk"))


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Customer, Account, Card, Terminal, LedgerEntry))


def test_it_writes_a_ledger_that_verify_ledger_accepts():
    demo_command_lines()
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
    transfers = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.TRANSFER_OUT).count()
    assert Customer.objects.count() == 30
    assert LedgerEntry.objects.count() == Account.objects.count() + 1_500 + transfers
    assert all(account.opening_balance_minor == 0 for account in Account.objects.all())


def test_it_replays_every_account_from_zero_without_going_negative():
    demo_command_lines()
    balances: dict[int, int] = {}
    for entry in _entries():
        if entry.account_id not in balances:
            assert entry.kind == LedgerEntry.Kind.DEPOSIT
        balances[entry.account_id] = balances.get(entry.account_id, 0) + entry.amount_minor
        assert entry.balance_after_minor == balances[entry.account_id] >= 0
    for account in Account.objects.all():
        assert account.balance_minor == balances[account.pk]


def test_it_opens_every_account_with_a_branch_deposit_before_the_history():
    demo_command_lines(days=30)
    history_start = timezone.localdate() - datetime.timedelta(days=30)
    for account in Account.objects.all():
        first = account.entries.order_by("created_at", "pk").first()
        assert (first.kind, first.channel) == (LedgerEntry.Kind.DEPOSIT, LedgerEntry.Channel.BRANCH)
        assert timezone.localdate(first.created_at) < history_start
        assert account.opened_at <= first.created_at


def test_it_keeps_withdrawals_in_notes_and_within_the_daily_limit(settings):
    demo_command_lines()
    per_day: dict[tuple[int, datetime.date], int] = defaultdict(int)
    for entry in _entries():
        if entry.kind == LedgerEntry.Kind.WITHDRAWAL:
            assert -entry.amount_minor % settings.ATM_SMALLEST_NOTE_MINOR == 0
            per_day[(entry.account_id, timezone.localdate(entry.created_at))] -= entry.amount_minor
    assert per_day, "the history has withdrawals"
    limits = dict(Account.objects.values_list("pk", "daily_withdrawal_limit_minor"))
    assert all(total <= limits[account_id] for (account_id, _day), total in per_day.items())


def test_it_keeps_the_history_inside_the_requested_days():
    demo_command_lines(days=30)
    today = timezone.localdate()
    moments = LedgerEntry.objects.exclude(idempotency_key__in=_opening_keys()).values_list("created_at", flat=True)
    days = {timezone.localdate(moment) for moment in moments}
    assert min(days) >= today - datetime.timedelta(days=30)
    assert max(days) < today


def _opening_keys() -> list[str]:
    keys = []
    for account in Account.objects.all():
        keys.append(account.entries.order_by("created_at", "pk").values_list("idempotency_key", flat=True)[0])
    return keys


def test_it_posts_transfers_as_two_legs_with_one_reference():
    demo_command_lines()
    legs: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in _entries():
        if entry.kind in (LedgerEntry.Kind.TRANSFER_OUT, LedgerEntry.Kind.TRANSFER_IN):
            legs[entry.reference].append(entry)
    assert legs, "the history has transfers"
    for out_leg, in_leg in legs.values():
        assert (out_leg.kind, in_leg.kind) == (LedgerEntry.Kind.TRANSFER_OUT, LedgerEntry.Kind.TRANSFER_IN)
        assert out_leg.amount_minor == -in_leg.amount_minor < 0
        assert (out_leg.counterparty_id, in_leg.counterparty_id) == (in_leg.account_id, out_leg.account_id)
        assert in_leg.idempotency_key == out_leg.idempotency_key + "/in"
        assert out_leg.created_at == in_leg.created_at


def test_it_records_channels_with_terminals_and_seeded_keys():
    demo_command_lines()
    entries = _entries()
    assert {entry.channel for entry in entries} == {"atm", "branch", "online"}
    for entry in entries:
        expected_kind = {"atm": Terminal.Kind.ATM, "branch": Terminal.Kind.BRANCH, "online": None}[entry.channel]
        assert (entry.terminal.kind if entry.terminal else None) == expected_kind
        assert re.fullmatch(r"demo:7:\d+(/in)?", entry.idempotency_key)
    assert all(terminal.latitude and terminal.longitude and terminal.city for terminal in Terminal.objects.all())


def test_it_creates_realistic_customers_and_a_mix_of_card_networks():
    demo_command_lines(customers=200, transactions=100)
    today = timezone.localdate()
    for customer in Customer.objects.all():
        age = (today - customer.birth_date).days / 365.25
        assert 18 <= age <= 91
        assert customer.gender in {"F", "M", "X"} and customer.postal_code and customer.city
        customer.full_clean()  # the postal code has the format of the customer's country
        try:
            validate_email(customer.email)
        except ValidationError:
            pytest.fail(f"invalid demo email {customer.email!r}")
    assert set(Customer.objects.values_list("country", flat=True)) == {"NL", "BE", "DE", "FR", "GB"}
    assert set(Card.objects.values_list("network", flat=True)) == {"visa", "mastercard", "maestro", "amex", "discover"}
    savings = Account.objects.filter(kind=Account.Kind.SAVINGS).count()
    assert Account.objects.filter(kind=Account.Kind.CHECKING).count() == 200
    assert 0 < savings < 200


def _snapshot() -> tuple[object, ...]:
    return (
        list(Customer.objects.order_by("pk").values_list("first_name", "last_name", "email", "birth_date", "city")),
        list(Account.objects.order_by("pk").values_list("number", "kind", "balance_minor")),
        list(Card.objects.order_by("pk").values_list("pan_hmac", "network", "status")),
        list(LedgerEntry.objects.order_by("pk").values_list(
            "account__number", "kind", "amount_minor", "created_at", "channel", "terminal__code", "reference")),
    )


class _Rollback(Exception):
    pass


def _generate_and_roll_back(seed: int) -> tuple[list[str], tuple[object, ...]]:
    """Generate in a savepoint, take a snapshot, then undo it all."""
    try:
        with transaction.atomic():
            lines = demo_command_lines(customers=20, transactions=500, seed=seed)
            snapshot = _snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert Customer.objects.count() == 0
    return lines, snapshot


def test_it_generates_the_same_data_for_the_same_seed():
    first = _generate_and_roll_back(seed=11)
    again = _generate_and_roll_back(seed=11)
    other = _generate_and_roll_back(seed=12)
    assert first == again
    assert first[0] != other[0] and first[1][1] != other[1][1]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"customers": 0}, "customers must be a whole number from 1 to 100,000, got 0."),
        ({"customers": -5}, "customers must be a whole number from 1 to 100,000, got -5."),
        ({"transactions": -1}, "transactions must be a whole number from 0 to 10,000,000, got -1."),
        ({"seed": -1}, "seed must be a whole number from 0 to 999,999, got -1."),
        ({"days": 0}, "days must be a whole number from 1 to 3,650, got 0."),
    ],
)
def test_it_refuses_bad_arguments_and_writes_nothing(arguments, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        demo_command_lines(**{"customers": 5, "transactions": 10, **arguments})
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_refuses_to_load_the_same_seed_twice_but_adds_another_seed():
    demo_command_lines(customers=5, transactions=50, seed=3)
    before = _counts()
    with pytest.raises(CommandError, match="Demo data for seed 3 already exists in this database"):
        demo_command_lines(customers=5, transactions=50, seed=3)
    assert _counts() == before
    demo_command_lines(customers=5, transactions=50, seed=4)
    assert Customer.objects.count() == 10
    call_command("verify_ledger", stdout=io.StringIO())


@pytest.mark.django_db
def test_it_spreads_a_population_over_every_day_up_to_its_last_day():
    from transactions.demo import population_generate

    last_day = datetime.date(2025, 3, 31)
    population = population_generate(customers=120, entries=2_400, last_day=last_day, days=20, seed=5)
    per_day: dict[datetime.date, int] = defaultdict(int)
    for created_at in LedgerEntry.objects.values_list("created_at", flat=True):
        per_day[timezone.localdate(created_at)] += 1
    assert population.entries == LedgerEntry.objects.count() == 2_400
    history = [last_day - datetime.timedelta(days=offset) for offset in range(5)]
    assert all(per_day[day] > 0 for day in history), {day: per_day[day] for day in history}
    assert max(per_day) == last_day
