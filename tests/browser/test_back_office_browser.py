"""Staff use the back office in a real browser: a teller unblocks a card, a privacy officer publishes a release."""

from __future__ import annotations

import importlib
import json

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from accounts.models import Card
from accounts.services import card_block
from anonymization.models import Release, ReleasePolicy
from anonymization.release.service import default_as_of
from transactions.demo import population_generate as populate
from transactions.services import adjustment_request

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

    response = page.goto(tab.base_url + "/admin/anonymization/release/")  # not a teller's page
    assert response.status == 403
    page.get_by_role("heading", name="Not allowed").wait_for()
    page.get_by_role("link", name="Back office home").wait_for()
    tab.audit("admin-forbidden")
    # Chromium logs the 403 itself; nothing else may have gone wrong
    assert tab.errors == ["Failed to load resource: the server responded with a status of 403 (Forbidden)"]
    tab.errors.clear()


def test_it_lets_a_privacy_officer_run_a_release_and_download_it(staff_page, tmp_path):
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

    tab.audit("admin-policies")
    tab.goto("/admin/anonymization/release/")
    tab.audit("admin-releases")
    page.get_by_role("link", name=str(release), exact=True).click()
    page.get_by_role("heading", name=str(release)).wait_for()
    tab.audit("admin-release")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="metadata", exact=False).first.click()
    metadata = json.loads(open(download_info.value.path()).read())
    # the default policy recodes locally: its demographics sit at the version's fixed levels
    assert metadata["recoding"] == "local"
    assert metadata["person_levels"] == release.levels

    page.get_by_role("link", name="Open the report").click()
    assert page.locator("svg").count() >= 3 + len(release.distributions)
    tab.audit("admin-release-report")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="report.html").click()
    saved = tmp_path / "report.html"
    download_info.value.save_as(saved)
    _assert_report_file_looks_like_the_page(tab, saved)


def _assert_report_file_looks_like_the_page(tab, path) -> None:
    """Open the downloaded report.html from disk: styled like the admin's report, loading nothing."""
    page = tab.page
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"file://{path}")
    styles = page.evaluate("""() => {
        const h2 = getComputedStyle(document.querySelector('.release-report h2'));
        return {font: h2.fontFamily, border: h2.borderBottomStyle, charts: document.querySelectorAll('svg').length};
    }""")
    assert styles["border"] == "solid" and "system-ui" in styles["font"] and styles["charts"] >= 3
    assert requests == [f"file://{path}"]
    tab.audit("report-file")


def test_it_refreshes_the_progress_of_a_running_release_by_itself(staff_page):
    policy = ReleasePolicy.objects.get(name="Nightly transactions")
    release = Release.objects.create(policy=policy, as_of=default_as_of(), status=Release.Status.RUNNING,
                                     progress=30, progress_step="anonymizing")
    _staff("paula", "Privacy officers")
    tab, page = staff_page, staff_page.page
    _admin_login(tab, "paula")
    tab.goto("/admin/anonymization/release/")
    assert page.locator("progress").get_attribute("value") == "30"
    Release.objects.filter(pk=release.pk).update(progress=70, progress_step="writing")
    page.wait_for_function("() => document.querySelector('progress').value === 70")
    assert "writing" in page.locator(".release-progress").inner_text()
    Release.objects.filter(pk=release.pk).update(status=Release.Status.FAILED, error="The worker stopped.")
    page.locator(".badge--failed").wait_for()  # the page reloaded by itself once the release ended
    assert page.locator(".badge--failed").inner_text() == "Failed"


