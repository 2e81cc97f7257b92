"""Two ways of publishing a bank's ledger night after night, measured as an attacker and as an analyst.

Used by benchmarks/release_privacy.py and tests/anonymization/e2e/test_release_attacks.py; import
it after django.setup(), on a database holding a bank.

* **Increments** (the product): the policy's releases as of the first night, then each later
  night, through `service.release_run_for_policy`, exactly as the nightly task runs them. The
  attacker's material is each published file, read back from storage (the Parquet file, which
  holds the true labels; the CSV only adds formula guards).
* **Cumulative** (the old design, simulated): each night the whole history up to that night,
  extracted with the release's own `extract`, anonymized by Flash (full-domain recoding) with the
  policy's hierarchies, criteria, suppression limit and metric, written in ledger (chronological)
  order, with no hold-back. The product no longer publishes such files.

The attacker's population register (`population_read`): every customer's demographics, read
from the bank's tables the way the extraction reads them, customers without a published row too.

Ground truth. The attacks and the workload need, for every published row, the customer and the
ledger entry behind it and the raw values. A release never writes them: they exist only in the run's
memory, where the verifier joins the customer codes back by position. `WrittenRows` wraps the run's
hold-back step (`anonymization.release.run._hold_back`, the seam of the hold-back spy of
tests/anonymization/e2e/test_increments.py; the last step that sees the extraction, which the run
lets go before writing) to copy them while the run holds them; they stay in this process's memory
and are never written to disk.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from anonymization import engine
from anonymization.engine.attacks import AttackReport, attack_report
from anonymization.engine.coverage import (
    CategoricalDomain,
    CoverageResolver,
    DateDomain,
    DayRange,
    Interval,
    NumericDomain,
    hierarchy_leaves,
)
from anonymization.engine.utility import (
    MonthColumn,
    PrefixColumn,
    RangeColumn,
    ValueColumn,
    WorkloadColumn,
    column_survival,
    workload_error,
    workload_generate,
)
from anonymization.models import Release, ReleasePolicy
from anonymization.policy.catalog import INDIVIDUAL
from anonymization.policy.hierarchies import build_hierarchy
from anonymization.policy.spec import PolicySpec
from anonymization.release import run, service, write
from anonymization.release.extract import NO_CARD, _cards_by_account, _people, extract

T = TypeVar("T")
DEFAULT_POLICY = "Nightly transactions"
MEASURE = "amount"


# --- one published file -------------------------------------------------------------------------

@dataclass(frozen=True)
class Truth:
    """The bank's row-aligned ground truth of one file: `ids` (customer code, entry id) and raw values."""

    ids: pd.DataFrame
    raw: pd.DataFrame


@dataclass(frozen=True)
class Published:
    """One published file as the attacker holds it (labels as text, in file order), with its truth and cost.

    `rows_in`: rows the night's anonymization took in; `suppressed`: rows it left out for good;
    `held`: rows held back for a later night (increments only); `levels`: Flash's generalization
    levels (empty for local recoding); `seconds` and `peak_mib`: wall time and peak resident memory
    of the process during the night's publishing run.
    """

    as_of: datetime.date
    file: pd.DataFrame
    truth: Truth
    rows_in: int
    suppressed: int
    held: int
    levels: dict[str, int]
    seconds: float
    peak_mib: float


