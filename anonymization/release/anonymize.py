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
Local recoding runs Mondrian (`engine.mondrian`) over the transaction columns (catalog subject
TRANSACTION) with each described by its public domain: a numeric column is a `NumericQI` over its
catalog Scale (cut points on multiples of the intervals hierarchy's `bin`, else the Scale's grain:
10 EUR for amounts; outer label bounds pulled in to the Scale's round ladder, `round_ladder`), a date a `DateQI` over the release's public date domain (whole days), any
other column a `HierarchyQI` over the policy's hierarchy; a measure's span (the amount's) weighs
MEASURE_WEIGHT times when Mondrian chooses what to cut. Rows with a value outside a public domain
are suppressed before the search, within the suppression limit. Both give an `Outcome` of one
shape, so hold-back, writing and verification do not depend on the recoding.

Person columns under local recoding (issue 9: demographics generalized along one chain of nested
labels in every release of a policy version). Rule: within one policy version, every released row's
person columns (catalog subject PERSON: age, gender, postal code, card network and number) carry the
customer's labels at one step of the version's chain: (a) the customer's *cell*, their values at
FIXED per-version levels of the policy's hierarchies (one level per person column, the same for the
whole version), or (b) a coarser step (`climb_chain`: the increment levels, then one person column
raised one level at a time), ending with (c) `*` in every person column. The levels are chosen once,
at the version's first release, by Flash on the customers of its extraction (`choose_person_levels`),
recorded as the release's `levels`, and read back by every later release of the version
(`selectors.version_person_levels`).

Each night (`_groups`): a cell holding at least CELL_BATCH x k distinct customers, or at least k
and a row that cannot wait any longer (`due`: the hold-back limit), releases its rows, recoded by
Mondrian over the transaction columns within the cell (person columns = the cell's labels). The
other rows wait (held back, release/holdback.py) while they can. Rows of smaller cells that
cannot wait climb the chain (`_climb_step`): at each step the due rows sharing their labels form a
group when they hold k customers, topped up with waiting rows and then with whole customers lent
by groups under the same labels that hold more than k (their rows tonight get the coarser labels,
which the rule allows); the rest climbs on, and what is below k at `*` is not released
(suppressed for good). k always counts distinct customers over every released column.

Why it is safe across nights: every step raises levels and a hierarchy's levels nest, so the labels
of all steps form a nested family (any two nested or disjoint); an increment's chain is the tail of
its version's, so this holds across the version's files. The person labels of two files that cover
a target intersect in the finer one, and a row carries a label set only when its class holds at
least k distinct customers, all inside it, so it covers at least k customers of the population.
No combination of files narrows a target below k through demographics. (Full-domain recoding
keeps its per-night Flash levels: the guarantee holds there only as far as the levels Flash
chooses on different nights are nested.)
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    KAnonymity,
    NoSolutionError,
    NumericQI,
    Result,
)
from ..engine.coverage import ANY, Coverage, DayRange, Interval, ValueSet, hierarchy_leaves, parse_label
from ..engine.mondrian import round_ladder
from ..exceptions import HierarchyInvalid, ReleaseUnsatisfiable
from ..policy.catalog import CARD, CODE, DATE, INDIVIDUAL, NUMERIC, Column, catalog_for, person_columns
from ..policy.hierarchies import ColumnHierarchy, build_hierarchy
from ..policy.spec import FULL_DOMAIN, LOCAL, PolicySpec, QuasiIdentifierSpec
from .order import secret_order
from .verify import class_customer_pairs

ENGINE_DIR = Path(engine.__file__).resolve().parent
# The metric Flash optimizes when it chooses a version's person levels (choose_person_levels).
PERSON_METRIC = "loss"
# Mondrian ranks a measure's span this many times wider than it is (`measure_weights`). A sum's
# error grows with the width of its amount labels relative to the amounts, which sit far inside
# their public range (median |amount| about 1/50 of it): at 200 customers (make run's demo, one
# release of a year) weights 1 / 4 / 16 gave a workload mean error of 1.44 / 0.53 / 0.46.
MEASURE_WEIGHT = 16.0
# ... in an increment (every release of a version after its first). A night's group holds few customers:
# at 16 Mondrian spends every cut on amounts and leaves kind `*` in 80% of the increments' rows. Union
# of a first release and 30 nights, 1,000 customers, weights 1 / 2 / 4 / 8 / 16: workload mean error
# 0.217 / 0.208 / 0.206 / 0.209 / 0.211 (median 0.088 / 0.082 / 0.085 / 0.099 / 0.104).
INCREMENT_MEASURE_WEIGHT = 4.0
# A cell releases its rows tonight when it holds this many times k customers (or when one of its
# rows cannot wait any longer): bigger groups let Mondrian cut amounts in a nightly increment. At
# 200 customers over 30 nights: 1 / 2 gave a union workload mean error of 0.517 / 0.497.
CELL_BATCH = 2
# Increments (every release of a version after its first) label a numeric person column (age) in
# bands at least this share of its public range wide (age: 20 of 120 years), coarser than the
# version's levels when those are finer (`increment_levels`). A night holds few customers per cell;
# wider cells let Mondrian cut the transaction columns finer. Union of a first release and 30
# nights (workload mean error): version levels / 20-year nightly bands 0.465 / 0.463 at 200
# customers, 0.244 / 0.231 at 1,000, 0.220 / 0.206 at 2,000, with fewer entries held back.
INCREMENT_BAND_SHARE = 1 / 6
# Rows of a cell below k climb to coarser labels one person column at a time, in this order of catalog kind
# (`climb_chain`; other kinds last): a number's band widens a step at a time, and the categories (gender)
# say the most per label, so they go last.
CLIMB_ORDER = (NUMERIC, CODE, CARD)
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
    row in the extraction), for the verifier only. `leaf_counts` holds, per column forming the classes,
    the rows of each leaf text before anonymization (`text_counts` of its hierarchy leaves: the report's
    "before" distribution), so the row-aligned leaves need not outlive the search. `levels` and
    `information_loss` describe a full-domain result; `label_stats` (distinct labels and median class
    extent per column) a local one.
    """

    released: pd.DataFrame
    individuals: np.ndarray
    positions: np.ndarray
    leaf_counts: dict[str, pd.Series]
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
            criteria=spec.criteria(), suppression_limit=spec.suppression_limit, metric=spec.engine_metric(),
            individual_id=INDIVIDUAL, progress=on_check)
    except NoSolutionError as exc:
        raise _unsatisfiable(spec, exc) from exc
    except HierarchyError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid: {exc}.") from exc


def _released_column(frame: pd.DataFrame, data: pd.DataFrame, name: str, rows: np.ndarray,
                     positions: np.ndarray) -> object:
    """Return one policy column of the released rows: `data`'s rows `rows`, or (a column the engine did not
    see) the frame's rows at `positions`; generalized text as a categorical."""
    column = data[name].iloc[rows] if name in data.columns else frame[name].iloc[positions]
    return column.astype("category").array if column.dtype == object else column.array


