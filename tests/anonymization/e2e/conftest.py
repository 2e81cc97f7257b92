"""Fixtures of the whole-release tests: a bank with three nights to publish."""

from __future__ import annotations

import datetime

import pytest

from transactions.demo import population_generate as populate

NIGHT_1 = datetime.date(2025, 3, 30)
NIGHT_2 = datetime.date(2025, 3, 31)
NIGHT_3 = datetime.date(2025, 4, 1)


@pytest.fixture
def population(db):
    """150 customers, 3,000 entries over the 20 days up to the third night."""
    return populate(customers=150, entries=3_000, last_day=NIGHT_3, days=20, seed=11)
