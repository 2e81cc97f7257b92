"""A live preview of a hierarchy: a few sample values of a column and what each level makes of them.

The privacy officer sees, while editing a policy, what the released values look like at every level
(like ARX's hierarchy wizard). The samples are made-up values typical of each column, never read
from the ledger; an uploaded ARX file is previewed on its own first rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..exceptions import HierarchyInvalid
from .catalog import CUSTOMER_COLUMNS, TRANSACTION_COLUMNS
from .hierarchies import HIDDEN, build_hierarchy, check_definition, level_names, parse_arx

SAMPLES = 4
EXAMPLES: dict[str, tuple[object, ...]] = {
    "age": (19, 34, 47, 68),
    "gender": ("F", "M", "X"),
    "postal_code": ("1012 AB", "1017 CE", "3511 LK", "9711 AA"),
    "card_network": ("visa", "mastercard", "amex"),
    "card_number": ("411111", "412345", "555555", "378282"),
    "transaction_date": ("2025-01-15", "2025-02-03", "2025-05-21", "2025-11-30"),
    "amount": (-250, -20, 45.5, 1200),
    "balance_after": (80, 1530, 4920, 24800),
    "kind": ("withdrawal", "deposit", "transfer_in", "transfer_out"),
    "channel": ("atm", "branch", "online", "back_office"),
    "transactions": (3, 27, 140, 960),
    "deposits_total": (150, 2400, 18750, 96000),
    "withdrawals_total": (90, 1800, 12300, 64000),
    "balance": (40, 2750, 15600, 240000),
}
COLUMNS = {**TRANSACTION_COLUMNS, **CUSTOMER_COLUMNS}


@dataclass(frozen=True)
class Preview:
    """Level names (level 0 first) and one row per sample: the sample, then its value at each level."""

    levels: list[str]
    rows: list[list[str]]

    def to_json(self) -> dict[str, list]:
        return {"levels": self.levels, "rows": self.rows}


def hierarchy_preview(*, column: str, builder: str, params: object, arx_csv: str = "") -> Preview:
    """Return the preview of a hierarchy definition; raise HierarchyInvalid with the reason when it is invalid."""
    if column not in COLUMNS:
        raise HierarchyInvalid(f"Choose a column: {column!r} is not a releasable column.")
    check_definition(column=column, kind=COLUMNS[column].kind, builder=builder, params=params, arx_csv=arx_csv)
    assert isinstance(params, dict)  # check_definition refuses anything else
    if builder == "arx":
        hierarchy = parse_arx(column, arx_csv)
        names = level_names(builder=builder, params=params, height=hierarchy.depth)
        if hierarchy.depth > 1 and len({row[-1] for row in hierarchy.rows}) == 1:
            names[-1] = HIDDEN  # one value for every row: the level hides the column
        return Preview(levels=names, rows=[list(row) for row in hierarchy.rows[:SAMPLES]])
    samples = pd.Series(EXAMPLES[column][:SAMPLES])
    built = build_hierarchy(column=column, series=samples, builder=builder, params=params)
    scale = COLUMNS[column].scale
    names = level_names(builder=builder, params=params, height=built.height, unit=scale.unit if scale else "")
    codes = built.hierarchy.leaf_codes([str(leaf) for leaf in built.leaves])
    rows = [list(built.hierarchy.rows[code]) for code in codes]
    if builder != "intervals":
        return Preview(levels=names, rows=rows)
    # numbers are released in bands from level 0 on: show the sample itself first
    return Preview(levels=["sample", *names], rows=[[_shown(sample), *row] for sample, row in zip(samples, rows, strict=True)])


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
