"""Hypothesis strategies: small random tables with random monotonic hierarchies and criteria."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from hypothesis import strategies as st

from anonymization.engine import (
    Criterion,
    DistinctLDiversity,
    DPresence,
    EntropyLDiversity,
    Hierarchy,
    Inclusion,
    KAnonymity,
    KMap,
    RecursiveCLDiversity,
    TCloseness,
)
from anonymization.engine.metrics import AGGREGATES, METRICS, Metric, create_metric

CRITERION_KINDS = ["k", "k-individuals", "distinct-l", "entropy-l", "t-equal", "t-ordered",
                   "recursive-cl", "entropy-l-grassberger", "t-hierarchical"]
SENSITIVE_HIERARCHY = Hierarchy([["0", "low", "*"], ["1", "low", "*"], ["2", "high", "*"], ["3", "high", "*"]],
                                name="sensitive")


@dataclass
class Problem:
    table: pd.DataFrame
    hierarchies: dict[str, Hierarchy]
    criteria: list[Criterion]
    kind: str
    metric: str | Metric
    suppression_limit: float
    individual_id: str | None
    #: Row positions of the research subset (``None``: the whole table is released).
    subset: list[int] | None = None


@st.composite
def hierarchies(draw: st.DrawFn, name: str) -> Hierarchy:
    """Random monotonic hierarchy: each level merges groups of the level below at random."""
    leaves = draw(st.integers(1, 6))
    depth = draw(st.integers(1, 4))
    groups = list(range(leaves))
    rows = [[f"{name}{i}"] for i in range(leaves)]
    for level in range(1, depth):
        previous = sorted(set(groups))
        merged = draw(st.integers(1, len(previous)))
        parent = {g: draw(st.integers(0, merged - 1)) for g in previous}
        groups = [parent[g] for g in groups]
        for row, group in zip(rows, groups, strict=True):
            row.append(f"{name}L{level}g{group}")
    return Hierarchy(rows, name=name)


@st.composite
def tables(draw: st.DrawFn, hierarchies_by_column: dict[str, Hierarchy]) -> pd.DataFrame:
    rows = draw(st.integers(1, 40))
    data = {column: draw(st.lists(st.sampled_from([r[0] for r in h.rows]), min_size=rows, max_size=rows))
            for column, h in hierarchies_by_column.items()}
    data["sensitive"] = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2, 3]), min_size=rows, max_size=rows))
    data["person"] = draw(st.lists(st.integers(0, max(1, rows // 2)), min_size=rows, max_size=rows))
    return pd.DataFrame(data)


def criteria_for(kind: str, k: int, diversity: int, t: float) -> list[Criterion]:
    extra: dict[str, list[Criterion]] = {
        "k": [], "k-individuals": [],
        "distinct-l": [DistinctLDiversity("sensitive", diversity)],
        "entropy-l": [EntropyLDiversity("sensitive", diversity)],
        "t-equal": [TCloseness("sensitive", t, "equal")],
        "t-ordered": [TCloseness("sensitive", t, "ordered")],
        "recursive-cl": [RecursiveCLDiversity("sensitive", 1.5 * diversity, diversity)],
        "entropy-l-grassberger": [EntropyLDiversity("sensitive", diversity, "grassberger")],
        "t-hierarchical": [TCloseness("sensitive", t, "hierarchical", SENSITIVE_HIERARCHY)],
    }
    return [KAnonymity(k), *extra[kind]]


@st.composite
def problems(draw: st.DrawFn, kinds: list[str] = CRITERION_KINDS, metrics: list[str] | None = None) -> Problem:
    columns = [f"q{i}" for i in range(draw(st.integers(1, 3)))]
    by_column = {c: draw(hierarchies(c)) for c in columns}
    table = draw(tables(by_column))
    kind = draw(st.sampled_from(kinds))
    criteria = criteria_for(kind, draw(st.integers(1, 4)), draw(st.integers(1, 3)),
                            draw(st.sampled_from([0.15, 0.3, 0.5])))
    metric = draw(metric_choices(columns, metrics))
    limit = draw(st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.5]))
    individual_id = "person" if kind == "k-individuals" or draw(st.booleans()) else None
    return Problem(table, by_column, criteria, kind, metric, limit, individual_id)


@st.composite
def metric_choices(draw: st.DrawFn, columns: list[str], names: list[str] | None = None) -> str | Metric:
    """A metric name, or a metric with random options among those it accepts."""
    name = draw(st.sampled_from(names or sorted(METRICS)))
    accepted = METRICS[name].options
    if not accepted or draw(st.booleans()):
        return name
    options: dict[str, object] = {}
    if "gs_factor" in accepted:
        options["gs_factor"] = draw(st.sampled_from([0.0, 0.1, 0.5, 0.75, 1.0]))
    if "aggregate" in accepted:
        options["aggregate"] = draw(st.sampled_from(AGGREGATES))
        options["weights"] = {c: draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])) for c in columns}
    return create_metric(name, **options)


SUBSET_KINDS = ["inclusion", "d-presence", "d-presence-k", "k-map", "k-map-estimated", "k-map-l"]


def subset_criteria(kind: str, k: int, d_min: float, d_max: float) -> list[Criterion]:
    return {
        "inclusion": [Inclusion()],
        "d-presence": [DPresence(d_min, d_max)],
        "d-presence-k": [KAnonymity(k), DPresence(d_min, d_max)],
        "k-map": [KMap(k)],
        "k-map-estimated": [KMap(k, "zero-truncated-poisson", 1000, significance=0.05)],
        "k-map-l": [KMap(k), DistinctLDiversity("sensitive", 2)],
    }[kind]


@st.composite
def subset_problems(draw: st.DrawFn, kinds: list[str] = SUBSET_KINDS) -> Problem:
    """A random table, a random non-empty research subset and a subset-based model."""
    columns = [f"q{i}" for i in range(draw(st.integers(1, 3)))]
    by_column = {c: draw(hierarchies(c)) for c in columns}
    table = draw(tables(by_column))
    chosen = draw(st.lists(st.booleans(), min_size=len(table), max_size=len(table)))
    subset = [i for i, keep in enumerate(chosen) if keep] or [draw(st.integers(0, len(table) - 1))]
    kind = draw(st.sampled_from(kinds))
    d_min = draw(st.sampled_from([0.0, 0.0, 0.2, 0.4]))
    d_max = draw(st.sampled_from([0.5, 0.8, 1.0]))
    criteria = subset_criteria(kind, draw(st.integers(1, 4)), d_min, d_max)
    metric = draw(metric_choices(columns))
    limit = draw(st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.5]))
    return Problem(table, by_column, criteria, kind, metric, limit, None, subset)
