"""Release pipeline benchmark: a million ledger entries on PostgreSQL -> one published, verified release.

Step 1 (a child process) recreates the database `atmsite_release_bench`, migrates it and writes
synthetic customers, accounts, cards and ledger entries with COPY (transactions.demo.population_generate).
Step 2 (this process, which never held the generated data) runs the default policy "Nightly
transactions" through anonymization.release.service.release_run, exactly as the Celery task does, and
prints the time of each step (extraction, search, writing, verification, publishing), the total,
the peak resident memory of the process and the release's figures.

    .venv/bin/python benchmarks/release_pipeline.py [--entries 1000000] [--customers 20000] [--days 365]

Target on a 2-core machine: under 60 s and under 1 GB for a million entries.
"""

from __future__ import annotations

import argparse
import datetime
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


def _environment(media: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "atmsite.settings", "DJANGO_ENV_FILE": "", "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"{SERVER}/{DB}", "DJANGO_MEDIA_ROOT": media, "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_LOG_LEVEL": "WARNING",
    })
    for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))


def _recreate_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)


def generate(entries: int, customers: int, days: int) -> None:
    """Recreate, migrate and fill the benchmark database (run in a child process)."""
    import django

    django.setup()
    from django.core.management import call_command

    from transactions.demo import population_generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    population_generate(customers=customers, entries=entries, last_day=AS_OF, days=days, seed=42, copy=True)
    print(f"generated {entries:,} entries for {customers:,} customers in {time.perf_counter() - started:.1f} s")


def run_release() -> None:
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
    for step in ("extracting", "anonymizing", "writing", "verifying", "publishing"):
        print(f"{step:>12}: {release.timings.get(step, 0):6.2f} s")
    print(f"{'total':>12}: {total:6.2f} s   (target < 60 s)")
    print(f"{'peak RSS':>12}: {peak_mib:6.0f} MiB (target < 1024 MiB)")
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
    args = parser.parse_args()
    media = args.media or tempfile.mkdtemp(prefix="release-bench-")
    _environment(media)
    sys.path.insert(0, str(ROOT))
    if args.step == "generate":
        generate(args.entries, args.customers, args.days)
    elif args.step == "release":
        run_release()
    else:
        _recreate_database()
        common = [sys.executable, __file__, "--media", media, "--entries", str(args.entries),
                  "--customers", str(args.customers), "--days", str(args.days)]
        subprocess.run([*common, "--step", "generate"], check=True, cwd=ROOT)
        subprocess.run([*common, "--step", "release"], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
