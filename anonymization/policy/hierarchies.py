"""Hierarchies as a policy configures them: a builder and JSON parameters that fit the column's kind.

The app checks the parameters (every message names the column) and turns them into one call of
an engine builder (anonymization.engine.Hierarchy); it implements no builder itself. Leaves are
prepared from the extracted column: numeric columns are cut into `bin`-wide bands first, so that
exact amounts or balances (unique fingerprints) are never a release level; dates become ISO days.
Engine errors (a malformed ARX file, data a hierarchy does not cover) become HierarchyInvalid.
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

from ..engine import Hierarchy, HierarchyError
from ..engine.coverage import ANY, parse_label
from ..engine.hierarchy import interval_leaves
from ..exceptions import HierarchyInvalid
from .catalog import CARD, CODE, DATE, NUMERIC

DATE_LEVELS = ("month", "quarter", "year")
ARX_DELIMITER = ";"


def _fail(column: str, message: str) -> HierarchyInvalid:
    return HierarchyInvalid(f"Hierarchy of {column}: {message}")


def _engine_failure(column: str, exc: HierarchyError) -> HierarchyInvalid:
    return _fail(column, f"{exc}.")


# --- parameter checks ---------------------------------------------------------------------------

def _positive_number(column: str, params: dict, key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(column, f"{key} must be a positive number, not {value!r}.")
    return float(value)


def _is_multiple(value: float, of: float) -> bool:
    ratio = value / of
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)


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


def parse_arx(column: str, text: str) -> Hierarchy:
    """Return the uploaded ARX hierarchy, or raise HierarchyInvalid with the engine's reason."""
    try:
        return Hierarchy.from_csv_text(text, delimiter=ARX_DELIMITER)
    except HierarchyError as exc:
        raise _engine_failure(column, exc) from exc


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
    if builder not in _PARAM_CHECKS and builder != "arx":
        raise _fail(column, f"unknown builder {builder!r}.")
    if builder in _FITS and kind not in _FITS[builder]:
        raise _fail(column, f"the {builder} builder does not fit a {kind} column.")
    if not isinstance(params, dict):
        raise _fail(column, "parameters must be a JSON object.")
    if builder == "arx":
        _check_readable_labels(column, kind, parse_arx(column, arx_csv))
    else:
        _PARAM_CHECKS[builder](column, params)


def _check_readable_labels(column: str, kind: str, hierarchy: Hierarchy) -> None:
    """Refuse an ARX hierarchy of a number or a date whose group labels do not read as one.

    Rule: a released number is a value or a range (`35`, `[20, 40)`), a released date a day, a day
    range or a calendar period (`2025-03`), so that the verifier and the utility figures can tell
    what a label covers; a name such as "young" says nothing they can check.
    """
    if kind not in (NUMERIC, DATE):
        return
    for level in range(1, hierarchy.depth):
        for label in hierarchy.labels[level]:
            if label == ANY:
                continue
            try:
                parse_label(kind, label, column=column)
            except ValueError:
                example = "a range such as [20, 40)" if kind == NUMERIC else "a period such as 2025-03 or 2025-Q1"
                raise _fail(column, f"the group label {label!r} (level {level}) is not {example}; a {kind} "
                                    "column's groups must say which values they cover.") from None


# --- leaves and engine builder calls ---------------------------------------------------------------

@dataclass(frozen=True)
class ColumnHierarchy:
    """A column's leaf values (categorical strings, row-aligned with the data) and its hierarchy."""

    column: str
    leaves: pd.Series
    hierarchy: Hierarchy

    @property
    def height(self) -> int:
        return self.hierarchy.depth

    @property
    def checksum(self) -> str:
        """Return the SHA-256 of the hierarchy as ARX CSV (recorded in the release metadata)."""
        out = io.StringIO()
        csv.writer(out, delimiter=ARX_DELIMITER, lineterminator="\n").writerows(self.hierarchy.rows)
        return hashlib.sha256(out.getvalue().encode()).hexdigest()


def _as_text_categories(codes: np.ndarray, texts: list[str], series: pd.Series) -> pd.Series:
    """Return the rows' texts (`texts[codes]`) as a categorical with sorted categories, aligned with `series`."""
    categories = sorted(set(texts))
    to_category = pd.Index(categories, dtype=object).get_indexer(texts)
    return pd.Series(pd.Categorical.from_codes(to_category[codes], categories=categories), index=series.index,
                     name=series.name)


def _strings(column: str, series: pd.Series) -> tuple[pd.Series, list[str]]:
    """Return the column as a categorical of strings (sorted categories) and its distinct values; refuse
    missing values. Each distinct value is converted to text once."""
    if series.isna().any():
        raise _fail(column, "the data has missing values, which no hierarchy level can represent.")
    codes, uniques = pd.factorize(series)
    leaves = _as_text_categories(codes, pd.Series(uniques).astype(str).tolist(), series)
    return leaves, [str(value) for value in leaves.cat.categories]


