"""Database sessions that treat a malformed session cookie as no session at all, and that never wait
for the disk on PostgreSQL.

Every ATM page writes its session (the time of the last request, for the idle timeout). On
PostgreSQL each such commit waited until the server had flushed its write-ahead log to disk: one
disk flush per page, and when other work on the server writes a lot (a bulk load, another
database), that flush took tens to hundreds of milliseconds of every page's time. A session write
is committed asynchronously instead (`synchronous_commit = off` for that transaction alone): it is
visible to every app server at once, and only a crash of the database server in the next few
hundred milliseconds can lose it, which at worst ends a session a little early or asks for a login
again. Money movements, PIN failure counts and login throttles keep waiting for the disk.

The update of an existing session, the write of every page, is one statement in one round trip:
`UPDATE ... FROM (SELECT set_config('synchronous_commit', 'off', true))` run on its own is its own
transaction, and the setting, local to it, holds when it commits. (BEGIN, SET LOCAL, UPDATE and
COMMIT were four round trips to a database server that other work keeps busy.)
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

# Django's own keys are 32 lowercase letters and digits; anything else was not made here.
MAX_KEY_LENGTH = 40


class SessionStore(DatabaseSessionStore):
    """Refuse session keys that are not short ASCII alphanumerics before they reach the database.

    A cookie value with a NUL byte is plain ASCII that web servers pass through, and PostgreSQL
    cannot hold NUL in text: without this check such a cookie turns every page into a 500.
    """

    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and key.isascii() and key.isalnum() and 8 <= len(key) <= MAX_KEY_LENGTH  # type: ignore[union-attr]

    def save(self, must_create: bool = False) -> None:
        """Write the session row in a transaction of its own, committed without waiting for the disk on
        PostgreSQL (inside a caller's transaction it commits as that one does).

        Raises CreateError when `must_create` and the key is taken, UpdateError when the row to
        update is gone, as Django's database sessions do.
        """
        if self.session_key is None:
            self.create()
            return
        instance = self.create_model_instance(self._get_session(no_load=must_create))
        alias = router.db_for_write(self.model, instance=instance)
        db = connections[alias]
        own_transaction = not db.in_atomic_block
        if own_transaction and not must_create and db.vendor == "postgresql":
            self._update_without_flush(db, instance)
            return
        try:
            with transaction.atomic(using=alias):
                if own_transaction and db.vendor == "postgresql":
                    with db.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                instance.save(force_insert=must_create, force_update=not must_create, using=alias)
        except IntegrityError as exc:
            if must_create:
                raise CreateError from exc
            raise
        except DatabaseError as exc:
            if not must_create:
                raise UpdateError from exc
            raise

    def _update_without_flush(self, db: BaseDatabaseWrapper, instance: object) -> None:
        """Update the session row in one statement that commits without waiting for the disk.

        Raises UpdateError when the row is gone (the session was ended meanwhile), as save() does.
        """
        table = db.ops.quote_name(self.model._meta.db_table)
        try:
            with db.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET session_data = %s, expire_date = %s "
                    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous "
                    "WHERE session_key = %s",
                    [instance.session_data, instance.expire_date, instance.session_key],  # type: ignore[attr-defined]
                )
                updated = cursor.rowcount
        except DatabaseError as exc:
            raise UpdateError from exc
        if updated != 1:
            raise UpdateError
