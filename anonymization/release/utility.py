"""What a release is worth, measured when it is made: the workload error and each column's survival.

The workload is the engine's fixed, documented one (`engine.utility`, docs/engine.md): 200 queries
drawn with seed 0, each COUNT(*) or, when the release has `amount`, SUM(amount) with probability
1/2, over 2-4 predicates on the released columns, kept when at least 20 raw rows satisfy it. Each
column's role and public domain come from the catalog, by kind (release/workload.py): numbers by
ranges on their Scale, dates by calendar month, card numbers by their first digit, postal codes by
region (the shortest prefix giving at least 5 groups), other categories by value.

It runs on the raw rows this release read (its increment: the window's entries plus those taken
in from earlier nights) against the rows it released; rows held back or suppressed are missing from
the release and count as error. Above SAMPLE_ROWS raw rows, the workload runs on SAMPLE_ROWS of them
drawn with a fixed seed (and the released rows they became), so it adds seconds at a million rows.
An increment too small to draw the workload (fewer than 20 rows match any query) records why.

Survival (`column_survival`, over every released row): the share of rows whose label is narrower
than the column's domain and the number of distinct labels. A column that is `*` in every row, or
has one value in every row, is a warning in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..engine import NumericDomain, column_survival, workload_error, workload_generate
from ..engine.utility import RangeColumn, WorkloadColumn, domains_of
from ..policy.catalog import catalog_for
from ..policy.spec import PolicySpec
from .anonymize import DateBounds, Outcome
from .workload import column_role

QUERIES = 200
SEED = 0
MIN_ROWS = 20
MEASURE = "amount"
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Workload:
    """The workload's columns (role and public domain) and its SUM measure, if any."""

    columns: dict[str, WorkloadColumn]
    measure: str | None
    measure_domain: NumericDomain | None


@dataclass(frozen=True)
class RawRows:
    """What the figures need of the raw rows the release read, taken before the search so the run can let
    the rest of them go: their number, the positions the workload runs on (`_sample`) with those rows'
    released columns (and the measure), and the whole column of each released column without a hierarchy
    (whose workload domain is its raw values)."""

    rows: int
    chosen: np.ndarray
    sample: pd.DataFrame
    unhierarchized: dict[str, pd.Series] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: pd.DataFrame, spec: PolicySpec) -> RawRows:
        """Return the rows' figures' part of the extracted frame `raw` under the policy."""
        chosen = _sample(len(raw))
        names = list(dict.fromkeys([*spec.columns, *([MEASURE] if MEASURE in raw.columns else [])]))
        with_hierarchy = {qi.column for qi in spec.class_hierarchies}
        return cls(rows=len(raw), chosen=chosen, sample=raw.iloc[chosen][names].reset_index(drop=True),
                   unhierarchized={name: raw[name] for name in spec.columns if name not in with_hierarchy})

    def column(self, name: str) -> pd.Series:
        """Return a released column's raw values: the whole column without a hierarchy, else the sample's."""
        return self.unhierarchized.get(name, self.sample[name])


def workload_for(spec: PolicySpec, outcome: Outcome, raw: RawRows, dates: DateBounds | None) -> Workload:
    """Return the workload's columns for the policy's released columns, built from the catalog (a column
    with a hierarchy takes its domain from it, one without from its raw values)."""
    catalog = catalog_for(spec.source)
    span = (dates.first, dates.last) if dates is not None else None
    roles = {name: column_role(catalog[name], outcome.hierarchies.get(name), raw.column(name), span)
             for name in spec.columns}
    columns = {name: role for name, role in roles.items() if role is not None}
    measure = MEASURE if isinstance(columns.get(MEASURE), RangeColumn) else None
    domain = columns[MEASURE].domain if measure else None
    return Workload(columns=columns, measure=measure, measure_domain=domain)  # type: ignore[arg-type]


def _sample(rows: int) -> np.ndarray:
    """Return the raw positions the workload runs on: all of them, or SAMPLE_ROWS drawn with a fixed seed."""
    if rows <= SAMPLE_ROWS:
        return np.arange(rows)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(rows, size=SAMPLE_ROWS, replace=False))


def workload_figures(raw: RawRows, outcome: Outcome, workload: Workload) -> dict[str, Any]:
    """Return the workload's mean and median error on the raw rows read (or why it could not be drawn)."""
    names = [*workload.columns, *([workload.measure] if workload.measure and workload.measure not in
                                  workload.columns else [])]
    sample = raw.sample[names]
    released = outcome.released[np.isin(outcome.positions, raw.chosen)].reset_index(drop=True)
    described = {"queries": QUERIES, "seed": SEED, "min_rows": MIN_ROWS, "aggregates": (
        ["COUNT", f"SUM({workload.measure})"] if workload.measure else ["COUNT"]),
        "raw_rows": int(len(sample)), "sampled": bool(len(raw.chosen) < raw.rows)}
    try:
        queries = workload_generate(sample, workload.columns, n_queries=QUERIES, seed=SEED, min_rows=MIN_ROWS,
                                    measure=workload.measure, measure_domain=workload.measure_domain)
        error = workload_error(sample, released, queries, domains_of(workload.columns))
    except ValueError as exc:
        return {**described, "measured": False, "reason": str(exc)}
    return {**described, "measured": True, "mean": round(error.mean, 4), "median": round(error.median, 4)}


def survival_figures(outcome: Outcome, workload: Workload) -> dict[str, dict[str, Any]]:
    """Return per released column the share of rows with a specific label, its distinct labels and flags."""
    survival = column_survival(outcome.released, domains_of(workload.columns))
    return {name: {"specific_share": round(item.specific_share, 4), "distinct_values": item.distinct_values,
                   "generalized_everywhere": item.generalized_everywhere, "constant": item.constant}
            for name, item in survival.items()}


def warnings_for(survival: dict[str, dict[str, Any]]) -> list[str]:
    """Return one warning per column that says nothing: `*` in every row, or one value in every row."""
    warnings = []
    for name, item in survival.items():
        if item["generalized_everywhere"]:
            warnings.append(f"{name} is * in every row: the release says nothing about it.")
        elif item["constant"]:
            warnings.append(f"{name} has the same value in every row.")
    return warnings


def release_utility(*, raw: pd.DataFrame | RawRows, outcome: Outcome, spec: PolicySpec,
                    dates: DateBounds | None) -> dict[str, Any]:
    """Return the release's utility figures: workload error, column survival and warnings (JSON-ready).
    `raw` is the extracted frame or what the figures need of it (`RawRows.of`, taken before the search)."""
    if isinstance(raw, pd.DataFrame):
        raw = RawRows.of(raw, spec)
    workload = workload_for(spec, outcome, raw, dates)
    survival = survival_figures(outcome, workload)
    return {"workload": workload_figures(raw, outcome, workload), "survival": survival,
            "warnings": warnings_for(survival)}
