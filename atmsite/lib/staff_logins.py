"""Staff login records kept by django-axes: what is pruned, and when.

django-axes writes three tables: AccessAttempt (failed logins per user name, address and browser,
what the lockout counts), AccessLog (each successful login and logout) and AccessFailureLog (each
failure, when AXES_ENABLE_ACCESS_FAILURE_LOG is on). It deletes expired attempts only when someone
next tries to log in, and the logs never. The hourly `prune-staff-logins` task deletes attempts
older than the cool-off (they no longer lock anyone out) and log rows older than
STAFF_LOGIN_LOG_RETENTION_DAYS (an audit trail of who logged in, kept a year by default).
"""

from __future__ import annotations

import datetime

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.utils import timezone


def staff_login_records_prune() -> dict[str, int]:
    """Delete lapsed failed-login attempts and log rows past retention; return how many of each."""
    now = timezone.now()
    log_limit = now - datetime.timedelta(days=settings.STAFF_LOGIN_LOG_RETENTION_DAYS)
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()
    logs, _ = AccessLog.objects.filter(attempt_time__lt=log_limit).delete()
    failure_logs, _ = AccessFailureLog.objects.filter(attempt_time__lt=log_limit).delete()
    return {"attempts": attempts, "logs": logs, "failure_logs": failure_logs}
