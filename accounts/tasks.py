"""Periodic housekeeping for sessions (the web ATM's and staff's share one table)."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(name="accounts.prune_sessions")
def prune_sessions() -> int:
    """Delete expired session rows (what `manage.py clearsessions` does); return how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
