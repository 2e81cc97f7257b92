"""A customer uses the web ATM in a real browser, start to finish, on a phone and at a desk.

Every screen is audited at 390 and 1280 px (`Page.audit`): no sideways scrolling and no axe-core
violation, error states included.
"""

from __future__ import annotations

import time

import pytest

from accounts.models import Account, Card
from transactions.models import LedgerEntry
from transactions.services import deposit_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(tab, pan: str, pin: str) -> None:
    tab.goto("/")
    tab.page.get_by_label("Card number").fill(pan)
    tab.page.get_by_label("PIN").fill(pin)
    tab.page.get_by_role("button", name="Log in").click()


def test_it_lets_a_customer_withdraw_read_the_statement_change_pin_and_log_out(browser_page, alice_customer,
                                                                             charlie_customer):
    tab, page = browser_page, browser_page.page
    for amount in range(5):  # a statement with a few movements
        deposit_create(account_id=alice_customer.account.pk, amount_minor=1_000 + amount, idempotency_key=f"d{amount}")
    tab.goto("/")
    tab.audit("atm-login")
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("heading", name="Your balance").wait_for()
    assert "550.10 EUR" in page.content()
    tab.audit("atm-balance")

    page.get_by_role("link", name="Withdraw", exact=True).click()
    assert "Up to 550.00 EUR more today" in page.locator(".lead").inner_text()
    page.get_by_role("button", name="50.00 EUR").click()  # a quick amount fills the field in
    assert page.get_by_label("Amount", exact=True).input_value() == "50"
    page.get_by_label("Amount", exact=True).fill("-5")
    page.get_by_label("PIN").fill(alice_customer.pin)
    page.get_by_role("button", name="Withdraw", exact=True).click()
    assert "The amount must be more than zero." in page.get_by_role("alert").inner_text()
    tab.audit("atm-withdraw-error")
    page.get_by_role("button", name="100.00 EUR").click()
    page.get_by_label("PIN").fill(alice_customer.pin)
    page.get_by_role("button", name="Withdraw", exact=True).click()
    page.get_by_role("heading", name="Receipt").wait_for()
    assert "450.10 EUR" in page.content()
    tab.audit("atm-receipt")

    page.get_by_role("link", name="Statement", exact=True).click()
    page.get_by_role("heading", name="Mini-statement").wait_for()
    newest = page.locator(".statement tbody tr").first
    assert "-100.00 EUR" in newest.inner_text() and "450.10 EUR" in newest.inner_text()
    tab.audit("atm-statement")
    # on a phone the amount and the balance sit inside the screen, not off to the side
    box = newest.locator("td[data-label=Balance]").bounding_box()
    assert box["x"] + box["width"] <= 390

    page.get_by_role("link", name="Deposit", exact=True).click()
    page.get_by_label("Amount", exact=True).fill("1,000")
    page.get_by_role("button", name="Deposit").click()
    assert "without a thousands separator" in page.get_by_role("alert").inner_text()
    tab.audit("atm-deposit-error")

    page.get_by_role("link", name="Transfer", exact=True).click()
    page.get_by_role("heading", name="Transfer money").wait_for()
    tab.audit("atm-transfer")
    page.get_by_label("To account number").fill(charlie_customer.account.number)
    page.get_by_label("Amount", exact=True).fill("20")
    page.get_by_role("button", name="Transfer").click()
    page.get_by_role("heading", name="Confirm the transfer").wait_for()
    page.get_by_label("PIN").fill("9753")
    page.get_by_role("button", name="Confirm the transfer").click()
    assert "2 tries left before the card is blocked" in page.get_by_role("alert").inner_text()
    tab.audit("atm-transfer-confirm-wrong-pin")
    page.get_by_label("PIN").fill(alice_customer.pin)
    page.get_by_role("button", name="Confirm the transfer").click()
    page.get_by_role("heading", name="Receipt").wait_for()

    page.get_by_role("link", name="Change PIN", exact=True).click()
    page.get_by_label("Current PIN").fill(alice_customer.pin)
    page.get_by_label("New PIN", exact=True).fill("8642")
    page.get_by_label("New PIN again").fill("8642")
    tab.audit("atm-change-pin")
    page.get_by_role("button", name="Change PIN").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Welcome").wait_for()

    _login(tab, alice_customer.pan, "8642")
    page.get_by_role("heading", name="Your balance").wait_for()
    assert LedgerEntry.objects.filter(account=alice_customer.account, kind="withdrawal").count() == 1
    assert LedgerEntry.objects.filter(account=charlie_customer.account, kind="transfer_in").count() == 1


def test_it_counts_down_the_tries_keeps_the_card_number_and_blocks_at_the_third(browser_page, alice_customer):
    tab, page = browser_page, browser_page.page
    _login(tab, alice_customer.pan, "0913")
    assert "2 tries left before the card is blocked" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Card number").input_value() == alice_customer.pan
    assert page.get_by_label("PIN").input_value() == ""
    tab.audit("atm-login-wrong-pin")
    page.get_by_label("PIN").fill("0914")
    page.get_by_role("button", name="Log in").click()
    assert "1 try left before the card is blocked" in page.get_by_role("alert").inner_text()
    page.get_by_label("PIN").fill("0915")
    page.get_by_role("button", name="Log in").click()
    assert "blocked" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Card number").input_value() == ""
    tab.audit("atm-card-blocked")
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.BLOCKED
    _login(tab, alice_customer.pan, alice_customer.pin)
    # As an unknown number is answered after three tries in this session: the page tells a guesser nothing.
    assert "This card is blocked" in page.get_by_role("alert").inner_text()


def test_it_counts_down_the_idle_time_gives_more_time_and_then_ends_the_session(browser_page, alice_customer,
                                                                                settings):
    settings.ATM_SESSION_IDLE_SECONDS = 6
    tab, page = browser_page, browser_page.page
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("heading", name="Your balance").wait_for()
    assert page.locator(".session-timer").inner_text().startswith("Session ends in 0:0")
    prompt = page.get_by_role("alertdialog")
    prompt.wait_for()  # half the idle time left: the prompt shows, its button focused
    tab.audit("atm-idle-prompt")
    page.get_by_role("button", name="More time").click()
    prompt.wait_for(state="hidden")
    time.sleep(4)  # past the first deadline: "More time" kept the session alive on the server
    assert page.get_by_role("heading", name="Your balance").is_visible()
    page.get_by_role("heading", name="Welcome").wait_for(timeout=10_000)  # no answer: the session ends
    assert "without activity" in page.content()
    tab.screenshot("atm-idle-timeout")


def test_it_shows_a_branded_page_for_an_unknown_receipt(browser_page, alice_customer):
    tab, page = browser_page, browser_page.page
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("heading", name="Your balance").wait_for()
    response = page.goto(tab.base_url + "/receipt/999999/")
    assert response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    tab.audit("atm-not-found")
    # Chromium logs the 404 itself; nothing else may have gone wrong
    assert tab.errors == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
    tab.errors.clear()


def test_it_says_when_the_balance_is_too_low_for_any_note(browser_page, alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=500)
    tab, page = browser_page, browser_page.page
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("link", name="Withdraw", exact=True).click()
    assert "the balance is below the smallest note" in page.locator(".lead").inner_text()
    assert page.get_by_role("button", name="20.00 EUR").count() == 0
