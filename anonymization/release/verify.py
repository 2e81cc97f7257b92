"""Independent checks of a written release, before anything is published.

This module recomputes the privacy guarantees from the file as re-read from storage, with its own
small pandas code (it does not import the engine): k over distinct customers, distinct
l-diversity and t-closeness of the sensitive column. The released file holds no customer column,
so the run keeps the extraction's customer codes in memory, row-aligned with the written rows (the
writer keeps row order), and the verifier joins them back by position. It also refuses direct
identifier columns and any cell that carries a customer's name, email address, phone number,
account number or card number (BIN + last four digits). Error messages never repeat the value found.
`verify_written` re-reads the files from storage and runs every check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import VerificationFailed
from ..policy.catalog import DIRECT_IDENTIFIERS, Identifiers
from ..policy.spec import PolicySpec
from . import write

TOLERANCE = 1e-9
_SEPARATORS = re.compile(r"[\s\-*./()+]")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_WORDS = re.compile(r"[^\W\d_]+")
BIN_LAST4_LENGTH = 10


@dataclass(frozen=True)
class Expectations:
    """What the verifier checks a release file against."""

    columns: list[str]
    quasi_identifiers: list[str]
    k: int
    sensitive: str = ""
    l_diversity: int | None = None
    t_closeness: float | None = None
    ordered_sensitive: bool = False

    @classmethod
    def from_spec(cls, spec: PolicySpec) -> Expectations:
        """Return what a file released under the policy must satisfy."""
        return cls(columns=list(spec.columns), quasi_identifiers=spec.qi_columns, k=spec.k,
                   sensitive=spec.sensitive_column, l_diversity=spec.l_diversity, t_closeness=spec.t_closeness,
                   ordered_sensitive=spec.sensitive_is_ordered)


def _fail(message: str) -> VerificationFailed:
    return VerificationFailed(f"Verification failed: {message}")


def check_columns(data: pd.DataFrame, expected: Expectations) -> None:
    """Refuse direct-identifier columns and any column the policy did not release."""
    leaked = [name for name in data.columns if str(name).lower() in DIRECT_IDENTIFIERS]
    if leaked:
        raise _fail(f"the file has direct identifier column(s) {', '.join(map(repr, leaked))}.")
    if list(data.columns) != list(expected.columns):
        raise _fail(f"the file's columns {list(map(str, data.columns))} differ from the policy's {expected.columns}.")


def class_ids(data: pd.DataFrame, quasi_identifiers: list[str]) -> np.ndarray:
    """Return an equivalence-class number per row: rows with equal quasi-identifier values share one."""
    if not quasi_identifiers:
        return np.zeros(len(data), dtype=np.int64)
    return data.groupby(quasi_identifiers, sort=False, observed=True, dropna=False).ngroup().to_numpy()


def check_k(classes: np.ndarray, individuals: np.ndarray, k: int) -> dict[str, int]:
    """Require at least k distinct customers in every class; return the class count and smallest class."""
    if len(classes) != len(individuals):
        raise _fail(f"the file has {len(classes)} rows but the run kept {len(individuals)} customer codes.")
    if len(classes) == 0:
        raise _fail("the file has no rows.")
    customers = customers_per_class(classes, individuals)
    smallest = int(customers.min())
    if smallest < k:
        raise _fail(f"{int((customers < k).sum())} equivalence class(es) have fewer than k={k} customers "
                    f"(smallest: {smallest}).")
    return {"classes": int(len(customers)), "smallest_class_customers": smallest}


def check_l(classes: np.ndarray, sensitive: pd.Series, l_diversity: int) -> int:
    """Require at least l distinct sensitive values in every class; return the smallest count."""
    distinct = pd.DataFrame({"c": classes, "s": sensitive.to_numpy()}).groupby("c")["s"].nunique()
    smallest = int(distinct.min())
    if smallest < l_diversity:
        raise _fail(f"{int((distinct < l_diversity).sum())} class(es) have fewer than l={l_diversity} distinct "
                    f"values of the sensitive column (smallest: {smallest}).")
    return smallest


def _ordered_domain(values: list[str]) -> list[str]:
    """Sort the sensitive values numerically when all of them are numbers, else as text."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _distribution_table(classes: np.ndarray, sensitive: pd.Series, domain: list) -> np.ndarray:
    """Return a (classes x domain) matrix of each class's sensitive-value frequencies."""
    codes = pd.Categorical(sensitive.astype(str).to_numpy(), categories=domain).codes
    if (codes < 0).any():
        raise _fail("the sensitive column has values that are not in the extracted data.")
    counts = np.zeros((int(classes.max()) + 1, len(domain)))
    np.add.at(counts, (classes, codes), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def emd(class_freq: np.ndarray, overall: np.ndarray, ordered: bool) -> np.ndarray:
    """Return each class's Earth Mover's Distance to the overall distribution (rows of class_freq).

    Equal ground distance for categories (half the L1 distance); ordered distance for numbers
    (the cumulative differences, divided by the number of values minus one).
    """
    difference = class_freq - overall[np.newaxis, :]
    if not ordered:
        return 0.5 * np.abs(difference).sum(axis=1)
    steps = max(len(overall) - 1, 1)
    return np.abs(np.cumsum(difference, axis=1)).sum(axis=1) / steps


def check_t(classes: np.ndarray, sensitive: pd.Series, overall_values: pd.Series, t: float, ordered: bool) -> float:
    """Require every class's sensitive distribution within t of the overall one; return the largest distance."""
    domain = _ordered_domain(pd.unique(overall_values.astype(str).to_numpy()).tolist())
    overall = pd.Categorical(overall_values.astype(str).to_numpy(), categories=domain).codes
    overall_freq = np.bincount(overall, minlength=len(domain)) / len(overall)
    distances = emd(_distribution_table(classes, sensitive, domain), overall_freq, ordered)
    largest = float(distances.max())
    if largest > t + TOLERANCE:
        raise _fail(f"{int((distances > t + TOLERANCE).sum())} class(es) are further than t={t:g} from the "
                    f"overall distribution of the sensitive column (largest: {largest:.4f}).")
    return largest


# --- identifier scan ------------------------------------------------------------------------------

def _digits(value: str) -> str:
    return _SEPARATORS.sub("", value)


def _leak_kind(value: str, ids: Identifiers) -> str | None:
    """Return what kind of identifier the cell carries (never the identifier itself), or None."""
    folded = value.strip().casefold()
    if folded in ids.names:
        return "a customer name or address"
    if folded in ids.emails or any(token in ids.emails for token in folded.split()):
        return "an email address"
    words = _WORDS.findall(folded)
    windows = (" ".join(words[i:i + n]) for n in range(2, 7) for i in range(len(words) - n + 1))
    if any(window in ids.full_names for window in windows):
        return "a customer name"
    compact = _digits(value.upper())
    if any(match in ids.accounts for match in _IBAN.findall(compact)):
        return "an account number"
    if compact.isdigit() and compact in ids.phones:
        return "a phone number"
    numbers = re.sub(r"\D", "", compact)
    if any(numbers[i:i + BIN_LAST4_LENGTH] in ids.bin_last4 for i in range(len(numbers) - BIN_LAST4_LENGTH + 1)):
        return "a card number"
    return None


def _distinct_strings(column: pd.Series) -> Iterable[str]:
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else pd.unique(column)
    return (str(value) for value in values if not pd.isna(value))


def check_cells(data: pd.DataFrame, ids: Identifiers) -> None:
    """Refuse the file if any cell carries a direct identifier from the database."""
    for name in data.columns:
        for value in _distinct_strings(data[name]):
            kind = _leak_kind(value, ids)
            if kind:
                raise _fail(f"column {str(name)!r} contains {kind} from the database.")


@dataclass(frozen=True)
class Verified:
    """The recomputed figures of a file that passed, and its customers per equivalence class."""

    figures: dict[str, float | int]
    class_customers: np.ndarray


def verify(*, data: pd.DataFrame, individuals: np.ndarray, expected: Expectations, ids: Identifiers,
           overall_sensitive: pd.Series | None = None) -> Verified:
    """Run every check on a re-read release file; return the recomputed figures or raise VerificationFailed."""
    check_columns(data, expected)
    check_cells(data, ids)
    classes = class_ids(data, expected.quasi_identifiers)
    figures: dict[str, float | int] = dict(check_k(classes, individuals, expected.k))
    if expected.sensitive and expected.l_diversity:
        figures["smallest_l"] = check_l(classes, data[expected.sensitive], expected.l_diversity)
    if expected.sensitive and expected.t_closeness is not None:
        overall = overall_sensitive if overall_sensitive is not None else data[expected.sensitive]
        figures["largest_t"] = check_t(classes, data[expected.sensitive], overall, expected.t_closeness,
                                       expected.ordered_sensitive)
    return Verified(figures=figures, class_customers=customers_per_class(classes, individuals))


def customers_per_class(classes: np.ndarray, individuals: np.ndarray) -> np.ndarray:
    """Return the number of distinct customers in each equivalence class."""
    pairs = pd.DataFrame({"c": classes, "i": individuals}).drop_duplicates()
    return pairs.groupby("c").size().to_numpy()


def check_same_table(parquet: pd.DataFrame, data: pd.DataFrame) -> None:
    """Require the Parquet file to hold the CSV's table, value for value (compared as text, column by column)."""
    same = list(parquet.columns) == list(data.columns) and len(parquet) == len(data) and all(
        (parquet[name].astype(str).to_numpy() == data[name].astype(str).to_numpy()).all() for name in data.columns)
    if not same:
        raise _fail("the Parquet file differs from the CSV file.")


def verify_written(*, written: list[write.Written], individuals: np.ndarray, spec: PolicySpec, ids: Identifiers,
                   overall_sensitive: pd.Series | None = None) -> Verified:
    """Re-read the written files from storage and check them independently of the search; return the figures."""
    by_kind = {item.kind: item for item in written}
    data = write.read_csv(by_kind[write.Kind.CSV].name)
    check_same_table(write.read_parquet(by_kind[write.Kind.PARQUET].name), data)
    return verify(data=data, individuals=individuals, expected=Expectations.from_spec(spec), ids=ids,
                  overall_sensitive=overall_sensitive)
