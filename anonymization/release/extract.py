"""Extract a source table from the database as a column-oriented DataFrame, streaming in chunks.

Joins and aggregations run in SQL; ledger entries are read through a server-side cursor
(`.values_list(...).iterator(chunk_size)`) as plain tuples and packed chunk by chunk into numpy
arrays, so a million entries cost tens of megabytes rather than a million model instances. Text
columns become pandas categoricals. Rows carry their customer in the INDIVIDUAL column (an int
code, not the database id), which is used to count k over customers and is never written out.

A release reads an increment (release/increments.py): the entries of its window (local days from
`since` to `as_of`) plus the entries held back from earlier nights (`held_ids`). For transaction
releases the extraction keeps each row's entry id and local day aside (never in the frame), for
hold-back; customer releases aggregate the window's entries, with balances as of the as-of date.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import BigIntegerField, Count, Func, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Account, Card, Customer
from transactions.models import LedgerEntry

from ..policy.catalog import INDIVIDUAL, catalog_for

CHUNK_SIZE = 50_000
HELD_BATCH = 500  # ids per IN (...) query: well below SQLite's limit on query parameters
ENTRY = "__entry__"
ENTRY_DAY = "__entry_day__"
NO_CARD = "none"
QUARTER_HOUR = 900
ProgressCallback = Callable[[int], None]


class EpochSeconds(Func):
    """Seconds since 1970-01-01 UTC of a timestamp column, computed by the database."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Four percent signs: one level for the template, one for the backend's placeholder rewrite.
        return self.as_sql(compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)")


@dataclass(frozen=True)
class Scope:
    """Which entries a release reads: its window [start, end) plus held-back entries by id."""

    end: datetime.datetime
    start: datetime.datetime | None = None
    held_ids: tuple[int, ...] = ()

    def window(self) -> Q:
        """Return the filter of the window's entries (on the posting timestamp)."""
        return Q(created_at__lt=self.end) & (Q(created_at__gte=self.start) if self.start else Q())


@dataclass(frozen=True)
class Extraction:
    """The extracted rows: released columns plus the in-memory customer code column.

    `entries` and `entry_days` (transaction sources) are row-aligned and never written out.
    """

    source: str
    as_of: datetime.date
    frame: pd.DataFrame
    entries: np.ndarray | None = None
    entry_days: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.frame)


def cutoff_for(as_of: datetime.date) -> datetime.datetime:
    """Return the first instant after the as-of date, in the bank's time zone."""
    return timezone.make_aware(datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time.min))


def _age_at(birth_dates: list[datetime.date], as_of: datetime.date) -> np.ndarray:
    return np.array([as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day)) for b in birth_dates],
                    dtype=np.int16)


def _first_cards() -> dict[int, tuple[str, str]]:
    """Return each account's first card (lowest id) as (BIN, network), read in one ordered pass."""
    first: dict[int, tuple[str, str]] = {}
    cards = Card.objects.order_by("account_id", "pk").values_list("account_id", "bin", "network")
    for account_id, bin_, network in cards.iterator(chunk_size=CHUNK_SIZE):
        first.setdefault(account_id, (bin_, network))
    return first


def _cards_by_account() -> pd.DataFrame:
    """Return each account's customer id and its first card's BIN and network ("none" without a card)."""
    rows = list(Account.objects.order_by("pk").values_list("pk", "customer_id"))
    ids, customers = zip(*rows, strict=True) if rows else ((), ())
    cards = _first_cards()
    found = [cards.get(account, (NO_CARD, NO_CARD)) for account in ids]
    return pd.DataFrame({
        "customer": np.array(customers, dtype=np.int64),
        "card_number": pd.Categorical([bin_ for bin_, _ in found]),
        "card_network": pd.Categorical([network for _, network in found]),
    }, index=pd.Index(np.array(ids, dtype=np.int64), name="account"))


