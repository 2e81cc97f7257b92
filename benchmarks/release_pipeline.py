"""Release pipeline benchmark: a million ledger entries on PostgreSQL -> one published, verified release.

Step 1 (a child process) recreates the database (`--database`, default `atmsite_release_bench`),
migrates it and writes synthetic customers, accounts, cards and ledger entries with COPY
(transactions.demo.population_generate). With `--keep` the populated database is kept for the next
run: the population's size and the secrets it was written with (the field encryption and PAN keys
of these synthetic customers) go to a state file beside it (`--state`, mode 0600), and a later run
with the same size reuses the database when it still holds that many customers and entries
(`--rebuild` forces a new one).
Step 2 (this process, which never held the generated data) runs the default policy "Nightly
transactions" through anonymization.release.service.release_run, exactly as the Celery task does, and
prints the time of each step (extraction, search, writing, verification, publishing), the total,
the peak resident memory of the process and the release's figures beside the targets.

    .venv/bin/python benchmarks/release_pipeline.py [--entries 1000000] [--customers 20000] [--days 365]
    .venv/bin/python benchmarks/release_pipeline.py --entries 10000000 --customers 200000 \
        --database atmsite_big10m --keep

Targets on a 2-core machine: a million entries under 60 s and 1 GB; ten million under 10 minutes
and 2 GB (peak resident memory of the release process).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "atmsite_release_bench"
SERVER = "postgres://postgres@127.0.0.1:5432"
AS_OF = datetime.date(2025, 12, 31)
SECRETS = ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY")
SEED = 42
# (entries, customers): the targets the run is printed beside (seconds, MiB of peak resident memory).
TARGETS = {(1_000_000, 20_000): (60, 1024), (10_000_000, 200_000): (600, 2048)}


def _targets(entries: int, customers: int) -> tuple[int, int]:
    """Return the time and memory targets of the population size (the nearest documented one above it)."""
    for (most, _people), target in sorted(TARGETS.items()):
        if entries <= most:
            return target
    return max(TARGETS.values())


def _environment(media: str, database: str, state: dict[str, str]) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "atmsite.settings", "DJANGO_ENV_FILE": "", "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"{SERVER}/{database}", "DJANGO_MEDIA_ROOT": media, "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_LOG_LEVEL": "WARNING",
    })
    for name in SECRETS:
        os.environ.setdefault(name, state.get(name) or secrets.token_urlsafe(48))


def _psql(database: str, sql: str) -> str:
    done = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _recreate_database(database: str) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}"):
        _psql("postgres", sql)


def _population(entries: int, customers: int, days: int) -> dict[str, int]:
    return {"entries": entries, "customers": customers, "days": days, "seed": SEED}


def _state_path(args: argparse.Namespace) -> Path:
    return Path(args.state or Path.home() / ".cache" / "atmsite" / f"release-bench-{args.database}.json")


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, population: dict[str, int]) -> None:
    """Record the population and the secrets it was written with (readable by the owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"population": population, **{name: os.environ[name] for name in SECRETS}}))


def _holds(database: str, population: dict[str, int]) -> bool:
    """Return True when the database exists and holds the population's customers and entries."""
    if _psql("postgres", f"SELECT count(*) FROM pg_database WHERE datname = '{database}'") != "1":
        return False
    try:
        counts = _psql(database, "SELECT (SELECT count(*) FROM accounts_customer) || ' ' || "
                                 "(SELECT count(*) FROM transactions_ledgerentry)")
    except subprocess.CalledProcessError:
        return False
    return counts == f"{population['customers']} {population['entries']}"


def generate(entries: int, customers: int, days: int) -> None:
    """Recreate, migrate and fill the benchmark database (run in a child process)."""
    import django

    django.setup()
    from django.core.management import call_command

    from transactions.demo import population_generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    population_generate(customers=customers, entries=entries, last_day=AS_OF, days=days, seed=SEED, copy=True)
    print(f"generated {entries:,} entries for {customers:,} customers in {time.perf_counter() - started:.1f} s")


def run_release(entries: int, customers: int) -> None:
    """Run the default policy once and print its timings, memory and figures."""
    import django

    django.setup()
    from anonymization.models import Release, ReleasePolicy
    from anonymization.release import service

    policy = ReleasePolicy.objects.get(name="Nightly transactions")
    Release.objects.filter(policy=policy).delete()  # a published release would not run again
    started = time.perf_counter()
    release = service.release_run_for_policy(policy_id=policy.pk, as_of=AS_OF)
    total = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"status: {release.status} {release.error}")
    for step in ("extracting", "anonymizing", "measuring utility", "writing", "verifying", "publishing"):
        print(f"{step:>17}: {release.timings.get(step, 0):6.2f} s")
    seconds, mebibytes = _targets(entries, customers)
    print(f"{'total':>17}: {total:6.2f} s   (target < {seconds} s)")
    print(f"{'peak RSS':>17}: {peak_mib:6.0f} MiB (target < {mebibytes} MiB)")
    print(f"{'load':>17}: {' '.join(f'{value:.2f}' for value in os.getloadavg())} (1, 5, 15 min averages)")
    if release.status != Release.Status.PUBLISHED:
        raise SystemExit(f"release {release.pk} {release.status}: {release.error}")
    print(f"rows in {release.rows_in:,}, out {release.rows_out:,}, held back {release.held_rows or 0:,}, "
          f"suppressed {release.suppressed_rows:,}; recoding {release.policy_snapshot.get('recoding', 'full_domain')}; "
          f"classes {release.class_stats.get('classes')}; levels {release.levels or '-'}; "
          f"loss {release.information_loss if release.information_loss is not None else '-'}; "
          f"workload error {release.utility.get('workload', {}).get('mean', '-')} (mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--step", choices=["all", "generate", "release"], default="all",
                        help="release alone needs the secrets (ATM_FIELD_ENCRYPTION_KEY, ...) the generate step ran with")
    parser.add_argument("--media", default="")
    parser.add_argument("--database", default=DB, help="the PostgreSQL database the population is written to")
    parser.add_argument("--keep", action="store_true",
                        help="keep the populated database and reuse it when it holds the same population")
    parser.add_argument("--rebuild", action="store_true", help="with --keep: write a new population anyway")
    parser.add_argument("--state", default="", help="with --keep: the state file (default ~/.cache/atmsite/...)")
    args = parser.parse_args()
    media = args.media or tempfile.mkdtemp(prefix="release-bench-")
    population = _population(args.entries, args.customers, args.days)
    state = _read_state(_state_path(args)) if args.keep or args.step == "release" else {}
    reuse = (args.keep and not args.rebuild and args.step == "all" and state.get("population") == population
             and _holds(args.database, population))
    _environment(media, args.database, state if reuse or args.step == "release" else {})
    sys.path.insert(0, str(ROOT))
    if args.step == "generate":
        generate(args.entries, args.customers, args.days)
    elif args.step == "release":
        run_release(args.entries, args.customers)
    else:
        common = [sys.executable, __file__, "--media", media, "--entries", str(args.entries),
                  "--customers", str(args.customers), "--days", str(args.days), "--database", args.database]
        if reuse:
            print(f"reusing {args.database}: {args.customers:,} customers, {args.entries:,} entries")
        else:
            _recreate_database(args.database)
            subprocess.run([*common, "--step", "generate"], check=True, cwd=ROOT)
            if args.keep:
                _write_state(_state_path(args), population)
        subprocess.run([*common, "--step", "release"], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
