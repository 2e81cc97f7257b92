"""Flash on the Adult data set, all 9 columns as quasi-identifiers (lattice of 12,960 nodes).

For metrics loss and dm, k in {2, 5, 10, 25, 50, 100} and 0% / 2% suppression: the median wall
and CPU time of warm in-process ``anonymize`` runs (whole call: encoding, search, output), the
search time alone, nodes checked, levels and information loss. Then, in the same run, an
exhaustive search (every node checked, same roll-up machinery) for k=5 of each metric and
suppression limit, so the speed-up is a ratio; one line per privacy model beyond k-anonymity
(occupation sensitive or left out, the other eight columns as quasi-identifiers, ARX's set-ups;
research-subset models on ARX's subset); and one end-to-end command line run (process start to
files written).

    .venv/bin/python benchmarks/flash_adult.py [--runs 5] [--ks 2 5 10 25 50 100] [--no-exhaustive] [--no-models]

Data: $ATM_SHARED_DATA/adult (default: the copy in <repo>/tests/data/adult).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from anonymization.engine import (  # noqa: E402
    DPresence,
    EntropyLDiversity,
    Hierarchy,
    Inclusion,
    KAnonymity,
    KMap,
    RecursiveCLDiversity,
    TCloseness,
    anonymize,
)
from anonymization.engine.io import read_table  # noqa: E402

COLUMNS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
           "salary-class"]


def adult_folder() -> Path:
    return Path(os.environ.get("ATM_SHARED_DATA", REPO / "tests" / "data")) / "adult"


def load(folder: Path):
    table = read_table(folder / "adult.csv")
    hierarchies = {c: Hierarchy.from_csv(folder / f"adult_hierarchy_{c}.csv", name=c) for c in COLUMNS}
    return table, hierarchies


def timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(table, hierarchies, k: int, limit: float, metric: str, runs: int) -> dict:
    def run():
        return anonymize(table, hierarchies, [KAnonymity(k)], suppression_limit=limit, metric=metric)

    run()  # warm-up
    samples = [timed(run) for _ in range(runs)]
    result = samples[-1][0]
    return {
        "wall": statistics.median(s[1] for s in samples), "cpu": statistics.median(s[2] for s in samples),
        "search": statistics.median(s[0].search.elapsed_s for s in samples),
        "checked": result.search.nodes_checked, "levels": tuple(result.levels[c] for c in COLUMNS),
        "loss": result.info_loss, "suppressed": result.suppressed_rows,
    }


def exhaustive(table, hierarchies, k: int, limit: float, metric: str) -> tuple[float, float, float]:
    result, wall, cpu = timed(lambda: anonymize(table, hierarchies, [KAnonymity(k)], suppression_limit=limit,
                                                metric=metric, algorithm="exhaustive"))
    return wall, cpu, result.info_loss


def model_cases(folder: Path, hierarchies):
    """(name, criteria, suppression limit, metric, subset) for each model beyond k-anonymity."""
    occupation = Hierarchy.from_csv(folder / "adult_hierarchy_occupation.csv", name="occupation")
    subset = read_table(folder / "adult_subset.csv")
    return [
        ("recursive-(3,2) + 5-anon", [KAnonymity(5), RecursiveCLDiversity("occupation", 3, 2)], 0.04, "entropy", None),
        ("entropy-5 Grassberger", [EntropyLDiversity("occupation", 5, "grassberger")], 0.0, "entropy-nonmonotonic",
         None),
        ("entropy-5 Grassberger", [EntropyLDiversity("occupation", 5, "grassberger")], 0.04, "entropy-nonmonotonic",
         None),
        ("hierarchical 0.2-close + 5-anon", [KAnonymity(5), TCloseness("occupation", 0.2, "hierarchical", occupation)],
         0.04, "entropy", None),
        ("inclusion + 5-anon", [KAnonymity(5), Inclusion()], 0.0, "loss", subset),
        ("d-presence [0.05, 0.15]", [DPresence(0.05, 0.15)], 0.05, "entropy", subset),
        ("k-map 5 over the subset", [KMap(5)], 0.0, "aecs", subset),
        ("k-map 3 estimated (ZTP, USA)", [KMap(3, "zero-truncated-poisson", 317_238_626)], 0.05,
         "entropy-nonmonotonic", None),
    ]


def measure_models(table, folder: Path, hierarchies, runs: int) -> None:
    eight = {c: hierarchies[c] for c in COLUMNS if c != "occupation"}
    print(f"\nprivacy models (8 quasi-identifiers, occupation sensitive or left out), median of {runs} runs:")
    for name, criteria, limit, metric, subset in model_cases(folder, hierarchies):
        samples = [timed(lambda: anonymize(table, eight, criteria, limit, metric, subset=subset))  # noqa: B023
                   for _ in range(runs)]
        result = samples[-1][0]
        print(f"{name:32} {limit:4.0%} {metric:20} wall {statistics.median(s[1] for s in samples) * 1e3:8.1f} ms  "
              f"cpu {statistics.median(s[2] for s in samples) * 1e3:8.1f} ms  checked {result.search.nodes_checked:5d}"
              f"  {result.info_loss!r}")


def cli_time(folder: Path) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        qis = [arg for c in COLUMNS for arg in ("--qi", f"{c}={folder / f'adult_hierarchy_{c}.csv'}")]
        command = [sys.executable, "-m", "anonymization.engine", "--input", str(folder / "adult.csv"), *qis,
                   "--k", "5", "--output", f"{scratch}/out.csv", "--report", f"{scratch}/report.json"]
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 5, 10, 25, 50, 100])
    parser.add_argument("--no-exhaustive", action="store_true")
    parser.add_argument("--no-models", action="store_true")
    args = parser.parse_args()
    folder = adult_folder()
    table, hierarchies = load(folder)
    print(f"Adult: {len(table)} rows, 9 quasi-identifiers, lattice 12960 nodes; median of {args.runs} warm runs")
    print(f"{'metric':6} {'supp':>4} {'k':>4} {'wall ms':>8} {'cpu ms':>7} {'search ms':>9} {'checked':>7}  "
          f"{'levels':27} info loss")
    flash_k5 = {}
    for metric in ("loss", "dm"):
        for limit in (0.0, 0.02):
            for k in args.ks:
                m = measure(table, hierarchies, k, limit, metric, args.runs)
                flash_k5[(metric, limit, k)] = m
                print(f"{metric:6} {limit:4.0%} {k:4d} {m['wall'] * 1e3:8.1f} {m['cpu'] * 1e3:7.1f} "
                      f"{m['search'] * 1e3:9.1f} {m['checked']:7d}  {str(m['levels']):27} {m['loss']!r}")
    if not args.no_exhaustive and 5 in args.ks:
        print("\nexhaustive search (all 12960 nodes), k=5, one run each:")
        for metric in ("loss", "dm"):
            for limit in (0.0, 0.02):
                wall, cpu, loss = exhaustive(table, hierarchies, 5, limit, metric)
                flash = flash_k5[(metric, limit, 5)]
                same = "same optimum" if abs(loss - flash["loss"]) <= 1e-12 * max(1.0, abs(loss)) else "DIFFERENT"
                print(f"{metric:6} {limit:4.0%} wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
                      f"Flash is {wall / flash['wall']:6.1f}x faster (wall), {cpu / flash['cpu']:6.1f}x (cpu); {same}")
    if not args.no_models:
        measure_models(table, folder, hierarchies, max(1, min(args.runs, 3)))
    print(f"\ncommand line, k=5 loss 0%, process start to files written: {cli_time(folder):.2f} s")


if __name__ == "__main__":
    main()
