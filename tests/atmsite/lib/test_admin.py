"""The shared admin toolkit (atmsite/lib/admin.py): hostile-input guards, single selection, read-only admins."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Card, Customer
from atmsite.lib.admin import (
    APPLY,
    HostileInputMixin,
    ReadOnlyAdminMixin,
    guard_registered_admins,
    has_nul,
    is_row_id,
    only_one,
    submitted,
)
from tests.factories import customer_create


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("9223372036854775807", True), ("9223372036854775808", False), ("", False),
     ("-1", False), ("1.0", False), ("١", False), ("12345678901234567890", False), ("1\n", False)],
)
def test_it_accepts_only_64_bit_ascii_row_ids(value, expected):
    assert is_row_id(value) is expected


def test_it_finds_a_nul_in_keys_and_in_every_value():
    assert not has_nul(QueryDict("q=ada&o=1"))
    assert has_nul(QueryDict("q=ada&q=b%00"))
    assert has_nul(QueryDict("q%00=ada"))


def test_it_reads_an_action_page_as_submitted_only_with_apply():
    factory = RequestFactory()
    assert submitted(factory.post("/", {"reason": "typo"})) is None
    assert submitted(factory.post("/", {APPLY: "1", "reason": "typo"}))["reason"] == "typo"


@pytest.mark.django_db
@pytest.mark.parametrize("customers", [0, 2])
def test_it_asks_for_exactly_one_selected_object(customers):
    for number in range(customers):
        customer_create(first_name=f"C{number}")
    request = RequestFactory().post("/")
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    model_admin = admin.ModelAdmin(Customer, admin.site)
    assert only_one(model_admin, request, Customer.objects.all(), "customer") is None
    assert [str(message) for message in request._messages] == ["Select exactly one customer for this action."]


def test_it_lets_a_read_only_admin_view_but_never_add_change_or_delete():
    model_admin = type("ReadOnly", (ReadOnlyAdminMixin, admin.ModelAdmin), {})(Customer, admin.AdminSite())
    request = RequestFactory().get("/")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_it_guards_every_registered_admin_once():
    site = admin.AdminSite(name="guard-test")
    site.register(Customer)
    assert guard_registered_admins(site) == ["accounts.Customer"]
    assert isinstance(site._registry[Customer], HostileInputMixin)
    assert guard_registered_admins(site) == []


# --- Query-string lookups: declared filters only ---------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["pin_hash__startswith", "pan_hmac__startswith", "pin_hash", "bin__gt",
                                    "account__customer__email__startswith", "account__number__startswith"])
def test_it_refuses_a_changelist_lookup_on_a_hidden_field_with_400(admin_client, alice_customer, lookup):
    card = alice_customer.card
    prefix = Card.objects.get(pk=card.pk).pin_hash[:12]
    url = reverse("admin:accounts_card_changelist")
    response = admin_client.get(url, {"id__exact": card.pk, lookup: prefix})
    assert response.status_code == 400
    assert card.last4.encode() not in response.content


@pytest.mark.django_db
def test_it_answers_a_matching_and_a_wrong_pin_hash_prefix_alike(admin_client, alice_customer):
    """The attack: one character of the hash at a time, told apart by whether the card is listed."""
    card = Card.objects.get(pk=alice_customer.card.pk)
    url = reverse("admin:accounts_card_changelist")
    right = admin_client.get(url, {"id__exact": card.pk, "pin_hash__startswith": card.pin_hash[:10]})
    wrong = admin_client.get(url, {"id__exact": card.pk, "pin_hash__startswith": "nope"})
    assert (right.status_code, right.content) == (wrong.status_code, wrong.content)


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    "?network=visa&status=active&expiry=valid", "?id__exact=1", "?account__id__exact=1", "?account=1",
])
def test_it_accepts_declared_filters_and_row_ids(admin_client, alice_customer, query):
    assert admin_client.get(reverse("admin:accounts_card_changelist") + query).status_code == 200
