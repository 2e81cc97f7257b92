"""Independent checks of a written release, before anything is published.

This module recomputes the privacy guarantees from the file as re-read from storage, with its own
small pandas code (it does not import the engine): k over distinct customers, distinct
l-diversity and t-closeness of the sensitive column. The released file holds no customer column,
so the run keeps the extraction's customer codes in memory, row-aligned with the written rows (the
writer keeps row order), and the verifier joins them back by position. It also refuses direct
identifier columns and any cell that carries a customer's name, email address, phone number,
account number or card number (BIN + last four digits). Error messages never repeat the value found.
A cell that is a calendar day range (`2025-03-01..2025-03-14`: two valid days in order) is not
scanned for card numbers: its sixteen digits are two dates, and among the ten-digit windows of
thousands of ranges some match one of 200,000 customers' cards by chance (it happened at ten
million entries), which would refuse every large release for no leak.
`verify_written` re-reads the files from storage and runs every check.

Classes are formed over every released column but the sensitive one, and a column the catalog says
must be generalized is refused unless a hierarchy covered it. Rows must not link to each other:
`balance_after` and `amount` may not both hold exact numbers, and the row order must be unrelated
to the ledger. The run keeps each row's ledger position in memory (never written), so the verifier
requires |Spearman rank correlation| between file and ledger positions below ORDER_BOUND in files of
at least ORDER_MIN_ROWS rows (a random order of fewer rows correlates by chance), and at most
MAX_LEDGER_NEIGHBOURS rows followed by the very next ledger entry (the two legs of a transfer are
consecutive entries). A cell a spreadsheet would run as a formula is refused.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import VerificationFailed
from ..policy.catalog import DIRECT_IDENTIFIERS, Identifiers, catalog_for
from ..policy.spec import PolicySpec
from . import write

TOLERANCE = 1e-9
_SEPARATORS = re.compile(r"[\s\-*./()+]")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_WORDS = re.compile(r"[^\W\d_]+")
_DAY_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
BIN_LAST4_LENGTH = 10
# Row order: a random permutation of n rows has a Spearman correlation with the ledger of about
# +-1/sqrt(n), so the bound is applied from ORDER_MIN_ROWS rows (the writer redraws the rare order
# that fails it). Ledger neighbours follow a Poisson law of mean ~1 in a random order: more than
# MAX_LEDGER_NEIGHBOURS happen by chance about once in a million files.
ORDER_MIN_ROWS = 100
ORDER_BOUND = 0.1
MAX_LEDGER_NEIGHBOURS = 8
CHAINED = ("balance_after", "amount")
RANK_SLICE = 1 << 20


@dataclass(frozen=True)
class Expectations:
    """What the verifier checks a release file against."""

    columns: list[str]
    quasi_identifiers: list[str]
    k: int
    source: str
    sensitive: str = ""
    l_diversity: int | None = None
    t_closeness: float | None = None
    ordered_sensitive: bool = False
    recursive_c: float | None = None
    t_hierarchy: str = ""

    @classmethod
    def from_spec(cls, spec: PolicySpec) -> Expectations:
        """Return what a file released under the policy must satisfy (its hierarchies include the trivial ones)."""
        return cls(columns=list(spec.columns), quasi_identifiers=[qi.column for qi in spec.class_hierarchies],
                   k=spec.k, source=spec.source, sensitive=spec.sensitive_column, l_diversity=spec.l_diversity,
                   t_closeness=spec.t_closeness, ordered_sensitive=spec.sensitive_is_ordered,
                   recursive_c=spec.recursive_c, t_hierarchy=spec.t_hierarchy)

    @property
    def class_columns(self) -> list[str]:
        """Return the columns that form the classes: every released column but the sensitive one."""
        return [name for name in self.columns if name != self.sensitive]


def _fail(message: str) -> VerificationFailed:
    return VerificationFailed(f"Verification failed: {message}")


def check_columns(data: pd.DataFrame, expected: Expectations) -> None:
    """Refuse direct-identifier columns and any column the policy did not release."""
    leaked = [name for name in data.columns if str(name).lower() in DIRECT_IDENTIFIERS]
    if leaked:
        raise _fail(f"the file has direct identifier column(s) {', '.join(map(repr, leaked))}.")
    if list(data.columns) != list(expected.columns):
        raise _fail(f"the file's columns {list(map(str, data.columns))} differ from the policy's {expected.columns}.")


def check_generalized(data: pd.DataFrame, expected: Expectations) -> None:
    """Refuse a column the catalog says must be generalized when no hierarchy covered it."""
    catalog = catalog_for(expected.source)
    for name in map(str, data.columns):
        if catalog[name].must_generalize and name not in expected.quasi_identifiers:
            raise _fail(f"column {name!r} must be generalized, but no hierarchy covered it.")


def _is_exact(column: pd.Series) -> bool:
    """Return True when a released column holds plain numbers (exact values, not bands)."""
    return any(write.is_plain_number(value) for value in _distinct_strings(column))


def check_chain(data: pd.DataFrame) -> None:
    """Refuse exact balances with exact amounts: previous balance + amount = next balance chains a customer's rows."""
    if all(name in data.columns for name in CHAINED) and all(_is_exact(data[name]) for name in CHAINED):
        raise _fail("columns 'balance_after' and 'amount' both hold exact values, which chain a customer's rows "
                    "(previous balance + amount = next balance).")


