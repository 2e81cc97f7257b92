"""Staff logins at /admin/login/: which failures lock out whom (django-axes), and what is pruned when.

Three limits, each counted over the cool-off (AXES_COOLOFF_TIME) and each lifted early by
`manage.py axes_reset_username NAME` or `axes_reset_ip ADDRESS`:
- one user name from one address: AXES_FAILURE_LIMIT (STAFF_LOGIN_FAILURE_LIMIT) failures;
- one address, whatever user names it tries: STAFF_LOGIN_ADDRESS_FAILURE_LIMIT;
- one user name, from any mix of addresses: STAFF_LOGIN_USERNAME_FAILURE_LIMIT, except from an
  address where that user name has logged in before (a django-axes AccessLog row), so a stranger
  who knows a staff member's name cannot lock them out of their own desk; the first two limits
  still bound guessing from there.
django-axes compares one number with one limit, so `StaffLoginHandler.get_failures` returns the
failures of the limit closest to its end, shifted onto AXES_FAILURE_LIMIT: the login is refused
exactly when one of the three counts reached its own limit.

django-axes writes three tables: AccessAttempt (failed logins per user name, address and browser,
what the lockout counts), AccessLog (each successful login and logout) and AccessFailureLog (each
failure, when AXES_ENABLE_ACCESS_FAILURE_LOG is on). It deletes expired attempts only when someone
next tries to log in, and the logs never. The hourly `prune-staff-logins` task deletes attempts
older than the cool-off (they no longer lock anyone out) and log rows older than
STAFF_LOGIN_LOG_RETENTION_DAYS (an audit trail of who logged in, kept a year by default).
"""

from __future__ import annotations

import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

# django-axes keeps user names in 255-character columns; Django's own are at most 150 characters, so a
# longer name belongs to nobody and is counted by its first 255 (PostgreSQL refuses longer values).
USERNAME_MAX_LENGTH = 255


def client_username(request: HttpRequest, credentials: dict[str, object] | None = None) -> str | None:
    """Return the user name a login tried (AXES_USERNAME_CALLABLE), cut to what django-axes can store."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    return None if username is None else str(username)[:USERNAME_MAX_LENGTH]


class StaffLoginHandler(AxesDatabaseHandler):
    """django-axes' database handler with a limit per user name and address, per address and per user name."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, object] | None = None) -> int:
        """Return the failures that decide the lockout, on AXES_FAILURE_LIMIT's scale (see the module docstring)."""
        username = get_client_username(request, credentials)
        address = request.axes_ip_address  # type: ignore[attr-defined]
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))

        def failures(**match: object) -> int:
            return int(recent.filter(**match).aggregate(total=Sum("failures_since_start"))["total"] or 0)

        pair_limit = settings.AXES_FAILURE_LIMIT
        past_limits = [failures(username=username, ip_address=address) - pair_limit,
                       failures(ip_address=address) - settings.STAFF_LOGIN_ADDRESS_FAILURE_LIMIT]
        if not AccessLog.objects.filter(username=username, ip_address=address).exists():
            past_limits.append(failures(username=username) - settings.STAFF_LOGIN_USERNAME_FAILURE_LIMIT)
        return pair_limit + max(past_limits)


def staff_login_records_prune() -> dict[str, int]:
    """Delete lapsed failed-login attempts and log rows past retention; return how many of each."""
    now = timezone.now()
    log_limit = now - datetime.timedelta(days=settings.STAFF_LOGIN_LOG_RETENTION_DAYS)
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()
    logs, _ = AccessLog.objects.filter(attempt_time__lt=log_limit).delete()
    failure_logs, _ = AccessFailureLog.objects.filter(attempt_time__lt=log_limit).delete()
    return {"attempts": attempts, "logs": logs, "failure_logs": failure_logs}
