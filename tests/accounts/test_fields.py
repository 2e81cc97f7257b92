"""Customer contact details are encrypted at rest, findable by email, and survive a key rotation."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from accounts.models import Customer
from accounts.selectors import customer_list_by_email
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


def test_it_finds_a_customer_by_email_through_the_blind_index_ignoring_case():
    ada = customer_create(email="ada@example.com")
    customer_create(email="grace@example.com")
    assert list(customer_list_by_email(email="  ADA@example.com ")) == [ada]
    assert list(customer_list_by_email(email="")) == []


def test_it_refuses_filters_that_cannot_work_on_ciphertext():
    with pytest.raises(FieldError, match="use its blind index"):
        list(Customer.objects.filter(email="ada@example.com"))


def test_it_rotates_to_a_new_key_and_still_reads_every_row(settings):
    ada = customer_create(email="ada@example.com", phone="+31 6 1111 2222")
    old_key = settings.ATM_FIELD_ENCRYPTION_KEY
    settings.ATM_FIELD_ENCRYPTION_KEY = "a-brand-new-field-encryption-key-" + "k" * 16
    settings.ATM_FIELD_ENCRYPTION_OLD_KEYS = [old_key]
    call_command("rotate_field_encryption")
    settings.ATM_FIELD_ENCRYPTION_OLD_KEYS = []  # the old key is retired after the rotation
    fresh = Customer.objects.get(pk=ada.pk)
    assert (fresh.email, fresh.phone) == ("ada@example.com", "+31 6 1111 2222")
    assert list(customer_list_by_email(email="ada@example.com")) == [ada]
