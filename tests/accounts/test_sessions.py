"""Database sessions (accounts/sessions.py): a malformed session cookie is no session at all."""

from __future__ import annotations

import pytest

from accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", ["abc\x00defghij", "abcdefg", "a" * 41, "abcdefgh-ij", "ábcdefghij", "", None])
def test_it_treats_a_malformed_key_as_no_session(key):
    store = SessionStore(session_key=key)
    assert store.session_key is None
    assert store.load() == {}


def test_it_keeps_a_key_it_made_and_reads_the_session_back():
    store = SessionStore()
    store["atm_card_id"] = 7
    store.save()
    assert len(store.session_key) == 32
    assert SessionStore(session_key=store.session_key)["atm_card_id"] == 7
