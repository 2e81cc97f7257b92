"""The adapter between a release and the anonymization engine (anonymization/engine, pure Python).

It turns each quasi-identifier into its leaf values and engine hierarchy (policy/hierarchies.py),
takes the policy's criteria (PolicySpec.criteria(): k over customers through the in-memory
customer column, optional l and t on the sensitive column), calls the engine once, and hands back the
released rows in a secret random order (release/order.py) with their customer codes and ledger
positions kept aside, row-aligned (never in the released frame). Every released column but the
sensitive one is a quasi-identifier (`PolicySpec.class_hierarchies`: descriptive columns without a
hierarchy get the trivial one), so classes are formed over all of them. Engine errors become
release errors with messages a privacy officer can act on.

The policy's recoding chooses the engine. Full-domain recoding runs Flash over the hierarchies.
Local recoding runs Mondrian (`engine.mondrian`) with each quasi-identifier described by its public
domain: a numeric column is a `NumericQI` over its catalog Scale (cut points on multiples of the
intervals hierarchy's `bin`, else the Scale's grain: whole years for age, 10 EUR for amounts), a
date a `DateQI` over the release's public date domain (whole days), any other column a
`HierarchyQI` over the policy's hierarchy. Rows with a value outside a public domain are
suppressed before the search, within the suppression limit. Both give an `Outcome` of one shape,
so hold-back, writing and verification do not depend on the recoding.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import engine
from ..engine import (
    DateQI,
    Hierarchy,
    HierarchyError,
    HierarchyQI,
    MondrianResult,
    NoSolutionError,
    NumericQI,
    Result,
)
from ..engine.coverage import Coverage, DayRange, Interval, ValueSet
from ..exceptions import HierarchyInvalid, ReleaseUnsatisfiable
from ..policy.catalog import DATE, INDIVIDUAL, NUMERIC, Column, catalog_for
from ..policy.hierarchies import ColumnHierarchy, build_hierarchy
from ..policy.spec import FULL_DOMAIN, LOCAL, PolicySpec, QuasiIdentifierSpec
from .order import secret_order

ENGINE_DIR = Path(engine.__file__).resolve().parent
LocalQI = NumericQI | DateQI | HierarchyQI


@dataclass(frozen=True)
class DateBounds:
    """The public first and last day (inclusive) of a release's dates, for local recoding."""

    first: datetime.date
    last: datetime.date


@dataclass(frozen=True)
class Outcome:
    """The released rows (policy columns only, secret order) and how they were obtained.

    `individuals` and `positions` hold each released row's customer code and ledger position (its
    row in the extraction), for the verifier only. `levels` and `information_loss` describe a
    full-domain result; `label_stats` (distinct labels and median class extent per column) a local one.
    """

    released: pd.DataFrame
    individuals: np.ndarray
    positions: np.ndarray
    leaves: dict[str, pd.Series]
    checksums: dict[str, str]
    levels: dict[str, int]
    heights: dict[str, int]
    information_loss: float | None
    rows_in: int
    suppressed: int
    risk: dict[str, float | str]
    nodes_checked: int
    search_seconds: float
    engine_version: str
    kept: np.ndarray  # positions (in the extracted frame) of the released rows, in order
    recoding: str = FULL_DOMAIN
    hierarchies: dict[str, Hierarchy] = field(default_factory=dict)
    label_stats: dict[str, dict[str, float | int | str]] = field(default_factory=dict)


@cache
def engine_version() -> str:
    """Return the engine's version: its declared version if any, plus a digest of its source files."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    declared = getattr(engine, "__version__", "")
    return f"{declared}+{digest.hexdigest()[:12]}" if declared else f"src-{digest.hexdigest()[:12]}"


def _hierarchies(frame: pd.DataFrame, spec: PolicySpec) -> dict[str, ColumnHierarchy]:
    """Return the leaves and hierarchy of every column forming the classes, the policy's first."""
    return {qi.column: build_hierarchy(column=qi.column, series=frame[qi.column], builder=qi.builder,
                                       params=qi.params, arx_csv=qi.arx_csv)
            for qi in spec.class_hierarchies}


def _unsatisfiable(spec: PolicySpec, reason: object) -> ReleaseUnsatisfiable:
    return ReleaseUnsatisfiable(
        f"The policy cannot be satisfied: {reason} (k={spec.k} counted over customers, suppression "
        f"limit {spec.suppression_limit:.1%}).")


def _search(work: pd.DataFrame, spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
            on_check: Callable[[int, int], None] | None = None) -> Result:
    try:
        return engine.anonymize(
            work, quasi_identifiers={column: built.hierarchy for column, built in hierarchies.items()},
            criteria=spec.criteria(), suppression_limit=spec.suppression_limit, metric=spec.metric,
            individual_id=INDIVIDUAL, progress=on_check)
    except NoSolutionError as exc:
        raise _unsatisfiable(spec, exc) from exc
    except HierarchyError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid: {exc}.") from exc