def check_formulas(data: pd.DataFrame) -> None:
    """Refuse a cell that a spreadsheet would run as a formula (the writer neutralizes them)."""
    for name in data.columns:
        if any(write.is_live_formula(value) for value in _distinct_strings(data[name])):
            raise _fail(f"column {str(name)!r} has a cell a spreadsheet would run as a formula.")


def _ranks(positions: np.ndarray) -> np.ndarray:
    """Return each position's rank (0, 1, ...; equal positions in file order, as a stable sort ranks them).
    Distinct non-negative integer positions (ledger positions) are ranked by counting through a presence
    mask, in int32: no sort and no int64 array of the file's length."""
    values = np.asarray(positions)
    n = len(values)
    if np.issubdtype(values.dtype, np.integer) and n < np.iinfo(np.int32).max and values.min() >= 0 \
            and values.max() < 4 * n + 1024:
        present = np.zeros(int(values.max()) + 1, dtype=bool)
        present[values] = True
        if int(np.count_nonzero(present)) == n:
            below = np.cumsum(present, dtype=np.int32)
            below -= 1
            return below[values]
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(n)
    return ranks


def rank_correlation(positions: np.ndarray) -> float:
    """Return Spearman's rank correlation between file positions (0, 1, ...) and ledger positions: the
    Pearson correlation of the file positions and the ledger ranks (both 0..n-1, so both have mean
    (n - 1) / 2 and the same spread), summed in slices of RANK_SLICE rows."""
    n = len(positions)
    if n < 2:
        return 0.0
    ranks = _ranks(positions)
    middle = (n - 1) / 2
    spread = float(n) * (float(n) * float(n) - 1) / 12  # sum of (i - middle)^2 over 0..n-1
    products = 0.0
    for start in range(0, n, RANK_SLICE):
        file_side = np.arange(start, min(start + RANK_SLICE, n), dtype=np.float64) - middle
        products += float(np.dot(file_side, ranks[start:start + RANK_SLICE] - middle))
    return products / spread


def ledger_neighbours(positions: np.ndarray) -> int:
    """Return how many rows are directly followed in the file by the next ledger entry."""
    values = np.asarray(positions)
    if not np.issubdtype(values.dtype, np.signedinteger):
        values = values.astype(np.int64)
    return int(np.count_nonzero(np.diff(values) == 1))


def order_problem(positions: np.ndarray) -> str | None:
    """Return why the row order links rows through the ledger, or None when it looks random."""
    correlation = rank_correlation(positions)
    if len(positions) >= ORDER_MIN_ROWS and abs(correlation) >= ORDER_BOUND:
        return (f"the rows follow ledger order (rank correlation {correlation:.2f} between file and ledger "
                f"positions; allowed below {ORDER_BOUND:g}).")
    neighbours = ledger_neighbours(positions)
    if neighbours > MAX_LEDGER_NEIGHBOURS:
        return (f"{neighbours} rows are directly followed by the next ledger entry, such as a transfer's other "
                f"leg (a random order has about 1; at most {MAX_LEDGER_NEIGHBOURS} allowed).")
    return None


