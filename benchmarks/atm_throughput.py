"""Withdrawals per second through the service layer on PostgreSQL, beside pgbench's TPC-B-like tps.

Calls transactions.services.withdrawal_create (one transaction: lock the account row, check the
idempotency key, sum today's withdrawals, update the balance, append a ledger entry) from 1, 2, 4
and 8 worker processes (processes, so the GIL does not cap the client side) for a fixed time per
run, in two variants:
- own account: every worker withdraws from its own account (no row contention);
- shared account: all workers withdraw from one account (they queue on its row lock).
Each run uses fresh accounts, so the daily-limit sum never grows from one run to the next. The
figure per level is the median of the runs. Where `pgbench` exists, it runs on the same server
with the same client counts (`pgbench -i -s 1`, then `pgbench -c N -j N -T S -n`): at scale 1
every TPC-B transaction updates the one branch row, so it is a contended baseline too.
Ends with verify_ledger on the benchmark database.

    .venv/bin/python -m benchmarks.atm_throughput [--workers 1 2 4 8] [--seconds 3] [--runs 3]

Needs PostgreSQL (default postgres://postgres@127.0.0.1:5432, trust auth); drops and recreates
its own databases `atmsite_bench` and `atmsite_pgbench`. A full default run takes ~3 minutes.
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
    """Point Django at the benchmark database, set it up and migrate."""
    os.environ["DATABASE_URL"] = f"{server}/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmsite.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
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
            gender=Customer.Gender.OTHER, postal_code="1000", city="Amsterdam",
        )
        account = account_open(customer=customer, daily_withdrawal_limit_minor=FUNDS_MINOR)
        deposit_create(account_id=account.pk, amount_minor=FUNDS_MINOR, idempotency_key=f"fund:{tag}:{number}",
                       channel="branch")
        pks.append(account.pk)
    return pks


def _withdraw_loop(account_id: int, seconds: float, tag: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:
    """Worker process: connect, wait for the others, withdraw one note at a time until time is up."""
    from django.conf import settings
    from django.db import connection

    from transactions.services import withdrawal_create

    note, done, failure = settings.ATM_SMALLEST_NOTE_MINOR, 0, ""
    connection.ensure_connection()
    start.wait()
    began = time.perf_counter()
    try:
        while time.perf_counter() - began < seconds:
            withdrawal_create(account_id=account_id, amount_minor=note, idempotency_key=f"{tag}:{done}",
                              note_minor=note)
            done += 1
    except Exception as exc:  # reported by the parent; a withdrawal here must never fail
        failure = repr(exc)
    out.put((done, time.perf_counter() - began, failure))
    connection.close()


def measure(account_ids: list[int], seconds: float, tag: str) -> float:
    """Run one worker per account id at once; return withdrawals per second over all of them."""
    from django.db import connections

    connections.close_all()  # forked children must open their own connections
    context = mp.get_context("fork")
    start, out = context.Barrier(len(account_ids)), context.Queue()
    workers = [context.Process(target=_withdraw_loop, args=(pk, seconds, f"{tag}:w{i}", start, out))
               for i, pk in enumerate(account_ids)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    failures = [failure for _done, _elapsed, failure in results if failure]
    if failures:
        raise RuntimeError(f"withdrawals failed in {tag}: {failures[0]}")
    return sum(done for done, _elapsed, _failure in results) / max(elapsed for _done, elapsed, _f in results)


def service_rate(variant: str, workers: int, seconds: float, tag: str) -> float:
    """Return withdrawals/s of one run: `workers` processes on their own accounts or on one shared account."""
    if variant == "own":
        return measure(funded_accounts(workers, tag), seconds, tag)
    return measure(funded_accounts(1, tag) * workers, seconds, tag)


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
    """Return the tps of one TPC-B-like pgbench run with `clients` clients and threads."""
    result = subprocess.run([*base, "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-n", PGBENCH_DB],
                            check=True, capture_output=True, text=True)
    return float(TPS_RE.search(result.stdout).group(1))


def collect(server: str, levels: list[int], args: argparse.Namespace) -> dict[str, dict[int, list[float]]]:
    """Measure every level once per run, interleaved, so load from elsewhere spreads over all levels."""
    rates: dict[str, dict[int, list[float]]] = {name: defaultdict(list) for name in ("own", "shared", "pgbench")}
    base = pgbench_base(server)
    for run in range(args.runs):
        for workers in levels:
            for variant in ("own", "shared"):
                rates[variant][workers].append(service_rate(variant, workers, args.seconds, f"{variant}:{workers}:{run}"))
            if base:
                rates["pgbench"][workers].append(pgbench_rate(base, workers, args.pgbench_seconds))
            print(f"  run {run + 1}, {workers} workers: own {rates['own'][workers][-1]:.1f}/s, shared "
                  f"{rates['shared'][workers][-1]:.1f}/s, pgbench "
                  f"{rates['pgbench'][workers][-1] if base else float('nan'):.1f} tps", file=sys.stderr)
    return rates


def report(levels: list[int], rates: dict[str, dict[int, list[float]]]) -> str:
    """Return the table of medians."""
    lines = [f"{'workers':>7}  {'own account/s':>13}  {'shared account/s':>16}  {'pgbench tps':>11}  {'own/pgbench':>11}"]
    for n in levels:
        own, shared = statistics.median(rates["own"][n]), statistics.median(rates["shared"][n])
        tps = statistics.median(rates["pgbench"][n]) if rates["pgbench"][n] else None
        tps_text, ratio = (f"{tps:11.1f}", f"{own / tps:11.2f}") if tps else (f"{'-':>11}", f"{'-':>11}")
        lines.append(f"{n:>7}  {own:13.1f}  {shared:16.1f}  {tps_text}  {ratio}")
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=3.0, help="Length of one service run.")
    parser.add_argument("--runs", type=int, default=3, help="Runs per level; the median is reported.")
    parser.add_argument("--pgbench-seconds", type=int, default=5)
    args = parser.parse_args()
    started, load = time.perf_counter(), os.getloadavg()[0]
    recreate_database(args.server, BENCH_DB)
    setup_django(args.server)
    rates = collect(args.server, args.workers, args)
    from django.core.management import call_command

    print(f"\nwithdrawal_create on PostgreSQL, {os.cpu_count()} CPUs (load average {load:.1f} at start), "
          f"median of {args.runs} runs x {args.seconds:g} s; pgbench -s 1, median of {args.runs} x {args.pgbench_seconds} s")
    print(report(args.workers, rates))
    call_command("verify_ledger")
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
