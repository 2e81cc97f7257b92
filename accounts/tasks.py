"""Periodic housekeeping for sessions (the web ATM's and staff's share one table) and staff login records."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from atmsite.lib.staff_logins import staff_login_records_prune


@shared_task(name="accounts.prune_sessions")
def prune_sessions() -> int:
    """Delete expired session rows (what `manage.py clearsessions` does); return how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(name="accounts.prune_staff_logins")
def prune_staff_logins() -> dict[str, int]:
    """Delete django-axes attempts past their cool-off and login logs past retention; return the counts."""
    return staff_login_records_prune()
