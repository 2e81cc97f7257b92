"""Release privacy benchmark: nightly increments against cumulative files, as an attacker and as an analyst.

For each demo bank (200, 1,000 and 2,000 customers by default, about 100 ledger entries each over
365 days, ending on LAST_NIGHT) the default policy "Nightly transactions" (k=5 over customers)
publishes a first release (the history up to the first night) and one increment per night after it
(30 by default), through the product's release service. Beside it, the old design is simulated on
the same ledger: each night the whole history anonymized by Flash (full-domain recoding, the same
hierarchies), rows in ledger order (see tests/support/privacy_designs.py). One table per bank:

(a) the attacker (`attack_report` over every file of the design, 1,000 targets by default, the
    bank's population register as the attacker's worst-case knowledge of demographics): rows or
    targets narrowed below k customers / pinned to one customer, per attack, counting across files
    what the labels let the attacker link (observable); then, for information, the `linked_`
    figures, what pseudonyms linking a customer's rows across files would give (an upper bound);
(b) the analyst: mean / median relative error of a fixed workload (200 queries, COUNT and
    SUM(amount), seed 1) on the design's union of files, against the raw rows of the entries released;
(c) how much was generalized: levels, median label extents, suppressed and held-back shares;
(d) what the publishing runs cost: seconds and peak resident memory per night.

Then one line per target of the issue, marked met / NOT met with its figure.

    .venv/bin/python benchmarks/release_privacy.py [--sizes 200 1000 2000] [--nights 30] [--quick]
        [--recoding full_domain|local] [--database-url postgres://postgres@127.0.0.1:5432/x]

Without --database-url each bank lives in a temporary SQLite file; with it, in the database
`atmsite_privacy_bench` on that server (dropped and created for each bank, dropped at the end).
Each bank runs in a child process, so databases and peak memory do not mix.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "atmsite_privacy_bench"
LAST_NIGHT = datetime.date(2025, 12, 31)
RECODINGS = ("full_domain", "local")
QUERY_SEED = 1
ATTACK_SEED = 7
GENERATION_SEED = 42
UTILITY_AT_1000 = (0.20, 0.12)
UTILITY_AT_200 = 0.5


# --- environment and databases ---------------------------------------------------------------------

def _environment(database_url: str, media: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "atmsite.settings", "DJANGO_ENV_FILE": "", "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url, "DJANGO_MEDIA_ROOT": media, "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_LOG_LEVEL": "WARNING",
    })
    for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))


def _postgres_url(given: str, database: str) -> str:
    """Return the server of `given` with `database` as its database; refuse anything but PostgreSQL."""
    parts = urlsplit(given)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"--database-url must be a postgres:// URL, got {parts.scheme or given!r}")
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _postgres_recreate(server_url: str, drop_only: bool = False) -> None:
    """Drop the benchmark database (never another one) and, unless `drop_only`, create it empty."""
    import psycopg

    with psycopg.connect(_postgres_url(server_url, "postgres"), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if not drop_only:
            connection.execute(f"CREATE DATABASE {DATABASE}")


def _recoding_check(recoding: str) -> str:
    """Return how the policy's recoding will be set; exit with the reason when it cannot be measured."""
    import django

    django.setup()
    from django.core.exceptions import FieldDoesNotExist

    from anonymization.models import ReleasePolicy

    try:
        field = ReleasePolicy._meta.get_field("recoding")
    except FieldDoesNotExist:
        if recoding == "full_domain":
            return "full_domain (ReleasePolicy has no recoding field in this checkout: Flash is its only recoding)"
        raise SystemExit(f"--recoding {recoding}: ReleasePolicy has no 'recoding' field in this checkout, so "
                         "releases cannot use local recoding; merge the local-recoding policy option first. "
                         "Nothing was measured.") from None
    allowed = [str(value) for value, _label in (field.choices or [])]
    if allowed and recoding not in allowed:
        raise SystemExit(f"--recoding {recoding}: ReleasePolicy.recoding accepts {', '.join(allowed)}. "
                         "Nothing was measured.")
    return recoding


# --- one bank (child process) ----------------------------------------------------------------------

def _recoding_set(policy: object, recoding: str) -> None:
    from django.core.exceptions import FieldDoesNotExist

    try:
        type(policy)._meta.get_field("recoding")  # type: ignore[attr-defined]
    except FieldDoesNotExist:
        return  # checked by the parent: full_domain is then the product's only recoding
    policy.recoding = recoding  # type: ignore[attr-defined]
    policy.full_clean()  # type: ignore[attr-defined]
    policy.save()  # type: ignore[attr-defined]