def _released(frame: pd.DataFrame, data: pd.DataFrame, spec: PolicySpec) -> pd.DataFrame:
    """Return the policy's columns for the kept rows, in order; generalized text as categoricals."""
    kept = data.index.to_numpy()
    columns = {}
    for name in spec.columns:
        column = data[name] if name in data.columns else frame[name].iloc[kept]
        columns[name] = column.astype("category").to_numpy() if column.dtype == object else column.to_numpy()
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class _Shuffled:
    """The engine's released rows in a secret order, with their customers and ledger positions aligned."""

    released: pd.DataFrame
    individuals: np.ndarray
    positions: np.ndarray
    kept: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, data: pd.DataFrame, spec: PolicySpec) -> _Shuffled:
        kept = data.index.to_numpy()
        order = secret_order(kept)
        return cls(released=_released(frame, data, spec).iloc[order].reset_index(drop=True),
                   individuals=data[INDIVIDUAL].to_numpy()[order], positions=kept[order], kept=kept)


def anonymize(frame: pd.DataFrame, spec: PolicySpec, on_check: Callable[[int, int], None] | None = None, *,
              dates: DateBounds | None = None) -> Outcome:
    """Anonymize the extracted frame under the policy, by its recoding (full-domain Flash or local Mondrian).

    `on_check(nodes_checked, lattice_size)` is called after every transformation Flash checks.
    `dates` is the public date domain local recoding cuts transaction dates in (needed when it
    releases a date column).
    """
    hierarchies = _hierarchies(frame, spec)
    if spec.is_local:
        return _anonymize_locally(frame, spec, hierarchies, dates)
    work = frame.copy(deep=False)
    for column, built in hierarchies.items():
        work[column] = built.leaves
    # The engine sees only what it needs: quasi-identifiers, the sensitive column and the customer.
    needed = [*hierarchies, *([spec.sensitive_column] if spec.sensitive_column else []), INDIVIDUAL]
    result = _search(work[needed], spec, hierarchies, on_check)
    rows = _Shuffled.of(frame, result.data, spec)
    return Outcome(
        released=rows.released, individuals=rows.individuals, positions=rows.positions, kept=rows.kept,
        leaves={column: built.leaves for column, built in hierarchies.items()},
        checksums={column: built.checksum for column, built in hierarchies.items()},
        hierarchies={column: built.hierarchy for column, built in hierarchies.items()},
        levels={column: int(level) for column, level in result.levels.items()},
        heights={column: built.height for column, built in hierarchies.items()},
        information_loss=float(result.info_loss), rows_in=int(result.rows_in), suppressed=int(result.suppressed_rows),
        risk={"basis": result.risk.basis, "highest": float(result.risk.max), "average": float(result.risk.average)},
        nodes_checked=int(result.search.nodes_checked), search_seconds=float(result.search.elapsed_s),
        engine_version=engine_version())


# --- local recoding -------------------------------------------------------------------------------

def _grain(column: Column, qi: QuasiIdentifierSpec) -> float:
    """Return where local recoding may cut a number: multiples of the intervals `bin`, else the Scale's grain."""
    assert column.scale is not None  # every numeric catalog column has one
    if qi.builder == "intervals" and "bin" in qi.params:
        return float(qi.params["bin"])
    return column.scale.grain


def local_descriptions(spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
                       dates: DateBounds | None) -> dict[str, LocalQI]:
    """Return the Mondrian description of every column forming the classes (see the module docstring)."""
    catalog = catalog_for(spec.source)
    described: dict[str, LocalQI] = {}
    for qi in spec.class_hierarchies:
        column = catalog[qi.column]
        if column.kind == NUMERIC and column.scale is not None:
            described[qi.column] = NumericQI(column.scale.low, column.scale.high, grain=_grain(column, qi))
        elif column.kind == DATE:
            if dates is None:
                raise ValueError(f"local recoding of {qi.column} needs the release's public date domain")
            described[qi.column] = DateQI(dates.first.isoformat(), dates.last.isoformat(), grain="day")
        else:
            described[qi.column] = HierarchyQI(hierarchies[qi.column].hierarchy)
    return described


def _outside(series: pd.Series, described: LocalQI) -> np.ndarray:
    """Return which rows hold a value outside the column's public domain (always False for categories)."""
    if isinstance(described, NumericQI):
        values = pd.to_numeric(series).to_numpy(dtype=float)
        return (values < described.low) | (values >= described.high)
    if isinstance(described, DateQI):
        days = pd.to_datetime(series).to_numpy().astype("datetime64[D]")
        return (days < np.datetime64(described.first)) | (days > np.datetime64(described.last))
    return np.zeros(len(series), dtype=bool)


