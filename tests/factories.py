"""Test data builders: customers with funded accounts and cards, built through the services."""

from __future__ import annotations

import datetime
import itertools
import random
from dataclasses import dataclass

from accounts.models import Account, Card, Customer
from accounts.services import account_open, card_issue
from transactions.services import deposit_create

_counter = itertools.count(1)


@dataclass
class CardHolder:
    """A customer with one account and one card, and the secrets only the test knows."""

    customer: Customer
    account: Account
    card: Card
    pan: str
    pin: str


def customer_create(**fields: object) -> Customer:
    n = next(_counter)
    defaults: dict[str, object] = {
        "first_name": f"Test{n}", "last_name": "Customer", "email": f"customer{n}@example.com",
        "phone": f"+31 6 1234 {n:04d}",
        # adults born 1950-1994 however many customers a test run has made (n keeps growing)
        "birth_date": datetime.date(1950, 1, 1) + datetime.timedelta(days=97 * n % (365 * 45)),
        "gender": Customer.Gender.FEMALE, "country": "NL", "postal_code": f"{1000 + n % 9000} AB", "city": "Amsterdam",
    }
    defaults.update(fields)
    return Customer.objects.create(**defaults)


def funded_card(*, balance_minor: int = 50_000, pin: str = "2468", network: str = "visa",
                must_change_pin: bool = False, **customer_fields: object) -> CardHolder:
    """Return a customer whose account holds `balance_minor` (deposited through the ledger)."""
    customer = customer_create(**customer_fields)
    account = account_open(customer=customer, rng=random.Random(next(_counter)))
    if balance_minor:
        deposit_create(account_id=account.pk, amount_minor=balance_minor, idempotency_key=f"fund-{account.pk}",
                       channel="branch")
    issued = card_issue(account=account, network=network, pin=pin, must_change_pin=must_change_pin)
    account.refresh_from_db()
    return CardHolder(customer=customer, account=account, card=issued.card, pan=issued.pan, pin=pin)