@dataclass(frozen=True)
class _Shuffled:
    """The engine's released rows in a secret order, with their customers and ledger positions aligned."""

    released: pd.DataFrame
    individuals: np.ndarray
    positions: np.ndarray
    kept: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, data: pd.DataFrame, spec: PolicySpec, *, consume: bool = False) -> _Shuffled:
        """Return the policy's columns of the engine's rows `data` (indexed by frame position, in any order)
        in a secret order drawn over the rows in ledger order (`kept`, ascending). Each column is taken
        once, in the final order; with `consume` it is then deleted from `data`, so the released rows and
        the engine's never both sit in memory whole."""
        index = data.index.to_numpy()
        by_position = (np.arange(len(index)) if data.index.is_monotonic_increasing
                       else np.argsort(index, kind="stable"))
        kept = index[by_position]
        order = secret_order(kept)
        rows = by_position[order]
        del by_position
        positions = kept[order]
        individuals = data[INDIVIDUAL].to_numpy()[rows]
        columns = {}
        for name in spec.columns:
            columns[name] = _released_column(frame, data, name, rows, positions)
            if consume and name in data.columns:
                del data[name]
        return cls(released=pd.DataFrame(columns, copy=False), individuals=individuals, positions=positions,
                   kept=kept)


def text_counts(series: pd.Series) -> pd.Series:
    """Return the rows per distinct text of the column (`str` of each value), in order of first appearance;
    each distinct value is converted once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    counts = np.bincount(codes, minlength=len(uniques))
    return pd.Series(counts, index=pd.Series(uniques).astype(str).to_numpy()).groupby(level=0, sort=False).sum()


def anonymize(frame: pd.DataFrame, spec: PolicySpec, on_check: Callable[[int, int], None] | None = None, *,
              dates: DateBounds | None = None, person_levels: dict[str, int] | None = None,
              due: np.ndarray | None = None, consume: bool = False) -> Outcome:
    """Anonymize the extracted frame under the policy, by its recoding (full-domain Flash or local Mondrian).

    `on_check(nodes_checked, lattice_size)` is called after every transformation Flash checks.
    `dates` is the public date domain local recoding cuts transaction dates in (needed when it
    releases a date column). `person_levels` are the policy version's person levels (local
    recoding; None: this is the version's first release, choose them); the outcome's `levels`
    holds the levels used. `due` marks the rows that cannot be held back any longer (local
    recoding: the others, in cells of fewer than k customers tonight, may wait; None: every row).
    `consume` (local recoding): the caller has no further use for the frame's columns, so the columns the
    engine's table was copied from are deleted from the frame before Mondrian runs (its rows stay: the
    frame keeps its length); ten million rows' columns then never sit beside the engine's table.
    """
    hierarchies = _hierarchies(frame, spec)
    if spec.is_local:
        return _anonymize_locally(frame, spec, hierarchies, dates, person_levels,
                                  np.ones(len(frame), dtype=bool) if due is None else np.asarray(due, dtype=bool),
                                  consume)
    work = frame.copy(deep=False)
    for column, built in hierarchies.items():
        work[column] = built.leaves
    # The engine sees only what it needs: quasi-identifiers, the sensitive column and the customer.
    needed = [*hierarchies, *([spec.sensitive_column] if spec.sensitive_column else []), INDIVIDUAL]
    result = _search(work[needed], spec, hierarchies, on_check)
    rows = _Shuffled.of(frame, result.data, spec)
    return Outcome(
        released=rows.released, individuals=rows.individuals, positions=rows.positions, kept=rows.kept,
        leaf_counts={column: text_counts(built.leaves) for column, built in hierarchies.items()},
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
            grain = _grain(column, qi)
            described[qi.column] = NumericQI(column.scale.low, column.scale.high, grain=grain,
                                             round_bounds=round_ladder(column.scale.low, column.scale.high, grain),
                                             between_grains=True)
        elif column.kind == DATE:
            if dates is None:
                raise ValueError(f"local recoding of {qi.column} needs the release's public date domain")
            described[qi.column] = DateQI(dates.first.isoformat(), dates.last.isoformat(), grain="day",
                                          round_to="month")
        else:
            described[qi.column] = HierarchyQI(hierarchies[qi.column].hierarchy)
    return described


def measure_weights(spec: PolicySpec, described: dict[str, LocalQI], increment: bool = False) -> dict[str, float]:
    """Return MEASURE_WEIGHT (INCREMENT_MEASURE_WEIGHT in an increment) for every described column that is a
    measure (catalog: the amount)."""
    catalog = catalog_for(spec.source)
    weight = INCREMENT_MEASURE_WEIGHT if increment else MEASURE_WEIGHT
    return {name: weight for name in described if catalog[name].measure}


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
    return _positions(np.flatnonzero(~outside), len(frame))


def _positions(rows: np.ndarray, length: int) -> np.ndarray:
    """Return row positions (of a frame of `length` rows) as int32 when they fit: half the memory at ten million."""
    return rows.astype(np.int32) if length < np.iinfo(np.int32).max else rows


def _customers(work: pd.DataFrame) -> int:
    return int(work[INDIVIDUAL].nunique())


def _fixed_person_levels(levels: dict[str, int], person: tuple[str, ...],
                         hierarchies: dict[str, ColumnHierarchy]) -> dict[str, int]:
    """Return the version's person levels after checking they fit the policy's person columns and hierarchies."""
    if set(levels) != set(person):
        raise HierarchyInvalid(f"Hierarchy invalid for local recoding: the version's person levels {sorted(levels)} "
                               f"do not match the policy's person columns {sorted(person)}.")
    for name, level in levels.items():
        if not 0 <= level < hierarchies[name].height:
            raise HierarchyInvalid(f"Hierarchy invalid for local recoding: level {level} of {name} is outside its "
                                   f"hierarchy (height {hierarchies[name].height}).")
    return {name: int(levels[name]) for name in person}


def _first_occurrences(columns: list[np.ndarray]) -> np.ndarray:
    """Return the rows (ascending) holding the first occurrence of each distinct combination of the integer
    columns: one int64 number per combination, hashed once (factorized again when the numbers would overflow)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    space = 1
    for values in columns:
        size = int(values.max(initial=0)) + 1
        if space * size >= 2 ** 62:
            codes, uniques = pd.factorize(key)
            key, space = codes.astype(np.int64), len(uniques)
        key = key * size + values
        space *= size
    return np.flatnonzero(~pd.Series(key).duplicated().to_numpy())