def test_it_fits_every_back_office_list_and_form_on_the_screen(staff_page):
    populate(customers=30, entries=200, last_day=default_as_of(), days=10, seed=3)
    User.objects.create_superuser("sam", password=PASSWORD)
    tab = staff_page
    _admin_login(tab, "sam")
    tab.audit("admin-index")
    card = Card.objects.select_related("account__customer").first()
    waiting = adjustment_request(account_id=card.account_id, amount_minor=settings.STAFF_APPROVAL_THRESHOLD_MINOR + 1,
                                 staff_user=_staff("tina", "Tellers"), reason="Branch cash count",
                                 idempotency_key="browser-four-eyes")
    screens = {
        "admin-customers": "/admin/accounts/customer/",
        "admin-customer": f"/admin/accounts/customer/{card.account.customer_id}/change/",
        "admin-accounts": "/admin/accounts/account/",
        "admin-account": f"/admin/accounts/account/{card.account_id}/change/",
        "admin-cards": "/admin/accounts/card/",
        "admin-card": f"/admin/accounts/card/{card.pk}/change/",
        "admin-ledger": "/admin/transactions/ledgerentry/",
        "admin-staff-postings": "/admin/transactions/staffposting/",
        "admin-staff-posting": f"/admin/transactions/staffposting/{waiting.pk}/change/",
        "admin-policy": f"/admin/anonymization/releasepolicy/{ReleasePolicy.objects.get().pk}/change/",
    }
    for name, url in screens.items():
        tab.goto(url)
        tab.audit(name)
    tab.goto(screens["admin-staff-posting"])  # another staff member's request: sam may decide it here
    assert tab.page.get_by_role("button", name="Approve and post").is_visible()


def test_it_checks_a_customers_postal_code_against_their_country_in_the_form(staff_page, alice_customer):
    User.objects.create_superuser("sam", password=PASSWORD)
    customer = alice_customer.customer
    tab, page = staff_page, staff_page.page
    _admin_login(tab, "sam")
    tab.goto("/admin/accounts/customer/")
    page.get_by_role("link", name="Belgium").wait_for()  # the list filters by country, not by city
    tab.goto(f"/admin/accounts/customer/{customer.pk}/change/")
    page.get_by_label("Country").select_option(label="Germany")
    page.get_by_label("Postal code").fill("1012 AB")
    page.get_by_label("City").fill("Berlin")
    page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator(".field-postal_code .errorlist")
    assert error.inner_text() == "Enter a postal code of Germany: five digits, for example 10115."
    tab.audit("admin-customer-postal-code-error")
    customer.refresh_from_db()
    assert (customer.country, customer.city) == ("NL", "Amsterdam")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator(".messagelist").wait_for()
    customer.refresh_from_db()
    assert (customer.country, customer.postal_code, customer.city) == ("DE", "10115", "Berlin")


def test_it_previews_each_hierarchy_live_while_the_policy_is_edited(staff_page, tmp_path):
    User.objects.create_superuser("sam", password=PASSWORD)
    tab, page = staff_page, staff_page.page
    _admin_login(tab, "sam")
    tab.goto(f"/admin/anonymization/releasepolicy/{ReleasePolicy.objects.get().pk}/change/")
    age = page.locator("#quasi_identifiers-0")
    age.locator("table").wait_for()
    age.get_by_label("Params").fill('{"bin": 1, "widths": [10, 30]}')
    age.get_by_role("columnheader", name="bands of 30 years").wait_for()
    assert age.get_by_role("row").nth(1).inner_text().split() == ["19", "19", "[10,", "20)", "[0,", "30)", "*"]
    age.get_by_label("Params").fill('{"bin": 1, "widths": [10, 15]}')
    age.get_by_text("width 15 must be a larger multiple of 10 so intervals nest.").wait_for()

    named = tmp_path / "named.csv"
    named.write_text("19;young;*\n34;adult;*\n47;adult;*\n68;senior;*\n")
    age.get_by_label("Builder").select_option(label="Uploaded ARX hierarchy (CSV)")
    age.get_by_label("Upload ARX CSV").set_input_files(str(named))
    age.get_by_text("the group label 'young' (level 1) is not a range such as [20, 40)").wait_for()
    arx = tmp_path / "age.csv"
    arx.write_text("19;0-29;*\n34;30-59;*\n47;30-59;*\n68;60-119;*\n")
    age.get_by_label("Upload ARX CSV").set_input_files(str(arx))
    age.get_by_role("columnheader", name="ARX level 1").wait_for()
    assert age.get_by_role("row").nth(1).inner_text().split() == ["19", "0-29", "*"]
    tab.audit("admin-policy-preview")
