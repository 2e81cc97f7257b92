"""Who reaches the back office: staff only, with the groups and permissions the migration creates."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.urls import reverse

from accounts.models import Card
from transactions.models import LedgerEntry

pytestmark = pytest.mark.django_db

staff_groups = importlib.import_module("transactions.migrations.0003_staff_groups")

TELLER_PERMISSIONS = {
    "accounts.view_customer", "accounts.add_customer", "accounts.change_customer",
    "accounts.view_account", "accounts.add_account", "accounts.change_account",
    "accounts.view_card", "accounts.add_card", "accounts.change_card",
    "transactions.view_ledgerentry", "transactions.add_ledgerentry", "transactions.view_terminal",
    "transactions.view_staffposting", "transactions.approve_staffposting",
}


def _admin_urls(holder) -> list[str]:
    entry = LedgerEntry.objects.filter(account=holder.account).first()
    return [
        reverse("admin:index"),
        reverse("admin:accounts_customer_changelist"),
        reverse("admin:accounts_customer_change", args=[holder.customer.pk]),
        reverse("admin:accounts_account_changelist"),
        reverse("admin:accounts_card_change", args=[holder.card.pk]),
        reverse("admin:transactions_ledgerentry_changelist"),
        reverse("admin:transactions_ledgerentry_change", args=[entry.pk]),
        reverse("admin:transactions_terminal_changelist"),
    ]


def _group_permissions(name: str) -> set[str]:
    """Return the group's permissions, leaving out the anonymization app's, which its own migration grants."""
    permissions = Group.objects.get(name=name).permissions.exclude(content_type__app_label="anonymization")
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions.select_related("content_type")}


def _assert_sent_to_login(client, holder) -> None:
    for url in _admin_urls(holder):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_it_sends_anonymous_visitors_to_the_admin_login(client, alice_customer):
    _assert_sent_to_login(client, alice_customer)


def test_it_keeps_an_atm_session_out_of_the_back_office(client, alice_customer):
    # The web ATM's session holds a card id and an activity time, never a Django user.
    session = client.session
    session["atm_card_id"] = alice_customer.card.pk
    session["atm_last_activity"] = 0.0
    session.save()
    _assert_sent_to_login(client, alice_customer)
    response = client.post(reverse("admin:accounts_card_changelist"),
                           {"action": "block_cards", "index": "0", ACTION_CHECKBOX_NAME: [str(alice_customer.card.pk)]})
    assert response.status_code == 302
    assert Card.objects.get(pk=alice_customer.card.pk).status == "active"


def test_it_keeps_users_who_are_not_staff_out(client, alice_customer):
    client.force_login(User.objects.create_user("visitor", password="visitor-password-1"))
    _assert_sent_to_login(client, alice_customer)


def test_it_creates_the_staff_groups_with_their_permissions():
    assert _group_permissions("Tellers") == TELLER_PERMISSIONS
    assert _group_permissions("Privacy officers") == set()  # releases only: no ledger, no customer data
    assert Permission.objects.filter(codename="view_ledgerentry").count() == 1


def test_it_gives_a_teller_the_permissions_of_the_group(bob_teller):
    user = User.objects.get(pk=bob_teller.pk)
    assert user.get_all_permissions() == TELLER_PERMISSIONS
    assert user.has_perm("transactions.add_ledgerentry")  # staff deposits, adjustments, reversals
    assert not user.has_perm("transactions.change_ledgerentry")
    assert not user.has_perm("transactions.delete_ledgerentry")


def test_it_grants_by_group_name_and_keeps_what_other_apps_added():
    editor = SimpleNamespace(connection=connection)
    extra = Permission.objects.get(codename="view_session")
    Group.objects.get(name="Privacy officers").permissions.add(extra)
    staff_groups.grant(apps, editor)
    assert Group.objects.filter(name="Privacy officers").count() == 1
    assert _group_permissions("Privacy officers") == {"transactions.view_ledgerentry", "sessions.view_session"}
    staff_groups.revoke(apps, editor)
    # Tellers keep only what a later migration (four eyes on staff postings) granted them.
    assert _group_permissions("Tellers") == {"transactions.view_staffposting", "transactions.approve_staffposting"}
    assert _group_permissions("Privacy officers") == {"sessions.view_session"}
    staff_groups.grant(apps, editor)
    assert _group_permissions("Tellers") == TELLER_PERMISSIONS


def test_it_shows_login_attempts_read_only_to_superusers(admin_client):
    from accounts.models import LoginAttempt

    attempt = LoginAttempt.objects.create(address="198.51.100.7", succeeded=False)
    changelist = admin_client.get(reverse("admin:accounts_loginattempt_changelist") + "?q=198.51.100.7")
    assert changelist.status_code == 200 and "198.51.100.7" in changelist.content.decode()
    change_url = reverse("admin:accounts_loginattempt_change", args=[attempt.pk])
    assert admin_client.post(change_url, {"address": "203.0.113.1", "succeeded": "on"}).status_code == 403
    assert LoginAttempt.objects.get(pk=attempt.pk).address == "198.51.100.7"


def test_it_refuses_the_raw_ledger_and_customer_data_to_privacy_officers(client, alice_customer):
    officer = User.objects.create_user("paula", password="officer-password-1", is_staff=True)
    officer.groups.add(Group.objects.get(name="Privacy officers"))
    client.force_login(officer)
    for url in _admin_urls(alice_customer)[1:]:
        assert client.get(url).status_code == 403, url
    assert client.get(reverse("admin:anonymization_releasepolicy_changelist")).status_code == 200
