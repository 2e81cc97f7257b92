"""Generate bank data: customers, accounts, cards, terminals and a ledger history. One generator, two uses.

- `demo_data_generate` (the `generate_demo_data` command): realistic customers drawn with Faker
  from a European mix, savings accounts for some, and a few demo cards to log in with.
- `population_generate` (release tests and benchmarks/release_pipeline.py): plain customers, one
  account each, and exactly the number of ledger entries asked for, ending on a given day; with
  `copy=True` the entries go to PostgreSQL through COPY (a million entries in seconds).

Both simulate the history in memory in time order on the pure rules of transactions.rules, the
ones transactions.services applies (no negative balance, withdrawals in whole notes within the
daily limit per local day, transfers as two legs sharing one reference, a balance_after on every
entry, unique idempotency keys), and write it in one database transaction, so `verify_ledger`
passes afterwards. Every account starts with an opening deposit at a branch, posted as an entry.

Determinism: everything is drawn from random.Random(seed) and Faker instances seeded from the
seed, so a seed always gives the same customers, PANs, PINs and amounts. Timestamps are laid out
relative to today's local date: the history covers the `days` full local days before today, so a
run on another day shifts the dates but keeps the structure.

PINs: argon2 hashing is deliberately slow, so demo cards share a small pool of PINs, each hashed
once, and cards with the same PIN share the hash string (argon2 embeds its own salt, so the hash is
valid; the only loss is that equal PINs show as equal hashes). Acceptable for demo data only.

Re-runs: a seed's demo data is recognised by its terminal codes and idempotency keys; running the
same seed twice is refused before anything is written. A different seed adds an independent set.
A population uses its own prefixes, so it never collides with demo data of the same seed.
"""

from __future__ import annotations

import datetime
import itertools
import math
import random
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from accounts.cards import generate_pan, network_for_pan, pan_fingerprint
from accounts.iban import random_iban
from accounts.models import Account, Card, Customer
from accounts.pins import hash_pin
from accounts.services import one_time_pin

from . import rules
from .exceptions import InsufficientFunds
from .models import LedgerEntry, Terminal

MAX_SEED = 999_999
MAX_CUSTOMERS = 100_000
MAX_TRANSACTIONS = 10_000_000
MAX_DAYS = 3_650
BATCH_SIZE = 5_000
SHOWN_CARDS = 3
PIN_POOL_SIZE = 6
LOCALES = (("nl_NL", 70), ("nl_BE", 10), ("de_DE", 10), ("fr_FR", 5), ("en_GB", 5))
# Each locale's country (Customer.country): Faker's postcodes of a locale have that country's format.
LOCALE_COUNTRIES = {"nl_NL": "NL", "nl_BE": "BE", "de_DE": "DE", "fr_FR": "FR", "en_GB": "GB"}
NETWORKS = (("visa", 40), ("mastercard", 30), ("maestro", 20), ("amex", 5), ("discover", 5))
WITHDRAWAL_EUROS = (20, 50, 50, 70, 100, 100, 150, 200, 250, 300, 500)
# Share of the simulated operations: withdrawals, then deposits, the rest transfers.
WITHDRAWAL_SHARE, DEPOSIT_SHARE = 0.45, 0.25
# Plain customers of a population: drawn from short lists, all in Amsterdam (release tests rely on it).
PLAIN_FIRST = ("Anna", "Bram", "Carla", "Daan", "Eva", "Finn", "Greta", "Hugo", "Iris", "Joris", "Kim", "Lars")
PLAIN_LAST = ("Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters")
Channel = LedgerEntry.Channel
Kind = LedgerEntry.Kind


@dataclass(frozen=True)
class Labels:
    """The prefixes that tell one generation's rows apart: idempotency keys and terminal codes."""

    key: str
    atm: str
    branch: str


DEMO = Labels(key="demo", atm="ATM", branch="BR")
POPULATION = Labels(key="population", atm="PATM", branch="PBR")


class DemoDataError(ValueError):
    """The demo data cannot be generated as asked; nothing was written."""


@dataclass(frozen=True)
class DemoCard:
    """A demo card's PAN and PIN: printed for the person running the demo, never stored."""

    pan: str
    pin: str


@dataclass(frozen=True)
class Population:
    """What population_generate wrote: counts and the last day of the history."""

    customers: int
    accounts: int
    entries: int
    last_day: datetime.date