def bank_run(options: argparse.Namespace) -> dict:
    """Generate one bank, publish and simulate both designs, print its table; return its summary."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.support import privacy_designs as designs
    from transactions.demo import population_generate

    call_command("migrate", verbosity=0)
    customers, entries = options.customers, options.customers * options.entries_per_customer
    started = time.perf_counter()
    population_generate(customers=customers, entries=entries, last_day=LAST_NIGHT, days=options.days,
                        seed=GENERATION_SEED, copy=settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))
    generated = time.perf_counter() - started
    policy, _ = designs.policy_spec()
    _recoding_set(policy, options.recoding)
    policy, spec = designs.policy_spec()
    nights = designs.nights_from(LAST_NIGHT, options.nights)
    increments = designs.increments_publish(policy_id=policy.pk, nights=nights)
    cumulative = designs.cumulative_simulate(spec=spec, nights=nights)
    ledger = designs.ledger_read(spec, LAST_NIGHT)
    population = designs.population_read(nights)
    queries = designs.queries_draw(ledger, n_queries=options.queries, seed=QUERY_SEED)
    results = {}
    for name, files in (("increments", increments), ("cumulative", cumulative)):
        attack_started = time.perf_counter()
        report = designs.attacks_play(files, ledger, population, k=spec.k, seed=ATTACK_SEED,
                                      n_targets=options.targets)
        attack_seconds = time.perf_counter() - attack_started
        utility = designs.utility_measure(*designs.union_of(files, cumulative=name == "cumulative"), ledger, queries)
        results[name] = (files, report, utility, attack_seconds)
    print(f"\n== {customers:,} customers, {len(ledger.raw):,} ledger entries (generated in {generated:.0f} s), "
          f"first release as of {nights[0]} + {options.nights} nights, k={spec.k} over customers, "
          f"recoding {options.recoding} ==")
    _table_print(results, ledger, spec.k)
    return _summary(customers, options.recoding, results)


# --- the table -------------------------------------------------------------------------------------

def _attack_rows(report: object) -> list[tuple[str, str]]:
    rows = report.rows()  # type: ignore[attr-defined]
    value = {f"{attack}:{metric}": v for attack, metric, v in rows}
    spearman = value["row_order:spearman_mean"]
    return [
        ("differencing: new rows below k / pinned", f"{value['differencing:rows_below_k']:,.0f} / "
                                                    f"{value['differencing:rows_pinned']:,.0f}"),
        ("intersection: entries below k / pinned", f"{value['intersection:entries_below_k']:,.0f} / "
                                                   f"{value['intersection:entries_pinned']:,.0f}"),
        ("intersection: targets below k, 1 file / 2 files", f"{value['intersection:targets_below_k_one_file']:,.0f} / "
                                                            f"{value['intersection:targets_below_k_two_files']:,.0f}"),
        ("known transactions: targets below k / pinned", f"{value['known_transactions:targets_below_k']:,.0f} / "
                                                         f"{value['known_transactions:targets_pinned']:,.0f}"),
        ("known transactions: transactions below k", f"{value['known_transactions:transactions_below_k']:,.0f}"),
        ("balance chaining: customers exposed", f"{value['known_transactions:chaining.customers_exposed']:,.0f}"),
        ("row-order windows: targets below k / pinned", f"{value['row_order:targets_below_k_window']:,.0f} / "
                                                        f"{value['row_order:targets_pinned_window']:,.0f}"),
        ("row order: mean Spearman with the ledger", f"{spearman:+.2f}"),
        ("all attacks: below-k and pinned figures", f"{report.below_k:,}"),  # type: ignore[attr-defined]
        ("linked (if files carried pseudonyms), not counted:", ""),
        ("  2 files: targets below k", f"{value['intersection:linked_targets_below_k_two_files']:,.0f}"),
        ("  known transactions: targets below k / pinned", f"{value['known_transactions:linked_targets_below_k']:,.0f}"
                                                           f" / {value['known_transactions:linked_targets_pinned']:,.0f}"),
        ("  row-order windows: targets below k / pinned", f"{value['row_order:linked_targets_below_k_window']:,.0f} / "
                                                          f"{value['row_order:linked_targets_pinned_window']:,.0f}"),
        ("  all linked below-k and pinned figures", f"{report.linked_below_k:,}"),  # type: ignore[attr-defined]
    ]


def _cost_rows(files: list) -> list[tuple[str, str]]:
    later = [f.seconds for f in files[1:]] or [0.0]
    return [
        ("first run: seconds / peak MiB", f"{files[0].seconds:.2f} / {files[0].peak_mib:,.0f}"),
        ("nightly runs: median / max seconds", f"{statistics.median(later):.2f} / {max(later):.2f}"),
        ("nightly runs: max peak MiB", f"{max(f.peak_mib for f in files[1:]) if files[1:] else 0:,.0f}"),
        ("all runs: seconds", f"{sum(f.seconds for f in files):.1f}"),
    ]


def _generalization_rows(name: str, files: list, utility: object, ledger: object) -> list[tuple[str, str]]:
    from tests.support import privacy_designs as designs

    entries = len(ledger.raw)  # type: ignore[attr-defined]
    if name == "increments":
        suppressed, held = sum(f.suppressed for f in files), files[-1].held
    else:
        suppressed, held = files[-1].suppressed, 0
    extent = utility.extent  # type: ignore[attr-defined]
    return [
        ("levels: first file, then most common", designs.levels_summary(files)),
        ("median extent: age years / date days", f"{extent.get('age', 0):.0f} / {extent.get('transaction_date', 0):.0f}"),
        ("median extent: amount EUR / postal codes", f"{extent.get('amount', 0):,.0f} / "
                                                     f"{extent.get('postal_code', 0):.0f}"),
        ("suppressed for good: rows, share of ledger", f"{suppressed:,}, {designs.share(suppressed, entries):.2%}"),
        ("held back after the last night: rows, share", f"{held:,}, {designs.share(held, entries):.2%}"),
    ]


def _table_print(results: dict, ledger: object, k: int) -> None:
    """Print the bank's table: one row per figure, one column per design."""
    from tests.support import privacy_designs as designs

    columns: dict[str, list[tuple[str, str]]] = {}
    for name, (files, report, utility, attack_seconds) in results.items():
        columns[name] = [
            ("files published / rows in them", f"{len(files)} / {sum(len(f.file) for f in files):,}"),
            (f"(a) attacks, k={k}, {report.known_transactions.targets:,} targets", ""),
            *_attack_rows(report),
            ("(b) workload on the union", ""),
            ("error mean / median", f"{utility.mean:.3f} / {utility.median:.3f}"),
            ("rows in the union", f"{utility.entries:,}"),
            ("columns `*` in every row", ", ".join(utility.all_stars) or "none"),
            ("(c) generalization", ""),
            *_generalization_rows(name, files, utility, ledger),
            ("(d) publishing runs", ""),
            *_cost_rows(files),
            ("attack_report seconds (not a publishing cost)", f"{attack_seconds:.1f}"),
        ]
    labels = [label for label, _ in columns["increments"]]
    width = max(len(label) for label in labels) + 2
    print(f"{'':{width}}{'increments (product)':>33}{'cumulative (old design)':>33}")
    for index, label in enumerate(labels):
        left, right = columns["increments"][index][1], columns["cumulative"][index][1]
        print(f"{label:{width}}{left:>33}{right:>33}" if left or right else label)
    files = results["increments"][0]
    print(f"levels are listed in the order {', '.join(designs.level_columns(files)) or '-'}; "
          f"`*` in every row and extents are read on the union (increments) or the newest file (cumulative)")


