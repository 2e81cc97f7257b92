"""Generalization hierarchies of a policy: built-in builders with parameters, or an uploaded ARX CSV.

A hierarchy is a table: one row per leaf value, then one column per generalization level, ending
in "*". Leaves are strings prepared from the extracted column (`generalize_column`): numeric columns are
first cut into `bin`-wide bands, so that exact amounts or balances (unique fingerprints) are never
a release level. Every builder checks its parameters first and raises HierarchyInvalid with a
message naming the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accounts.cards import network_for_pan

from .columns import CARD, CODE, DATE, NUMERIC
from .exceptions import HierarchyInvalid

TOP = "*"
DATE_LEVELS = ("month", "quarter", "year")
ARX_DELIMITER = ";"


@dataclass(frozen=True)
class HierarchyTable:
    """Leaf values and their generalizations, level by level; level 0 is the leaf."""

    column: str
    rows: tuple[tuple[str, ...], ...]

    @property
    def height(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    def to_csv(self) -> str:
        """Return the table as ARX-format CSV (semicolon-separated, one row per leaf)."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=ARX_DELIMITER, lineterminator="\n")
        writer.writerows(self.rows)
        return out.getvalue()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.to_csv().encode()).hexdigest()


def _fail(column: str, message: str) -> HierarchyInvalid:
    return HierarchyInvalid(f"Hierarchy of {column}: {message}")


# --- parameter checks ---------------------------------------------------------------------------

def _positive_number(column: str, params: dict, key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(column, f"{key} must be a positive number, not {value!r}.")
    return float(value)


def _interval_params(column: str, params: dict) -> tuple[float, float, list[float]]:
    """Return (origin, bin, widths) after checking that every width nests in the previous one."""
    bin_width = _positive_number(column, params, "bin", 1)
    origin = params.get("origin", 0)
    if isinstance(origin, bool) or not isinstance(origin, int | float):
        raise _fail(column, f"origin must be a number, not {origin!r}.")
    widths = params.get("widths")
    if not isinstance(widths, list) or not widths:
        raise _fail(column, "widths must be a non-empty list of numbers, e.g. [10, 50, 100].")
    previous = bin_width
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, int | float) or width <= 0:
            raise _fail(column, f"widths must be positive numbers, not {width!r}.")
        if width <= previous or not _is_multiple(width, previous):
            raise _fail(column, f"width {width:g} must be a larger multiple of {previous:g} so intervals nest.")
        previous = width
    return float(origin), bin_width, [float(w) for w in widths]


def _is_multiple(value: float, of: float) -> bool:
    ratio = value / of
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)


def _mask_params(column: str, params: dict) -> tuple[str, list[int]]:
    """Return ("keep", prefix lengths, decreasing) or ("levels", masked trailing counts, increasing)."""
    mode = "keep" if "keep" in params else "levels"
    counts = params.get(mode)
    if not isinstance(counts, list) or not counts or not all(type(n) is int and n > 0 for n in counts):
        raise _fail(column, f"{mode} must be a non-empty list of positive whole numbers of characters.")
    wanted = sorted(set(counts), reverse=(mode == "keep"))
    if counts != wanted:
        order = "decreasing" if mode == "keep" else "increasing"
        raise _fail(column, f"{mode} must be strictly {order}.")
    return mode, counts


def _date_params(column: str, params: dict) -> list[str]:
    levels = params.get("levels", list(DATE_LEVELS))
    if not isinstance(levels, list) or not levels or any(level not in DATE_LEVELS for level in levels):
        raise _fail(column, f"levels must be a non-empty list drawn from {', '.join(DATE_LEVELS)}.")
    if [DATE_LEVELS.index(level) for level in levels] != sorted({DATE_LEVELS.index(lv) for lv in levels}):
        raise _fail(column, "levels must be in the order month, quarter, year without repeats.")
    return levels


def _card_params(column: str, params: dict) -> list[int]:
    lengths = params.get("prefix_lengths", [4])
    if not isinstance(lengths, list) or not all(type(n) is int and 1 <= n <= 5 for n in lengths):
        raise _fail(column, "prefix_lengths must be a list of whole numbers from 1 to 5.")
    if lengths != sorted(set(lengths), reverse=True):
        raise _fail(column, "prefix_lengths must be strictly decreasing, e.g. [4, 2].")
    return lengths


