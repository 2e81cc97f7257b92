"""Migration 0008: existing customers get the country their postal code's format names, else NL."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0007_card_number_tries")]
AFTER = [("accounts", "0008_customer_country")]


def _migrate(targets: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_sets_the_country_a_postal_code_names_and_nl_where_the_format_is_shared_or_unknown():
    old = _migrate(BEFORE).get_model("accounts", "Customer")
    codes = {"1012 AB": "NL", "1000": "BE", "SW1A 1AA": "GB", " M1 1AE ": "GB", "10115": "NL", "75001": "NL",
             "!!!": "NL"}
    pks = {code: old.objects.create(first_name="A", last_name=str(n), birth_date=datetime.date(1980, 1, 1),
                                    gender="F", postal_code=code, city="X").pk
           for n, code in enumerate(codes)}
    new = _migrate(AFTER).get_model("accounts", "Customer")  # the database ends at the latest state again
    assert {code: new.objects.get(pk=pk).country for code, pk in pks.items()} == codes