def choose_person_levels(frame: pd.DataFrame, spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
                         person: tuple[str, ...]) -> dict[str, int]:
    """Choose one level per person column for a whole policy version (its first release runs this).

    Flash (`engine.anonymize`) searches the person columns' hierarchies on the customers of the
    extraction: one row per customer and distinct demographics (a customer with two cards has two),
    k counted over customers, the policy's suppression limit, the loss metric. Its level vector is
    the version's: every later release of the version labels person columns at these levels.
    """
    if not person:
        return {}
    first = _first_occurrences([frame[INDIVIDUAL].to_numpy(),
                                *(hierarchies[name].leaves.cat.codes.to_numpy() for name in person)])
    customers = pd.DataFrame({name: hierarchies[name].leaves.iloc[first].array for name in person})
    customers[INDIVIDUAL] = frame[INDIVIDUAL].to_numpy()[first]
    try:
        result = engine.anonymize(customers, quasi_identifiers={name: hierarchies[name].hierarchy for name in person},
                                  criteria=[KAnonymity(spec.k)], suppression_limit=spec.suppression_limit,
                                  metric=PERSON_METRIC, individual_id=INDIVIDUAL)
    except NoSolutionError as exc:
        raise _unsatisfiable(spec, f"no level of the person columns holds k customers: {exc}") from exc
    except HierarchyError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid: {exc}.") from exc
    return {name: int(result.levels[name]) for name in person}