def raw_values(frame: pd.DataFrame, positions: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Return the extracted rows at `positions`, released columns only: numbers as numbers, days and text as text."""
    part = frame.iloc[positions]
    out: dict[str, object] = {}
    for name in columns:
        series = part[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[name] = pd.Categorical(series.dt.strftime("%Y-%m-%d"))
        elif pd.api.types.is_numeric_dtype(series):
            out[name] = series.to_numpy()
        else:
            out[name] = pd.Categorical(series.astype(str))
    return pd.DataFrame(out)


# --- peak memory ------------------------------------------------------------------------------------

def _reset_peak() -> None:
    """Reset the process's peak resident memory (Linux: write 5 to /proc/self/clear_refs), when allowed."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _peak_mib() -> float:
    """Return the peak resident memory since the last reset (VmHWM), else since the process started."""
    with contextlib.suppress(OSError), open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(call: Callable[[], T]) -> tuple[T, float, float]:
    """Return the call's result, its wall time in seconds and the process's peak resident MiB during it."""
    _reset_peak()
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started, _peak_mib()


# --- increments: the product --------------------------------------------------------------------------

class WrittenRows:
    """Copy, while a release runs, the customer code, entry id and raw values behind each row it writes.

    Inside `watching()` the run's hold-back step is wrapped: it receives the anonymization outcome
    (customer codes and extraction positions of the rows to be written, in file order) and the
    extraction (entry ids and raw values); the copy stays in memory until `take()`. The run's search is
    wrapped too, to keep the extracted frame whole (`consume=False`) until then.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._last: Truth | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[WrittenRows]:
        original = run._hold_back
        signature = inspect.signature(original)

        def verify(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            outcome, extraction = arguments["outcome"], arguments["extraction"]
            positions = np.asarray(outcome.positions)
            ids = pd.DataFrame({"customer": np.asarray(outcome.individuals),
                                "entry": np.asarray(extraction.entries)[positions]})
            self._last = Truth(ids, raw_values(extraction.frame, positions, self.columns))
            return original(*args, **kwargs)

        searching = run.anonymize

        def keeping(*args: Any, **kwargs: Any) -> Any:
            # the copy reads the raw values after the search: the run's search may not let the frame go
            return searching(*args, **{**kwargs, "consume": False})

        run._hold_back, run.anonymize = verify, keeping
        try:
            yield self
        finally:
            run._hold_back, run.anonymize = original, searching

    def take(self) -> Truth:
        """Return the truth of the last written file and forget it."""
        if self._last is None:
            raise RuntimeError("no release file was written while watching")
        truth, self._last = self._last, None
        return truth


def _published_file(release: Release) -> pd.DataFrame:
    """Return a published release's rows as the attacker reads them (the Parquet file: labels as text)."""
    return write.read_parquet(release.artifacts.get(kind="parquet").name).astype(str)


NOTHING_TONIGHT = "Nothing to publish as of"


def increments_publish(*, policy_id: int, nights: Sequence[datetime.date]) -> list[Published]:
    """Publish the policy's release for each night in turn (the first covers the history); return the files."""
    spec = PolicySpec.from_model(ReleasePolicy.objects.get(pk=policy_id))
    published = []
    with WrittenRows(spec.columns).watching() as written:
        for as_of in nights:
            release, seconds, peak = measured(
                lambda day=as_of: service.release_run_for_policy(policy_id=policy_id, as_of=day))
            if release.status == Release.Status.FAILED and release.error.startswith(NOTHING_TONIGHT):
                continue  # every new entry waits for a later night: nothing published, nothing lost
            if release.status != Release.Status.PUBLISHED:
                raise RuntimeError(f"the release as of {as_of} ended {release.status}: {release.error}")
            file, truth = _published_file(release), written.take()
            if len(file) != len(truth.ids):
                raise RuntimeError(f"the release as of {as_of} has {len(file)} rows, its ground truth {len(truth.ids)}")
            published.append(Published(as_of, file, truth, release.rows_in, release.suppressed_rows,
                                       release.held_rows or 0, dict(release.levels or {}), seconds, peak))
    return published


# --- cumulative files: the old design ----------------------------------------------------------------

def flash_full_domain(frame: pd.DataFrame, spec: PolicySpec) -> engine.Result:
    """Anonymize an extracted frame with Flash under the policy (hierarchies, criteria, limit, metric)."""
    built = {qi.column: build_hierarchy(column=qi.column, series=frame[qi.column], builder=qi.builder,
                                        params=qi.params, arx_csv=qi.arx_csv) for qi in spec.class_hierarchies}
    work = pd.DataFrame({column: hierarchy.leaves for column, hierarchy in built.items()}, index=frame.index)
    if spec.sensitive_column:
        work[spec.sensitive_column] = frame[spec.sensitive_column]
    work[INDIVIDUAL] = frame[INDIVIDUAL]
    return engine.anonymize(work, quasi_identifiers={column: h.hierarchy for column, h in built.items()},
                            criteria=spec.criteria(), suppression_limit=spec.suppression_limit, metric=spec.metric,
                            individual_id=INDIVIDUAL)


def _cumulative_night(spec: PolicySpec, as_of: datetime.date) -> tuple[pd.DataFrame, Truth, engine.Result]:
    extraction = extract(source=spec.source, as_of=as_of, columns=list(spec.columns))
    result = flash_full_domain(extraction.frame, spec)
    kept = np.sort(result.data.index.to_numpy())  # ledger order: the extraction is sorted by entry id
    data = result.data.loc[kept]
    file = pd.DataFrame({name: (data[name] if name in data.columns else extraction.frame[name].iloc[kept])
                         .astype(str).to_numpy() for name in spec.columns})
    ids = pd.DataFrame({"customer": data[INDIVIDUAL].to_numpy(), "entry": np.asarray(extraction.entries)[kept]})
    return file, Truth(ids, raw_values(extraction.frame, kept, spec.columns)), result


def cumulative_simulate(*, spec: PolicySpec, nights: Sequence[datetime.date]) -> list[Published]:
    """Return, per night, the whole history up to it anonymized by Flash, rows in ledger order."""
    published = []
    for as_of in nights:
        (file, truth, result), seconds, peak = measured(lambda day=as_of: _cumulative_night(spec, day))
        published.append(Published(as_of, file, truth, int(result.rows_in), int(result.suppressed_rows), 0,
                                   {c: int(level) for c, level in result.levels.items()}, seconds, peak))
    return published


# --- what the analyst and the attacker get ------------------------------------------------------------

@dataclass(frozen=True)
class Ledger:
    """The raw ledger up to the last night (all released columns) and its public domains."""

    raw: pd.DataFrame
    columns: dict[str, WorkloadColumn]
    card_nodes: dict[str, frozenset[str]]

    @property
    def domains(self) -> dict[str, NumericDomain | DateDomain | CategoricalDomain]:
        return {name: column.domain for name, column in self.columns.items()}


def _bounds(values: pd.Series, unit: float) -> NumericDomain:
    low, high = np.floor(values.min() / unit) * unit, np.ceil(values.max() / unit) * unit
    return NumericDomain(float(low), float(high if high > values.max() else high + unit))


def ledger_read(spec: PolicySpec, last_night: datetime.date) -> Ledger:
    """Return the raw ledger up to `last_night` and the workload's columns over its domains.

    The workload is the one of benchmarks/local_recoding.py on the bank's columns: age ranges of
    10-30 years on a 5-year grid (domain 0-120), gender and kind by value, postal code by its first
    3 characters (the demo codes all share their first 2), the calendar month, and amount ranges of
    100-1,000 EUR on a 50-EUR grid (domain: lowest to highest amount rounded out to 1,000 EUR).
    Days run from the first ledger day to the last night. The card BIN and the balance are not
    queried (their survival is reported apart); the card hierarchy's nodes are kept for the attacks.
    """
    extraction = extract(source=spec.source, as_of=last_night, columns=list(spec.columns))
    raw = raw_values(extraction.frame, np.arange(extraction.rows), spec.columns)
    qi = {q.column: q for q in spec.quasi_identifiers}
    cards = build_hierarchy(column="card_number", series=raw["card_number"], builder="card",
                            params=qi["card_number"].params).hierarchy if "card_number" in qi else None
    values = {name: tuple(sorted(map(str, raw[name].unique()))) for name in raw.columns if not _numeric(raw[name])}
    days = raw["transaction_date"].astype(str) if "transaction_date" in raw else pd.Series(dtype=str)
    makers: dict[str, Callable[[], WorkloadColumn]] = {
        "age": lambda: RangeColumn(NumericDomain(0, 120), step=5, widths=(10, 20, 30)),
        "gender": lambda: ValueColumn(CategoricalDomain(values["gender"])),
        "postal_code": lambda: PrefixColumn(CategoricalDomain(values["postal_code"]), digits=3),
        "transaction_date": lambda: MonthColumn(DateDomain(days.min(), days.max())),
        "kind": lambda: ValueColumn(CategoricalDomain(values["kind"])),
        "amount": lambda: RangeColumn(_bounds(raw["amount"], 1000), step=50, widths=(100, 250, 500, 1000)),
    }
    columns = {name: makers[name]() for name in makers if name in spec.columns}
    return Ledger(raw, columns, hierarchy_leaves(cards) if cards is not None else {})


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype)


