"""python manage.py verify_ledger: prove that balances and the ledger agree."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from transactions.models import LedgerEntry
from transactions.selectors import ledger_problems


class Command(BaseCommand):
    help = "Check every balance against opening balance + ledger entries, and every transfer's two legs."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        problems = ledger_problems()
        for problem in problems:
            self.stderr.write(f"{problem.subject}: {problem.message}")
        accounts, entries = Account.objects.count(), LedgerEntry.objects.count()
        if problems:
            raise CommandError(f"Ledger verification FAILED: {len(problems)} difference(s) over {accounts} accounts.")
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {accounts} accounts, {entries} entries, no differences."))