def _batched(iterator: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


_ENTRY_FIELDS = ("pk", "account_id", "epoch", "kind", "amount_minor", "balance_after_minor", "channel")
_ENTRY_CATEGORIES = {"kind": list(LedgerEntry.Kind.values), "channel": list(LedgerEntry.Channel.values)}


def _pack(name: str, values: tuple) -> np.ndarray:
    if name in _ENTRY_CATEGORIES:
        return pd.Categorical(values, categories=_ENTRY_CATEGORIES[name]).codes
    return np.fromiter(values, dtype=np.int64, count=len(values))


def _entry_querysets(scope: Scope) -> list[QuerySet]:
    """Return the window's entries, then the held-back entries in batches of ids (outside the window)."""
    window = scope.window()
    held = sorted(scope.held_ids)
    batches = [LedgerEntry.objects.filter(pk__in=held[i:i + HELD_BATCH]).exclude(window)
               for i in range(0, len(held), HELD_BATCH)]
    return [LedgerEntry.objects.filter(window), *batches]


def _entry_arrays(scope: Scope, progress: ProgressCallback) -> dict[str, np.ndarray]:
    """Stream the scope's entries into one numpy array per field (with "pk"), ordered by entry id.

    The arrays are sized by a count of the entries first and filled chunk by chunk (grown if more
    entries arrive than were counted), so ten million entries never sit in memory as many small
    chunks as well; each field is reordered on its own, so at most one field is held twice.
    """
    querysets = _entry_querysets(scope)
    expected = sum(entries.order_by().count() for entries in querysets)
    arrays = {name: np.zeros(expected, dtype=np.int8 if name in _ENTRY_CATEGORIES else np.int64)
              for name in _ENTRY_FIELDS}
    done = 0
    for entries in querysets:
        queryset = entries.order_by().values_list(
            "pk", "account_id", EpochSeconds("created_at"), "kind", "amount_minor", "balance_after_minor", "channel")
        for chunk in _batched(queryset.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
            if done + len(chunk) > len(arrays["pk"]):
                arrays = {name: np.resize(array, max(2 * len(array), done + len(chunk)))
                          for name, array in arrays.items()}
            for name, values in zip(_ENTRY_FIELDS, zip(*chunk, strict=True), strict=True):
                arrays[name][done:done + len(chunk)] = _pack(name, values)
            done += len(chunk)
            progress(done)
    arrays = {name: array[:done] for name, array in arrays.items()}
    ids = arrays["pk"]
    if len(ids) > 1 and not bool(np.all(np.diff(ids) > 0)):  # a sequential scan usually returns them in order
        order = np.argsort(ids, kind="stable")
        for name in _ENTRY_FIELDS:
            arrays[name] = arrays[name][order]
    return arrays


def _local_days(epoch: np.ndarray) -> np.ndarray:
    """Return each epoch second's local calendar day (datetime64[D]), converting each distinct quarter hour
    once (every time zone's offset is a whole number of quarter hours)."""
    quarters, rows = np.unique(epoch // QUARTER_HOUR, return_inverse=True)
    stamps = pd.to_datetime(quarters * QUARTER_HOUR, unit="s", utc=True).tz_convert(settings.TIME_ZONE)
    return stamps.tz_localize(None).to_numpy().astype("datetime64[D]")[rows.reshape(-1)]


def _entry_codes(arrays: dict[str, np.ndarray], name: str) -> pd.Categorical:
    return pd.Categorical.from_codes(arrays[name], categories=_ENTRY_CATEGORIES[name])


def _transactions(as_of: datetime.date, columns: list[str], progress: ProgressCallback, scope: Scope) -> pd.DataFrame:
    """Return one row per ledger entry of the scope, joined to its customer and its account's card.

    The frame is built column by column and each entry array is let go once its columns are made, so
    ten million entries never sit in memory as the arrays and the whole frame at once.
    """
    arrays = _entry_arrays(scope, progress)
    accounts = _cards_by_account()
    account_rows = _row_numbers(accounts.index.get_indexer(arrays.pop("account_id")))
    people = _people(as_of)
    person_rows = _row_numbers(people.index.get_indexer(accounts["customer"].to_numpy()[account_rows]))
    days = _local_days(arrays.pop("epoch"))
    makers: dict[str, Callable[[], object]] = {
        "age": lambda: people["age"].to_numpy()[person_rows],
        "gender": lambda: people["gender"].take(person_rows).array,
        "postal_code": lambda: people["postal_code"].take(person_rows).array,
        "card_network": lambda: accounts["card_network"].take(account_rows).array,
        "card_number": lambda: accounts["card_number"].take(account_rows).array,
        "transaction_date": lambda: days.astype("datetime64[ns]"),
        "amount": lambda: arrays.pop("amount_minor") / 100.0,
        "balance_after": lambda: arrays.pop("balance_after_minor") / 100.0,
        "kind": lambda: _entry_codes(arrays, "kind"),
        "channel": lambda: _entry_codes(arrays, "channel"),
    }
    frame = pd.DataFrame(index=pd.RangeIndex(len(days)))
    for name in columns:
        frame[name] = makers[name]()
    frame[INDIVIDUAL] = person_rows.astype(np.int32, copy=False)
    frame[ENTRY] = _row_numbers(arrays.pop("pk"))  # entry ids: int32 while they fit
    frame[ENTRY_DAY] = days
    return frame


def _row_numbers(rows: np.ndarray) -> np.ndarray:
    """Return looked-up row numbers or ids (non-negative) as int32 when they fit: half the memory of int64 at
    ten million."""
    return rows.astype(np.int32) if len(rows) and rows.max() < np.iinfo(np.int32).max else rows


def _people(as_of: datetime.date) -> pd.DataFrame:
    """Return one row per customer: age at the as-of date, gender, postal code; indexed by customer id."""
    rows = list(Customer.objects.order_by("pk").values_list("pk", "birth_date", "gender", "postal_code"))
    ids, births, genders, postal = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame({
        "age": _age_at(list(births), as_of), "gender": pd.Categorical(genders),
        "postal_code": pd.Categorical(postal),
    }, index=pd.Index(np.array(ids, dtype=np.int64), name="customer"))


def _customer_totals(scope: Scope) -> pd.DataFrame:
    """Return per customer with entries in the window: entry count, credits, debits, and balance at its end."""
    window = scope.window()
    entries = LedgerEntry.objects.filter(created_at__lt=scope.end).order_by().values("account__customer_id").annotate(
        n=Count("pk", filter=window), credits=Sum("amount_minor", filter=window & Q(amount_minor__gt=0), default=0),
        debits=Sum("amount_minor", filter=window & Q(amount_minor__lt=0), default=0),
        net=Sum("amount_minor")).filter(n__gt=0)
    opening = dict(Account.objects.order_by().values("customer_id").annotate(total=Sum("opening_balance_minor"))
                   .values_list("customer_id", "total"))
    rows = [(e["account__customer_id"], e["n"], e["credits"], -e["debits"], opening.get(e["account__customer_id"], 0)
             + e["net"]) for e in entries.iterator(chunk_size=CHUNK_SIZE)]
    frame = pd.DataFrame(rows, columns=["customer", "transactions", "deposits_total", "withdrawals_total", "balance"])
    for name in ("deposits_total", "withdrawals_total", "balance"):
        frame[name] = frame[name].astype(np.int64) / 100.0
    return frame.set_index("customer").sort_index()


def _first_card_by_customer() -> pd.DataFrame:
    """Return each customer's first card (the lowest card id over their accounts)."""
    accounts = dict(Account.objects.values_list("pk", "customer_id"))
    first: dict[int, tuple[int, str, str]] = {}
    cards = Card.objects.order_by("pk").values_list("pk", "account_id", "bin", "network")
    for pk, account_id, bin_, network in cards.iterator(chunk_size=CHUNK_SIZE):
        first.setdefault(accounts[account_id], (pk, bin_, network))
    ids = sorted(first)
    return pd.DataFrame({"card_number": pd.Categorical([first[c][1] for c in ids]),
                         "card_network": pd.Categorical([first[c][2] for c in ids])},
                        index=pd.Index(np.array(ids, dtype=np.int64), name="customer"))


def _customers(as_of: datetime.date, columns: list[str], progress: ProgressCallback, scope: Scope) -> pd.DataFrame:
    """Return one row per customer with ledger activity in the window, with aggregates."""
    totals = _customer_totals(scope)
    progress(len(totals))
    people = _people(as_of).join(_first_card_by_customer()).reindex(totals.index)
    for name in ("card_number", "card_network"):
        people[name] = people[name].cat.add_categories([NO_CARD]).fillna(NO_CARD)
    frame = pd.concat([people, totals], axis=1)[columns].reset_index(drop=True)
    frame[INDIVIDUAL] = np.arange(len(frame), dtype=np.int32)
    return frame


_SOURCES: dict[str, Callable[[datetime.date, list[str], ProgressCallback, Scope], pd.DataFrame]] = {
    "transactions": _transactions, "customers": _customers,
}


def extract(*, source: str, as_of: datetime.date, columns: list[str], progress: ProgressCallback | None = None,
            since: datetime.date | None = None, held_ids: tuple[int, ...] = ()) -> Extraction:
    """Extract the source table's `columns` for the local days `since`..`as_of` (default: all up to `as_of`).

    Transaction sources also read the held-back entries `held_ids`, wherever their day lies.
    """
    unknown = [name for name in columns if name not in catalog_for(source)]
    if unknown:
        raise ValueError(f"Unknown columns for the {source} source: {', '.join(unknown)}.")
    scope = Scope(end=cutoff_for(as_of), held_ids=tuple(held_ids),
                  start=cutoff_for(since - datetime.timedelta(days=1)) if since else None)
    frame = _SOURCES[source](as_of, list(columns), progress or (lambda _done: None), scope)
    entries = frame.pop(ENTRY).to_numpy() if ENTRY in frame else None
    days = frame.pop(ENTRY_DAY).to_numpy() if ENTRY_DAY in frame else None
    return Extraction(source=source, as_of=as_of, frame=frame, entries=entries, entry_days=days)
