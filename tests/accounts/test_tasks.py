"""Housekeeping (accounts/tasks.py): expired sessions and lapsed staff login records are deleted, live ones kept."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import prune_sessions, prune_staff_logins

pytestmark = pytest.mark.django_db


def test_it_deletes_expired_sessions_only():
    now = timezone.now()
    Session.objects.create(session_key="a" * 32, session_data="", expire_date=now - datetime.timedelta(seconds=1))
    Session.objects.create(session_key="b" * 32, session_data="", expire_date=now + datetime.timedelta(hours=1))
    assert prune_sessions.delay().get() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]


def test_it_is_scheduled_hourly(settings):
    assert settings.CELERY_BEAT_SCHEDULE["prune-sessions"] == {"task": "accounts.prune_sessions", "schedule": 3600.0}


def test_it_prunes_lapsed_staff_login_attempts_and_logs_past_retention(settings):
    settings.STAFF_LOGIN_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    cool_off = settings.AXES_COOLOFF_TIME
    for name, age in (("lapsed", cool_off + datetime.timedelta(seconds=1)), ("live", cool_off / 2)):
        row = AccessAttempt.objects.create(username=name, ip_address="192.0.2.1", user_agent="", failures_since_start=3,
                                           get_data="", post_data="", http_accept="", path_info="")
        AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=now - age)  # attempt_time is set on create
    for model in (AccessLog, AccessFailureLog):
        for name, days in (("old", 31), ("recent", 29)):
            row = model.objects.create(username=name, ip_address="192.0.2.1", user_agent="", http_accept="",
                                       path_info="")
            model.objects.filter(pk=row.pk).update(attempt_time=now - datetime.timedelta(days=days))
    assert prune_staff_logins.delay().get() == {"attempts": 1, "logs": 1, "failure_logs": 1}
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["live"]
    assert list(AccessLog.objects.values_list("username", flat=True)) == ["recent"]
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["recent"]


def test_it_prunes_staff_login_records_hourly(settings):
    assert settings.CELERY_BEAT_SCHEDULE["prune-staff-logins"] == {
        "task": "accounts.prune_staff_logins", "schedule": 3600.0
    }