def population_read(nights: Sequence[datetime.date]) -> pd.DataFrame:
    """Return the attacker's population register: every customer of the bank, with or without a published row.

    One row per customer, age (as of each night: a file shows ages as of its own as-of date) and
    card of each of their accounts (its first card, "none" without one), with the values and the
    customer codes that the extraction gives published rows (`anonymization.release.extract`);
    a customer is covered by a label when any of their rows is.
    """
    accounts = _cards_by_account()
    parts = []
    for as_of in nights:
        people = _people(as_of)
        frame = pd.DataFrame({"customer": np.arange(len(people)), "age": people["age"].to_numpy(),
                              "gender": people["gender"].astype(str).to_numpy(),
                              "postal_code": people["postal_code"].astype(str).to_numpy()},
                             index=people.index.rename("customer_id"))
        cards = pd.DataFrame({"card_number": accounts["card_number"].astype(str).to_numpy(),
                              "card_network": accounts["card_network"].astype(str).to_numpy()},
                             index=pd.Index(accounts["customer"].to_numpy(), name="customer_id"))
        joined = frame.join(cards, how="left").fillna({"card_number": NO_CARD, "card_network": NO_CARD})
        parts.append(joined.reset_index(drop=True))
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def attacks_play(files: Sequence[Published], ledger: Ledger, population: pd.DataFrame, *, k: int, seed: int,
                 n_targets: int) -> AttackReport:
    """Run every attack of `attack_report` over the design's files (ledger position: the entry id)."""
    return attack_report([f.file for f in files], [f.truth.ids for f in files], [f.truth.raw for f in files],
                         k=k, seed=seed, n_targets=n_targets, population=population,
                         mappings={"card_number": ledger.card_nodes})


