"""Flash on a synthetic table of 1,000,000 rows with 6 quasi-identifiers.

Columns: age (0-99, intervals 5/10/20/*), zip (5 digits from 2,000 codes, masked right to left),
sex, a date of 2020-2024 (day/month/quarter/year/*), a card-number prefix (6 digits from 300,
masked), a region of 40 values (-> 8 areas -> *); plus a transaction amount carried along.
Prints the time of the whole ``anonymize`` call (k=10, loss, 0% and 2% suppression), the search
time, nodes checked, and the peak memory: tracemalloc's peak of Python/numpy allocations during
the call, and the process's maximum resident set size.

    .venv/bin/python benchmarks/flash_scale.py [--rows 1000000] [--k 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from anonymization.engine import Hierarchy, KAnonymity, anonymize  # noqa: E402


def synthetic(rows: int, seed: int = 7) -> tuple[pd.DataFrame, dict[str, Hierarchy]]:
    rng = np.random.default_rng(seed)
    zips = np.char.zfill(rng.choice(100_000, 2_000, replace=False).astype(str), 5)
    prefixes = np.char.zfill(rng.choice(1_000_000, 300, replace=False).astype(str), 6)
    days = pd.date_range("2020-01-01", "2024-12-31", freq="D").strftime("%Y-%m-%d").to_numpy()
    regions = np.array([f"region-{i:02d}" for i in range(40)])
    table = pd.DataFrame({
        "age": np.clip(rng.normal(42, 15, rows).round(), 0, 99).astype(int),
        "zip": rng.choice(zips, rows),
        "sex": rng.choice(["F", "M"], rows),
        "date": rng.choice(days, rows),
        "card_prefix": rng.choice(prefixes, rows),
        "region": rng.choice(regions, rows),
        "amount": rng.gamma(2.0, 40.0, rows).round(2),
    })
    hierarchies = {
        "age": Hierarchy.intervals(range(100), widths=[5, 10, 20]),
        "zip": Hierarchy.masking(zips),
        "sex": Hierarchy([["F", "*"], ["M", "*"]]),
        "date": Hierarchy.dates(days, levels=("month", "quarter", "year")),
        "card_prefix": Hierarchy.masking(prefixes),
        "region": Hierarchy.from_mapping({r: [f"area-{i % 8}"] for i, r in enumerate(regions)}),
    }
    return table, hierarchies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    table, hierarchies = synthetic(args.rows)
    print(f"built {len(table)} rows x {len(table.columns)} columns in {time.perf_counter() - started:.1f} s; "
          f"lattice {np.prod([h.depth for h in hierarchies.values()])} nodes")
    for limit in (0.0, 0.02):
        tracemalloc.start()
        wall, cpu = time.perf_counter(), time.process_time()
        result = anonymize(table, hierarchies, [KAnonymity(args.k)], suppression_limit=limit, metric="loss")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"k={args.k} loss {limit:.0%}: wall {wall:.2f} s, cpu {cpu:.2f} s, search {result.search.elapsed_s:.2f} s, "
              f"{result.search.nodes_checked} nodes checked, levels {result.levels}, loss {result.info_loss:.4f}, "
              f"suppressed {result.suppressed_rows}, traced peak {peak / 2**20:.0f} MiB")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {maxrss:.0f} MiB (includes the input table)")


if __name__ == "__main__":
    main()
