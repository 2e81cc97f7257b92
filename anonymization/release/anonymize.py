"""The adapter between a release and the Flash engine (anonymization/engine, pure Python).

It turns each quasi-identifier into its leaf values and engine hierarchy (policy/hierarchies.py),
takes the policy's criteria (PolicySpec.criteria(): k over customers through the in-memory
customer column, optional l and t on the sensitive column), calls the engine once, and hands back the
released rows in a secret random order (release/order.py) with their customer codes and ledger
positions kept aside, row-aligned (never in the released frame). Every released column but the
sensitive one is a quasi-identifier (`PolicySpec.class_hierarchies`: descriptive columns without a
hierarchy get the trivial one), so classes are formed over all of them. Engine errors become
release errors with messages a privacy officer can act on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import engine
from ..engine import HierarchyError, NoSolutionError, Result
from ..exceptions import HierarchyInvalid, ReleaseUnsatisfiable
from ..policy.catalog import INDIVIDUAL
from ..policy.hierarchies import ColumnHierarchy, build_hierarchy
from ..policy.spec import PolicySpec
from .order import secret_order

ENGINE_DIR = Path(engine.__file__).resolve().parent


@dataclass(frozen=True)
class Outcome:
    """The released rows (policy columns only, secret order) and how they were obtained.

    `individuals` and `positions` hold each released row's customer code and ledger position (its
    row in the extraction), for the verifier only.
    """

    released: pd.DataFrame
    individuals: np.ndarray
    positions: np.ndarray
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
    kept: np.ndarray  # positions (in the extracted frame) of the released rows, in order


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


def _search(work: pd.DataFrame, spec: PolicySpec, hierarchies: dict[str, ColumnHierarchy],
            on_check: Callable[[int, int], None] | None = None) -> Result:
    try:
        return engine.anonymize(
            work, quasi_identifiers={column: built.hierarchy for column, built in hierarchies.items()},
            criteria=spec.criteria(), suppression_limit=spec.suppression_limit, metric=spec.metric,
            individual_id=INDIVIDUAL, progress=on_check)
    except NoSolutionError as exc:
        raise ReleaseUnsatisfiable(
            f"The policy cannot be satisfied: {exc} (k={spec.k} counted over customers, suppression "
            f"limit {spec.suppression_limit:.1%}).") from exc
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


def anonymize(frame: pd.DataFrame, spec: PolicySpec,
              on_check: Callable[[int, int], None] | None = None) -> Outcome:
    """Find and apply the optimal generalization of the extracted frame under the policy.

    `on_check(nodes_checked, lattice_size)` is called after every transformation the search checks.
    """
    hierarchies = _hierarchies(frame, spec)
    work = frame.copy(deep=False)
    for column, built in hierarchies.items():
        work[column] = built.leaves
    # The engine sees only what it needs: quasi-identifiers, the sensitive column and the customer.
    needed = [*hierarchies, *([spec.sensitive_column] if spec.sensitive_column else []), INDIVIDUAL]
    result = _search(work[needed], spec, hierarchies, on_check)
    kept = result.data.index.to_numpy()
    order = secret_order(kept)
    released = _released(frame, result.data, spec).iloc[order].reset_index(drop=True)
    return Outcome(
        released=released, individuals=result.data[INDIVIDUAL].to_numpy()[order], positions=kept[order],
        leaves={column: built.leaves for column, built in hierarchies.items()},
        checksums={column: built.checksum for column, built in hierarchies.items()},
        levels={column: int(level) for column, level in result.levels.items()},
        heights={column: built.height for column, built in hierarchies.items()},
        information_loss=float(result.info_loss), rows_in=int(result.rows_in), suppressed=int(result.suppressed_rows),
        risk={"basis": result.risk.basis, "highest": float(result.risk.max), "average": float(result.risk.average)},
        nodes_checked=int(result.search.nodes_checked), search_seconds=float(result.search.elapsed_s),
        engine_version=engine_version(), kept=result.data.index.to_numpy())
