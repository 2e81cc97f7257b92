"""Command line: ``python -m anonymization.engine --input FILE --qi COLUMN=HIERARCHY.csv ...``.

Exit status: 0 written; 2 bad input (one line on stderr, nothing written); 3 no transformation
satisfies the criteria (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .api import NoSolutionError, anonymize
from .criteria import (
    KMAP_ESTIMATORS,
    Criterion,
    DistinctLDiversity,
    DPresence,
    EntropyLDiversity,
    Inclusion,
    KAnonymity,
    KMap,
    RecursiveCLDiversity,
    TCloseness,
)
from .hierarchy import Hierarchy, HierarchyError
from .io import read_table, write_outputs
from .metrics import AGGREGATES, METRICS, Metric, create_metric

__all__ = ["main", "build_parser"]

EXIT_BAD_INPUT = 2
EXIT_NO_SOLUTION = 3


class UsageError(ValueError):
    """Bad command line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m anonymization.engine",
                     description="Optimal k-anonymity (Flash) over generalization hierarchies.")
    parser.add_argument("--input", required=True, metavar="FILE", help="delimited table with a header row")
    parser.add_argument("--qi", required=True, action="append", metavar="COLUMN=HIERARCHY.csv",
                        help="quasi-identifier and its ARX hierarchy (repeatable)")
    parser.add_argument("--k", type=int, metavar="N",
                        help="k-anonymity (needed unless --subset, --d-presence or --k-map is given)")
    parser.add_argument("--output", required=True, metavar="OUT.csv")
    parser.add_argument("--report", required=True, metavar="REPORT.json")
    parser.add_argument("--delimiter", default=";", help="of the input, hierarchies and output (default ';')")
    parser.add_argument("--suppression-limit", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of rows that may be suppressed (default 0)")
    parser.add_argument("--metric", default="loss", choices=sorted(METRICS), help="default loss")
    parser.add_argument("--gs-factor", type=float, metavar="X",
                        help="metric's generalization/suppression factor in [0, 1] (default 0.5)")
    parser.add_argument("--weight", action="append", default=[], metavar="COLUMN=W",
                        help="metric weight of a quasi-identifier (repeatable; others weigh 0.5)")
    parser.add_argument("--aggregate", choices=AGGREGATES, help="how the metric combines attributes")
    parser.add_argument("--sensitive", metavar="COLUMN", help="sensitive column for --l / --t")
    parser.add_argument("--l", type=float, metavar="N", help="l-diversity on --sensitive")
    parser.add_argument("--l-variant", default="distinct", choices=["distinct", "entropy", "recursive"])
    parser.add_argument("--l-estimator", default="shannon", choices=["shannon", "grassberger"],
                        help="entropy estimator of --l-variant entropy")
    parser.add_argument("--recursive-c", type=float, metavar="C",
                        help="recursive-(c,l)-diversity with this c (implies --l-variant recursive)")
    parser.add_argument("--t", type=float, metavar="X", help="t-closeness on --sensitive")
    parser.add_argument("--t-distance", default="equal", choices=["equal", "ordered"])
    parser.add_argument("--t-hierarchical", metavar="HIERARCHY.csv",
                        help="t-closeness with the hierarchical distance over this hierarchy of --sensitive")
    parser.add_argument("--individual-id", metavar="COLUMN", help="k counts distinct values of this column")
    parser.add_argument("--subset", metavar="FILE",
                        help="research subset: rows of --input (same header); only they are released")
    parser.add_argument("--d-presence", nargs=2, type=float, metavar=("MIN", "MAX"),
                        help="delta-presence of --subset: its share of each class's input rows in [MIN, MAX]")
    parser.add_argument("--k-map", type=int, metavar="K",
                        help="k-map: each class holds K input rows (with --subset) or K people of the "
                             "population (with --k-map-estimator and --population-size)")
    parser.add_argument("--k-map-estimator", choices=KMAP_ESTIMATORS, help="estimate k-map from a population size")
    parser.add_argument("--population-size", type=int, metavar="N", help="population of --k-map-estimator")
    parser.add_argument("--significance", type=float, default=0.01, metavar="X",
                        help="significance level of --k-map-estimator (default 0.01)")
    return parser


def _qi_specs(specs: Sequence[str], delimiter: str) -> dict[str, Hierarchy]:
    hierarchies: dict[str, Hierarchy] = {}
    for spec in specs:
        column, sep, path = spec.partition("=")
        if not sep or not column or not path:
            raise UsageError(f"--qi expects COLUMN=HIERARCHY.csv, got {spec!r}")
        if column in hierarchies:
            raise UsageError(f"--qi given twice for column {column!r}")
        hierarchies[column] = _read_hierarchy(path, delimiter, column)
    return hierarchies


def _subset_criteria(args: argparse.Namespace) -> list[Criterion]:
    criteria: list[Criterion] = []
    if args.d_presence is not None:
        if not args.subset:
            raise UsageError("--d-presence needs --subset FILE")
        criteria.append(DPresence(*args.d_presence))
    if (args.k_map_estimator is None) != (args.population_size is None):
        raise UsageError("--k-map-estimator and --population-size go together")
    if args.k_map is not None:
        if args.k_map_estimator is None and not args.subset:
            raise UsageError("--k-map needs --subset FILE, or --k-map-estimator and --population-size")
        criteria.append(KMap(args.k_map, args.k_map_estimator, args.population_size, args.significance))
    elif args.k_map_estimator is not None:
        raise UsageError("--k-map-estimator needs --k-map")
    if args.subset and not criteria and args.k is None:
        criteria.append(Inclusion())
    return criteria


def _criteria(args: argparse.Namespace) -> list[Criterion]:
    criteria: list[Criterion] = [] if args.k is None else [KAnonymity(args.k)]
    criteria += _subset_criteria(args)
    if not criteria:
        raise UsageError("give --k, or --subset with --d-presence or --k-map")
    if args.recursive_c is not None and args.l is None:
        raise UsageError("--recursive-c needs --l")
    if (args.l is not None or args.t is not None) and not args.sensitive:
        raise UsageError("--l and --t need --sensitive COLUMN")
    if args.sensitive and args.l is None and args.t is None:
        raise UsageError("--sensitive needs --l or --t")
    if args.recursive_c is not None:
        if args.l is None:
            raise UsageError("--recursive-c needs --l")
        args.l_variant = "recursive"
    if args.l is not None:
        if args.l_variant in ("distinct", "recursive") and not float(args.l).is_integer():
            raise UsageError(f"--l must be a whole number for {args.l_variant} l-diversity, got {args.l:g}")
        if args.l_variant == "recursive":
            if args.recursive_c is None:
                raise UsageError("--l-variant recursive needs --recursive-c")
            criteria.append(RecursiveCLDiversity(args.sensitive, args.recursive_c, int(args.l)))
        elif args.l_variant == "distinct":
            if not float(args.l).is_integer():
                raise UsageError(f"--l must be a whole number for distinct l-diversity, got {args.l:g}")
            criteria.append(DistinctLDiversity(args.sensitive, int(args.l)))
        else:
            criteria.append(EntropyLDiversity(args.sensitive, args.l, args.l_estimator))
    if args.t is not None:
        if args.t_hierarchical:
            hierarchy = _read_hierarchy(args.t_hierarchical, args.delimiter, args.sensitive)
            criteria.append(TCloseness(args.sensitive, args.t, "hierarchical", hierarchy))
        else:
            criteria.append(TCloseness(args.sensitive, args.t, args.t_distance))
    elif args.t_hierarchical:
        raise UsageError("--t-hierarchical needs --t")
    return criteria


def _metric(args: argparse.Namespace) -> str | Metric:
    weights: dict[str, float] = {}
    for spec in args.weight:
        column, sep, value = spec.partition("=")
        try:
            weights[column] = float(value)
        except ValueError:
            sep = ""
        if not sep or not column:
            raise UsageError(f"--weight expects COLUMN=NUMBER, got {spec!r}")
    options = {"gs_factor": args.gs_factor, "weights": weights or None, "aggregate": args.aggregate}
    if all(v is None for v in options.values()):
        return args.metric
    return create_metric(args.metric, **options)


def _read_hierarchy(path: str, delimiter: str, column: str) -> Hierarchy:
    try:
        return Hierarchy.from_csv(path, delimiter=delimiter, name=column)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read hierarchy file {path!r}: {_reason(error)}") from error


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def _read_input(path: str, delimiter: str, what: str = "input"):
    try:
        return read_table(path, delimiter)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"cannot read {what} file {path!r}: {_reason(error)}") from error


class _ProgressLine:
    """Prints ``checked/lattice`` to stderr once a run passes one second, then every second."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, checked: int, size: int) -> None:
        now = time.perf_counter()
        if now - self.last >= 1.0:
            self.last = now
            print(f"flash: {checked} of {size} nodes checked, {now - self.started:.1f} s", file=sys.stderr)


def _run(args: argparse.Namespace) -> None:
    if not 0 <= args.suppression_limit <= 1:
        raise UsageError(f"--suppression-limit must be a fraction between 0 and 1, got {args.suppression_limit:g}")
    criteria = _criteria(args)
    metric = _metric(args)
    hierarchies = _qi_specs(args.qi, args.delimiter)
    table = _read_input(args.input, args.delimiter)
    subset = _read_input(args.subset, args.delimiter, "subset") if args.subset else None
    result = anonymize(table, hierarchies, criteria, suppression_limit=args.suppression_limit,
                       metric=metric, individual_id=args.individual_id, progress=_ProgressLine(), subset=subset)
    write_outputs(result.data, args.output, result.report(), args.report, args.delimiter)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        _run(build_parser().parse_args(argv))
    except NoSolutionError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_SOLUTION
    except (UsageError, HierarchyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"error: cannot write output: {_reason(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