def _summary(customers: int, recoding: str, results: dict) -> dict:
    out: dict = {"customers": customers, "recoding": recoding}
    for name, (_files, report, utility, _seconds) in results.items():
        out[name] = {"below_k": report.below_k, "linked_below_k": report.linked_below_k, "mean": utility.mean, "median": utility.median,
                     "all_stars": list(utility.all_stars)}
    return out


# --- the targets -----------------------------------------------------------------------------------

def _mark(met: bool) -> str:
    return "met" if met else "NOT met"


def targets_print(summaries: list[dict]) -> None:
    """Print one line per target of the issue, for the increments (the product), with its figures."""
    by_size = {s["customers"]: s["increments"] for s in summaries}
    figures = ", ".join(f"{size:,}: {row['below_k']}" for size, row in by_size.items())
    print("\nTargets (increments, the product):")
    linked = ", ".join(f"{size:,}: {row['linked_below_k']}" for size, row in by_size.items())
    print(f"  Attacks: 0 targets and 0 rows below k customers, in every population, for every attack "
          f"(observable: what the files' labels let an attacker link against the population register): "
          f"{_mark(all(row['below_k'] == 0 for row in by_size.values()))} (below-k figures by bank {figures}; "
          f"cumulative design: {', '.join(str(s['cumulative']['below_k']) for s in summaries)}; "
          f"linked upper bound, if files carried pseudonyms, not a target: {linked})")
    at_1000 = by_size.get(1000)
    if at_1000 is None:
        print("  Utility at 1,000 customers: mean <= 0.20, median <= 0.12: not measured (1000 not in --sizes)")
    else:
        met = at_1000["mean"] <= UTILITY_AT_1000[0] and at_1000["median"] <= UTILITY_AT_1000[1]
        print(f"  Utility at 1,000 customers: mean <= 0.20, median <= 0.12: {_mark(met)} "
              f"(mean {at_1000['mean']:.3f}, median {at_1000['median']:.3f})")
    at_200 = by_size.get(200)
    if at_200 is None:
        print("  At 200 customers: mean <= 0.5 and no released quasi-identifier `*` in every row: "
              "not measured (200 not in --sizes)")
    else:
        met = at_200["mean"] <= UTILITY_AT_200 and not at_200["all_stars"]
        print(f"  At 200 customers: mean <= 0.5 and no released quasi-identifier `*` in every row: {_mark(met)} "
              f"(mean {at_200['mean']:.3f}; `*` in every row: {', '.join(at_200['all_stars']) or 'none'})")


