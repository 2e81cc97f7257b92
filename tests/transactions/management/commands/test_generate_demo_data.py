"""python manage.py generate_demo_data: prints usable demo cards, runs only with DEBUG.

What is generated (the ledger, customers, determinism) is tested in tests/transactions/test_demo.py.
"""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from accounts.cards import luhn_checksum_ok, network_for_pan, pan_fingerprint
from accounts.models import Account, Card, Customer
from accounts.services import card_authenticate
from tests.support.demo import CARD_LINE, demo_command_lines
from transactions.models import LedgerEntry, Terminal

pytestmark = pytest.mark.django_db



@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True
    return settings




def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Customer, Account, Card, Terminal, LedgerEntry))


def test_it_prints_demo_cards_that_log_in_with_their_pin(settings):
    lines = demo_command_lines()
    assert len(lines) == 3
    for line in lines:
        pan, pin = CARD_LINE.match(line).groups()
        assert luhn_checksum_ok(pan) and network_for_pan(pan) != "other"
        card = card_authenticate(pan=pan, pin=pin)
        assert card.status == Card.Status.ACTIVE and not card.must_change_pin and not card.is_expired()
        assert card.account.is_open
        assert card.account.balance_minor >= 10 * settings.ATM_SMALLEST_NOTE_MINOR
        stored = Card.objects.filter(pk=card.pk).values().get()
        assert pan not in {str(value) for value in stored.values()}
        assert stored["pan_hmac"] == pan_fingerprint(pan)
    assert len({CARD_LINE.match(line).group(1) for line in lines}) == 3


def test_it_refuses_to_generate_demo_data_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="generate_demo_data only runs with DJANGO_DEBUG=true"):
        demo_command_lines()
    assert _counts() == (0, 0, 0, 0, 0)