def _category_params(column: str, params: dict) -> list[dict[str, str]]:
    levels = params.get("levels")
    if not isinstance(levels, list) or not levels:
        raise _fail(column, 'levels must be a non-empty list of mappings, e.g. [{"F": "any", "M": "any"}].')
    for number, mapping in enumerate(levels, start=1):
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise _fail(column, f"level {number} must map values to text.")
    return levels


# --- builders: (column, series, params) -> (leaf categorical, rows) ------------------------------

Rows = list[tuple[str, ...]]
Built = tuple[pd.Series, Rows]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def _interval_label(low: float, width: float) -> str:
    if width == 1 and float(low).is_integer():
        return _number(low)
    return f"[{_number(low)}, {_number(low + width)})"


def _floor_to(value: float, origin: float, width: float) -> float:
    return origin + math.floor((value - origin) / width + 1e-9) * width


def _categorical(codes: np.ndarray, categories: list[str], index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=index)


def _strings(column: str, series: pd.Series) -> tuple[pd.Series, list[str]]:
    """Return the column as a categorical of strings and its distinct values; refuse missing values."""
    if series.isna().any():
        raise _fail(column, "the data has missing values, which no hierarchy level can represent.")
    leaves = series.astype(str).astype("category")
    return leaves, [str(value) for value in leaves.cat.categories]


def _intervals(column: str, series: pd.Series, params: dict) -> Built:
    origin, bin_width, widths = _interval_params(column, params)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        raise _fail(column, "numeric intervals need numbers, and the data has missing or non-numeric values.")
    buckets, inverse = np.unique(np.floor((values - origin) / bin_width + 1e-9).astype(np.int64), return_inverse=True)
    lows = origin + buckets * bin_width
    leaves = [_interval_label(low, bin_width) for low in lows]
    rows = [(leaf, *(_interval_label(_floor_to(low, origin, w), w) for w in widths), TOP)
            for leaf, low in zip(leaves, lows, strict=True)]
    return _categorical(inverse.reshape(-1), leaves, series.index), rows


def _masked(value: str, mode: str, n: int) -> str:
    if mode == "keep":
        return value[:n] + "*" if len(value) > n else value
    return value[:-n] + "*" * n if len(value) > n else "*" * len(value)


def _mask(column: str, series: pd.Series, params: dict) -> Built:
    mode, counts = _mask_params(column, params)
    leaves, values = _strings(column, series)
    return leaves, [(v, *(_masked(v, mode, n) for n in counts), TOP) for v in values]


def _quarter(day: pd.Timestamp) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


_DATE_FORMATTERS: dict[str, Callable[[pd.Timestamp], str]] = {
    "month": lambda day: f"{day.year}-{day.month:02d}", "quarter": _quarter, "year": lambda day: str(day.year),
}


def _date(column: str, series: pd.Series, params: dict) -> Built:
    levels = _date_params(column, params)
    days = pd.to_datetime(series, errors="coerce")
    if days.isna().any():
        raise _fail(column, "dates are missing or not dates.")
    leaves, values = _strings(column, days.dt.strftime("%Y-%m-%d"))
    rows = []
    for value in values:
        day = pd.Timestamp(value)
        rows.append((value, *(_DATE_FORMATTERS[level](day) for level in levels), TOP))
    return leaves, rows


def _card_row(value: str, lengths: list[int]) -> tuple[str, ...]:
    if not (len(value) == 6 and value.isdigit()):
        return (value, *(value for _ in lengths), value, TOP)  # "none": an account without a card
    prefixes = (value[:n] + "*" * (6 - n) for n in lengths)
    return (value, *prefixes, network_for_pan(value), TOP)


def _card(column: str, series: pd.Series, params: dict) -> Built:
    lengths = _card_params(column, params)
    leaves, values = _strings(column, series)
    return leaves, [_card_row(value, lengths) for value in values]


