"""Periodic housekeeping for the web ATM."""

from __future__ import annotations

from celery import shared_task

from .throttle import login_attempts_prune


# The task kept the name it had when it lived in accounts: beat schedules (CELERY_BEAT_SCHEDULE and
# django-celery-beat rows) and messages already queued call it by this name.
@shared_task(name="accounts.prune_login_attempts")
def prune_login_attempts() -> int:
    """Delete login attempts older than the throttle window: client addresses are personal data."""
    return login_attempts_prune()
