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
                                     gender="M", postal_code="75001", city="Paris")
    account = account_open(customer=person, rng=random.Random(2))
    day = datetime.datetime(2025, 3, 1, 12, tzinfo=AMSTERDAM)
    _entry(account, day, 50_000, 50_000)
    _entry(account, day + datetime.timedelta(hours=1), -20_000, 30_000, kind="withdrawal")
    columns = ["age", "card_network", "transactions", "deposits_total", "withdrawals_total", "balance"]
    frame = extract(source="customers", as_of=datetime.date(2025, 3, 31), columns=columns).frame
    assert frame[columns].iloc[0].tolist() == [45, "none", 2, 500.0, 200.0, 300.0]
