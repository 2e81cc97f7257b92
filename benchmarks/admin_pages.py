"""Server time of the back-office pages on the demo data of `make run`: medians per page, and staff login.

Builds what `make run` builds (DEBUG on, SQLite, 200 customers, 20,000 transactions over 90 days, seed
42, one published release of the default policy) in a throwaway SQLite file, then asks every page of
issue 12 through Django's test client: the whole server side (middleware, view, queries, template),
no network and no browser. Prints the median and the slowest of the runs per page, in ms, and marks
pages over the 300 ms target.

    .venv/bin/python -m benchmarks.admin_pages [--runs 7] [--database /tmp/atmsite_admin_bench.sqlite3]

A run takes about two minutes, most of it generating the demo data.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300
PASSWORD = "a-long-benchmark-password-1"


def setup_django(database: Path) -> None:
    """Point Django at a fresh SQLite file with `make run`'s settings (DEBUG on) and migrate it."""
    database.unlink(missing_ok=True)
    os.environ.update({"DATABASE_URL": f"sqlite:///{database}", "DJANGO_DEBUG": "true",
                       "DJANGO_SETTINGS_MODULE": "atmsite.settings", "CELERY_TASK_ALWAYS_EAGER": "true"})
    for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def demo_data() -> None:
    """Generate `make run`'s demo data and publish one release of the default policy."""
    from django.core.management import call_command

    from anonymization.models import ReleasePolicy
    from anonymization.release import service

    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("generate_demo_data", customers=200, transactions=20_000, seed=42, days=90, stdout=quiet)
    release = service.release_run_for_policy(policy_id=ReleasePolicy.objects.get(name="Nightly transactions").pk)
    print(f"demo data and release #{release.pk} ({release.status}) in {time.perf_counter() - started:.0f} s")


def pages() -> dict[str, str]:
    """Return the pages to time, by name: every list, form and release page of issue 12."""
    from django.urls import reverse

    from accounts.models import Card, Customer
    from anonymization.models import Release, ReleasePolicy
    from transactions.models import LedgerEntry

    card = Card.objects.select_related("account").order_by("pk").first()
    release = Release.objects.get()
    return {
        "index": reverse("admin:index"),
        "customers": reverse("admin:accounts_customer_changelist"),
        "customers, search": reverse("admin:accounts_customer_changelist") + "?q=Jansen",
        "customer": reverse("admin:accounts_customer_change", args=[Customer.objects.order_by("pk").first().pk]),
        "accounts": reverse("admin:accounts_account_changelist"),
        "account": reverse("admin:accounts_account_change", args=[card.account_id]),
        "cards": reverse("admin:accounts_card_changelist"),
        "card": reverse("admin:accounts_card_change", args=[card.pk]),
        "ledger": reverse("admin:transactions_ledgerentry_changelist"),
        "ledger, filtered": reverse("admin:transactions_ledgerentry_changelist") + "?kind__exact=withdrawal&amount=20-100",
        "ledger entry": reverse("admin:transactions_ledgerentry_change", args=[LedgerEntry.objects.last().pk]),
        "policies": reverse("admin:anonymization_releasepolicy_changelist"),
        "policy editor": reverse("admin:anonymization_releasepolicy_change",
                                 args=[ReleasePolicy.objects.get(name="Nightly transactions").pk]),
        "releases": reverse("admin:anonymization_release_changelist"),
        "release": reverse("admin:anonymization_release_change", args=[release.pk]),
        "release report": reverse("admin:anonymization_release_report", args=[release.pk]),
    }


def median_ms(call, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Return the median and the slowest time of `runs` calls after one warm-up call, in ms."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database", type=Path, default=Path("/tmp/atmsite_admin_bench.sqlite3"))
    args = parser.parse_args()
    setup_django(args.database)
    demo_data()
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.create_superuser("bench", password=PASSWORD)
    client = Client(HTTP_HOST="127.0.0.1")  # as `make run` serves it
    client.force_login(User.objects.get(username="bench"))
    print(f"{'page':<20} {'median ms':>10} {'max ms':>8}")
    slow = []
    for name, url in pages().items():
        def get(url: str = url) -> None:
            assert client.get(url).status_code == 200, url
        median, worst = median_ms(get, args.runs)
        slow += [name] if median > TARGET_MS else []
        print(f"{name:<20} {median:>10.1f} {worst:>8.1f}{'  over target' if median > TARGET_MS else ''}")

    def login() -> None:
        response = Client(HTTP_HOST="127.0.0.1").post("/admin/login/", {"username": "bench", "password": PASSWORD, "next": "/admin/"})
        assert response.status_code == 302, "staff login failed"
    median, worst = median_ms(login, args.runs)
    print(f"{'staff login':<20} {median:>10.1f} {worst:>8.1f}{'  over target' if median > TARGET_MS else ''}")
    print(f"pages over {TARGET_MS} ms: {', '.join(slow) if slow else 'none'}")
    args.database.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