def check_order(positions: np.ndarray, rows: int) -> None:
    """Refuse a row order that follows the ledger (the positions are kept in memory, row-aligned)."""
    if len(positions) != rows:
        raise _fail(f"the file has {rows} rows but the run kept {len(positions)} ledger positions.")
    problem = order_problem(positions)
    if problem:
        raise _fail(problem)


def class_ids(data: pd.DataFrame, quasi_identifiers: list[str]) -> np.ndarray:
    """Return an equivalence-class number per row: rows with equal quasi-identifier values share one (missing
    values are a value), numbered in order of first appearance. The columns' codes are combined into one
    int64 number per row (renumbered when it would overflow), so ten million rows cost a few arrays."""
    key = np.zeros(len(data), dtype=np.int64)
    space = 1
    for name in quasi_identifiers:
        codes, uniques = pd.factorize(data[name], use_na_sentinel=False)
        if space * len(uniques) >= 2 ** 62:
            renumbered, distinct = pd.factorize(key)
            key, space = renumbered.astype(np.int64), len(distinct)
        key *= max(len(uniques), 1)
        key += codes
        space *= max(len(uniques), 1)
    return pd.factorize(key)[0].astype(np.int64)


def check_k(classes: np.ndarray, individuals: np.ndarray, k: int,
            customers: np.ndarray | None = None) -> dict[str, int]:
    """Require at least k distinct customers in every class; return the class count and smallest class.
    `customers` (customers per class, `customers_per_class`) is computed here unless given."""
    if len(classes) != len(individuals):
        raise _fail(f"the file has {len(classes)} rows but the run kept {len(individuals)} customer codes.")
    if len(classes) == 0:
        raise _fail("the file has no rows.")
    if customers is None:
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


def check_recursive(classes: np.ndarray, sensitive: pd.Series, c: float, l_diversity: int) -> float:
    """Require recursive-(c,l)-diversity: in every class, with its sensitive-value counts r1 >= r2 >= ...,
    r1 < c (r_l + r_(l+1) + ...); return the largest ratio r1 / (r_l + ...)."""
    counts = pd.DataFrame({"c": classes, "s": sensitive.to_numpy()}).groupby(["c", "s"], observed=True).size()
    ratios = []
    for _, class_counts in counts.groupby(level=0):
        ranked = np.sort(class_counts.to_numpy())[::-1]
        tail = ranked[l_diversity - 1:].sum()
        ratios.append(float(ranked[0] / tail) if tail else float("inf"))
    worst = np.asarray(ratios)
    if (worst >= c).any():
        raise _fail(f"{int((worst >= c).sum())} class(es) are not recursive-(c={c:g}, l={l_diversity})-diverse "
                    f"(largest ratio of the top count to the tail: {worst.max():.4f}).")
    return float(worst.max())


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


def hierarchical_emd(class_freq: np.ndarray, overall: np.ndarray, domain: list[str], hierarchy_csv: str) -> np.ndarray:
    """Return each class's Earth Mover's Distance to the overall distribution with the hierarchical ground
    distance: for every node N at level h of the hierarchy (height H), the net excesses e of its children,
    cost h / H * min(sum of positive e, sum of negative -e), summed over the nodes."""
    rows = {cells[0]: cells for line in hierarchy_csv.splitlines() if line.strip()
            for cells in [[cell.strip() for cell in line.split(";")]]}
    missing = [value for value in domain if value not in rows]
    if missing:
        raise _fail(f"the t-closeness hierarchy has no row for sensitive value(s) {', '.join(missing)}.")
    height = len(next(iter(rows.values()))) - 1
    excess = pd.DataFrame(class_freq - overall[np.newaxis, :], columns=domain)
    total = np.zeros(len(class_freq))
    for level in range(1, height + 1):
        child = [f"{level - 1}:{rows[value][level - 1]}" for value in domain]
        parent = [rows[value][level] for value in domain]
        by_child = excess.T.groupby([parent, child]).sum()  # (parent, child) x classes
        positive = by_child.clip(lower=0).groupby(level=0).sum()
        negative = (-by_child).clip(lower=0).groupby(level=0).sum()
        total += level / height * np.minimum(positive, negative).sum(axis=0).to_numpy()
    return total


