"""Customer contact details are encrypted at rest (accounts/fields.py) and refuse filters on ciphertext."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from accounts.models import Customer
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def _raw(pk: int) -> tuple[str, str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, phone, street_address, email_index FROM accounts_customer WHERE id = %s", [pk])
        return cursor.fetchone()


def test_it_stores_contact_details_only_as_ciphertext():
    customer = customer_create(email="Ada.Lovelace@example.com", phone="+31 20 555 0101",
                               street_address="Keizersgracht 1")
    email, phone, street, index = _raw(customer.pk)
    for secret, stored in (("Lovelace", email), ("555", phone), ("Keizersgracht", street)):
        assert secret not in stored and stored.startswith("gAAAA")
    assert len(index) == 64 and "lovelace" not in index
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.email, fresh.phone, fresh.street_address) == (
        "Ada.Lovelace@example.com", "+31 20 555 0101", "Keizersgracht 1")


def test_it_refuses_filters_that_cannot_work_on_ciphertext():
    with pytest.raises(FieldError, match="use its blind index"):
        list(Customer.objects.filter(email="ada@example.com"))
