"""The database side of a money movement, in as few round trips to the database as it allows.

transactions.services decides (the rules, idempotency, the order of things); this module reads
and writes. A withdrawal needs, inside its transaction:
1. the account rows locked (SELECT ... FOR UPDATE, ascending pk), then, *after* the lock is held,
2. whether the idempotency key was used already and what was withdrawn today, and
3. the new balance written, the ledger entry appended and today's withdrawn total written.

Each of these was one or two statements, each a round trip to the server, and on these machines
the round trips were most of a withdrawal's time (benchmarks/atm_throughput.py prints the count).
Summing the day's withdrawal entries was the other cost: it grew with every withdrawal of the
day on the account. Today's total is now one row of DailyWithdrawal per account and day, read
and written under the account's lock (a day without its row is summed from the ledger once).

On PostgreSQL, BEGIN, 1 and 2 travel together in one round trip (psycopg's pipeline mode): in
READ COMMITTED each statement takes its own snapshot, and the server starts the second only once
the first holds the locks, so it sees whatever the transaction we waited for committed (its entry
with the same key, its withdrawal). A transfer's target is locked by its account number in the
same statement, so it needs no look-up of its own (an ATM transfer's daily limit reads the day's ATM
transfers out of the source in the same read). 3 is one statement: the UPDATE of the
balances and the upsert of the day's total inside a WITH, and the INSERT of the entries (both
legs of a transfer too). With COMMIT, a withdrawal or a transfer is three round trips (it was
seven and nine). The balances are still computed under the lock by transactions.rules, the CHECK
constraints still refuse a negative balance, and the ledger is only ever inserted into.

The statements are bound on the server, so PostgreSQL keeps each as a prepared statement of the
connection (settings: prepare_threshold, DATABASE_PREPARED_STATEMENTS) and plans it once: the
account lock names each account with a placeholder of its own rather than an array, for which the
server re-planned at every execution.

Other databases (SQLite in development and in most tests) run the same steps through the ORM,
one query each.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Q, Sum

from accounts.models import Account

from . import rules
from .models import DailyWithdrawal, LedgerEntry


@dataclass(frozen=True)
class Locked:
    """What was read under the account locks: the accounts, whether the key is used, the day's withdrawals,
    and the day's ATM entries of the kind asked for (a transfer's daily limit)."""

    accounts: dict[int, Account]
    key_used: bool
    withdrawn_minor: int = 0
    atm_total_minor: int = 0


@dataclass(frozen=True)
class Leg:
    """One account's part of a movement: its locked row, the entry's kind, the signed amount, other fields.

    `withdrawn` is (local day, that day's withdrawals including this leg) for a withdrawal leg.
    """

    account: Account
    kind: str
    delta: int
    new_balance: int
    fields: dict[str, object] = field(default_factory=dict)
    withdrawn: tuple[datetime.date, int] | None = None


def _fast() -> bool:
    """True on PostgreSQL with a libpq that has pipeline mode (several statements in one round trip)."""
    return connection.vendor == "postgresql" and _pipeline_supported()


@cache
def _pipeline_supported() -> bool:
    return psycopg.Pipeline.is_supported()


def _cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """Return a server-side-binding cursor in Django's wrapper (errors, query log).

    Django's own cursors bind parameters on the client, quoting every value into the SQL text in
    Python; these send the values apart from the statement (no quoting, and pipeline mode needs it).
    """
    db.ensure_connection()
    raw: Any = psycopg.Cursor(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


@cache
def _account_sql(by_pk: int, by_number: int) -> tuple[str, tuple[str, ...]]:
    """Return the locking SELECT of `by_pk` accounts by pk and `by_number` by number (every concrete column,
    ascending pk) and the attribute names in its order.

    One placeholder per value (no arrays): the server then plans the prepared statement once for good
    (a generic plan) instead of again at every execution.
    """
    fields = Account._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    table, pk = quote(Account._meta.db_table), quote(Account._meta.pk.column)
    matches = [f"{pk} = %s"] * by_pk + [f"{quote('number')} = %s"] * by_number
    sql = f"SELECT {columns} FROM {table} WHERE {' OR '.join(matches) or 'FALSE'} ORDER BY {pk} FOR UPDATE"
    return sql, tuple(f.attname for f in fields)


@cache
def _ledger_read_sql() -> tuple[str, str]:
    """Return the key lookup, and an account's withdrawals on a day: its DailyWithdrawal row, else the ledger's sum."""
    quote = connection.ops.quote_name
    ledger, daily = quote(LedgerEntry._meta.db_table), quote(DailyWithdrawal._meta.db_table)
    key = f"EXISTS (SELECT 1 FROM {ledger} WHERE {quote('idempotency_key')} = %s)"
    # COALESCE stops at the row when there is one: the ledger is summed only for a day without a row.
    withdrawn = (f"COALESCE((SELECT {quote('withdrawn_minor')} FROM {daily} WHERE {quote('account_id')} = %s "
                 f"AND {quote('day')} = %s), (SELECT -COALESCE(SUM({quote('amount_minor')}), 0) FROM {ledger} "
                 f"WHERE {quote('account_id')} = %s AND {quote('kind')} = %s AND {quote('created_at')} >= %s))")
    return key, withdrawn


@cache
def _atm_total_sql() -> str:
    """Return the sum of an account's ATM entries of one kind since a moment, as a positive number."""
    quote = connection.ops.quote_name
    return (f"(SELECT ABS(COALESCE(SUM({quote('amount_minor')}), 0)) FROM {quote(LedgerEntry._meta.db_table)} "
            f"WHERE {quote('account_id')} = %s AND {quote('kind')} = %s AND {quote('channel')} = %s "
            f"AND {quote('created_at')} >= %s)")


def atm_total_on_minor(account_id: int, kind: str, now: datetime.datetime) -> int:
    """Return the account's ATM-channel entries of `kind` on the local day of `now`, summed, as a positive number."""
    total = LedgerEntry.objects.filter(
        account_id=account_id, kind=kind, channel=LedgerEntry.Channel.ATM, created_at__gte=rules.local_day_start(now)
    ).aggregate(total=Sum("amount_minor"))["total"]
    return abs(total or 0)


def withdrawn_on_minor(account_id: int, now: datetime.datetime) -> int:
    """Return the account's withdrawals on the local day of `now`, as a positive number."""
    row = DailyWithdrawal.objects.filter(account_id=account_id, day=rules.local_day(now)).values_list(
        "withdrawn_minor", flat=True).first()
    if row is not None:
        return row
    total = LedgerEntry.objects.filter(
        account_id=account_id, kind=LedgerEntry.Kind.WITHDRAWAL, created_at__gte=rules.local_day_start(now)
    ).aggregate(total=Sum("amount_minor"))["total"]
    return -(total or 0)


def lock_and_read(
    account_ids: Iterable[int], *, idempotency_key: str, numbers: Iterable[str] = (),
    withdrawals_of: int | None = None, atm_total_of: tuple[int, str] | None = None,
    now: datetime.datetime | None = None,
) -> Locked:
    """Lock the accounts (by pk, or by account number) in ascending pk order, then read whether the key is
    used (and `withdrawals_of`'s withdrawals on the local day of `now`; with `atm_total_of` = (account
    pk, entry kind), that account's ATM entries of that kind on that day, see atm_total_on_minor).

    Accounts not found are simply absent from `accounts`. Runs inside the caller's transaction.
    """
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs a context lookup per attribute
    if not db.in_atomic_block:
        raise RuntimeError("lock_and_read locks rows until the transaction ends: call it inside transaction.atomic()")
    ids, numbers = sorted(set(account_ids)), sorted(set(numbers))
    if not _fast():
        locked = Account.objects.select_for_update().filter(Q(pk__in=ids) | Q(number__in=numbers)).order_by("pk")
        accounts = {a.pk: a for a in locked}
        used = LedgerEntry.objects.filter(idempotency_key=idempotency_key).exists()
        withdrawn = withdrawn_on_minor(withdrawals_of, now) if withdrawals_of is not None and now else 0
        atm_total = atm_total_on_minor(*atm_total_of, now) if atm_total_of is not None and now else 0
        return Locked(accounts, used, withdrawn, atm_total)
    lock_sql, attnames = _account_sql(len(ids), len(numbers))
    key_sql, withdrawn_sql = _ledger_read_sql()
    params: list[Any] = [idempotency_key]
    read_sql = f"SELECT {key_sql}, "
    if withdrawals_of is not None and now is not None:
        read_sql += withdrawn_sql
        day_start = rules.local_day_start(now)
        params += [withdrawals_of, day_start.date(), withdrawals_of, LedgerEntry.Kind.WITHDRAWAL.value, day_start]
    else:
        read_sql += "0"
    if atm_total_of is not None and now is not None:
        read_sql += ", " + _atm_total_sql()
        params += [atm_total_of[0], atm_total_of[1], LedgerEntry.Channel.ATM.value, rules.local_day_start(now)]
    else:
        read_sql += ", 0"
    # Two statements (and psycopg's BEGIN) in one round trip: the server runs the second, with a
    # fresh snapshot, only once the first holds the locks.
    with _cursor(db) as lock, _cursor(db) as read, db.wrap_database_errors, db.connection.pipeline():
        lock.execute(lock_sql, [*ids, *numbers])
        read.execute(read_sql, params)
        rows = lock.fetchall()
        used, withdrawn_total, atm_total = read.fetchone()
    accounts = {row[0]: Account.from_db(db.alias, attnames, row) for row in rows}
    return Locked(accounts, bool(used), int(withdrawn_total), int(atm_total))


@cache
def _ledger_insert_columns() -> tuple[tuple[str, ...], str]:
    """Return the ledger's concrete non-pk fields' attribute names and their quoted column list."""
    fields = [f for f in LedgerEntry._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    return tuple(f.attname for f in fields), ", ".join(quote(f.column) for f in fields)


@cache
def _ledger_fields() -> tuple[Field, ...]:
    return tuple(f for f in LedgerEntry._meta.concrete_fields if not f.primary_key)


def _db_values(entry: LedgerEntry, db: BaseDatabaseWrapper) -> list[object]:
    return [f.get_db_prep_save(f.pre_save(entry, True), db) for f in _ledger_fields()]


@cache
def _append_sql(legs: int, counted: int) -> str:
    """Return the one statement of `append` for this many legs and withdrawn totals."""
    quote = connection.ops.quote_name
    attnames, columns = _ledger_insert_columns()
    account_table, pk = quote(Account._meta.db_table), quote(Account._meta.pk.column)
    balance = quote("balance_minor")
    moved = ", ".join(["(%s::bigint, %s::bigint)"] * legs)
    row = "(" + ", ".join(["%s"] * len(attnames)) + ")"
    ctes = [f"moved AS (UPDATE {account_table} AS a SET {balance} = v.balance FROM (VALUES {moved}) "
            f"AS v(id, balance) WHERE a.{pk} = v.id)"]
    if counted:
        daily, total = quote(DailyWithdrawal._meta.db_table), quote("withdrawn_minor")
        ctes.append(
            f"counted AS (INSERT INTO {daily} ({quote('account_id')}, {quote('day')}, {total}) VALUES "
            + ", ".join(["(%s, %s, %s)"] * counted)
            + f" ON CONFLICT ({quote('account_id')}, {quote('day')}) DO UPDATE SET {total} = EXCLUDED.{total})")
    return (
        f"WITH {', '.join(ctes)} "
        f"INSERT INTO {quote(LedgerEntry._meta.db_table)} ({columns}) VALUES {', '.join([row] * legs)} "
        f"RETURNING {quote(LedgerEntry._meta.pk.column)}"
    )


def append(*legs: Leg) -> tuple[LedgerEntry, ...]:
    """Write each leg's new balance on its (locked) account and append its ledger entry; return the entries."""
    entries = tuple(LedgerEntry(account=leg.account, kind=leg.kind, amount_minor=leg.delta,
                                balance_after_minor=leg.new_balance, **leg.fields) for leg in legs)
    for leg in legs:
        leg.account.balance_minor = leg.new_balance
    counted = [(leg.account.pk, *leg.withdrawn) for leg in legs if leg.withdrawn is not None]
    if not _fast():
        for leg in legs:
            leg.account.save(update_fields=["balance_minor"])
        for entry in entries:
            entry.save()
        for account_id, day, total in counted:
            DailyWithdrawal.objects.update_or_create(account_id=account_id, day=day,
                                                     defaults={"withdrawn_minor": total})
        return entries
    db = connections[DEFAULT_DB_ALIAS]
    params: list[Any] = [value for leg in legs for value in (leg.account.pk, leg.new_balance)]
    params += [value for item in counted for value in item]
    for entry in entries:
        params += _db_values(entry, db)
    with _cursor(db) as cursor:
        cursor.execute(_append_sql(len(legs), len(counted)), params)
        ids = [pk_value for (pk_value,) in cursor.fetchall()]
    for entry, pk_value in zip(entries, ids, strict=True):
        entry.pk = pk_value
        entry._state.adding, entry._state.db = False, db.alias
    return entries