def _categories(column: str, series: pd.Series, params: dict) -> Built:
    levels = _category_params(column, params)
    leaves, values = _strings(column, series)
    rows = []
    for value in values:
        row = [value]
        for number, mapping in enumerate(levels, start=1):
            parent = mapping.get(row[-1], mapping.get(TOP))
            if parent is None:
                raise _fail(column, f"level {number} has no mapping for {row[-1]!r}.")
            row.append(parent)
        rows.append(tuple(row))
    if {row[-1] for row in rows} != {TOP}:
        rows = [(*row, TOP) for row in rows]
    return leaves, rows


def parse_arx(column: str, text: str) -> Rows:
    """Parse an ARX hierarchy CSV and check its shape: equal row lengths, unique leaves, nested levels."""
    rows = [tuple(cell.strip() for cell in row) for row in csv.reader(io.StringIO(text), delimiter=ARX_DELIMITER)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise _fail(column, "the ARX file is empty.")
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise _fail(column, f"line {number} has {len(row)} values, but line 1 has {width}.")
        if not all(row):
            raise _fail(column, f"line {number} has an empty value.")
    _check_unique_leaves(column, rows)
    _check_nested(column, rows)
    return rows


def _check_unique_leaves(column: str, rows: Rows) -> None:
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if row[0] in seen:
            raise _fail(column, f"line {number} repeats the value {row[0]!r}.")
        seen.add(row[0])


def _check_nested(column: str, rows: Rows) -> None:
    """Refuse a level value that generalizes to two different values one level up."""
    for level in range(1, len(rows[0]) - 1):
        parents: dict[str, str] = {}
        for number, row in enumerate(rows, start=1):
            parent = parents.setdefault(row[level], row[level + 1])
            if parent != row[level + 1]:
                raise _fail(column, f"line {number}: {row[level]!r} at level {level} generalizes to both "
                                    f"{parent!r} and {row[level + 1]!r}.")


def _arx(column: str, series: pd.Series, params: dict, arx_csv: str) -> Built:
    table = parse_arx(column, arx_csv)
    leaves, values = _strings(column, series)
    by_leaf = {row[0]: row for row in table}
    missing = [value for value in values if value not in by_leaf]
    if missing:
        shown = ", ".join(repr(value) for value in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise _fail(column, f"the ARX file does not cover {shown}{more}.")
    return leaves, [by_leaf[value] for value in values]


_BUILDERS: dict[str, Callable[[str, pd.Series, dict], Built]] = {
    "intervals": _intervals, "mask": _mask, "date": _date, "card": _card, "categories": _categories,
}
_PARAM_CHECKS: dict[str, Callable[[str, dict], object]] = {
    "intervals": _interval_params, "mask": _mask_params, "date": _date_params, "card": _card_params,
    "categories": _category_params,
}
# Which builders make sense for which column kind (category mappings and ARX files fit any column).
_FITS: dict[str, set[str]] = {
    "intervals": {NUMERIC}, "mask": {CODE, CARD}, "date": {DATE}, "card": {CARD},
}


def check_definition(*, column: str, kind: str, builder: str, params: object, arx_csv: str = "") -> None:
    """Raise HierarchyInvalid unless the builder fits the column kind and its parameters are valid."""
    if builder not in _BUILDERS and builder != "arx":
        raise _fail(column, f"unknown builder {builder!r}.")
    if builder in _FITS and kind not in _FITS[builder]:
        raise _fail(column, f"the {builder} builder does not fit a {kind} column.")
    if not isinstance(params, dict):
        raise _fail(column, "parameters must be a JSON object.")
    if builder == "arx":
        parse_arx(column, arx_csv)
    else:
        _PARAM_CHECKS[builder](column, params)


def generalize_column(
    *, column: str, series: pd.Series, builder: str, params: dict, arx_csv: str = "",
) -> tuple[pd.Series, HierarchyTable]:
    """Return the column's leaf values (categorical strings) and its hierarchy table over them."""
    if builder == "arx":
        leaves, rows = _arx(column, series, params, arx_csv)
    elif builder in _BUILDERS:
        leaves, rows = _BUILDERS[builder](column, series, params)
    else:
        raise _fail(column, f"unknown builder {builder!r}.")
    return leaves, HierarchyTable(column=column, rows=tuple(rows))


