"""Before/after: the engine at a git revision against the working tree, alternately in one process.

Extracts ``anonymization/engine`` at ``--baseline`` (default HEAD~1) into a temporary package,
checks that both give the same levels, information loss, nodes checked, suppressed rows and
released data on Adult for a few metric / suppression / k cases, then times the whole
``anonymize`` call for Adult, all 9 columns, k=5, loss, 0% suppression, alternating baseline and
working tree run by run, and prints the CPU and wall medians of each.

    .venv/bin/python benchmarks/engine_ab.py [--baseline REV] [--runs 31]
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import anonymization.engine as current  # noqa: E402
from benchmarks.flash_adult import adult_folder, load  # noqa: E402

CASES = [("loss", 0.0, 5), ("loss", 0.0, 2), ("loss", 0.0, 100), ("loss", 0.02, 5), ("dm", 0.0, 5),
         ("dm", 0.02, 5), ("entropy", 0.04, 5), ("precision", 0.02, 10), ("aecs", 0.02, 5)]


def baseline_engine(revision: str, scratch: Path):
    """Import the engine package of ``revision`` as ``engine_baseline.engine``."""
    archive = subprocess.run(["git", "archive", revision, "anonymization/engine"], cwd=REPO, check=True,
                             capture_output=True).stdout
    package = scratch / "engine_baseline"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(package, filter="data")
    (package / "__init__.py").write_text("")
    (package / "anonymization" / "engine").rename(package / "engine")
    sys.path.insert(0, str(scratch))
    return importlib.import_module("engine_baseline.engine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD~1")
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    table, hierarchies = load(adult_folder())
    with tempfile.TemporaryDirectory() as scratch:
        before = baseline_engine(args.baseline, Path(scratch))
        old_hierarchies = {c: before.Hierarchy(h.rows, name=c) for c, h in hierarchies.items()}
        engines = {"before": (before, old_hierarchies), "after": (current, hierarchies)}
        for metric, limit, k in CASES:
            results = [engine.anonymize(table, hs, [engine.KAnonymity(k)], limit, metric) for engine, hs in
                       engines.values()]
            a, b = results
            same = (a.levels == b.levels and a.info_loss == b.info_loss and a.suppressed_rows == b.suppressed_rows
                    and a.search.nodes_checked == b.search.nodes_checked and a.data.equals(b.data))
            print(f"{metric:10} {limit:4.0%} k={k:3d} identical={same} info loss {b.info_loss!r} "
                  f"checked {b.search.nodes_checked}")

        def run(name: str) -> tuple[float, float]:
            engine, hs = engines[name]
            cpu, wall = time.process_time(), time.perf_counter()
            engine.anonymize(table, hs, [engine.KAnonymity(5)], 0.0, "loss")
            return time.process_time() - cpu, time.perf_counter() - wall

        samples: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        run("before"), run("after")  # warm-up
        for _ in range(args.runs):
            for name in samples:
                samples[name].append(run(name))
        for name, values in samples.items():
            cpu = statistics.median(v[0] for v in values) * 1e3
            wall = statistics.median(v[1] for v in values) * 1e3
            print(f"{name:6} ({args.baseline if name == 'before' else 'working tree'}): Adult k=5 loss 0%, "
                  f"median of {args.runs}: cpu {cpu:.1f} ms, wall {wall:.1f} ms")


if __name__ == "__main__":
    main()
