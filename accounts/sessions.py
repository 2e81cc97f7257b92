"""Database sessions that treat a malformed session cookie as no session at all."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

# Django's own keys are 32 lowercase letters and digits; anything else was not made here.
MAX_KEY_LENGTH = 40


class SessionStore(DatabaseSessionStore):
    """Refuse session keys that are not short ASCII alphanumerics before they reach the database.

    A cookie value with a NUL byte is plain ASCII that web servers pass through, and PostgreSQL
    cannot hold NUL in text: without this check such a cookie turns every page into a 500.
    """

    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and key.isascii() and key.isalnum() and 8 <= len(key) <= MAX_KEY_LENGTH  # type: ignore[union-attr]
