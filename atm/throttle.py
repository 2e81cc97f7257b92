"""Per-client-address throttling of web ATM logins.

Attempts are rows in the database, so every gunicorn worker sees the same count. An attempt is
recorded as failed *before* the PIN is checked and marked successful afterwards: a crash
mid-check counts against the address rather than for it. Attempts from one address are counted
and recorded one at a time, so a burst of concurrent requests lets no more than the limit
through. A successful login does not reset the count, so one valid card cannot be used to keep
guessing PINs of other cards from the same address.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.exceptions import AccountsError
from accounts.models import LoginAttempt


class LoginThrottled(AccountsError):
    def __init__(
        self, message: str = "Too many login attempts from this address. Please wait a few minutes and try again."
    ) -> None:
        super().__init__(message)


def _window_start() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS)


def _recent_failures(address: str):  # type: ignore[no-untyped-def]
    return LoginAttempt.objects.filter(address=address, succeeded=False, created_at__gte=_window_start())


def _lock_address(address: str) -> None:
    """Hold a lock on `address` until the transaction ends (SQLite's IMMEDIATE transactions already serialize)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"atm-login:{address}"])


def login_attempt_begin(*, address: str) -> LoginAttempt | None:
    """Record an attempt from `address` as failed; return None when the address is throttled.

    The count and the new row are one transaction under the address's lock: ranking concurrent
    attempts by primary key instead let one more through now and then, as ids are drawn before
    the rows commit.
    """
    with transaction.atomic():
        _lock_address(address)
        if _recent_failures(address).count() >= settings.ATM_LOGIN_THROTTLE_ATTEMPTS:
            return None
        return LoginAttempt.objects.create(address=address)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """Mark an attempt as a successful login, so it no longer counts against its address."""
    LoginAttempt.objects.filter(pk=attempt.pk).update(succeeded=True)


def login_attempts_prune() -> int:
    """Delete attempts older than the throttle window (they no longer count); return how many."""
    deleted, _ = LoginAttempt.objects.filter(created_at__lt=_window_start()).delete()
    return deleted
