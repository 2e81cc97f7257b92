"""Migration 0008: existing customers get the country their postal code's format names, else NL.

The data step runs on today's tables (it reads and writes only `postal_code` and `country`), so
the test neither migrates the shared test database backwards nor leaves it in another state.
"""

from __future__ import annotations

import datetime
import importlib
from types import SimpleNamespace

from django.apps import apps
from django.db import connection

from accounts.models import Customer

migration = importlib.import_module("accounts.migrations.0008_customer_country")


def test_it_sets_the_country_a_postal_code_names_and_nl_where_the_format_is_shared_or_unknown(db):
    codes = {"1012 AB": "NL", "1000": "BE", "SW1A 1AA": "GB", " M1 1AE ": "GB", "10115": "NL", "75001": "NL",
             "!!!": "NL"}
    pks = {}
    for n, code in enumerate(codes):
        # created as the column's default (NL) without the model's checks, as rows were before the field
        pks[code] = Customer.objects.create(first_name="A", last_name=str(n), birth_date=datetime.date(1980, 1, 1),
                                            gender="F", postal_code=code, city="X").pk
    migration.country_from_postal_code(apps, SimpleNamespace(connection=connection))  # it uses no DDL
    assert {code: Customer.objects.get(pk=pk).country for code, pk in pks.items()} == codes