def _intervals(column: str, series: pd.Series, params: dict) -> tuple[pd.Series, Hierarchy]:
    origin, bin_width, widths = _interval_params(column, params)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        raise _fail(column, "numeric intervals need numbers, and the data has missing or non-numeric values.")
    codes, uniques = pd.factorize(values)
    distinct, unique_rows = np.unique(uniques, return_inverse=True)
    rows = unique_rows.reshape(-1)[codes]
    labels, label_rows = np.unique(np.asarray(interval_leaves(distinct, bin_width, origin), dtype=object),
                                   return_inverse=True)
    leaves = pd.Series(pd.Categorical.from_codes(label_rows.ravel()[rows.ravel()], categories=list(labels)),
                       index=series.index)
    return leaves, Hierarchy.intervals(distinct, widths, bin_width=bin_width, origin=origin)


def _mask(column: str, series: pd.Series, params: dict) -> tuple[pd.Series, Hierarchy]:
    mode, counts = _mask_params(column, params)
    leaves, values = _strings(column, series)
    if mode == "keep":
        return leaves, Hierarchy.prefixes(values, keep=counts)
    return leaves, Hierarchy.masking(values, levels=counts)


def _date(column: str, series: pd.Series, params: dict) -> tuple[pd.Series, Hierarchy]:
    levels = _date_params(column, params)
    days = pd.to_datetime(series, errors="coerce")
    if days.isna().any():
        raise _fail(column, "dates are missing or not dates.")
    codes, uniques = pd.factorize(days)
    leaves = _as_text_categories(codes, pd.Series(uniques).dt.strftime("%Y-%m-%d").tolist(), series)
    return leaves, Hierarchy.dates([str(value) for value in leaves.cat.categories], levels=levels)


def _card(column: str, series: pd.Series, params: dict) -> tuple[pd.Series, Hierarchy]:
    lengths = _card_params(column, params)
    leaves, values = _strings(column, series)
    return leaves, Hierarchy.card_numbers(values, network=network_for_pan, prefix_lengths=lengths)


def _categories(column: str, series: pd.Series, params: dict) -> tuple[pd.Series, Hierarchy]:
    levels = _category_params(column, params)
    leaves, values = _strings(column, series)
    return leaves, Hierarchy.from_level_mappings(values, levels)


def _arx(column: str, series: pd.Series, arx_csv: str) -> tuple[pd.Series, Hierarchy]:
    """Return the uploaded hierarchy restricted to the data's values, after checking it covers them."""
    hierarchy = parse_arx(column, arx_csv)
    leaves, values = _strings(column, series)
    rows = hierarchy.leaf_codes(values)
    return leaves, Hierarchy([hierarchy.rows[row] for row in rows])


_BUILDERS: dict[str, Callable[[str, pd.Series, dict], tuple[pd.Series, Hierarchy]]] = {
    "intervals": _intervals, "mask": _mask, "date": _date, "card": _card, "categories": _categories,
}


def build_hierarchy(*, column: str, series: pd.Series, builder: str, params: dict,
                    arx_csv: str = "") -> ColumnHierarchy:
    """Return the column's leaf values and the engine hierarchy the policy configures over them."""
    if builder != "arx" and builder not in _BUILDERS:
        raise _fail(column, f"unknown builder {builder!r}.")
    try:
        leaves, hierarchy = _arx(column, series, arx_csv) if builder == "arx" else _BUILDERS[builder](
            column, series, params)
    except HierarchyError as exc:
        raise _engine_failure(column, exc) from exc
    return ColumnHierarchy(column=column, leaves=leaves, hierarchy=hierarchy)


# --- what each level means ---------------------------------------------------------------------------

HIDDEN = "hidden (*)"


def _amount(value: float, unit: str) -> str:
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{value:g} {unit}".strip()


def _level_meanings(builder: str, params: dict, unit: str) -> list[str]:
    """Return the meaning of each level below the top (level 0 first), from the builder's parameters."""
    if builder == "date":
        return ["day", *params.get("levels", list(DATE_LEVELS))]
    if builder == "intervals":
        bands = [params.get("bin", 1), *params.get("widths", [])]
        return [f"bands of {_amount(width, unit)}" for width in bands]
    if builder == "card":
        return ["6-digit BIN", *(f"first {n} digits" for n in params.get("prefix_lengths", [4])), "card network"]
    if builder == "mask" and "keep" in params:
        return ["exact value", *(f"first {n} character{'s' * (n != 1)}" for n in params["keep"])]
    if builder == "mask":
        return ["exact value", *(f"last {n} character{'s' * (n != 1)} hidden" for n in params.get("levels", []))]
    if builder == "categories":
        groups = [sorted(set(mapping.values())) for mapping in params.get("levels", [])]
        return ["exact value", *(f"grouped as {quote_groups(names)}" for names in groups)]
    return ["exact value"]


def quote_groups(names: list[str], limit: int = 3) -> str:
    """Return a short list of group names: "adult, minor" or "a, b, c and 2 more"."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def level_names(*, builder: str, params: dict, height: int, unit: str = "") -> list[str]:
    """Return a name for each of a hierarchy's `height` levels, by what it releases: "quarter", not "level 2 of 4".

    The last level is the top. A builder's top is always `*`; an uploaded ARX file names its own
    levels, so they are called "ARX level i" there. `unit` names the unit of numeric bands ("years").
    """
    if builder == "arx":
        return ["exact value", *(f"ARX level {level}" for level in range(1, height))][:height]
    names = _level_meanings(builder, params if isinstance(params, dict) else {}, unit)[:height - 1]
    names += [f"level {level}" for level in range(len(names), height - 1)]
    return [*names, HIDDEN] if height > 1 else names or ["exact value"]