@dataclass(frozen=True)
class DemoSummary:
    """What one generation wrote, and a few cards with a healthy balance to log in with."""

    customers: int
    accounts: int
    cards: int
    terminals: int
    transactions: int
    entries: int
    shown_cards: tuple[DemoCard, ...]


@dataclass
class _Account:
    customer: int
    kind: str
    number: str
    opened_at: datetime.datetime
    limit: int
    balance: int = 0
    withdrawn: dict[datetime.date, int] = field(default_factory=dict)
    savings: int | None = None
    home_atms: tuple[int, ...] = ()


@dataclass(slots=True)
class _Entry:
    account: int
    kind: str
    amount: int
    balance_after: int
    at: datetime.datetime
    channel: str
    terminal: int | None
    reference: str
    key: str
    counterparty: int | None = None


@dataclass
class _CardSpec:
    account: int
    pan: str
    pin: str
    pin_hash: str
    status: str
    must_change_pin: bool
    issued_at: datetime.datetime


def demo_data_validate(*, customers: int, transactions: int, seed: int, days: int) -> None:
    """Raise DemoDataError naming the first argument out of range."""
    checks = (
        ("customers", customers, 1, MAX_CUSTOMERS),
        ("transactions", transactions, 0, MAX_TRANSACTIONS),
        ("seed", seed, 0, MAX_SEED),
        ("days", days, 1, MAX_DAYS),
    )
    for name, value, low, high in checks:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise DemoDataError(f"{name} must be a whole number from {low:,} to {high:,}, got {value!r}.")


def demo_data_exists(*, seed: int) -> bool:
    """Return True when demo data for this seed is already in the database."""
    return (
        Terminal.objects.filter(code=_terminal_code("ATM", seed, 1)).exists()
        or LedgerEntry.objects.filter(idempotency_key=f"demo:{seed}:1").exists()
    )


def demo_data_generate(
    *, customers: int, transactions: int, seed: int, days: int = 90, progress: bool = False
) -> DemoSummary:
    """Create customers, accounts, cards, terminals and a valid ledger history; return a summary."""
    demo_data_validate(customers=customers, transactions=transactions, seed=seed, days=days)
    if demo_data_exists(seed=seed):
        raise DemoDataError(
            f"Demo data for seed {seed} already exists in this database; "
            "use another seed to add more, or start from an empty database."
        )
    rng = random.Random(seed)
    fakers = _fakers(seed)
    first_day = timezone.localdate() - datetime.timedelta(days=days)
    people = [_person(rng, fakers) for _ in _bar(range(customers), "customers", progress)]
    terminals = _terminals(rng, fakers["nl_NL"], seed, customers, DEMO)
    atms = [i for i, terminal in enumerate(terminals) if terminal.kind == Terminal.Kind.ATM]
    accounts = _open_accounts(rng, people, first_day, atms)
    cards = _issue_cards(rng, accounts)
    ledger = _Ledger(rng, seed, accounts, terminals, DEMO)
    ledger.open_all()
    _simulate(ledger, rng, _event_times(rng, transactions, first_day, days), _bar_total(transactions, progress))
    _write(people, accounts, cards, terminals, ledger.entries, progress=progress)
    return DemoSummary(
        customers=customers, accounts=len(accounts), cards=len(cards), terminals=len(terminals),
        transactions=transactions, entries=len(ledger.entries), shown_cards=_shown_cards(cards, accounts),
    )


def population_generate(
    *, customers: int, entries: int, last_day: datetime.date, days: int = 60, seed: int = 1, copy: bool = False
) -> Population:
    """Write plain customers, one account each, and exactly `entries` ledger entries ending on `last_day`.

    The fast path for release tests and benchmarks: no Faker, no demo cards; `copy=True` writes
    the entries with PostgreSQL's COPY. Deterministic for a seed and a last day.
    """
    if not 1 <= customers <= entries:
        raise DemoDataError(f"A population needs 1 to {entries:,} customers (one opening entry each), got {customers!r}.")
    rng = random.Random(seed)
    first_day = last_day - datetime.timedelta(days=days - 1)
    people = [_plain_person(rng, number, seed) for number in range(customers)]
    terminals = _terminals(rng, _fakers(seed)["nl_NL"], seed, customers, POPULATION)
    atms = [i for i, terminal in enumerate(terminals) if terminal.kind == Terminal.Kind.ATM]
    accounts = _open_accounts(rng, people, first_day, atms, savings_share=0.0)
    cards = _issue_cards(rng, accounts)
    ledger = _Ledger(rng, seed, accounts, terminals, POPULATION)
    ledger.open_all()
    _simulate_entries(ledger, rng, first_day, days, entries - len(accounts))
    _write(people, accounts, cards, terminals, ledger.entries, copy=copy)
    return Population(customers=customers, accounts=len(accounts), entries=len(ledger.entries), last_day=last_day)


