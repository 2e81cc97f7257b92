"""python manage.py generate_demo_data: fill a development database with a realistic, valid history.

Prints a few demo cards to stdout as `card=<PAN> pin=<PIN>` (the database keeps only the PAN's
HMAC); progress and the summary go to stderr. See transactions/demo.py for what is generated.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from transactions.demo import DemoDataError, demo_data_generate


class Command(BaseCommand):
    help = (
        "Create demo customers, accounts, cards, ATMs and branches, and a ledger history of withdrawals, "
        "deposits and transfers over the past days; print a few demo cards as card=<PAN> pin=<PIN>."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True, help="Number of customers (at least 1).")
        parser.add_argument(
            "--transactions", type=int, required=True,
            help="Number of withdrawals, deposits and transfers (a transfer counts once; openings not counted).",
        )
        parser.add_argument("--seed", type=int, required=True, help="Random seed, 0 to 999999: same seed, same data.")
        parser.add_argument("--days", type=int, default=90, help="Days of history before today (default 90).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if not settings.DEBUG:
            raise CommandError(
                "generate_demo_data only runs with DJANGO_DEBUG=true: demo cards have published PINs "
                "and must never exist in production."
            )
        started = time.perf_counter()
        try:
            summary = demo_data_generate(
                customers=options["customers"], transactions=options["transactions"], seed=options["seed"],
                days=options["days"], progress=options["verbosity"] > 0,
            )
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Demo data: {summary.customers} customers, {summary.accounts} accounts, {summary.cards} cards, "
            f"{summary.terminals} terminals, {summary.transactions} transactions "
            f"({summary.entries} ledger entries) in {time.perf_counter() - started:.1f} s."
        )
        for card in summary.shown_cards:
            self.stdout.write(f"card={card.pan} pin={card.pin}")
