"""Hold-back: which suppressed entries wait for a later night, and how a policy's held set is kept."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from anonymization.models import HeldEntry, ReleasePolicy
from anonymization.release.holdback import held_entries, hold_back, record_held

AS_OF = datetime.date(2025, 3, 31)
EARLIER = datetime.date(2025, 3, 29)


def _days(*values: str) -> np.ndarray:
    return np.array(values, dtype="datetime64[D]")


def test_it_holds_young_suppressed_entries_and_suppresses_old_ones():
    entries = np.array([10, 11, 12, 13, 14])
    days = _days("2025-03-31", "2025-03-25", "2025-03-24", "2025-03-31", "2025-03-30")
    result = hold_back(entries=entries, days=days, kept=np.array([0, 4]), rows=5, as_of=AS_OF, max_days=7,
                       previously_held={})
    # 11 is 6 days old (held), 12 is 7 days old (suppressed for good), 13 is today's (held).
    assert result.held == {11: AS_OF, 13: AS_OF}
    assert (result.suppressed, result.carried) == (1, 0)


def test_it_keeps_the_night_that_first_held_an_entry_and_counts_the_carried_ones():
    entries = np.array([20, 21, 22])
    days = _days("2025-03-29", "2025-03-29", "2025-03-31")
    result = hold_back(entries=entries, days=days, kept=np.array([1]), rows=3, as_of=AS_OF, max_days=7,
                       previously_held={20: EARLIER, 21: EARLIER})
    assert result.held == {20: EARLIER, 22: AS_OF}
    assert (result.suppressed, result.carried) == (0, 2)


def test_it_holds_nothing_back_with_a_zero_delay_or_without_entries():
    days = _days("2025-03-31", "2025-03-31")
    none = hold_back(entries=np.array([1, 2]), days=days, kept=np.array([], dtype=int), rows=2, as_of=AS_OF,
                     max_days=0, previously_held={})
    customers = hold_back(entries=None, days=None, kept=np.array([0]), rows=3, as_of=AS_OF, max_days=7,
                          previously_held={})
    assert (none.held, none.suppressed) == ({}, 2)
    assert (customers.held, customers.suppressed, customers.carried) == ({}, 2, 0)


@pytest.mark.django_db
def test_it_replaces_a_policys_held_set_and_leaves_other_policies_alone():
    nightly = ReleasePolicy.objects.get(name="Nightly transactions")
    other = ReleasePolicy.objects.create(name="Other", columns=["age"])
    HeldEntry.objects.create(policy=other, entry_id=5, first_held_on=EARLIER)
    record_held(policy_id=nightly.pk, held={1: EARLIER, 2: AS_OF})
    record_held(policy_id=nightly.pk, held={2: AS_OF, 3: AS_OF})
    assert held_entries(policy_id=nightly.pk) == {2: AS_OF, 3: AS_OF}
    assert held_entries(policy_id=other.pk) == {5: EARLIER}
