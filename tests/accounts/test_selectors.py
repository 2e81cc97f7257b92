"""Read paths over customers (accounts/selectors.py)."""

from __future__ import annotations

import pytest

from accounts.selectors import customer_list_by_email
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_it_finds_a_customer_by_email_through_the_blind_index_ignoring_case():
    ada = customer_create(email="ada@example.com")
    customer_create(email="grace@example.com")
    assert list(customer_list_by_email(email="  ADA@example.com ")) == [ada]
    assert list(customer_list_by_email(email="")) == []
