"""Mondrian local recoding: speed, memory, and workload error against Flash.

Synthetic ledger (seeded numpy, no Django): customers with a fixed age (18-89), gender, postal
code (5 digits, 60 codes under 9 first digits) and ~100 entries each: a 2025 date, a kind
(deposit / withdrawal / transfer / card payment, the mix depending on age) and an amount (gamma,
scale depending on the kind), in EUR [0, 5000).

Prints:

* Mondrian time (wall, CPU) and peak memory (tracemalloc peak of Python/numpy allocations during
  the call) at 100k and 1M rows (1,000 and 10,000 customers), k=5 over customers, median of runs;
* workload error (200 queries, seed 1, min 20 rows, COUNT and SUM(amount)) of Mondrian and of
  Flash (``anonymize``, loss metric, 2% suppression, builder hierarchies) at 200 customers /
  20k rows and 1,000 customers / 100k rows, plus column survival.

    .venv/bin/python benchmarks/local_recoding.py [--runs 3] [--skip-scale]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from anonymization.engine import Hierarchy, KAnonymity, anonymize  # noqa: E402
from anonymization.engine.coverage import CategoricalDomain, DateDomain, NumericDomain  # noqa: E402
from anonymization.engine.mondrian import DateQI, HierarchyQI, NumericQI, mondrian  # noqa: E402
from anonymization.engine.utility import (  # noqa: E402
    MonthColumn,
    PrefixColumn,
    RangeColumn,
    ValueColumn,
    column_survival,
    workload_error,
    workload_generate,
)

KINDS = np.array(["deposit", "withdrawal", "transfer", "card"])
KIND_GROUPS = {"deposit": ["in"], "withdrawal": ["out"], "transfer": ["out"], "card": ["out"]}
FIRST_DAY, LAST_DAY = "2025-01-01", "2025-12-31"


def postal_codes(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(sorted({f"{rng.integers(1, 10)}{rng.integers(0, 10_000):04d}" for _ in range(60)}))


def ledger(customers: int, per_customer: int = 100, seed: int = 11) -> pd.DataFrame:
    """Return ``customers * per_customer`` ledger rows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    rows = customers * per_customer
    customer = np.repeat(np.arange(customers), per_customer)
    age = rng.integers(18, 90, customers)
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D").strftime("%Y-%m-%d").to_numpy()
    young = age[customer] < 40
    mix = np.where(young[:, None], [0.2, 0.2, 0.2, 0.4], [0.35, 0.3, 0.25, 0.1])
    kind = (rng.random(rows)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    scale = np.array([400.0, 80.0, 250.0, 30.0])[kind]
    return pd.DataFrame({
        "customer": customer,
        "age": age[customer],
        "gender": rng.choice(["F", "M"], customers)[customer],
        "postal": rng.choice(postal_codes(), customers)[customer],
        "date": rng.choice(days, rows),
        "kind": KINDS[kind],
        "amount": np.minimum(rng.gamma(1.5, scale / 1.5), 4999.99).round(2),
    })


def mondrian_qis() -> dict[str, object]:
    return {
        "age": NumericQI(0, 120, grain=5),
        "gender": HierarchyQI(Hierarchy([["F", "*"], ["M", "*"]])),
        "postal": HierarchyQI(Hierarchy.masking(postal_codes())),
        "date": DateQI(FIRST_DAY, LAST_DAY, grain="day"),
        "kind": HierarchyQI(Hierarchy.from_mapping(KIND_GROUPS)),
        "amount": NumericQI(0, 5000, grain=1),
    }


def flash_hierarchies(table: pd.DataFrame) -> dict[str, Hierarchy]:
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D").strftime("%Y-%m-%d")
    return {
        "age": Hierarchy.intervals(range(0, 120), widths=[5, 10, 20, 40]),
        "gender": Hierarchy([["F", "*"], ["M", "*"]]),
        "postal": Hierarchy.masking(postal_codes()),
        "date": Hierarchy.dates(days, levels=("month", "quarter", "year")),
        "kind": Hierarchy.from_mapping(KIND_GROUPS),
        "amount": Hierarchy.intervals(sorted(table["amount"].unique()), widths=[10, 50, 250, 1000]),
    }


def workload_columns() -> dict[str, object]:
    codes = tuple(postal_codes())
    return {
        "age": RangeColumn(NumericDomain(0, 120), step=5, widths=(10, 20, 30)),
        "gender": ValueColumn(CategoricalDomain(("F", "M"))),
        "postal": PrefixColumn(CategoricalDomain(codes), digits=1),
        "date": MonthColumn(DateDomain(FIRST_DAY, LAST_DAY)),
        "kind": ValueColumn(CategoricalDomain(tuple(KINDS), Hierarchy.from_mapping(KIND_GROUPS))),
        "amount": RangeColumn(NumericDomain(0, 5000), step=50, widths=(100, 250, 500, 1000)),
    }


def domains() -> dict[str, object]:
    return {name: spec.domain for name, spec in workload_columns().items()}


def measure(call, runs: int) -> tuple[float, float, float, object]:
    """Return median wall s, median CPU s, median tracemalloc peak MiB, last result."""
    walls, cpus, peaks, result = [], [], [], None
    for _ in range(runs):
        tracemalloc.start()
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return statistics.median(walls), statistics.median(cpus), statistics.median(peaks), result


def scale(runs: int) -> None:
    for customers in (1_000, 10_000):
        table = ledger(customers)
        wall, cpu, peak, result = measure(lambda t=table: mondrian(t, mondrian_qis(), 5, "customer"), runs)
        untraced, untraced_cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            mondrian(table, mondrian_qis(), 5, "customer")
            untraced.append(time.perf_counter() - started)
            untraced_cpu.append(time.process_time() - started_cpu)
        print(f"mondrian {len(table):>9,} rows / {customers:,} customers, k=5: without tracemalloc wall "
              f"{statistics.median(untraced):.2f} s cpu {statistics.median(untraced_cpu):.2f} s; "
              f"traced wall {wall:.2f} s cpu {cpu:.2f} s, "
              f"traced peak {peak:.0f} MiB; {result.classes.count:,} classes, individuals per class "
              f"min {result.classes.min_individuals} mean {result.classes.mean_individuals:.2f} "
              f"max {result.classes.max_individuals}")


def compare(customers: int, runs: int) -> None:
    table = ledger(customers)
    queries = workload_generate(table, workload_columns(), n_queries=200, seed=1, min_rows=20,
                                measure="amount", measure_domain=NumericDomain(0, 5000))
    m_wall, _, _, m_result = measure(lambda: mondrian(table, mondrian_qis(), 5, "customer"), runs)
    hierarchies = flash_hierarchies(table)
    f_wall, _, _, f_result = measure(lambda: anonymize(table, hierarchies, [KAnonymity(5)], suppression_limit=0.02,
                                                        metric="loss", individual_id="customer"), 1)
    print(f"\n{customers:,} customers / {len(table):,} rows, k=5 over customers, 200 queries")
    for name, release, wall in (("mondrian", m_result.data, m_wall), ("flash", f_result.data, f_wall)):
        error = workload_error(table, release, queries, domains())
        count = [e.error for e in error.queries if e.query.measure is None]
        summed = [e.error for e in error.queries if e.query.measure is not None]
        print(f"  {name:9s} {wall:6.2f} s  error mean {error.mean:.3f} median {error.median:.3f} "
              f"(COUNT median {np.median(count):.3f}, SUM median {np.median(summed):.3f}), "
              f"rows out {len(release):,}")
        survival = column_survival(release, domains())
        print("            survival: " + ", ".join(
            f"{c} {s.specific_share:.0%}/{s.distinct_values}" for c, s in survival.items()))
    print(f"  flash levels {f_result.levels}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    if not args.skip_scale:
        scale(args.runs)
    for customers in (200, 1_000):
        compare(customers, args.runs)
    print(f"\nprocess max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
