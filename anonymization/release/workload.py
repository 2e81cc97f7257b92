"""The utility workload's column roles, by catalog kind (one definition for the release's figures and
for choosing a version's person levels).

Numbers are queried by ranges on their catalog Scale (`[low, high)`, `step`, `widths`), dates by
calendar month within the release's date domain, card numbers by their first digit (the network),
postal codes by their *region*: the shortest prefix that splits the domain's codes into at least
REGIONS groups (the first character would put every code of a one-city bank in one group), other
categories by value. A category's domain is the leaves of its hierarchy (the values the release
read), and the hierarchy's nodes read generalized labels.
"""

from __future__ import annotations

import datetime

import pandas as pd

from ..engine import CategoricalDomain, DateDomain, Hierarchy, NumericDomain
from ..engine.utility import MonthColumn, PrefixColumn, RangeColumn, ValueColumn, WorkloadColumn
from ..policy.catalog import CARD, CODE, DATE, NUMERIC, Column

REGIONS = 5
CARD_DIGITS = 1


def region_digits(values: tuple[str, ...]) -> int:
    """Return the shortest prefix length giving at least REGIONS distinct prefixes (the longest code's
    length when none does)."""
    longest = max((len(value) for value in values), default=1)
    for digits in range(1, longest + 1):
        if len({value[:digits] for value in values}) >= REGIONS:
            return digits
    return max(longest, 1)


def _categorical(hierarchy: Hierarchy | None, raw: pd.Series) -> CategoricalDomain:
    """Return a category's domain: its hierarchy's leaves and nodes, or its raw values without one."""
    if hierarchy is not None:
        return CategoricalDomain.from_hierarchy(hierarchy)
    return CategoricalDomain(tuple(str(value) for value in pd.unique(raw.astype(str))))


def column_role(column: Column, hierarchy: Hierarchy | None, raw: pd.Series,
                dates: tuple[datetime.date, datetime.date] | None) -> WorkloadColumn | None:
    """Return the workload role of a released column by its catalog kind (None: not queried)."""
    if column.kind == NUMERIC and column.scale is not None:
        scale = column.scale
        return RangeColumn(NumericDomain(scale.low, scale.high), step=scale.step, widths=scale.widths)
    if column.kind == DATE:
        return MonthColumn(DateDomain(dates[0], dates[1])) if dates is not None else None
    domain = _categorical(hierarchy, raw)
    if column.kind == CARD:
        return PrefixColumn(domain, digits=CARD_DIGITS)
    if column.kind == CODE:
        return PrefixColumn(domain, digits=region_digits(domain.values))
    return ValueColumn(domain)
