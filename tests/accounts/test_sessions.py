"""Database sessions (accounts/sessions.py): a malformed session cookie is no session at all, and a
session write does not wait for PostgreSQL's disk flush."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.db import connection, transaction

from accounts.sessions import SessionStore
from tests.support.statements import statements_of

pytestmark = pytest.mark.django_db
# The PostgreSQL tests below commit for real. serialized_rollback: the flush after each leaves the tables
# empty for the next serialized test to restore (a plain flush re-creates content types with new ids,
# which the restore then collides with).


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


def test_it_refuses_to_create_a_taken_key_and_to_update_a_deleted_session():
    store = SessionStore()
    store["atm_card_id"] = 7
    store.save()
    twin = SessionStore(session_key=store.session_key)
    twin["atm_card_id"] = 8
    with pytest.raises(CreateError):
        twin.save(must_create=True)
    Session.objects.filter(session_key=store.session_key).delete()
    with pytest.raises(UpdateError):
        store.save()


def _saved_card_session() -> SessionStore:
    store = SessionStore()
    store["atm_card_id"] = 7
    store.save()
    return store


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_session_write_commits_without_waiting_for_the_disk():
    store = _saved_card_session()
    store["atm_last_activity"] = 1.0

    sent = statements_of(store.save)

    # One statement, its own transaction, with the setting local to it.
    assert len(sent) == 1 and sent[0].startswith("UPDATE")
    assert "set_config('synchronous_commit', 'off', true)" in sent[0]
    assert SessionStore(session_key=store.session_key)["atm_last_activity"] == 1.0
    with connection.cursor() as cursor:  # and only to it
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_session_ended_meanwhile_is_not_written_back():
    store = _saved_card_session()
    Session.objects.filter(session_key=store.session_key).delete()  # a logout on another app server
    store["atm_last_activity"] = 1.0

    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.filter(session_key=store.session_key).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_inside_a_callers_transaction_a_session_write_commits_as_that_one_does():
    store = SessionStore()
    store.save()
    store["atm_card_id"] = 7

    def in_a_transaction() -> None:
        with transaction.atomic():
            store.save()

    assert not any("synchronous_commit" in sql for sql in statements_of(in_a_transaction))
