"""Celery tasks: thin wrappers that take ids and call one service.

Their names are fixed (service.RUN_TASK, service.NIGHTLY_TASK): beat rows store them, and the
service sends the run task by name. apps.py imports this module so both tasks are registered.

Late acknowledgement and reject-on-worker-lost (also set globally) put a task back on the queue
when its worker dies; the release is then reclaimed once its heartbeat is stale, so a busy
release is retried later rather than dropped. Transient database errors retry with backoff.
"""

from __future__ import annotations

import datetime

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from ..exceptions import ReleaseBusy, ReleaseNotRunnable
from . import service

BUSY_RETRY_SECONDS = 300
BUSY_RETRIES = 12
TRANSIENT = (OperationalError, InterfaceError)
_OPTIONS = {
    "bind": True, "acks_late": True, "reject_on_worker_lost": True, "autoretry_for": TRANSIENT,
    "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 8,
}


def _later(task: Task, exc: ReleaseBusy) -> str:
    """Retry a busy release later (not in eager mode, where a retry would run at once)."""
    if task.request.is_eager:
        return str(exc)
    raise task.retry(exc=exc, countdown=BUSY_RETRY_SECONDS, max_retries=BUSY_RETRIES)


@shared_task(name=service.RUN_TASK, **_OPTIONS)
def run_release(self: Task, release_id: int) -> str:
    """Run one release; return its final status or why it did not run."""
    try:
        return service.release_run(release_id=release_id).status
    except ReleaseBusy as exc:
        return _later(self, exc)
    except ReleaseNotRunnable as exc:
        return str(exc)


@shared_task(name=service.NIGHTLY_TASK, **_OPTIONS)
def run_nightly_release(self: Task, policy_id: int, as_of: str | None = None) -> str:
    """Run the policy's release for `as_of` (ISO date; default yesterday); return its final status."""
    date = datetime.date.fromisoformat(as_of) if as_of else None
    try:
        return service.release_run_for_policy(policy_id=policy_id, as_of=date).status
    except ReleaseBusy as exc:
        return _later(self, exc)
    except ReleaseNotRunnable as exc:
        return str(exc)
