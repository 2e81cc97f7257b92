"""Extraction: what a transaction row and a customer row hold."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

from accounts.models import Account, Customer
from accounts.services import account_open, card_issue
from anonymization.policy.catalog import INDIVIDUAL, TRANSACTION_COLUMNS
from anonymization.release.extract import extract
from transactions.models import LedgerEntry

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _entry(account: Account, at: datetime.datetime, amount: int, balance: int, kind: str = "deposit") -> None:
    LedgerEntry.objects.create(account=account, kind=kind, amount_minor=amount, balance_after_minor=balance,
                               created_at=at, channel="branch", reference="R", idempotency_key=f"k-{at}-{amount}")


def test_it_extracts_one_row_per_entry_joined_to_customer_and_first_card(db):
    person = Customer.objects.create(first_name="Ann", last_name="Lee", birth_date=datetime.date(1990, 4, 1),
                                     gender="F", postal_code="1012 AB", city="Amsterdam")
    account = account_open(customer=person, rng=random.Random(1))
    first = card_issue(account=account, network="mastercard", pin="2468").card
    card_issue(account=account, network="visa", pin="2468")
    late_evening = datetime.datetime(2025, 3, 31, 23, 30, tzinfo=AMSTERDAM)  # 21:30 UTC, still the 31st locally
    _entry(account, late_evening, 12_345, 12_345)
    _entry(account, datetime.datetime(2025, 4, 1, 0, 30, tzinfo=AMSTERDAM), 100, 12_445)  # after the as-of date
    frame = extract(source="transactions", as_of=datetime.date(2025, 3, 31), columns=list(TRANSACTION_COLUMNS)).frame
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["age"] == 34  # the birthday (1 April) is after the as-of date
    assert (row["gender"], row["postal_code"], row["card_network"]) == ("F", "1012 AB", "mastercard")
    assert row["card_number"] == first.bin
    assert row["transaction_date"] == datetime.datetime(2025, 3, 31)
    assert (row["amount"], row["balance_after"], row["kind"], row["channel"]) == (123.45, 123.45, "deposit", "branch")
    assert row[INDIVIDUAL] == 0
    assert not {"first_name", "last_name", "email", "phone", "number"} & set(frame.columns)


def test_it_extracts_customer_aggregates(db):
    person = Customer.objects.create(first_name="Bo", last_name="Ek", birth_date=datetime.date(1980, 1, 1),
                                     gender="M", country="FR", postal_code="75001", city="Paris")
    account = account_open(customer=person, rng=random.Random(2))
    day = datetime.datetime(2025, 3, 1, 12, tzinfo=AMSTERDAM)
    _entry(account, day, 50_000, 50_000)
    _entry(account, day + datetime.timedelta(hours=1), -20_000, 30_000, kind="withdrawal")
    columns = ["age", "card_network", "transactions", "deposits_total", "withdrawals_total", "balance"]
    frame = extract(source="customers", as_of=datetime.date(2025, 3, 31), columns=columns).frame
    assert frame[columns].iloc[0].tolist() == [45, "none", 2, 500.0, 200.0, 300.0]


def _account(first_name: str) -> Account:
    person = Customer.objects.create(first_name=first_name, last_name="Window", birth_date=datetime.date(1985, 6, 1),
                                     gender="F", postal_code="1012 AB", city="Amsterdam")
    return account_open(customer=person, rng=random.Random(3))


def test_it_extracts_the_window_by_local_day_plus_held_entries(db):
    account = _account("Wim")
    days = [datetime.datetime(2025, 3, d, 0, 15, tzinfo=AMSTERDAM) for d in (28, 29, 30, 31)]
    for n, at in enumerate(days):
        _entry(account, at, 100 + n, 100 + n)
    ids = list(LedgerEntry.objects.order_by("created_at").values_list("pk", flat=True))
    extraction = extract(source="transactions", as_of=datetime.date(2025, 3, 31), columns=["amount"],
                         since=datetime.date(2025, 3, 30), held_ids=(ids[0],))
    assert extraction.entries.tolist() == [ids[0], ids[2], ids[3]]  # 00:15 local is still the day, not the one before
    assert extraction.entry_days.astype("datetime64[D]").astype(str).tolist() == [
        "2025-03-28", "2025-03-30", "2025-03-31"]
    assert extraction.frame["amount"].tolist() == [1.0, 1.02, 1.03]
    assert list(extraction.frame.columns) == ["amount", INDIVIDUAL]


def test_it_reads_a_held_entry_once_even_when_it_lies_in_the_window(db):
    account = _account("Olga")
    _entry(account, datetime.datetime(2025, 3, 31, 9, tzinfo=AMSTERDAM), 100, 100)
    entry = LedgerEntry.objects.get()
    extraction = extract(source="transactions", as_of=datetime.date(2025, 3, 31), columns=["amount"],
                         since=datetime.date(2025, 3, 31), held_ids=(entry.pk,))
    assert extraction.entries.tolist() == [entry.pk]


def test_it_aggregates_customers_over_the_window_with_the_balance_at_its_end(db):
    account = _account("Cor")
    quiet = _account("Quiet")
    _entry(account, datetime.datetime(2025, 3, 1, 12, tzinfo=AMSTERDAM), 50_000, 50_000)
    _entry(account, datetime.datetime(2025, 3, 31, 12, tzinfo=AMSTERDAM), -20_000, 30_000, kind="withdrawal")
    _entry(quiet, datetime.datetime(2025, 3, 2, 12, tzinfo=AMSTERDAM), 7_000, 7_000)
    columns = ["transactions", "deposits_total", "withdrawals_total", "balance"]
    frame = extract(source="customers", as_of=datetime.date(2025, 3, 31), columns=columns,
                    since=datetime.date(2025, 3, 31)).frame
    assert frame[columns].values.tolist() == [[1, 0.0, 200.0, 300.0]]  # the quiet customer has nothing new
