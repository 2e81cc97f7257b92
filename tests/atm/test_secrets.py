"""After a whole web ATM visit, no PIN and no full card number is in the database, the SQL or the logs."""

from __future__ import annotations

import logging

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.atm.conftest import atm_login, form_token
from tests.factories import funded_card

pytestmark = pytest.mark.django_db

PIN, NEW_PIN, WRONG_PIN = "739184", "582047", "604913"


def _database_text() -> str:
    """Return every value of every table (and every decoded session) as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks += [" ".join(str(value) for value in row) for row in cursor.fetchall()]
    chunks += [str(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(chunks)


def _visit(client: Client, holder, other_number: str) -> None:  # type: ignore[no-untyped-def]
    """Walk through every page that takes a secret: failed and good logins, operations, PIN change."""
    client.post(reverse("atm:login"), {"card_number": holder.pan, "pin": WRONG_PIN})
    client.post(reverse("atm:login"), {"card_number": f"{holder.pan[:4]} {holder.pan[4:]}", "pin": PIN})
    for page, data in [("atm:withdraw", {"amount": "20", "pin": PIN}), ("atm:withdraw", {"amount": "20", "pin": WRONG_PIN}),
                       ("atm:deposit", {"amount": "5"}), ("atm:transfer", {"amount": "7", "to_account": other_number})]:
        client.post(reverse(page), {"token": form_token(client.get(reverse(page))), **data})
    client.post(reverse("atm:pin"), {"old_pin": WRONG_PIN, "new_pin": NEW_PIN, "new_pin_again": NEW_PIN})
    client.post(reverse("atm:pin"), {"old_pin": PIN, "new_pin": NEW_PIN, "new_pin_again": NEW_PIN})
    client.get(reverse("atm:statement"))
    client.post(reverse("atm:logout"))
    holder.pin = NEW_PIN
    assert atm_login(client, holder).status_code == 302


def test_it_keeps_pins_and_card_numbers_out_of_the_database_sql_and_logs(caplog, charlie_customer):
    holder = funded_card(first_name="Dora", pin=PIN)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        _visit(Client(), holder, charlie_customer.account.number)
    finally:
        connection.force_debug_cursor = False
    assert any("SELECT" in record.getMessage() for record in caplog.records)  # the SQL was captured
    logged, stored = caplog.text, _database_text()
    for secret in (holder.pan, PIN, NEW_PIN, WRONG_PIN):
        assert secret not in logged
        assert secret not in stored
    assert holder.pan[-4:] in stored  # the last four digits are kept, as printed on receipts
