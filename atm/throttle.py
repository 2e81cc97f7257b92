"""Throttling of web ATM logins: per client address, per network and over the whole ATM.

Failed attempts in a window are counted three ways: from the address, from its network (its /24,
or its /64 for IPv6: one customer or one attacker usually holds many addresses of one network),
and from everywhere. Reaching any limit throttles new logins from that source, so spreading
guesses over the addresses of a network, or over many networks, does not multiply them.

A throttled source still lets in a browser that has logged in with the same card before (a signed
device cookie set at each successful login, see atm.session): the customer on a busy shared
address is not refused, while the card's own lockout (three wrong PINs) still bounds any guessing.
Without the cookie, a throttled address or network (never the global limit) still has the PIN
checked once per window for each card number with no wrong PIN on record: the customer who types
the right PIN gets in, a wrong PIN counts as usual and leaves the number refused there while the
source is throttled. Those checks are recorded as attempts too, so the global limit bounds them.

Attempts are rows in the database, so every gunicorn worker sees the same count. An attempt is
recorded as failed *before* the PIN is checked and marked successful afterwards: a crash
mid-check counts against the source rather than for it. Attempts from one network are counted
and recorded one at a time, so a burst of concurrent requests lets no more than the limit
through. A successful login does not reset the count, so one valid card cannot be used to keep
guessing PINs of other cards from the same address.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.exceptions import AccountsError
from accounts.models import LoginAttempt
from atmsite.lib.network import client_network

WAIT = "Please wait a few minutes and try again."
# What each limit's refusal says: the limit that was reached, so the message is true for the person reading it.
THROTTLED_MESSAGES = {
    "address": f"Too many login attempts from this address. {WAIT}",
    "network": f"Too many login attempts from your network. {WAIT}",
    "everywhere": f"Too many login attempts at this ATM service right now. {WAIT}",
}


class LoginThrottled(AccountsError):
    """A login refused before the PIN is checked: `scope` names the limit reached (address, network, everywhere)."""

    def __init__(self, scope: str = "address") -> None:
        super().__init__(THROTTLED_MESSAGES[scope])
        self.scope = scope


def _window_start() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS)


def _lock_network(network: str) -> None:
    """Hold a lock on `network` until the transaction ends (SQLite's IMMEDIATE transactions already serialize)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"atm-login:{network}"])


def throttled_scopes(*, address: str, network: str) -> list[str]:
    """Return the limits (address, network, everywhere, in that order) recent failures reached.

    A refusal names the first, or "everywhere" when it is among them: that limit lets nothing through.
    """
    counts = LoginAttempt.objects.filter(succeeded=False, created_at__gte=_window_start()).aggregate(
        address=Count("pk", filter=Q(address=address)),
        network=Count("pk", filter=Q(network=network)),
        everywhere=Count("pk"),
    )
    limits = {"address": settings.ATM_LOGIN_THROTTLE_ATTEMPTS, "network": settings.ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS,
              "everywhere": settings.ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS}
    return [scope for scope, limit in limits.items() if counts[scope] >= limit]


def login_attempt_begin(*, address: str, known_device: bool = False, untried_number: str | None = None) -> LoginAttempt:
    """Record an attempt from `address` as failed; raise LoginThrottled when its source is throttled.

    `known_device`: the browser has logged in with this card before, so it is let through a
    throttled source (its attempt is recorded and counted all the same). `untried_number`: the
    fingerprint of a card number with no wrong PIN on record, let through a throttled address or
    network once per window from that network (the row keeps the fingerprint to tell). The count
    and the new row are one transaction under the network's lock: ranking concurrent attempts by
    primary key instead let one more through now and then, as ids are drawn before the rows commit.
    """
    network = client_network(address)
    with transaction.atomic():
        _lock_network(network)
        scopes = [] if known_device else throttled_scopes(address=address, network=network)
        if not scopes:
            return LoginAttempt.objects.create(address=address, network=network)
        if "everywhere" not in scopes and untried_number and not LoginAttempt.objects.filter(
                network=network, pan_hmac=untried_number, created_at__gte=_window_start()).exists():
            return LoginAttempt.objects.create(address=address, network=network, pan_hmac=untried_number)
        raise LoginThrottled("everywhere" if "everywhere" in scopes else scopes[0])


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """Mark an attempt as a successful login, so it no longer counts against its source."""
    LoginAttempt.objects.filter(pk=attempt.pk).update(succeeded=True)


def login_attempts_prune() -> int:
    """Delete attempts older than the throttle window (they no longer count); return how many."""
    deleted, _ = LoginAttempt.objects.filter(created_at__lt=_window_start()).delete()
    return deleted