def _bar(items: Sequence[int], label: str, progress: bool) -> Iterator[int]:
    """Iterate with a progress bar on stderr when asked."""
    return iter(tqdm(items, desc=label, unit="", disable=not progress, leave=False, mininterval=0.5))


def _bar_total(total: int, progress: bool) -> tqdm:
    return tqdm(total=total, desc="history", unit="tx", disable=not progress, leave=False, mininterval=0.5)


def _fakers(seed: int) -> dict[str, Faker]:
    """Return one Faker per locale, each seeded from the seed (Faker's own locale mixing is not seeded)."""
    fakers = {}
    for offset, (locale, _weight) in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + offset)
        fakers[locale] = fake
    return fakers


def _ascii(text: str) -> str:
    """Return lower-case ASCII letters and digits of `text` (accents dropped)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _person(rng: random.Random, fakers: dict[str, Faker]) -> dict[str, object]:
    """Return the fields of one customer from a locale drawn from the European mix."""
    locale = rng.choices([name for name, _ in LOCALES], weights=[weight for _, weight in LOCALES])[0]
    fake = fakers[locale]
    gender = rng.choices("FMX", weights=(49, 49, 2))[0]
    first = {"F": fake.first_name_female, "M": fake.first_name_male}.get(gender, fake.first_name)()
    last = fake.last_name()
    suffix = str(rng.randrange(1, 100)) if rng.random() < 0.4 else ""
    return {
        "first_name": first, "last_name": last,
        "email": f"{_ascii(first)}.{_ascii(last)}{suffix}@{fake.free_email_domain()}",
        "phone": fake.phone_number()[:32], "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=90),
        "gender": gender, "country": LOCALE_COUNTRIES[locale], "postal_code": fake.postcode()[:12],
        "city": fake.city()[:100],
    }


def _plain_person(rng: random.Random, number: int, seed: int) -> dict[str, object]:
    """Return the fields of one plain customer (a population's): quick to draw, unique email."""
    first, last = rng.choice(PLAIN_FIRST), rng.choice(PLAIN_LAST)
    return {
        "first_name": first, "last_name": last,
        "email": f"{first}.{last.replace(' ', '')}.{seed}.{number}@example.com".lower(),
        "phone": f"+31 6 {rng.randrange(10**7, 10**8)}",
        "birth_date": datetime.date(rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        "gender": rng.choice("FFMMX" if number % 17 == 0 else "FM"),
        "country": "NL", "postal_code": f"{rng.randint(1000, 1099)} {rng.choice(['AB', 'CD'])}", "city": "Amsterdam",
    }


def _terminal_code(prefix: str, seed: int, number: int) -> str:
    return f"{prefix}-{seed}-{number:03d}"


def _terminals(rng: random.Random, fake: Faker, seed: int, customers: int, labels: Labels) -> list[Terminal]:
    """Return unsaved ATMs and branches at real Dutch places, with a little positional jitter."""
    counts = ((Terminal.Kind.ATM, min(max(customers // 25, 3), 400)),
              (Terminal.Kind.BRANCH, min(max(customers // 150, 1), 60)))
    terminals = []
    for kind, count in counts:
        for number in range(1, count + 1):
            lat, lng, place = fake.local_latlng(country_code="NL")[:3]
            street = fake.street_name()
            label = f"ATM {place}, {street}" if kind == Terminal.Kind.ATM else f"Branch {place}"
            terminals.append(Terminal(
                code=_terminal_code(labels.atm if kind == Terminal.Kind.ATM else labels.branch, seed, number),
                kind=kind, name=label[:120], city=place, postal_code=fake.postcode()[:12],
                latitude=Decimal(f"{float(lat) + rng.uniform(-0.02, 0.02):.5f}"),
                longitude=Decimal(f"{float(lng) + rng.uniform(-0.03, 0.03):.5f}"),
            ))
    return terminals


def _local(day: datetime.date, second: int, micro: int = 0) -> datetime.datetime:
    """Return the aware local time `second` seconds into `day` (callers stay out of the DST gap)."""
    clock = datetime.time(second // 3600, second // 60 % 60, second % 60, micro)
    return datetime.datetime.combine(day, clock, tzinfo=timezone.get_current_timezone())


def _daily_limit(rng: random.Random) -> int:
    """Return a daily withdrawal limit: mostly the default, some lower, some higher."""
    note = settings.ATM_SMALLEST_NOTE_MINOR
    factor = rng.choices((1.0, 0.5, 2.5), weights=(80, 10, 10))[0]
    return max(note, int(settings.ATM_DEFAULT_DAILY_LIMIT_MINOR * factor) // note * note)


def _account_number(rng: random.Random, taken: set[str]) -> str:
    number = random_iban(rng)
    while number in taken:
        number = random_iban(rng)
    taken.add(number)
    return number


def _open_accounts(
    rng: random.Random, people: list[dict[str, object]], first_day: datetime.date, atms: list[int],
    savings_share: float = 0.35,
) -> list[_Account]:
    """Return a checking account for everyone and savings for `savings_share` of them, opened before the history.

    Sets each person's created_at to the day their checking account was opened.
    """
    taken = set(Account.objects.values_list("number", flat=True))
    accounts: list[_Account] = []
    for index, person in enumerate(people):
        opened = _local(first_day - datetime.timedelta(days=rng.randint(1, 730)), rng.randrange(9 * 3600, 17 * 3600))
        person["created_at"] = opened
        checking = _Account(index, Account.Kind.CHECKING, _account_number(rng, taken), opened, _daily_limit(rng),
                            home_atms=tuple(rng.sample(atms, min(2, len(atms)))))
        accounts.append(checking)
        if rng.random() < savings_share:
            later = opened + datetime.timedelta(days=rng.randint(0, max(0, (_local(first_day, 0) - opened).days - 1)))
            checking.savings = len(accounts)
            accounts.append(_Account(index, Account.Kind.SAVINGS, _account_number(rng, taken), later, 0))
    return accounts


def _card_expiry(issued: datetime.date) -> datetime.date:
    """Return the last day of the month four years after issue."""
    first_next = datetime.date(issued.year + 4, issued.month, 1) + datetime.timedelta(days=32)
    return first_next.replace(day=1) - datetime.timedelta(days=1)


def _pin_pool(rng: random.Random) -> list[tuple[str, str]]:
    """Return a few distinct PINs, each with its one argon2 hash (hashing is the slow part)."""
    pins: list[str] = []
    while len(pins) < PIN_POOL_SIZE:
        pin = one_time_pin(rng)
        if pin not in pins:
            pins.append(pin)
    return [(pin, hash_pin(pin)) for pin in pins]


def _draw_pan(rng: random.Random, taken: set[str]) -> str:
    network = rng.choices([name for name, _ in NETWORKS], weights=[weight for _, weight in NETWORKS])[0]
    pan = generate_pan(network, rng)
    while pan_fingerprint(pan) in taken:
        pan = generate_pan(network, rng)
    taken.add(pan_fingerprint(pan))
    return pan


def _issue_cards(rng: random.Random, accounts: list[_Account]) -> list[_CardSpec]:
    """Return one card per checking account (a second for some); a few blocked or awaiting a PIN change."""
    pool = _pin_pool(rng)
    taken = set(Card.objects.values_list("pan_hmac", flat=True))
    cards = []
    for index, account in enumerate(accounts):
        if account.kind != Account.Kind.CHECKING:
            continue
        for _card in range(2 if rng.random() < 0.1 else 1):
            pin, pin_hash = rng.choice(pool)
            status = Card.Status.BLOCKED if rng.random() < 0.03 else Card.Status.ACTIVE
            issued = account.opened_at + datetime.timedelta(days=rng.randint(0, 10), hours=1)
            cards.append(_CardSpec(index, _draw_pan(rng, taken), pin, pin_hash, status, rng.random() < 0.05, issued))
    return cards


def _event_times(
    rng: random.Random, count: int, first_day: datetime.date, days: int
) -> list[tuple[datetime.date, datetime.datetime]]:
    """Return `count` (local day, moment) pairs between 07:00 and 23:00, in time order."""
    slots = sorted((rng.randrange(days), rng.randrange(7 * 3600, 23 * 3600), rng.randrange(1_000_000))
                   for _ in range(count))
    moments = []
    for offset, second, micro in slots:
        day = first_day + datetime.timedelta(days=offset)
        moments.append((day, _local(day, second, micro)))
    return moments


class _Ledger:
    """The in-memory books: applies movements in time order under the service layer's rules."""

    def __init__(
        self, rng: random.Random, seed: int, accounts: list[_Account], terminals: list[Terminal], labels: Labels
    ) -> None:
        self.rng, self.seed, self.accounts, self.labels = rng, seed, accounts, labels
        self.atms = [i for i, t in enumerate(terminals) if t.kind == Terminal.Kind.ATM]
        self.branches = [i for i, t in enumerate(terminals) if t.kind == Terminal.Kind.BRANCH]
        self.checking = [i for i, a in enumerate(accounts) if a.kind == Account.Kind.CHECKING]
        self.entries: list[_Entry] = []
        self._numbers = itertools.count(1)

    def _key(self) -> str:
        return f"{self.labels.key}:{self.seed}:{next(self._numbers)}"

    def _reference(self) -> str:
        return f"{self.rng.getrandbits(64):016X}"

    def _post(self, index: int, kind: str, delta: int, at: datetime.datetime, place: tuple[str, int | None],
              reference: str, key: str, counterparty: int | None = None) -> None:
        """Apply `delta` to one account and record its entry; the balance can never go below zero."""
        account = self.accounts[index]
        try:
            account.balance = rules.balance_after(account.balance, delta)
        except InsufficientFunds as exc:
            raise DemoDataError(f"Simulation bug: entry {key} would overdraw account {account.number}.") from exc
        self.entries.append(_Entry(index, kind, delta, account.balance, at, place[0], place[1],
                                   reference, key, counterparty))

    def place(self, account: int, weights: tuple[int, int, int]) -> tuple[str, int | None]:
        """Draw a channel (atm, branch, online by weight) and its terminal; ATMs near home are favoured."""
        channel = self.rng.choices((Channel.ATM, Channel.BRANCH, Channel.ONLINE), weights=weights)[0]
        if channel == Channel.ONLINE:
            return channel, None
        if channel == Channel.BRANCH:
            return channel, self.rng.choice(self.branches)
        home = self.accounts[account].home_atms
        return channel, self.rng.choice(home if home and self.rng.random() < 0.8 else self.atms)

    def open_all(self) -> None:
        """Post every account's opening deposit at a branch, oldest account first."""
        for index in sorted(range(len(self.accounts)), key=lambda i: self.accounts[i].opened_at):
            median = 150_000 if self.accounts[index].kind == Account.Kind.CHECKING else 800_000
            amount = min(int(self.rng.lognormvariate(math.log(median), 0.8)), 10**9) // 100 * 100 + 100
            at = self.accounts[index].opened_at + datetime.timedelta(minutes=5)
            place = (Channel.BRANCH, self.rng.choice(self.branches))
            self._post(index, Kind.DEPOSIT, amount, at, place, self._reference(), self._key())

    def deposit(self, index: int, at: datetime.datetime) -> None:
        """Deposit cash: whole 5.00 notes at an ATM, any amount at a branch."""
        place = self.place(index, (60, 40, 0))
        amount = min(max(int(self.rng.lognormvariate(math.log(15_000), 0.9)), 500), 500_000)
        amount = amount // 500 * 500 if place[0] == Channel.ATM else amount
        self._post(index, Kind.DEPOSIT, amount, at, place, self._reference(), self._key())

    def withdraw(self, index: int, at: datetime.datetime) -> bool:
        """Withdraw whole notes within balance and the local day's remaining limit; False when nothing can be paid."""
        account, note, day = self.accounts[index], settings.ATM_SMALLEST_NOTE_MINOR, rules.local_day(at)
        wanted = max(note, self.rng.choice(WITHDRAWAL_EUROS) * 100 // note * note)
        limit_left = rules.daily_limit_left(daily_limit_minor=account.limit,
                                            withdrawn_today_minor=account.withdrawn.get(day, 0))
        amount = min(wanted, rules.withdrawal_room(balance_minor=account.balance, limit_left_minor=limit_left,
                                                   note_minor=note))
        if amount <= 0:
            return False
        account.withdrawn[day] = account.withdrawn.get(day, 0) + amount
        self._post(index, Kind.WITHDRAWAL, -amount, at, self.place(index, (90, 10, 0)), self._reference(), self._key())
        return True

    def transfer(self, source: int, target: int, median: int, at: datetime.datetime) -> bool:
        """Move money as two legs with one reference; False when the source is empty."""
        amount = min(max(int(self.rng.lognormvariate(math.log(median), 1.0)), 100), self.accounts[source].balance)
        if amount <= 0 or source == target:
            return False
        place, reference, key = self.place(source, (20, 10, 70)), self._reference(), self._key()
        self._post(source, Kind.TRANSFER_OUT, -amount, at, place, reference, key, counterparty=target)
        self._post(target, Kind.TRANSFER_IN, amount, at, place, reference, rules.transfer_in_key(key),
                   counterparty=source)
        return True


def _transfer(ledger: _Ledger, rng: random.Random, source: int, at: datetime.datetime) -> bool:
    """Transfer to or from the customer's own savings, or to another customer's checking account."""
    savings = ledger.accounts[source].savings
    roll = rng.random()
    if savings is not None and roll < 0.25:
        return ledger.transfer(source, savings, 20_000, at)
    if savings is not None and roll < 0.35:
        return ledger.transfer(savings, source, 30_000, at)
    if len(ledger.checking) < 2:
        return False
    return ledger.transfer(source, rng.choice(ledger.checking), 5_000, at)


def _operate(ledger: _Ledger, rng: random.Random, actor: int, at: datetime.datetime) -> None:
    """Run one operation of `actor`; one that cannot go through becomes a deposit, so the count holds."""
    roll = rng.random()
    done = (roll < WITHDRAWAL_SHARE and ledger.withdraw(actor, at)) or (
        roll >= WITHDRAWAL_SHARE + DEPOSIT_SHARE and _transfer(ledger, rng, actor, at)
    )
    if not done:
        ledger.deposit(actor, at)


def _actors(ledger: _Ledger, rng: random.Random, count: int) -> list[int]:
    """Draw who acts for `count` operations: a few customers are far busier than most."""
    weights = list(itertools.accumulate(rng.lognormvariate(0, 1) for _ in ledger.checking))
    return rng.choices(ledger.checking, cum_weights=weights, k=count) if count else []


def _simulate(
    ledger: _Ledger, rng: random.Random, moments: list[tuple[datetime.date, datetime.datetime]], bar: tqdm
) -> None:
    """Run one operation per moment, in time order."""
    for (_day, at), actor in zip(moments, _actors(ledger, rng, len(moments)), strict=True):
        _operate(ledger, rng, actor, at)
        bar.update(1)
    bar.close()


def _slot_sizes(rng: random.Random, total: int) -> list[int]:
    """Split `total` entries into operation slots of 1 entry or 2 (a transfer's two legs), summing exactly to `total`.

    A slot is a transfer with the share transfers have among operations (1 - withdrawals - deposits).
    """
    transfer_share = 1 - WITHDRAWAL_SHARE - DEPOSIT_SHARE
    sizes: list[int] = []
    left = total
    while left > 0:
        size = 2 if left >= 2 and rng.random() < transfer_share else 1
        sizes.append(size)
        left -= size
    return sizes


def _simulate_entries(
    ledger: _Ledger, rng: random.Random, first_day: datetime.date, days: int, total: int
) -> None:
    """Post exactly `total` entries spread over all `days`, in time order.

    Each slot is drawn first as one entry (a withdrawal, or a deposit when no cash can be paid) or
    two (a transfer; when the source is empty, two deposits), so the count holds without running
    out of entries before the last day.
    """
    sizes = _slot_sizes(rng, total)
    moments = _event_times(rng, len(sizes), first_day, days)
    for size, (_day, at), actor in zip(sizes, moments, _actors(ledger, rng, len(sizes)), strict=True):
        if size == 1:
            if not (rng.random() < WITHDRAWAL_SHARE / (WITHDRAWAL_SHARE + DEPOSIT_SHARE) and ledger.withdraw(actor, at)):
                ledger.deposit(actor, at)
        elif not _transfer(ledger, rng, actor, at):
            ledger.deposit(actor, at)
            ledger.deposit(actor, at)


def _write(
    people: list[dict[str, object]], accounts: list[_Account], cards: list[_CardSpec],
    terminals: list[Terminal], entries: list[_Entry], *, progress: bool = False, copy: bool = False,
) -> None:
    """Write everything in one transaction: all of it or nothing."""
    with transaction.atomic():
        Terminal.objects.bulk_create(terminals, batch_size=BATCH_SIZE)
        customers = Customer.objects.bulk_create([Customer(**person) for person in people], batch_size=BATCH_SIZE)
        rows = Account.objects.bulk_create([
            Account(customer=customers[a.customer], number=a.number, kind=a.kind, currency=settings.ATM_CURRENCY,
                    balance_minor=a.balance, daily_withdrawal_limit_minor=a.limit, opened_at=a.opened_at)
            for a in accounts
        ], batch_size=BATCH_SIZE)
        Card.objects.bulk_create([_card_row(card, rows) for card in cards], batch_size=BATCH_SIZE)
        write = _copy_entries if copy else _write_entries
        write(entries, [row.pk for row in rows], [t.pk for t in terminals], progress)


def _card_row(card: _CardSpec, rows: list[Account]) -> Card:
    blocked_at = None
    if card.status == Card.Status.BLOCKED:
        blocked_at = min(card.issued_at + datetime.timedelta(days=30), timezone.now())
    return Card(
        account=rows[card.account], pan_hmac=pan_fingerprint(card.pan), bin=card.pan[:6], last4=card.pan[-4:],
        network=network_for_pan(card.pan), expiry=_card_expiry(card.issued_at.date()), status=card.status,
        pin_hash=card.pin_hash, must_change_pin=card.must_change_pin, issued_at=card.issued_at, blocked_at=blocked_at,
    )


def _write_entries(entries: list[_Entry], account_pks: list[int], terminal_pks: list[int], progress: bool) -> None:
    """Insert the entries in time order (so pk order matches time order) in batches."""
    with tqdm(total=len(entries), desc="writing", unit="entry", disable=not progress, leave=False,
              mininterval=0.5) as bar:
        for start in range(0, len(entries), BATCH_SIZE):
            batch = [_entry_row(e, account_pks, terminal_pks) for e in entries[start:start + BATCH_SIZE]]
            LedgerEntry.objects.bulk_create(batch)
            bar.update(len(batch))


ENTRY_COLUMNS = ("account_id", "kind", "amount_minor", "balance_after_minor", "created_at", "channel", "terminal_id",
                 "reference", "idempotency_key", "counterparty_id", "reason")


def _copy_entries(entries: list[_Entry], account_pks: list[int], terminal_pks: list[int], progress: bool) -> None:
    """Insert the entries in time order with PostgreSQL's COPY: the fast path for millions of entries."""
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {LedgerEntry._meta.db_table} ({', '.join(ENTRY_COLUMNS)}) FROM STDIN"
    ) as copy:
        for entry in entries:
            copy.write_row((
                account_pks[entry.account], entry.kind, entry.amount, entry.balance_after, entry.at, entry.channel,
                None if entry.terminal is None else terminal_pks[entry.terminal], entry.reference, entry.key,
                None if entry.counterparty is None else account_pks[entry.counterparty], "",
            ))


def _entry_row(entry: _Entry, account_pks: list[int], terminal_pks: list[int]) -> LedgerEntry:
    return LedgerEntry(
        account_id=account_pks[entry.account], kind=entry.kind, amount_minor=entry.amount,
        balance_after_minor=entry.balance_after, created_at=entry.at, channel=entry.channel,
        terminal_id=None if entry.terminal is None else terminal_pks[entry.terminal],
        reference=entry.reference, idempotency_key=entry.key,
        counterparty_id=None if entry.counterparty is None else account_pks[entry.counterparty],
    )


def _shown_cards(cards: list[_CardSpec], accounts: list[_Account]) -> tuple[DemoCard, ...]:
    """Return the active cards without a pending PIN change on the best-funded accounts."""
    usable = [card for card in cards if card.status == Card.Status.ACTIVE and not card.must_change_pin]
    usable.sort(key=lambda card: -accounts[card.account].balance)
    shown: dict[int, DemoCard] = {}
    for card in usable:
        if len(shown) < SHOWN_CARDS and card.account not in shown:
            shown[card.account] = DemoCard(pan=card.pan, pin=card.pin)
    return tuple(shown.values())