def union_of(files: Sequence[Published], cumulative: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the design's union of published rows and the raw rows of the same entries.

    Increments: every file stacked (each entry is published at most once). Cumulative files: the
    newest one, which holds every entry the design still publishes (older files only repeat them).
    """
    chosen = files[-1:] if cumulative else files
    return (pd.concat([f.file for f in chosen], ignore_index=True),
            pd.concat([f.truth.raw for f in chosen], ignore_index=True))


@dataclass(frozen=True)
class Utility:
    """What an analyst gets from a design's union of files.

    `mean` / `median`: relative error of the workload (COUNT and SUM(amount)) against the raw rows
    of the entries released; `entries`: rows in the union; `all_stars`: released columns whose
    label is `*` in every row; `specific`: per workload column, the share of rows whose label is
    narrower than the domain; `extent`: per workload column, the median over rows of what the
    label covers (years, EUR, days, or number of domain values).
    """

    mean: float
    median: float
    entries: int
    all_stars: tuple[str, ...]
    specific: dict[str, float]
    extent: dict[str, float]


def _median_extent(series: pd.Series, name: str, domain: NumericDomain | DateDomain | CategoricalDomain) -> float:
    resolved = CoverageResolver(name, domain).resolve_column(series)
    sizes = np.array([c.length if isinstance(c, Interval) else c.days if isinstance(c, DayRange) else len(c.values)
                      for c in resolved.coverages], dtype=float)
    return float(np.median(sizes[resolved.codes])) if len(series) else 0.0


def utility_measure(released: pd.DataFrame, raw: pd.DataFrame, ledger: Ledger, queries: Sequence[Any]) -> Utility:
    """Return the workload error and column survival of a union of published rows (see `Utility`)."""
    domains = ledger.domains
    error = workload_error(raw, released, queries, domains)
    survival = column_survival(released, domains)
    stars = tuple(name for name in released.columns if (released[name] == "*").all())
    return Utility(error.mean, error.median, len(released), stars,
                   {name: s.specific_share for name, s in survival.items()},
                   {name: _median_extent(released[name], name, domain) for name, domain in domains.items()})


def queries_draw(ledger: Ledger, *, n_queries: int, seed: int) -> list[Any]:
    """Draw the workload on the raw ledger (the same queries for every design)."""
    return workload_generate(ledger.raw, ledger.columns, n_queries=n_queries, seed=seed, min_rows=20,
                             measure=MEASURE, measure_domain=ledger.columns[MEASURE].domain)


def levels_summary(files: Sequence[Published]) -> str:
    """Return the first file's levels / the later files' most common levels (number of distinct level vectors).

    Levels are digits in `level_columns` order; '-' when the files have none (local recoding).
    """
    if not files or not files[0].levels:
        return "-"
    later = [tuple(f.levels.values()) for f in files[1:]]
    first = "".join(str(level) for level in files[0].levels.values())
    if not later:
        return first
    values, counts = np.unique(np.array(later), axis=0, return_counts=True)
    common = "".join(str(level) for level in values[int(np.argmax(counts))])
    return f"{first} / {common} ({len({*later})} distinct)"


def level_columns(files: Sequence[Published]) -> list[str]:
    """Return the columns in the order the level strings list them."""
    return list(files[0].levels) if files and files[0].levels else []


def policy_spec(name: str = DEFAULT_POLICY) -> tuple[ReleasePolicy, PolicySpec]:
    """Return the policy row and its spec."""
    policy = ReleasePolicy.objects.get(name=name)
    return policy, PolicySpec.from_model(policy)


def nights_from(last_night: datetime.date, nights: int) -> list[datetime.date]:
    """Return the first release's as-of date followed by `nights` nightly as-of dates ending on `last_night`."""
    return [last_night - datetime.timedelta(days=nights - offset) for offset in range(nights + 1)]


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0

