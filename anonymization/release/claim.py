"""Claiming a release for one worker, and giving it up (failed, or back to the queue).

A worker moves a release to running with a conditional UPDATE (from queued or failed, or from a
running state whose heartbeat is older than ANONYMIZATION_STALE_SECONDS, i.e. its worker died)
and writes a fresh claim token; every later write is conditional on that token, so a worker that
lost its claim can never overwrite its successor. Claims of one policy are serialized by locking
the policy row, so at most one release of a policy runs at a time. The claim records the policy
as it is run (PolicySpec.to_json()) and its version on the release, and the release's window
(release/increments.py): a release whose as-of date is not after the policy's last published one
is refused, and nothing changes.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..exceptions import ReleaseBusy, ReleaseNotRunnable
from ..models import Release, ReleasePolicy
from ..policy.spec import PolicySpec
from .increments import check_as_of, policy_version
from .write import discard_files

logger = logging.getLogger(__name__)

ACTIVE = (Release.Status.RUNNING, Release.Status.VERIFYING)


def stale_seconds() -> int:
    """Return how old a running release's heartbeat must be before another worker may take it over."""
    return int(settings.ANONYMIZATION_STALE_SECONDS)


def _claimable(cutoff: datetime.datetime) -> Q:
    dead = Q(status__in=ACTIVE) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    return Q(status__in=[Release.Status.QUEUED, Release.Status.FAILED]) | dead


def release_claim(*, release_id: int) -> str:
    """Move the release to running for this worker and return the claim token.

    Raises ReleaseNotRunnable when it is published or missing, ReleaseOutOfOrder when its as-of
    date is not after the policy's last published release, ReleaseBusy when a live worker runs it
    or another release of the same policy.
    """
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=stale_seconds())
    with transaction.atomic():
        release = Release.objects.filter(pk=release_id).first()
        if release is None:
            raise ReleaseNotRunnable(f"Release #{release_id} does not exist.")
        policy = ReleasePolicy.objects.select_for_update().get(pk=release.policy_id)  # one claim per policy at a time
        if release.status == Release.Status.PUBLISHED:
            raise ReleaseNotRunnable(f"Release #{release_id} is already published.")
        other = (Release.objects.filter(policy=policy, status__in=ACTIVE, heartbeat_at__gte=cutoff)
                 .exclude(pk=release_id).first())
        if other is not None:
            raise ReleaseBusy(f"Release #{other.pk} of policy {policy.name!r} is running; try again later.")
        window_start = check_as_of(policy=policy, as_of=release.as_of)
        spec = PolicySpec.from_model(policy).to_json()
        token = uuid.uuid4().hex
        claimed = Release.objects.filter(_claimable(cutoff), pk=release_id).update(
            status=Release.Status.RUNNING, claim_token=token, started_at=now, heartbeat_at=now, finished_at=None,
            attempts=F("attempts") + 1, progress=0, progress_step="claimed", error="",
            policy_snapshot=spec, policy_version=policy_version(spec), window_start=window_start)
    if claimed != 1:
        raise ReleaseBusy(f"Release #{release_id} is being run by another worker; try again later.")
    return token


def release_fail(*, release_id: int, token: str, message: str) -> None:
    """Record the failure under the claim and remove every file of the release."""
    updated = Release.objects.filter(pk=release_id, claim_token=token).update(
        status=Release.Status.FAILED, error=message[:4000], finished_at=timezone.now())
    if updated:
        discard_files(release_id)


def release_requeue(*, release_id: int, token: str) -> None:
    """Hand the release back to the queue after a transient database error, so a retry can claim it."""
    try:
        Release.objects.filter(pk=release_id, claim_token=token, status__in=ACTIVE).update(
            status=Release.Status.QUEUED, progress_step="waiting to retry")
    except (OperationalError, InterfaceError):
        logger.warning("release %s: could not requeue; it will be reclaimed when its heartbeat is stale", release_id)
