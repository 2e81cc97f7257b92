"""A customer uses the web ATM in a real browser, start to finish."""

from __future__ import annotations

import time

import pytest

from accounts.models import Card
from transactions.models import LedgerEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(tab, pan: str, pin: str) -> None:
    tab.goto("/")
    tab.page.get_by_label("Card number").fill(pan)
    tab.page.get_by_label("PIN").fill(pin)
    tab.page.get_by_role("button", name="Log in").click()


def test_it_lets_a_customer_withdraw_read_the_statement_change_pin_and_log_out(browser_page, alice_customer):
    tab, page = browser_page, browser_page.page
    tab.goto("/")
    tab.screenshot("atm-login")
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("heading", name="Your balance").wait_for()
    assert "500.00 EUR" in page.content()
    tab.screenshot("atm-balance")

    page.get_by_role("link", name="Withdraw", exact=True).click()
    page.get_by_label("Amount").fill("40")
    page.get_by_label("PIN").fill(alice_customer.pin)
    tab.screenshot("atm-withdraw")
    page.get_by_role("button", name="Withdraw").click()
    page.get_by_role("heading", name="Receipt").wait_for()
    assert "460.00 EUR" in page.content()
    tab.screenshot("atm-receipt")

    page.get_by_role("link", name="Statement", exact=True).click()
    page.get_by_role("heading", name="Mini-statement").wait_for()
    assert "-40.00" in page.content()
    tab.screenshot("atm-statement")

    page.get_by_role("link", name="Change PIN", exact=True).click()
    page.get_by_label("Current PIN").fill(alice_customer.pin)
    page.get_by_label("New PIN", exact=True).fill("8642")
    page.get_by_label("New PIN again").fill("8642")
    tab.screenshot("atm-change-pin")
    page.get_by_role("button", name="Change PIN").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Welcome").wait_for()

    _login(tab, alice_customer.pan, "8642")
    page.get_by_role("heading", name="Your balance").wait_for()
    assert LedgerEntry.objects.filter(account=alice_customer.account, kind="withdrawal").count() == 1


def test_it_blocks_the_card_after_three_wrong_pins_and_says_so(browser_page, alice_customer):
    tab, page = browser_page, browser_page.page
    for _ in range(3):
        _login(tab, alice_customer.pan, "0913")
    assert "blocked" in page.get_by_role("alert").inner_text()
    tab.screenshot("atm-card-blocked")
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.BLOCKED
    _login(tab, alice_customer.pan, alice_customer.pin)
    # A blocked card is answered like an unknown one: the login page tells a guesser nothing.
    assert "Card number or PIN is not correct." in page.get_by_role("alert").inner_text()


def test_it_ends_the_session_after_the_idle_timeout(browser_page, alice_customer, settings):
    settings.ATM_SESSION_IDLE_SECONDS = 1
    tab, page = browser_page, browser_page.page
    _login(tab, alice_customer.pan, alice_customer.pin)
    page.get_by_role("heading", name="Your balance").wait_for()
    time.sleep(1.5)
    page.get_by_role("link", name="Statement", exact=True).click()
    page.get_by_role("heading", name="Welcome").wait_for()
    assert "without activity" in page.content()
    tab.screenshot("atm-idle-timeout")