def _narrowest_band(hierarchy: Hierarchy, level: int) -> float:
    """Return the width of the narrowest numeric band among a hierarchy level's labels (inf: none, e.g. `*`)."""
    widths = [coverage.length for label in hierarchy.labels[level] if label != ANY
              for coverage in [parse_label(NUMERIC, label)] if isinstance(coverage, Interval)]
    return min(widths, default=math.inf)


def increment_levels(levels: dict[str, int], hierarchies: dict[str, ColumnHierarchy],
                     spec: PolicySpec) -> dict[str, int]:
    """Return the person levels an increment labels its rows at: the version's, with every numeric person
    column raised to its first level whose bands are at least INCREMENT_BAND_SHARE of the column's public
    range wide, when the version's level is finer; never to `*` (without such a level, to the coarsest
    level below `*`).

    A hierarchy's levels nest, so an increment cell is a union of the version's cells: a customer's
    person labels in any two files of the version are nested (cell, increment cell, `*`) and intersect
    in the finer one, which a release published as a class of at least k customers.
    """
    catalog = catalog_for(spec.source)
    raised = dict(levels)
    for name, level in levels.items():
        scale = catalog[name].scale
        if catalog[name].kind != NUMERIC or scale is None:
            continue
        hierarchy = hierarchies[name].hierarchy
        wide = INCREMENT_BAND_SHARE * (scale.high - scale.low)
        top = hierarchy.depth - 1
        raised[name] = next((at for at in range(level, top) if _narrowest_band(hierarchy, at) >= wide - 1e-9),
                            max(level, top - 1))
    return raised


def person_cells(hierarchies: dict[str, ColumnHierarchy], levels: dict[str, int], index: np.ndarray) -> pd.DataFrame:
    """Return each row's cell (rows `index` of the frame): its person columns at the version's levels, as
    categoricals of the labels in sorted order, each distinct leaf generalized once."""
    cells = {}
    for name, level in levels.items():
        codes, uniques = pd.factorize(hierarchies[name].leaves.iloc[index], sort=False)
        distinct = pd.Series(uniques).astype(str).tolist()
        labels = hierarchies[name].hierarchy.generalize(distinct, level)
        categories = sorted(set(labels))
        label_codes = pd.Index(categories, dtype=object).get_indexer(labels)
        cells[name] = pd.Categorical.from_codes(label_codes[codes], categories=categories)
    return pd.DataFrame(cells, index=pd.RangeIndex(len(index)))


def _labels_at(hierarchies: dict[str, ColumnHierarchy], levels: dict[str, int],
               inside: np.ndarray) -> Callable[[np.ndarray], pd.DataFrame]:
    """Return a function giving work rows' person labels at `levels` (work row r is frame row inside[r])."""
    return lambda rows: person_cells(hierarchies, levels, inside[rows])


def climb_chain(levels: dict[str, int], hierarchies: dict[str, ColumnHierarchy],
                spec: PolicySpec) -> list[dict[str, int]]:
    """Return the coarser level vectors the rows of small cells climb through, in order, from `levels`.

    The first step is the increment's levels (`increment_levels`) when they differ; then one person
    column rises one level per step, numbers first, then codes, cards and the rest (CLIMB_ORDER; the
    policy's order within a kind), each up to its top level. Every step's labels are unions of the
    previous step's, and an increment's chain is the tail of its version's (increment_levels is the
    same at its own levels), so every person label of every file of a version nests in or is disjoint
    from every other: two labels that hold a customer intersect in the finer one.
    """
    catalog = catalog_for(spec.source)
    rank = {kind: place for place, kind in enumerate(CLIMB_ORDER)}
    current = increment_levels(levels, hierarchies, spec)
    chain = [current] if current != levels else []
    for name in sorted(current, key=lambda column: rank.get(catalog[column].kind, len(CLIMB_ORDER))):
        for level in range(current[name] + 1, hierarchies[name].height):
            current = {**current, name: level}
            chain.append(current)
    return chain