def _inside_domains(frame: pd.DataFrame, spec: PolicySpec, described: dict[str, LocalQI]) -> np.ndarray:
    """Return the positions of rows inside every public domain; refuse more outliers than the limit allows."""
    outside = np.zeros(len(frame), dtype=bool)
    for name, description in described.items():
        outside |= _outside(frame[name], description)
    allowed = math.floor(spec.suppression_limit * len(frame) + 1e-9)
    if outside.sum() > allowed:
        columns = ", ".join(name for name, d in described.items() if _outside(frame[name], d).any())
        raise _unsatisfiable(spec, f"{int(outside.sum())} row(s) have a value of {columns} outside its public "
                                   f"domain (the catalog's bounds), and at most {allowed} may be suppressed")
    return np.flatnonzero(~outside)


def _mondrian(work: pd.DataFrame, spec: PolicySpec, described: dict[str, LocalQI]) -> MondrianResult:
    customers = int(work[INDIVIDUAL].nunique())
    if customers < spec.k:
        raise _unsatisfiable(spec, f"the rows to release belong to {customers} customer(s), fewer than k")
    try:
        return engine.mondrian(work, described, spec.k, INDIVIDUAL)
    except ValueError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid for local recoding: {exc}.") from exc


def _anonymize_locally(frame: pd.DataFrame, spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
                       dates: DateBounds | None) -> Outcome:
    """Release the frame by Mondrian local recoding; rows it does not release are reported as suppressed."""
    started = time.perf_counter()
    described = local_descriptions(spec, hierarchies, dates)
    work = frame[[*described, INDIVIDUAL]].copy()
    for name, description in described.items():
        if isinstance(description, HierarchyQI):
            work[name] = hierarchies[name].leaves
    result = _mondrian(work.iloc[_inside_domains(frame, spec, described)], spec, described)
    seconds = time.perf_counter() - started
    rows = _Shuffled.of(frame, result.data, spec)
    return Outcome(
        released=rows.released, individuals=rows.individuals, positions=rows.positions, kept=rows.kept,
        leaves={column: built.leaves for column, built in hierarchies.items()},
        checksums={column: built.checksum for column, built in hierarchies.items()},
        hierarchies={column: built.hierarchy for column, built in hierarchies.items()},
        levels={}, heights={}, information_loss=None, rows_in=len(frame),
        suppressed=len(frame) - len(result.data), risk=local_risk(result.class_ids, result.data[INDIVIDUAL].to_numpy()),
        nodes_checked=0, search_seconds=round(seconds, 3), engine_version=engine_version(), recoding=LOCAL,
        label_stats=label_statistics(result, spec))


def local_risk(class_ids: np.ndarray, individuals: np.ndarray) -> dict[str, float | str]:
    """Return the prosecutor risk over customers: 1 / customers in a class, each customer's highest."""
    if not len(class_ids):
        return {"basis": "individuals", "highest": 0.0, "average": 0.0}
    pairs = pd.DataFrame({"c": class_ids, "i": individuals}).drop_duplicates()
    sizes = pairs.groupby("c")["i"].transform("size").to_numpy()
    per_customer = pd.Series(1.0 / sizes).groupby(pairs["i"].to_numpy()).max()
    return {"basis": "individuals", "highest": float(per_customer.max()), "average": float(per_customer.mean())}


def _extent(coverage: Coverage) -> float:
    """Return how much a label covers: a range's width, a day range's days, a category's values."""
    if isinstance(coverage, Interval):
        return coverage.length
    if isinstance(coverage, DayRange):
        return float(coverage.days)
    if isinstance(coverage, ValueSet):
        return float(len(coverage.values))
    raise TypeError(f"local recoding does not publish {type(coverage).__name__} labels")


def _unit(column: Column) -> str:
    if column.scale is not None:
        return column.scale.unit
    return "days" if column.kind == DATE else "values"


def label_statistics(result: MondrianResult, spec: PolicySpec) -> dict[str, dict[str, float | int | str]]:
    """Return per column the distinct labels released and the median extent of a class's label."""
    catalog = catalog_for(spec.source)
    _, first_rows = np.unique(result.class_ids, return_index=True)
    stats: dict[str, dict[str, float | int | str]] = {}
    for name, coverages in result.coverage.items():
        labels = result.data[name].to_numpy()[first_rows]
        extents = [_extent(coverages[str(label)]) for label in labels]
        stats[name] = {"labels": int(result.data[name].nunique()),
                       "median_extent": float(np.median(extents)) if extents else 0.0,
                       "unit": _unit(catalog[name])}
    return stats
