"""Fast synthetic bank data for release tests and the release benchmark (not the demo data).

Customers, accounts and cards are bulk-created; ledger entries are written with bulk_create, or
with PostgreSQL's COPY when `copy=True` (a million entries in seconds). Entries keep the ledger
rules that releases rely on: a running balance that never goes negative, withdrawals in whole
notes, a balance_after on every entry, unique idempotency keys. Card numbers are drawn with the
accounts app's generator; only the BIN, last four and keyed fingerprint are stored.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from accounts.cards import generate_pan, network_for_pan, pan_fingerprint
from accounts.iban import iban_for
from accounts.models import Account, Card, Customer
from accounts.pins import hash_pin
from transactions.models import LedgerEntry

FIRST = ("Anna", "Bram", "Carla", "Daan", "Eva", "Finn", "Greta", "Hugo", "Iris", "Joris", "Kim", "Lars")
LAST = ("Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters")
NETWORKS = ("visa", "visa", "mastercard", "mastercard", "maestro", "amex")
KINDS = ("withdrawal", "deposit", "transfer_out", "transfer_in")
CHANNELS = {"withdrawal": "atm", "deposit": "branch", "transfer_out": "online", "transfer_in": "online"}


@dataclass(frozen=True)
class Population:
    """What was written: counts and the as-of date the entries end on."""

    customers: int
    accounts: int
    entries: int
    last_day: datetime.date


def _customer(rng: random.Random, n: int, seed: int) -> Customer:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return Customer(
        first_name=first, last_name=last, email=f"{first}.{last.replace(' ', '')}.{seed}.{n}@example.com".lower(),
        phone=f"+31 6 {rng.randrange(10**7, 10**8)}", birth_date=datetime.date(rng.randint(1940, 2004),
                                                                               rng.randint(1, 12), rng.randint(1, 28)),
        gender=rng.choice("FFMMX" if n % 17 == 0 else "FM"), postal_code=f"{rng.randint(1000, 1099)} {rng.choice(['AB', 'CD'])}",
        city="Amsterdam")


def _people(rng: random.Random, customers: int, seed: int) -> list[Account]:
    """Create customers, one account each, and a card on most accounts; return the accounts."""
    people = Customer.objects.bulk_create([_customer(rng, n, seed) for n in range(customers)])
    accounts = Account.objects.bulk_create([
        Account(customer=person, number=iban_for(f"{seed % 1000:03d}{n:07d}"), opening_balance_minor=0)
        for n, person in enumerate(people)])
    pin_hash = hash_pin("2468")
    cards = []
    for account in accounts:
        if rng.random() < 0.95:
            pan = generate_pan(rng.choice(NETWORKS), rng)
            cards.append(Card(account=account, pan_hmac=pan_fingerprint(pan), bin=pan[:6], last4=pan[-4:],
                              network=network_for_pan(pan), expiry=datetime.date(2030, 12, 31), pin_hash=pin_hash))
    Card.objects.bulk_create(cards)
    return accounts


def _entry_rows(rng: random.Random, accounts: list[Account], entries: int, last_day: datetime.date,
                days: int, seed: int):  # type: ignore[no-untyped-def]
    """Yield entry field tuples in time order per account, keeping every balance non-negative."""
    balances = {account.pk: 0 for account in accounts}
    start = timezone.make_aware(datetime.datetime.combine(last_day - datetime.timedelta(days=days - 1),
                                                          datetime.time(8)))
    span = days * 86_400 - 12 * 3_600
    stamps = sorted(rng.randrange(span) for _ in range(entries))
    for n, offset in enumerate(stamps):
        account = accounts[rng.randrange(len(accounts))].pk
        kind = rng.choice(KINDS)
        amount = rng.choice((20, 50, 100, 200)) * 100 if kind == "withdrawal" else rng.randrange(500, 250_000)
        if kind in ("withdrawal", "transfer_out") and balances[account] < amount:
            kind, amount = "deposit", rng.randrange(5_000, 300_000)
        signed = -amount if kind in ("withdrawal", "transfer_out") else amount
        balances[account] += signed
        yield (account, kind, signed, balances[account], start + datetime.timedelta(seconds=offset),
               CHANNELS[kind], f"S{seed}R{n}", f"sample-{seed}-{n}", "")
    for account in accounts:
        account.balance_minor = balances[account.pk]


_ENTRY_COLUMNS = ("account_id", "kind", "amount_minor", "balance_after_minor", "created_at", "channel", "reference",
                  "idempotency_key", "reason")


def _copy_entries(rows) -> None:  # type: ignore[no-untyped-def]
    columns = ", ".join(_ENTRY_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {LedgerEntry._meta.db_table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _bulk_entries(rows) -> None:  # type: ignore[no-untyped-def]
    LedgerEntry.objects.bulk_create(
        (LedgerEntry(**dict(zip(_ENTRY_COLUMNS, row, strict=True))) for row in rows), batch_size=5_000)


def populate(*, customers: int, entries: int, last_day: datetime.date, days: int = 60, seed: int = 1,
             copy: bool = False) -> Population:
    """Write a synthetic population whose entries end on `last_day`; use COPY on PostgreSQL if asked."""
    rng = random.Random(seed)
    with transaction.atomic():
        accounts = _people(rng, customers, seed)
        rows = _entry_rows(rng, accounts, entries, last_day, days, seed)
        (_copy_entries if copy else _bulk_entries)(rows)
        Account.objects.bulk_update(accounts, ["balance_minor"], batch_size=5_000)
    return Population(customers=customers, accounts=len(accounts), entries=entries, last_day=last_day)
