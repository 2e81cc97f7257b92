"""The adapter between a release and the Flash engine (anonymization/engine, pure Python).

It turns each quasi-identifier into its leaf values and hierarchy (hierarchies.py), builds the
criteria (k over customers through the in-memory customer column, optional l and t on the
sensitive column), calls the engine once, and hands back the released rows in input order with
their customer codes kept aside (never in the released frame). Engine errors become release errors
with messages a privacy officer can act on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import INDIVIDUAL
from .engine import (
    Criterion,
    DistinctLDiversity,
    Hierarchy,
    HierarchyError,
    KAnonymity,
    NoSolutionError,
    Result,
    TCloseness,
)
from .engine import anonymize as engine_anonymize
from .exceptions import HierarchyInvalid, ReleaseUnsatisfiable
from .hierarchies import HierarchyTable, generalize_column
from .policies import sensitive_is_ordered

ENGINE_DIR = Path(__file__).resolve().parent / "engine"


@dataclass(frozen=True)
class Outcome:
    """The released rows (policy columns only, input order) and how they were obtained."""

    released: pd.DataFrame
    individuals: np.ndarray
    leaves: dict[str, pd.Series]
    checksums: dict[str, str]
    levels: dict[str, int]
    heights: dict[str, int]
    information_loss: float
    rows_in: int
    suppressed: int
    risk: dict[str, float | str]
    nodes_checked: int
    search_seconds: float
    engine_version: str


@cache
def engine_version() -> str:
    """Return the engine's version: its declared version if any, plus a digest of its source files."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    from . import engine

    declared = getattr(engine, "__version__", "")
    return f"{declared}+{digest.hexdigest()[:12]}" if declared else f"src-{digest.hexdigest()[:12]}"


def _criteria(snapshot: dict) -> list[Criterion]:
    criteria: list[Criterion] = [KAnonymity(snapshot["k"])]
    sensitive = snapshot.get("sensitive_column") or ""
    if sensitive and snapshot.get("l_diversity"):
        criteria.append(DistinctLDiversity(sensitive, snapshot["l_diversity"]))
    if sensitive and snapshot.get("t_closeness") is not None:
        distance = "ordered" if sensitive_is_ordered(snapshot) else "equal"
        criteria.append(TCloseness(sensitive, snapshot["t_closeness"], distance=distance))
    return criteria


def _prepare(frame: pd.DataFrame, snapshot: dict) -> tuple[pd.DataFrame, dict[str, HierarchyTable]]:
    """Replace each quasi-identifier by its leaf values; return the frame and the hierarchy tables."""
    work = frame.copy(deep=False)
    tables = {}
    for qi in snapshot["quasi_identifiers"]:
        column = qi["column"]
        work[column], tables[column] = generalize_column(
            column=column, series=frame[column], builder=qi["builder"], params=qi.get("params") or {},
            arx_csv=qi.get("arx_csv") or "")
    return work, tables


def _hierarchies(tables: dict[str, HierarchyTable]) -> dict[str, Hierarchy]:
    try:
        return {column: Hierarchy(table.rows, name=column) for column, table in tables.items()}
    except HierarchyError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid: {exc}.") from exc


def _search(work: pd.DataFrame, snapshot: dict, hierarchies: dict[str, Hierarchy],
            on_check: Callable[[int, int], None] | None = None) -> Result:
    try:
        return engine_anonymize(work, quasi_identifiers=hierarchies, criteria=_criteria(snapshot),
                                suppression_limit=snapshot["suppression_limit"], metric=snapshot["metric"],
                                individual_id=INDIVIDUAL, progress=on_check)
    except NoSolutionError as exc:
        raise ReleaseUnsatisfiable(
            f"The policy cannot be satisfied: {exc} (k={snapshot['k']} counted over customers, suppression "
            f"limit {snapshot['suppression_limit']:.1%}).") from exc
    except HierarchyError as exc:
        raise HierarchyInvalid(f"Hierarchy invalid: {exc}.") from exc


def _released(frame: pd.DataFrame, data: pd.DataFrame, snapshot: dict) -> pd.DataFrame:
    """Return the policy's columns for the kept rows, in order; generalized text as categoricals."""
    kept = data.index.to_numpy()
    columns = {}
    for name in snapshot["columns"]:
        column = data[name] if name in data.columns else frame[name].iloc[kept]
        columns[name] = column.astype("category").to_numpy() if column.dtype == object else column.to_numpy()
    return pd.DataFrame(columns)


def anonymize(frame: pd.DataFrame, snapshot: dict,
              on_check: Callable[[int, int], None] | None = None) -> Outcome:
    """Find and apply the optimal generalization of the extracted frame under the policy snapshot.

    `on_check(nodes_checked, lattice_size)` is called after every transformation the search checks.
    """
    work, tables = _prepare(frame, snapshot)
    # The engine sees only what it needs: quasi-identifiers, the sensitive column and the customer.
    needed = [*tables, *([snapshot["sensitive_column"]] if snapshot.get("sensitive_column") else []), INDIVIDUAL]
    result = _search(work[needed], snapshot, _hierarchies(tables), on_check)
    released = _released(frame, result.data, snapshot)
    return Outcome(
        released=released, individuals=result.data[INDIVIDUAL].to_numpy(),
        leaves={column: work[column] for column in tables},
        checksums={column: table.checksum for column, table in tables.items()},
        levels={column: int(level) for column, level in result.levels.items()},
        heights={column: table.height for column, table in tables.items()},
        information_loss=float(result.info_loss), rows_in=int(result.rows_in), suppressed=int(result.suppressed_rows),
        risk={"basis": result.risk.basis, "highest": float(result.risk.max), "average": float(result.risk.average)},
        nodes_checked=int(result.search.nodes_checked), search_seconds=float(result.search.elapsed_s),
        engine_version=engine_version())
