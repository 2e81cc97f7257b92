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
from .criteria import Criterion, DistinctLDiversity, EntropyLDiversity, KAnonymity, TCloseness
from .hierarchy import Hierarchy, HierarchyError
from .io import read_table, write_outputs
from .metrics import METRICS

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
    parser.add_argument("--k", required=True, type=int, metavar="N", help="k-anonymity")
    parser.add_argument("--output", required=True, metavar="OUT.csv")
    parser.add_argument("--report", required=True, metavar="REPORT.json")
    parser.add_argument("--delimiter", default=";", help="of the input, hierarchies and output (default ';')")
    parser.add_argument("--suppression-limit", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of rows that may be suppressed (default 0)")
    parser.add_argument("--metric", default="loss", choices=sorted(METRICS), help="default loss")
    parser.add_argument("--sensitive", metavar="COLUMN", help="sensitive column for --l / --t")
    parser.add_argument("--l", type=float, metavar="N", help="l-diversity on --sensitive")
    parser.add_argument("--l-variant", default="distinct", choices=["distinct", "entropy"])
    parser.add_argument("--t", type=float, metavar="X", help="t-closeness on --sensitive")
    parser.add_argument("--t-distance", default="equal", choices=["equal", "ordered"])
    parser.add_argument("--individual-id", metavar="COLUMN", help="k counts distinct values of this column")
    return parser


def _qi_specs(specs: Sequence[str], delimiter: str) -> dict[str, Hierarchy]:
    hierarchies: dict[str, Hierarchy] = {}
    for spec in specs:
        column, sep, path = spec.partition("=")
        if not sep or not column or not path:
            raise UsageError(f"--qi expects COLUMN=HIERARCHY.csv, got {spec!r}")
        if column in hierarchies:
            raise UsageError(f"--qi given twice for column {column!r}")
        try:
            hierarchies[column] = Hierarchy.from_csv(path, delimiter=delimiter, name=column)
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read hierarchy file {path!r}: {_reason(error)}") from error
    return hierarchies


def _criteria(args: argparse.Namespace) -> list[Criterion]:
    criteria: list[Criterion] = [KAnonymity(args.k)]
    if (args.l is not None or args.t is not None) and not args.sensitive:
        raise UsageError("--l and --t need --sensitive COLUMN")
    if args.sensitive and args.l is None and args.t is None:
        raise UsageError("--sensitive needs --l or --t")
    if args.l is not None:
        if args.l_variant == "distinct":
            if not float(args.l).is_integer():
                raise UsageError(f"--l must be a whole number for distinct l-diversity, got {args.l:g}")
            criteria.append(DistinctLDiversity(args.sensitive, int(args.l)))
        else:
            criteria.append(EntropyLDiversity(args.sensitive, args.l))
    if args.t is not None:
        criteria.append(TCloseness(args.sensitive, args.t, args.t_distance))
    return criteria


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def _read_input(path: str, delimiter: str):
    try:
        return read_table(path, delimiter)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"cannot read input file {path!r}: {_reason(error)}") from error


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
    hierarchies = _qi_specs(args.qi, args.delimiter)
    table = _read_input(args.input, args.delimiter)
    result = anonymize(table, hierarchies, criteria, suppression_limit=args.suppression_limit,
                       metric=args.metric, individual_id=args.individual_id, progress=_ProgressLine())
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
