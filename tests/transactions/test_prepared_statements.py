"""On PostgreSQL the money path's statements are prepared once per connection and planned once for good."""

from __future__ import annotations

import pytest
from django.db import connection

from transactions.services import transfer_create, withdrawal_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _prepared() -> dict[str, tuple[int, int]]:
    """Return this connection's prepared statements: text -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {statement: (generic, custom) for statement, generic, custom in cursor.fetchall()}


def test_withdrawals_and_transfers_reuse_generic_plans_of_their_prepared_statements(alice_customer, charlie_customer):
    for number in range(10):
        withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key=f"w{number}",
                          note_minor=1_000)
        transfer_create(from_account_id=alice_customer.account.pk, to_account_number=charlie_customer.account.number,
                        amount_minor=100, idempotency_key=f"t{number}")

    prepared = _prepared()
    locking = {statement: plans for statement, plans in prepared.items() if "FOR UPDATE" in statement}
    # One locking statement per shape (one account by pk; one by pk and one by number), each planned
    # by the server at most its first five times and then from the one generic plan.
    assert len(locking) == 2
    assert all(generic >= 5 and custom <= 5 for generic, custom in locking.values())
    # Nothing else piles up: the key and day reads and the writes are a handful of statements too.
    assert len(prepared) <= 8
