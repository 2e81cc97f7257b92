"""Housekeeping tasks keep personal data only as long as it is needed."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.models import LoginAttempt
from atm.tasks import prune_login_attempts

pytestmark = pytest.mark.django_db


def test_it_prunes_login_attempts_older_than_the_throttle_window(settings):
    old = LoginAttempt.objects.create(address="192.0.2.1", succeeded=False)
    LoginAttempt.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(seconds=settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS + 5)
    )
    recent = LoginAttempt.objects.create(address="192.0.2.2", succeeded=False)
    assert prune_login_attempts.delay().get() == 1
    assert list(LoginAttempt.objects.values_list("pk", flat=True)) == [recent.pk]

