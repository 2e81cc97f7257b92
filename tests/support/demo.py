"""Run the demo-data command the way `make run` does, for the tests of the generator and its command."""

from __future__ import annotations

import io
import re

from django.core.management import call_command

# One printed demo card: `card=<PAN> pin=<PIN>`.
CARD_LINE = re.compile(r"^card=(\d{13,19}) pin=(\d{4,6})$")


def demo_command_lines(customers: int = 30, transactions: int = 1_500, seed: int = 7, days: int = 30) -> list[str]:
    """Run `generate_demo_data` quietly (DEBUG must be on) and return what it printed, line by line."""
    out = io.StringIO()
    call_command("generate_demo_data", customers=customers, transactions=transactions, seed=seed, days=days,
                 verbosity=0, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()