# --- main ------------------------------------------------------------------------------------------

def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="customers per bank (default 200 1000 2000)")
    parser.add_argument("--nights", type=int, help="nightly increments after the first release (default 30)")
    parser.add_argument("--targets", type=int, help="targets of the known-transaction attacks (default 1000)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--entries-per-customer", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--recoding", choices=RECODINGS, default="full_domain")
    parser.add_argument("--quick", action="store_true", help="smoke run: banks of 100 and 200, 5 nights, 200 targets")
    parser.add_argument("--database-url", default="", help="postgres://... server (default: temporary SQLite)")
    parser.add_argument("--media-root", default="", help=argparse.SUPPRESS)  # set for a child: one bank
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--summary", default="", help=argparse.SUPPRESS)
    options = parser.parse_args()
    quick = options.quick
    options.sizes = options.sizes or ([100, 200] if quick else [200, 1000, 2000])
    options.nights = options.nights if options.nights is not None else (5 if quick else 30)
    options.targets = options.targets or (200 if quick else 1000)
    if options.nights < 1:
        parser.error("--nights must be at least 1")
    return options


def _child(options: argparse.Namespace, customers: int, database_url: str, media: str, summary: str) -> list[str]:
    return [sys.executable, __file__, "--customers", str(customers), "--nights", str(options.nights),
            "--targets", str(options.targets), "--queries", str(options.queries), "--days", str(options.days),
            "--entries-per-customer", str(options.entries_per_customer), "--recoding", options.recoding,
            "--database-url", database_url, "--summary", summary, "--media-root", media]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    options = _arguments()
    if options.media_root:  # a child: one bank
        _environment(options.database_url, options.media_root)
        Path(options.summary).write_text(json.dumps(bank_run(options)))
        return
    work = tempfile.mkdtemp(prefix="release-privacy-")
    postgres = bool(options.database_url)
    first_url = _postgres_url(options.database_url, DATABASE) if postgres else f"sqlite:///{work}/check.sqlite3"
    _environment(first_url, work)
    summaries = []
    try:
        print(f"recoding: {_recoding_check(options.recoding)}")
        for customers in options.sizes:
            url = first_url if postgres else f"sqlite:///{work}/bank-{customers}.sqlite3"
            if postgres:
                _postgres_recreate(options.database_url)
            summary = f"{work}/summary-{customers}.json"
            subprocess.run(_child(options, customers, url, f"{work}/media-{customers}", summary), check=True, cwd=ROOT)
            summaries.append(json.loads(Path(summary).read_text()))
        targets_print(summaries)
    finally:
        if postgres:
            _postgres_recreate(options.database_url, drop_only=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