def check_t(classes: np.ndarray, sensitive: pd.Series, overall_values: pd.Series, t: float, ordered: bool,
            hierarchy_csv: str = "") -> float:
    """Require every class's sensitive distribution within t of the overall one; return the largest distance."""
    domain = _ordered_domain(pd.unique(overall_values.astype(str).to_numpy()).tolist())
    overall = pd.Categorical(overall_values.astype(str).to_numpy(), categories=domain).codes
    overall_freq = np.bincount(overall, minlength=len(domain)) / len(overall)
    table = _distribution_table(classes, sensitive, domain)
    if hierarchy_csv:
        distances = hierarchical_emd(table, overall_freq, domain, hierarchy_csv)
    else:
        distances = emd(table, overall_freq, ordered)
    largest = float(distances.max())
    if largest > t + TOLERANCE:
        raise _fail(f"{int((distances > t + TOLERANCE).sum())} class(es) are further than t={t:g} from the "
                    f"overall distribution of the sensitive column (largest: {largest:.4f}).")
    return largest


# --- identifier scan ------------------------------------------------------------------------------

def _digits(value: str) -> str:
    return _SEPARATORS.sub("", value)


def is_day_range(value: str) -> bool:
    """Return True for a calendar day range `YYYY-MM-DD..YYYY-MM-DD` of two valid days, the first not after the last."""
    match = _DAY_RANGE.fullmatch(value.strip())
    if match is None:
        return False
    try:
        first, last = (datetime.date.fromisoformat(day) for day in match.groups())
    except ValueError:
        return False
    return first <= last


def _leak_kind(value: str, ids: Identifiers) -> str | None:
    """Return what kind of identifier the cell carries (never the identifier itself), or None.

    A neutralized formula is scanned as it was before its apostrophe, so the guard hides nothing.
    """
    if write.is_live_formula(value.removeprefix(write.FORMULA_GUARD)):
        value = value.removeprefix(write.FORMULA_GUARD)
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
    numbers = "" if is_day_range(value) else re.sub(r"\D", "", compact)
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