def _cell_keys(cells: pd.DataFrame) -> np.ndarray:
    """Return a number per row naming its cell, in the order of the cells' labels (one cell when the policy
    releases no person column)."""
    if cells.shape[1] == 0:
        return np.zeros(len(cells), dtype=np.int64)
    return cells.groupby(list(cells.columns), sort=True, observed=True).ngroup().to_numpy()


@dataclass(frozen=True)
class _Group:
    """Rows released together under one set of person labels (a cell, or a coarser step of its chain)."""

    rows: np.ndarray  # positions in the work frame
    person: dict[str, str]


def _cells_of(cells: pd.DataFrame, customers: np.ndarray, k: int) -> tuple[list[_Group], np.ndarray]:
    """Group the rows by cell; return the cells of at least k customers and the other rows."""
    found, rest = [], []
    for rows in pd.Series(np.arange(len(cells))).groupby(_cell_keys(cells)).indices.values():
        if len(np.unique(customers[rows])) >= k:
            found.append(_Group(rows=rows, person={name: str(cells[name].iat[rows[0]]) for name in cells.columns}))
        else:
            rest.append(rows)
    return found, (np.sort(np.concatenate(rest)) if rest else np.zeros(0, dtype=np.int64))


def _ready(cell: _Group, customers: np.ndarray, k: int, due: np.ndarray) -> bool:
    """Return whether a cell of at least k customers releases tonight: it holds CELL_BATCH x k customers,
    or one of its rows cannot wait."""
    return len(np.unique(customers[cell.rows])) >= CELL_BATCH * k or bool(due[cell.rows].any())


def _groups(work: pd.DataFrame, cells: pd.DataFrame, k: int, due: np.ndarray,
            climb: list[Callable[[np.ndarray], pd.DataFrame]]) -> list[_Group]:
    """Split the rows into the groups released tonight, each under one set of person labels.

    Cells (the version's levels) release all their rows tonight when they hold CELL_BATCH x k
    customers, or at least k and a row that cannot wait (`due`; `_ready`). Other rows that may
    still wait are left out, to be held back until their cell is ready. Due rows of smaller cells
    climb (`_climb_step`): at each step of `climb` (the labels of given rows at the next coarser
    level vector, `climb_chain`, ending with `*` in every person column) the rows of one label
    set form a group when they hold k customers, topped up with waiting rows (`_top_up`) and lent
    customers (`_lend`) of the groups under the same labels; what is left climbs on.
    """
    customers = work[INDIVIDUAL].to_numpy()
    found, rest = _cells_of(cells, customers, k)
    released = [cell for cell in found if _ready(cell, customers, k, due)]
    rest = np.sort(np.concatenate([rest, *(cell.rows for cell in found if not _ready(cell, customers, k, due))]))
    for labels_of in climb:
        if not due[rest].any():
            break
        released, rest = _climb_step(released, rest, labels_of, customers, k, due)
    return released


def _label_sets(labels: pd.DataFrame) -> list[tuple[str, ...]]:
    """Return each row's person labels as one tuple (the empty tuple when the policy releases no person column)."""
    if labels.shape[1] == 0:
        return [()] * len(labels)
    return list(zip(*(labels[name].astype(str).tolist() for name in labels.columns), strict=True))


def _climb_step(released: list[_Group], rest: np.ndarray, labels_of: Callable[[np.ndarray], pd.DataFrame],
                customers: np.ndarray, k: int, due: np.ndarray) -> tuple[list[_Group], np.ndarray]:
    """Release the due rows of `rest` under their labels at one climbing step where a label set holds k
    customers (after topping up and lending within the label set); return the groups and the rows left."""
    labels = labels_of(rest)
    sets = _label_sets(labels)
    lender_sets = _label_sets(labels_of(np.array([group.rows[0] for group in released], dtype=np.int64)))
    by_set = pd.Series(np.arange(len(rest))).groupby(pd.Series(sets, dtype=object)).indices
    taken = []
    for label_set, at in by_set.items():
        rows = rest[at]
        if not due[rows].any():
            continue
        group = _Group(rows=_top_up(rows[due[rows]], rows[~due[rows]], customers, k),
                       person=dict(zip(labels.columns, label_set, strict=True)))
        lenders = [i for i, lender in enumerate(lender_sets) if lender == label_set]
        kept, group = _lend([released[i] for i in lenders], group, customers, k)
        if len(np.unique(customers[group.rows])) < k:
            continue
        for i, lender in zip(lenders, kept, strict=True):
            released[i] = lender
        released.append(group)
        taken.append(group.rows)
    if taken:
        rest = np.setdiff1d(rest, np.concatenate(taken), assume_unique=True)
    return released, rest


