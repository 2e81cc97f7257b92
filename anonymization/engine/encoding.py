"""Per-column dictionaries between values and integers.

Every column the engine looks at is encoded once into a numpy ``int64`` code array; the search
never touches strings again. Values are compared as strings (see :func:`value_to_str`), so an
int ``39`` in the data matches ``"39"`` in a hierarchy. Missing values (``None``/``NaN``) become
the string :data:`MISSING`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MISSING", "EncodedColumn", "encode_column", "factorize_strings", "value_to_str", "combine_codes"]

MISSING = "NULL"

#: Largest key space that mixed-radix arithmetic may use before keys are re-compressed.
KEY_LIMIT = 1 << 62


def value_to_str(value: object) -> str:
    """The string form used to compare data values with hierarchy values.

    Integral floats lose their ``.0`` (a column with missing values becomes float in pandas),
    missing values become :data:`MISSING`, everything else is ``str(value)``.
    """
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class EncodedColumn:
    """One column as integer codes: ``labels[codes[i]]`` is the string value of row ``i``."""

    name: str
    codes: np.ndarray
    labels: list[str]

    @property
    def cardinality(self) -> int:
        return len(self.labels)


def encode_column(series: pd.Series, name: str | None = None) -> EncodedColumn:
    """Encode a column: equal strings get equal codes, codes are dense ``0..len(labels)-1``."""
    raw_codes, merged, labels = factorize_strings(series)
    codes = merged[raw_codes].astype(np.int64, copy=False)
    return EncodedColumn(str(series.name if name is None else name), codes, labels)


def factorize_strings(series: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One hash pass over a column: ``(raw, merged, labels)`` where row ``i`` holds the string
    ``labels[merged[raw[i]]]``. Callers that map the labels further (to hierarchy leaves) compose
    that map with ``merged`` and gather once per row."""
    raw_codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    strings = [value_to_str(u) for u in uniques]
    if (raw_codes < 0).any():
        raw_codes = np.where(raw_codes < 0, len(strings), raw_codes)
        strings.append(MISSING)
    merged, labels = _merge_equal_strings(strings)
    return raw_codes, merged, labels


def _merge_equal_strings(strings: list[str]) -> tuple[np.ndarray, list[str]]:
    """Map raw unique values to dense codes of their distinct string forms (1 and 1.0 -> '1')."""
    index: dict[str, int] = {}
    mapping = np.fromiter((index.setdefault(s, len(index)) for s in strings), dtype=np.int64, count=len(strings))
    return mapping, list(index)


def combine_codes(columns: list[np.ndarray], cardinalities: list[int]) -> tuple[np.ndarray, int]:
    """Combine code columns into one int64 key per row (mixed radix).

    Invariant: two rows get the same key iff they agree on every column. When the key space
    would exceed :data:`KEY_LIMIT`, the partial key is compressed to dense ranks first, so any
    number of columns works. Returns the keys and the size of the key space.
    """
    key = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
    space = 1
    for column, cardinality in zip(columns, cardinalities, strict=True):
        if space * cardinality > KEY_LIMIT:
            uniques, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64, copy=False).ravel()
            space = len(uniques)
        key = key * cardinality + column
        space *= cardinality
    return key, space
