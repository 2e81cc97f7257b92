"""Money movements per second through the service layer on PostgreSQL, paired with pgbench's TPC-B-like tps.

Calls transactions.services from N worker processes at once for a fixed time per run. Processes,
not threads: one Python process runs one thread at a time (the GIL), as pgbench's clients would
not, and production runs one gunicorn worker process per request in flight. Each worker keeps its
one connection open (CONN_MAX_AGE, as in production) and Django runs with production's settings
(DEBUG off, the money path's statements prepared). The operations:
- withdrawal_create, each worker on its own account (one transaction: lock the account row, check
  the idempotency key and today's withdrawals, write the balance and the day's total, append a
  ledger entry);
- transfer_create, each worker from its own account to another of its own (two rows locked in pk
  order, two legs);
- withdrawal_create with all workers on one shared account (they queue on its row lock).
Each run uses fresh accounts. Each of our runs sits between two pgbench runs with as many clients
(`pgbench -i -s 1`, then `pgbench -c N -j N -T S -n`: fresh tables for every run too): at scale 1
every TPC-B transaction updates the one branch row, so it is a contended reference. On a shared
machine pgbench alone varies several-fold from minute to minute; the ratio of our run to the
pgbench runs around it, all under the same load, is steadier, so the table reports the median of
these paired ratios beside the medians of each side, and the target (>= 0.5x pgbench). It also
prints the statements one withdrawal and one transfer send and the round trips to the server they
take. Ends with verify_ledger.

    .venv/bin/python -m benchmarks.atm_throughput [--workers 1 8] [--seconds 3] [--runs 5]

Needs PostgreSQL (default postgres://postgres@127.0.0.1:5432, trust auth); drops and recreates
its own databases `atmsite_bench` and `atmsite_pgbench` (`--database-prefix` changes `atmsite`).
A default run takes about 4 minutes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "atmsite_bench"
PGBENCH_DB = "atmsite_pgbench"
FUNDS_MINOR = 10**10
TPS_RE = re.compile(r"^tps = ([\d.]+)", re.MULTILINE)


def recreate_database(server: str, name: str) -> None:
    """Drop (forcing out sessions) and create a database on the server."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def setup_django(server: str) -> None:
    """Point Django at the benchmark database with production's settings (DEBUG off, persistent
    connections, prepared statements; no .env read), set it up and migrate."""
    sys.path.insert(0, str(ROOT))
    from tests.support.deployment import deployment_env

    os.environ.update(deployment_env(database_url=f"{server}/{BENCH_DB}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmsite.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def funded_accounts(count: int, tag: str) -> list[int]:
    """Open `count` accounts with large funds and limits through the services; return their pks."""
    import datetime

    from accounts.models import Customer
    from accounts.services import account_open
    from transactions.services import deposit_create

    pks = []
    for number in range(count):
        customer = Customer.objects.create(
            first_name="Bench", last_name=f"{tag}-{number}", birth_date=datetime.date(1980, 1, 1),
            gender=Customer.Gender.OTHER, country="BE", postal_code="1000", city="Brussel",
        )
        account = account_open(customer=customer, daily_withdrawal_limit_minor=FUNDS_MINOR)
        deposit_create(account_id=account.pk, amount_minor=FUNDS_MINOR, idempotency_key=f"fund:{tag}:{number}",
                       channel="branch")
        pks.append(account.pk)
    return pks


OPERATIONS = {
    # name: (service, own accounts per worker (True) or one account shared by all)
    "withdrawal_create": ("withdrawal", True),
    "transfer_create": ("transfer", True),
    "withdrawal_create, one shared account": ("withdrawal", False),
}
TARGET_RATIO = 0.5


def _one(kind: str, source_id: int, target_number: str, key: str) -> None:
    """Move one note's worth: a withdrawal from, or a transfer out of, the source account."""
    from django.conf import settings

    from transactions.services import transfer_create, withdrawal_create

    note = settings.ATM_SMALLEST_NOTE_MINOR
    if kind == "withdrawal":
        withdrawal_create(account_id=source_id, amount_minor=note, idempotency_key=key, note_minor=note)
    else:
        transfer_create(from_account_id=source_id, to_account_number=target_number, amount_minor=note,
                        idempotency_key=key)


def _loop(kind: str, source_id: int, target_number: str, seconds: float, tag: str, start: mp.synchronize.Barrier,
          out: mp.Queue) -> None:
    """Worker process: connect, wait for the others, move money one operation at a time until time is up."""
    from django.db import connection

    done, failure = 0, ""
    connection.ensure_connection()
    start.wait()
    began = time.perf_counter()
    try:
        while time.perf_counter() - began < seconds:
            _one(kind, source_id, target_number, f"{tag}:{done}")
            done += 1
    except Exception as exc:  # reported by the parent; an operation here must never fail
        failure = repr(exc)
    out.put((done, time.perf_counter() - began, failure))
    connection.close()


def service_rate(operation: str, workers: int, seconds: float, tag: str) -> float:
    """Run `workers` processes of one operation at once for `seconds`; return operations per second over all."""
    from django.db import connections

    from accounts.models import Account

    kind, own = OPERATIONS[operation]
    sources = funded_accounts(workers, tag) if own else funded_accounts(1, tag) * workers
    targets = funded_accounts(workers, f"{tag}:to") if kind == "transfer" else []
    numbers = dict(Account.objects.filter(pk__in=targets).values_list("pk", "number"))
    connections.close_all()  # forked children must open their own connections
    context = mp.get_context("fork")
    start, out = context.Barrier(workers), context.Queue()
    procs = [context.Process(target=_loop, args=(kind, source, numbers.get(targets[i]) if targets else "", seconds,
                                                 f"{tag}:w{i}", start, out))
             for i, source in enumerate(sources)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    failures = [failure for _done, _elapsed, failure in results if failure]
    if failures:
        raise RuntimeError(f"{operation} failed in {tag}: {failures[0]}")
    return sum(done for done, _elapsed, _failure in results) / max(elapsed for _done, elapsed, _f in results)


def round_trips() -> dict[str, tuple[list[str], int]]:
    """Return, for one withdrawal and one transfer, the statements sent (BEGIN and COMMIT included) and the
    round trips they took: statements sent together in psycopg's pipeline mode share one, and psycopg
    sends BEGIN with the first of them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Account

    source, target = funded_accounts(2, "queries")
    number = Account.objects.get(pk=target).number
    counts = {}
    for kind in ("withdrawal", "transfer"):
        pipelined: list[bool] = []
        sent: list[str] = []

        def note(execute, sql, params, many, context, pipelined=pipelined, sent=sent):  # type: ignore[no-untyped-def]
            pipelined.append(connection.connection.pgconn.pipeline_status != 0)
            sent.append(sql.split()[0])
            return execute(sql, params, many, context)

        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(note):
            _one(kind, source, number, f"queries:{kind}")
        # The query log names BEGIN and COMMIT; the statements in between are taken as they were sent
        # (the log has no text for a prepared statement).
        texts = iter(sent)
        statements = [query["sql"] if query["sql"] in ("BEGIN", "COMMIT") else next(texts)
                      for query in captured.captured_queries]
        flags = iter(pipelined)
        # Whether each statement went in a pipeline; psycopg sends BEGIN with the statement after it
        # when that one is pipelined, else on its own.
        in_pipeline = [name not in ("BEGIN", "COMMIT") and next(flags) for name in statements]
        trips = 0
        for index, name in enumerate(statements):
            follows = index + 1 < len(statements) and in_pipeline[index + 1]
            if name == "BEGIN" and follows:
                continue
            if in_pipeline[index] and index > 0 and in_pipeline[index - 1]:
                continue
            trips += 1
        counts[kind] = (statements, trips)
    return counts


def pgbench_base(server: str) -> list[str] | None:
    """Initialise pgbench's database (scale 1) and return its connection arguments, or None without pgbench."""
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not Path(binary).exists():
        print("pgbench not found: its column is left empty", file=sys.stderr)
        return None
    url = urlparse(server)
    base = [binary, "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    recreate_database(server, PGBENCH_DB)
    subprocess.run([*base, "-i", "-s", "1", "-q", PGBENCH_DB], check=True, capture_output=True)
    return base


def pgbench_rate(base: list[str], clients: int, seconds: int) -> float:
    """Return the tps of one TPC-B-like pgbench run with `clients` clients and threads, on freshly
    initialised tables.

    Fresh like our side's accounts: every TPC-B transaction updates the one branch row, and while a
    long transaction runs anywhere on the server (another database's bulk load, say) no dead
    version of it can be pruned, so across a whole benchmark pgbench's own tables would slow it
    down several-fold and flatter the ratio.
    """
    subprocess.run([*base, "-i", "-s", "1", "-q", PGBENCH_DB], check=True, capture_output=True)
    result = subprocess.run([*base, "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-n", PGBENCH_DB],
                            check=True, capture_output=True, text=True)
    return float(TPS_RE.search(result.stdout).group(1))


Rates = dict[str, dict[int, list[tuple[float, float | None]]]]


def collect(server: str, levels: list[int], args: argparse.Namespace) -> Rates:
    """Measure every operation at every level once per run, between two pgbench runs with as many clients.

    At each level a run goes pgbench, ours, pgbench, ours, pgbench...: each of our runs is set
    against the mean of the pgbench runs just before and just after it, which saw the same load
    from elsewhere, so their ratio is steady where either figure alone is not.
    """
    rates: Rates = {operation: defaultdict(list) for operation in OPERATIONS}
    base = pgbench_base(server)
    for run in range(args.runs):
        for workers in levels:
            before = pgbench_rate(base, workers, args.seconds) if base else None
            for number, operation in enumerate(OPERATIONS):
                ours = service_rate(operation, workers, args.seconds, f"{number}:{workers}:{run}")
                after = pgbench_rate(base, workers, args.seconds) if base else None
                tps = (before + after) / 2 if before and after else None
                rates[operation][workers].append((ours, tps))
                print(f"  run {run + 1}, {workers} workers, {operation}: {ours:.1f}/s, pgbench around it "
                      f"{tps if tps else float('nan'):.1f} tps", file=sys.stderr)
                before = after
    return rates


def report(levels: list[int], rates: Rates) -> str:
    """Return the table: medians of our rate, of pgbench's and of the paired ratios, against the target."""
    lines = [f"{'operation':<38} {'workers':>7} {'ours/s':>8} {'pgbench tps':>11} {'ratio (median of pairs)':>23}"
             f" {'min-max':>11}  target >= {TARGET_RATIO}x"]
    for operation in OPERATIONS:
        for n in levels:
            pairs = rates[operation][n]
            ours = statistics.median(rate for rate, _tps in pairs)
            ratios = [rate / tps for rate, tps in pairs if tps]
            if not ratios:
                lines.append(f"{operation:<38} {n:>7} {ours:8.1f} {'-':>11} {'-':>23} {'-':>11}")
                continue
            tps = statistics.median(tps for _rate, tps in pairs if tps)
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
            lines.append(f"{operation:<38} {n:>7} {ours:8.1f} {tps:11.1f} {ratio:22.2f}x "
                         f"{min(ratios):5.2f}-{max(ratios):4.2f}  {verdict}")
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=int, default=3, help="Length of one run, ours and pgbench's alike.")
    parser.add_argument("--runs", type=int, default=5, help="Pairs per operation and level; medians are reported.")
    parser.add_argument("--database-prefix", default="atmsite",
                        help="Databases <prefix>_bench and <prefix>_pgbench are dropped and recreated.")
    args = parser.parse_args()
    global BENCH_DB, PGBENCH_DB
    BENCH_DB, PGBENCH_DB = f"{args.database_prefix}_bench", f"{args.database_prefix}_pgbench"
    started, load = time.perf_counter(), os.getloadavg()[0]
    recreate_database(args.server, BENCH_DB)
    setup_django(args.server)
    trips = round_trips()
    rates = collect(args.server, args.workers, args)
    from django.core.management import call_command

    print(f"\nMoney movement through transactions.services on PostgreSQL, {os.cpu_count()} CPUs (load average "
          f"{load:.1f} at start); {args.runs} runs x {args.seconds} s per line, each between two runs of "
          f"pgbench -s 1 (TPC-B-like) with as many clients")
    for kind, (statements, count) in trips.items():
        print(f"{kind}: {len(statements)} statements ({', '.join(statements)}) in {count} round trips; "
              f"a pgbench transaction: 7 statements in 7 round trips")
    print(report(args.workers, rates))
    call_command("verify_ledger")
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