def _top_up(due_rows: np.ndarray, waiting: np.ndarray, customers: np.ndarray, k: int) -> np.ndarray:
    """Return a climbing group's rows (sorted): its due rows, with the rows of waiting customers added, in row
    order, while they hold rows of fewer than k customers; no due row gives no row (nothing is due)."""
    taken = set(np.unique(customers[due_rows]).tolist())
    if not len(due_rows) or len(taken) >= k:
        return np.sort(due_rows)
    added = []
    for code in pd.unique(customers[np.sort(waiting)]):
        if len(taken) >= k:
            break
        if code not in taken:
            taken.add(code)
            added.append(code)
    return np.sort(np.concatenate([due_rows, waiting[np.isin(customers[waiting], added)]]))


def _spare(group: _Group, customers: np.ndarray, k: int, taken: set, wanted: int) -> list:
    """Return up to `wanted` customers a cell can lend and still hold k: those with the fewest rows, not in `taken`."""
    codes, rows = np.unique(customers[group.rows], return_counts=True)
    surplus = len(codes) - k
    order = sorted((count, code) for code, count in zip(codes.tolist(), rows.tolist(), strict=True)
                   if code not in taken)
    return [code for _, code in order[:max(0, min(surplus, wanted))]]


def _lend(lenders: list[_Group], climbing: _Group, customers: np.ndarray, k: int) -> tuple[list[_Group], _Group]:
    """Top the climbing group of fewer than k customers up to k with whole customers of the groups
    under the same labels (`lenders`) that hold more than k.

    A lent customer's rows of that group are released tonight under the climbing group's labels, which
    are coarser and hold theirs (the rule allows it); every lender keeps at least k customers. Groups with
    the most customers lend first, each its customers with the fewest rows. When they cannot lend
    enough, nothing is lent.
    """
    taken = set(np.unique(customers[climbing.rows]).tolist())
    if not len(climbing.rows) or len(taken) >= k:
        return lenders, climbing
    lent: dict[int, list] = {}
    for index in sorted(range(len(lenders)), key=lambda i: -len(np.unique(customers[lenders[i].rows]))):
        if len(taken) >= k:
            break
        lent[index] = _spare(lenders[index], customers, k, taken, k - len(taken))
        taken.update(lent[index])
    if len(taken) < k:
        return lenders, climbing
    moved = [np.isin(customers[group.rows], lent.get(i, [])) for i, group in enumerate(lenders)]
    kept = [_Group(rows=group.rows[~out], person=group.person) for group, out in zip(lenders, moved, strict=True)]
    rows = np.sort(np.concatenate([climbing.rows,
                                   *(group.rows[out] for group, out in zip(lenders, moved, strict=True))]))
    return kept, _Group(rows=rows, person=climbing.person)


@dataclass(frozen=True)
class _Recoded:
    """Released rows of one or more groups: labels (frame index kept), class numbers and label coverages."""

    data: pd.DataFrame
    class_ids: np.ndarray
    coverage: dict[str, dict[str, Coverage]]


