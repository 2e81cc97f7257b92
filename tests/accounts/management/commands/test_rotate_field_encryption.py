"""python manage.py rotate_field_encryption: re-encrypt contact details under the primary key."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import Customer
from accounts.selectors import customer_list_by_email
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


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