def verify(*, data: pd.DataFrame, individuals: np.ndarray, positions: np.ndarray, expected: Expectations,
           ids: Identifiers, overall_sensitive: pd.Series | None = None) -> Verified:
    """Run every check on a re-read release file; return the recomputed figures or raise VerificationFailed.

    `individuals` and `positions` are each row's customer code and ledger position, kept in memory.
    """
    check_columns(data, expected)
    check_generalized(data, expected)
    check_cells(data, ids)
    check_formulas(data)
    check_chain(data)
    check_order(positions, len(data))
    classes = class_ids(data, expected.class_columns)
    customers = customers_per_class(classes, individuals) if len(classes) == len(individuals) else None
    figures: dict[str, float | int] = dict(check_k(classes, individuals, expected.k, customers))
    if expected.sensitive and expected.l_diversity:
        figures["smallest_l"] = check_l(classes, data[expected.sensitive], expected.l_diversity)
        if expected.recursive_c is not None:
            figures["largest_recursive_ratio"] = check_recursive(classes, data[expected.sensitive],
                                                                 expected.recursive_c, expected.l_diversity)
    if expected.sensitive and expected.t_closeness is not None:
        overall = overall_sensitive if overall_sensitive is not None else data[expected.sensitive]
        figures["largest_t"] = check_t(classes, data[expected.sensitive], overall, expected.t_closeness,
                                       expected.ordered_sensitive, expected.t_hierarchy)
    assert customers is not None  # check_k refused a file whose rows and customer codes differ in number
    return Verified(figures=figures, class_customers=customers)


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Return a code 0.. per row for its value and the number of codes: non-negative integers that are
    nearly dense (class numbers, customer codes) are their own codes; other values are factorized in ascending
    order (codes keep the values' order either way)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer) and values.min() >= 0 and values.max() < 4 * len(values) + 1024:
        return values, int(values.max()) + 1
    codes, uniques = pd.factorize(values, sort=True)
    return codes, len(uniques)


def class_customer_pairs(classes: np.ndarray, individuals: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return the distinct (class, customer) pairs of the rows as two code arrays (ascending by class, then
    customer) and how many class and customer codes there are (`dense_codes`). The pairs are one int64
    number per row sorted in place: one array of the file's length, not np.unique's sorted copies and
    inverses."""
    class_codes, class_space = dense_codes(classes)
    person_codes, people = dense_codes(individuals)
    pairs = class_codes.astype(np.int64)
    pairs *= people
    pairs += person_codes
    pairs.sort()
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    return pairs // people, pairs % people, class_space, people


def customers_per_class(classes: np.ndarray, individuals: np.ndarray) -> np.ndarray:
    """Return the number of distinct customers in each equivalence class (classes in ascending order)."""
    if not len(classes):
        return np.zeros(0, dtype=np.int64)
    pair_class, _, class_space, _ = class_customer_pairs(classes, individuals)
    per_class = np.bincount(pair_class, minlength=class_space)
    return per_class[per_class > 0]


def _text_codes(column: pd.Series, neutralize: bool = False) -> tuple[np.ndarray, pd.Index]:
    """Return a code per row and the text of each code (`str` of the value, formulas neutralized when asked)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    texts = pd.Series(uniques).astype(str).tolist()
    if neutralize:
        texts = [write.neutralize_cell(value) for value in texts]
    return codes, pd.Index(texts, dtype=object)


def _same_text(parquet: pd.Series, csv: pd.Series) -> bool:
    """Return True when every Parquet value, as the CSV writes it, equals the CSV's text in the same row."""
    parquet_codes, parquet_texts = _text_codes(parquet, neutralize=True)
    csv_codes, csv_texts = _text_codes(csv)
    if csv_texts.has_duplicates:  # two values with one text: compare the texts themselves
        return bool((parquet_texts.to_numpy()[parquet_codes] == csv_texts.to_numpy()[csv_codes]).all())
    return bool((csv_texts.get_indexer(parquet_texts)[parquet_codes] == csv_codes).all())


def check_same_table(parquet: pd.DataFrame, data: pd.DataFrame) -> None:
    """Require the Parquet file (true values) to hold the CSV's table once neutralized, compared as text
    (each distinct value converted once, rows compared by code)."""
    same = list(parquet.columns) == list(data.columns) and len(parquet) == len(data) and all(
        _same_text(parquet[name], data[name]) for name in data.columns)
    if not same:
        raise _fail("the Parquet file differs from the CSV file.")


def check_same_rows(parquet_batches: Iterable[pd.DataFrame], data: pd.DataFrame) -> None:
    """Require the Parquet file, read as consecutive batches of rows, to hold the CSV's table (`check_same_table`
    on each batch and the CSV rows in the same place, then the same number of rows)."""
    start = 0
    for batch in parquet_batches:
        check_same_table(batch, data.iloc[start:start + len(batch)])
        start += len(batch)
    if start != len(data):
        raise _fail("the Parquet file differs from the CSV file.")


def verify_written(*, written: list[write.Written], individuals: np.ndarray, positions: np.ndarray,
                   spec: PolicySpec, ids: Identifiers, overall_sensitive: pd.Series | None = None) -> Verified:
    """Re-read the written files from storage and check them independently of the search; return the figures."""
    by_kind = {item.kind: item for item in written}
    data = write.read_csv(by_kind[write.Kind.CSV].name)
    check_same_rows(write.read_parquet_batches(by_kind[write.Kind.PARQUET].name), data)
    return verify(data=data, individuals=individuals, positions=positions, expected=Expectations.from_spec(spec),
                  ids=ids, overall_sensitive=overall_sensitive)