@dataclass(frozen=True)
class _Source:
    """Where the described columns of the work rows are read from: frame-aligned columns (the extraction's,
    hierarchy leaves for categories) and each work row's frame position. The engine's table is copied
    from them once, for the rows released tonight, rather than carried along as a second frame; numbers
    go to it as categoricals (4 bytes a row rather than 8; the engine reads a categorical's values)."""

    columns: dict[str, pd.Series]
    positions: np.ndarray

    def table(self, work: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
        """Return the described columns and the customer column of the work rows `rows`, indexed like `work`."""
        at = self.positions[rows]
        data: dict[str, object] = {name: column.array.take(at) for name, column in self.columns.items()}
        for name, values in data.items():
            if pd.api.types.is_float_dtype(self.columns[name].dtype):
                data[name] = pd.Categorical(values)
        data[INDIVIDUAL] = work[INDIVIDUAL].to_numpy()[rows]
        return pd.DataFrame(data, index=work.index[rows])


@dataclass(frozen=True)
class _Owners:
    """Which group releases each work row (`of_row`, -1: none tonight) and each group's person labels:
    what recoding needs of the groups, without their row lists."""

    of_row: np.ndarray
    person: list[dict[str, str]]

    @classmethod
    def of(cls, groups: list[_Group], rows: int) -> _Owners:
        of_row = np.full(rows, -1, dtype=np.int32)
        for number, group in enumerate(groups):
            of_row[group.rows] = number
        return cls(of_row=of_row, person=[group.person for group in groups])


def _owned_table(work: pd.DataFrame, owners: _Owners, source: _Source) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the engine's table of the rows released tonight (read from `source`) and each row's group."""
    rows = _positions(np.flatnonzero(owners.of_row >= 0), len(work))
    return source.table(work, rows), owners.of_row[rows]


def _recode_table(tables: list[pd.DataFrame], owner: np.ndarray, persons: list[dict[str, str]], spec: PolicySpec,
                  described: dict[str, LocalQI], increment: bool) -> _Recoded:
    """Recode the table's rows by Mondrian with `owner` as the groups; give each row its group's person labels.

    The table comes in a one-item list and is taken out of it as it goes to the engine, so nothing else
    holds it: it is freed as soon as the engine returns, before the person labels are added."""
    index, columns = tables[0].index, list(tables[0].columns)
    if not persons:
        tables.clear()
        return _Recoded(data=pd.DataFrame(columns=columns), class_ids=np.zeros(0, dtype=np.int64), coverage={})
    if described:
        try:
            result = engine.mondrian(tables.pop(), described, spec.k, INDIVIDUAL,
                                     weights=measure_weights(spec, described, increment), groups=owner)
        except ValueError as exc:
            raise HierarchyInvalid(f"Hierarchy invalid for local recoding: {exc}.") from exc
        data, class_ids, coverage = result.data, result.class_ids, result.coverage
        del result
    else:
        data, class_ids, coverage = tables.pop().copy(), owner.copy(), {}
    released_owner = (owner if data.index.equals(index)
                      else pd.Series(owner, index=index).loc[data.index].to_numpy())
    for name in persons[0]:
        codes, labels = pd.factorize(np.array([person[name] for person in persons], dtype=object))
        small = codes.astype(np.int32 if len(labels) > np.iinfo(np.int16).max else np.int16)  # not int64 a row
        data[name] = pd.Categorical.from_codes(small[released_owner], categories=labels)
    return _Recoded(data=data, class_ids=class_ids, coverage=coverage)


def _owners_by_cell(work: pd.DataFrame, cells: pd.DataFrame, k: int, due: np.ndarray | None,
                    climb: list[Callable[[np.ndarray], pd.DataFrame]]) -> _Owners:
    """Return the groups released tonight (`_groups`), as `_Owners` (their row lists are not kept). Rows in
    no group are not released (they go to the hold-back / suppression path: a waiting row is young enough
    to be held; a due row whose groups never reached k customers is suppressed)."""
    groups = _groups(work, cells, k, np.ones(len(work), dtype=bool) if due is None else due, climb)
    return _Owners.of(groups, len(work))


def _let_go(frame: pd.DataFrame, hierarchies: dict[str, ColumnHierarchy], keep: list[str], consume: bool) -> None:
    """Drop what the search no longer needs once the engine's table is built: every hierarchy's row-aligned
    leaves (their counts are kept) and, with `consume`, the frame's columns but `keep`."""
    for name, built in hierarchies.items():
        hierarchies[name] = replace(built, leaves=built.leaves.iloc[:0])
    if consume:
        frame.drop(columns=[name for name in frame.columns if name not in keep], inplace=True)


def _anonymize_locally(frame: pd.DataFrame, spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
                       dates: DateBounds | None, person_levels: dict[str, int] | None, due: np.ndarray,
                       consume: bool = False) -> Outcome:
    """Release the frame by the fixed-person-levels rule (module docstring); rows not released count as suppressed."""
    started = time.perf_counter()
    person = person_columns(spec.source, (qi.column for qi in spec.class_hierarchies))
    described = {name: qi for name, qi in local_descriptions(spec, hierarchies, dates).items() if name not in person}
    inside = _inside_domains(frame, spec, described)
    index = frame.index[inside]
    if pd.api.types.is_integer_dtype(index.dtype) and len(frame) < np.iinfo(np.int32).max:
        index = index.astype(np.int32)  # the frame's row labels: positions, half the memory
    work = pd.DataFrame({INDIVIDUAL: frame[INDIVIDUAL].to_numpy()[inside]}, index=index)
    # categories and dates as their hierarchy leaves (a date's leaf is its ISO day: 2 bytes a row, not 8)
    source = _Source(columns={name: hierarchies[name].leaves if isinstance(description, HierarchyQI | DateQI)
                              else frame[name] for name, description in described.items()}, positions=inside)
    if _customers(work) < spec.k:
        raise _unsatisfiable(spec, f"the rows to release belong to {_customers(work)} customer(s), fewer than k")
    if person_levels is None:  # the version's first release: its levels, chosen now
        levels = choose_person_levels(frame, spec, hierarchies, person)
    else:
        levels = increment_levels(_fixed_person_levels(person_levels, person, hierarchies), hierarchies, spec)
    # the cells, the groups' row lists and the work rows go before Mondrian runs: the engine's table and
    # each of its rows' group stay
    climb = [_labels_at(hierarchies, step, inside) for step in climb_chain(levels, hierarchies, spec)]
    climb.append(lambda rows: pd.DataFrame({name: [ANY] * len(rows) for name in person},  # the last step: `*`
                                           index=pd.RangeIndex(len(rows))))
    owners = _owners_by_cell(work, person_cells(hierarchies, levels, inside), spec.k, due[inside], climb)
    table, owner = _owned_table(work, owners, source)
    persons = owners.person
    del work, owners, source, inside, climb
    leaf_counts = {column: text_counts(built.leaves) for column, built in hierarchies.items()}
    # the released columns the recoded rows will not hold are read from the frame (person columns too when
    # no group releases tonight)
    _let_go(frame, hierarchies, [name for name in spec.columns
                                 if name not in described and (name not in person or not persons)], consume)
    tables = [table]
    del table  # the engine's table is held by `tables` alone (_recode_table)
    recoded = _recode_table(tables, owner, persons, spec, described, increment=person_levels is not None)
    del owner
    seconds = time.perf_counter() - started
    risk = local_risk(recoded.class_ids, recoded.data[INDIVIDUAL].to_numpy())
    stats = label_statistics(recoded, spec, hierarchies)
    released = len(recoded.data)
    rows = _Shuffled.of(frame, recoded.data, spec, consume=True)  # the recoded rows' columns go as they are taken
    del recoded
    return Outcome(
        released=rows.released, individuals=rows.individuals, positions=rows.positions, kept=rows.kept,
        leaf_counts=leaf_counts,
        checksums={column: built.checksum for column, built in hierarchies.items()},
        hierarchies={column: built.hierarchy for column, built in hierarchies.items()},
        levels=levels, heights={}, information_loss=None, rows_in=len(frame),
        suppressed=len(frame) - released, risk=risk, nodes_checked=0, search_seconds=round(seconds, 3),
        engine_version=engine_version(), recoding=LOCAL, label_stats=stats)


def local_risk(class_ids: np.ndarray, individuals: np.ndarray) -> dict[str, float | str]:
    """Return the prosecutor risk over customers: 1 / customers in a class, each customer's highest
    (over the distinct (class, customer) pairs, `class_customer_pairs`)."""
    if not len(class_ids):
        return {"basis": "individuals", "highest": 0.0, "average": 0.0}
    pair_class, pair_person, classes, people = class_customer_pairs(class_ids, individuals)
    sizes = np.bincount(pair_class, minlength=classes)[pair_class]
    per_customer = np.zeros(people)
    np.maximum.at(per_customer, pair_person, 1.0 / sizes)
    present = np.bincount(pair_person, minlength=people) > 0
    return {"basis": "individuals", "highest": float(per_customer.max()),
            "average": float(per_customer[present].mean())}


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


def _person_extent(column: Column, label: str, under: dict[str, frozenset[str]]) -> float:
    """Return how much a person label covers: a range's width (`*`: the Scale's), else the leaves under it
    (`under`: every hierarchy label -> its leaves)."""
    if column.scale is not None:
        if label == ANY:
            return column.scale.high - column.scale.low
        coverage = parse_label(NUMERIC, label, column=column.name)
        return coverage.length if isinstance(coverage, Interval) else 0.0
    return float(len(under.get(label, ())))


def _column_statistics(labels: np.ndarray, extents: list[float], column: Column) -> dict[str, float | int | str]:
    return {"labels": int(len(np.unique(labels.astype(str)))),
            "median_extent": float(np.median(extents)) if extents else 0.0, "unit": _unit(column)}


def label_statistics(recoded: _Recoded, spec: PolicySpec,
                     hierarchies: dict[str, ColumnHierarchy]) -> dict[str, dict[str, float | int | str]]:
    """Return per released class column the distinct labels and the median extent of a class's label."""
    catalog = catalog_for(spec.source)
    _, first_rows = np.unique(recoded.class_ids, return_index=True)
    stats: dict[str, dict[str, float | int | str]] = {}
    for qi in spec.class_hierarchies:
        name = qi.column
        labels = (recoded.data[name].iloc[first_rows].to_numpy(dtype=object) if name in recoded.data
                  else np.zeros(0, dtype=object))
        codes, distinct = pd.factorize(pd.Series(labels, dtype=object).astype(str))
        if name in recoded.coverage:
            sizes = [_extent(recoded.coverage[name][label]) for label in distinct]
        else:
            under = hierarchy_leaves(hierarchies[name].hierarchy)
            sizes = [_person_extent(catalog[name], label, under) for label in distinct]
        extents = np.asarray(sizes, dtype=np.float64)[codes].tolist() if len(labels) else []
        stats[name] = _column_statistics(labels, extents, catalog[name])
    return stats
