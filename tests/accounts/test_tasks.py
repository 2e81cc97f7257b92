"""Session housekeeping (accounts/tasks.py): expired sessions are deleted, live ones kept."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import prune_sessions

pytestmark = pytest.mark.django_db


def test_it_deletes_expired_sessions_only():
    now = timezone.now()
    Session.objects.create(session_key="a" * 32, session_data="", expire_date=now - datetime.timedelta(seconds=1))
    Session.objects.create(session_key="b" * 32, session_data="", expire_date=now + datetime.timedelta(hours=1))
    assert prune_sessions.delay().get() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]


def test_it_is_scheduled_hourly(settings):
    assert settings.CELERY_BEAT_SCHEDULE["prune-sessions"] == {"task": "accounts.prune_sessions", "schedule": 3600.0}
