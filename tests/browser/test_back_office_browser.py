"""Staff use the back office in a real browser: a teller unblocks a card, a privacy officer publishes a release."""

from __future__ import annotations

import importlib
import json

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import Card
from accounts.services import card_block
from anonymization.models import Release
from anonymization.release.service import default_as_of
from transactions.demo import population_generate as populate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-staff-password-1"


# The data migrations' forward steps, in migration order.
DATA_MIGRATIONS = (
    ("transactions.migrations.0003_staff_groups", "grant"),
    ("anonymization.migrations.0002_default_policy", "create"),
    ("anonymization.migrations.0004_default_policy_roles", "forwards"),
    ("anonymization.migrations.0006_policy_recoding", "recode_locally"),
)


@pytest.fixture(autouse=True)
def migration_data(db):
    """Re-create what the data migrations made (staff groups, the default policy): the flush after
    an earlier transactional test removed it."""
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    editor = SimpleNamespace(connection=connection)
    for name, step in DATA_MIGRATIONS:
        getattr(importlib.import_module(name), step)(apps, editor)


def _staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _admin_login(tab, username: str) -> None:
    tab.goto("/admin/login/")
    tab.page.get_by_label("Username").fill(username)
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.get_by_role("heading", name="Site administration").wait_for()


def _run_action(page, label: str) -> None:
    page.locator("select[name=action]").select_option(label=label)
    page.get_by_role("button", name="Go").click()


def test_it_lets_a_teller_unblock_a_blocked_card(staff_page, alice_customer):
    card_block(card_id=alice_customer.card.pk)
    _staff("tina", "Tellers")
    tab, page = staff_page, staff_page.page
    _admin_login(tab, "tina")
    tab.screenshot("admin-index-teller")
    tab.goto(f"/admin/accounts/card/?q={alice_customer.card.last4}")
    page.locator(f"input[name=_selected_action][value='{alice_customer.card.pk}']").check()
    tab.screenshot("admin-cards")
    _run_action(page, "Unblock the selected cards (resets failed PIN attempts)")
    assert "Unblocked 1 card" in page.locator(".messagelist").inner_text()
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.ACTIVE


def test_it_lets_a_privacy_officer_run_a_release_and_download_it(staff_page):
    populate(customers=60, entries=600, last_day=default_as_of(), days=20, seed=5)
    _staff("paula", "Privacy officers")
    tab, page = staff_page, staff_page.page
    _admin_login(tab, "paula")
    tab.goto("/admin/anonymization/releasepolicy/")
    page.get_by_role("row", name="Nightly transactions").locator("input[name=_selected_action]").check()
    _run_action(page, "Run release now (for yesterday)")
    tab.screenshot("admin-release-queued")
    release = Release.objects.get()
    assert release.status == Release.Status.PUBLISHED, release.error

    tab.goto(f"/admin/anonymization/release/{release.pk}/report/")
    assert page.locator("svg").count() >= 3
    tab.screenshot("admin-release-report")
    tab.goto(f"/admin/anonymization/release/{release.pk}/change/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="metadata", exact=False).first.click()
    metadata = json.loads(open(download_info.value.path()).read())
    # the default policy recodes locally: its demographics sit at the version's fixed levels
    assert metadata["recoding"] == "local"
    assert metadata["person_levels"] == release.levels
