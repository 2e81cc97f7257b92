"""Hold-back: entries a night's increment cannot release k-anonymously wait for a later night.

After the engine has anonymized an increment (the window's entries plus the entries still held
from earlier nights), every row it suppressed is either held back or suppressed for good: an
entry younger than ANONYMIZATION_MAX_HOLD_DAYS (today's as-of date minus the entry's local day)
is held and taken in again by the policy's next release; an older one is suppressed for good, so
no entry waits longer than the limit. The held set of a policy (HeldEntry rows) is replaced only
inside the transaction that publishes a release, so a release that fails, or whose worker dies,
neither loses nor duplicates held entries: the next run reads the same set again.

Local recoding uses the same limit ahead of time (`cannot_wait`): rows of a cell holding fewer
than k customers tonight are released only when they cannot wait any longer (with `*` in the
person columns); until then they are held, so that their cell can gather k customers and release
them with its labels (release/anonymize.py).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from ..models import HeldEntry

BATCH_SIZE = 5_000


@dataclass(frozen=True)
class Holdback:
    """What became of the rows the engine suppressed, and how many held entries were taken in."""

    held: dict[int, datetime.date]  # entry id -> the as-of date of the release that first held it
    suppressed: int
    carried: int


def max_hold_days() -> int:
    """Return for how many days (from an entry's local day) it may be held back."""
    return int(settings.ANONYMIZATION_MAX_HOLD_DAYS)


def held_entries(*, policy_id: int) -> dict[int, datetime.date]:
    """Return the entries the policy holds back, with the as-of date that first held each."""
    rows = HeldEntry.objects.filter(policy_id=policy_id).order_by().values_list("entry_id", "first_held_on")
    return dict(rows.iterator(chunk_size=BATCH_SIZE))


def _age(days: np.ndarray, as_of: datetime.date) -> np.ndarray:
    """Return each entry's age in days at `as_of` (from its local day)."""
    return (np.datetime64(as_of, "D") - days.astype("datetime64[D]")).astype(np.int64)


def cannot_wait(*, days: np.ndarray, as_of: datetime.date, max_days: int) -> np.ndarray:
    """Return which entries would be suppressed for good rather than held if not released tonight."""
    return _age(days, as_of) >= max_days


def hold_back(*, entries: np.ndarray | None, days: np.ndarray | None, kept: np.ndarray, rows: int,
              as_of: datetime.date, max_days: int, previously_held: dict[int, datetime.date]) -> Holdback:
    """Split the suppressed rows into held (young enough) and suppressed for good.

    `entries` and `days` (entry ids and local days, numpy datetime64[D]) are aligned with the
    anonymized rows; `kept` holds the positions of the released rows. Sources without entries
    (one row per customer) hold nothing back.
    """
    suppressed = np.ones(rows, dtype=bool)
    suppressed[kept] = False
    if entries is None or days is None:
        return Holdback(held={}, suppressed=int(suppressed.sum()), carried=0)
    young = suppressed & ~cannot_wait(days=days, as_of=as_of, max_days=max_days)
    held = {int(entry): previously_held.get(int(entry), as_of) for entry in entries[young]}
    carried = int(np.isin(entries, np.fromiter(previously_held, dtype=np.int64, count=len(previously_held))).sum())
    return Holdback(held=held, suppressed=int(suppressed.sum()) - len(held), carried=carried)


def record_held(*, policy_id: int, held: dict[int, datetime.date]) -> None:
    """Replace the policy's held entries with `held`; call inside the transaction that publishes."""
    HeldEntry.objects.filter(policy_id=policy_id).delete()
    HeldEntry.objects.bulk_create(
        [HeldEntry(policy_id=policy_id, entry_id=entry, first_held_on=first) for entry, first in sorted(held.items())],
        batch_size=BATCH_SIZE)
