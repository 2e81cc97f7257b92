"""Increments: which ledger entries a release covers, and which version of its policy it runs.

A policy's releases go forward in time, and each ledger entry falls in the window of exactly one
of them. The first release of a policy covers every entry up to the end of its as-of date; every
later one covers the entries whose local day is after the as-of date of the policy's last
published release and on or before its own (`window_start` .. `as_of`). A release whose as-of date
is on or before the last published one, or whose day is not over yet, is refused.

Why a window on the entry's timestamp and not a watermark on its id: `created_at` is set by the
posting service when the entry is written and is never backdated, so once a local day is over and
its transactions have committed, no entry with that day can appear later. Ids are allocated from
a sequence when the INSERT runs, before the transaction commits: a slow transaction can commit id
41 after a release has already read id 42, and a "greater than the last released id" watermark
would then skip entry 41 forever (or, the other way round, re-read it). Nightly runs start at
02:30, so a transaction would have to stay open for hours across midnight to be missed.

The version of a policy is a fingerprint of its PolicySpec (everything but its id and name), so
changing its columns, hierarchies, k, recoding or any other rule starts a new version (full-domain
recoding, the only kind before the option existed, is left out of the fingerprint, so policies
that did not change keep their version). The window never
depends on the version: a new version continues from the policy's last published release and
never re-publishes what an earlier version released.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.utils import timezone

from ..exceptions import ReleaseOutOfOrder
from ..models import Release, ReleasePolicy
from ..policy.spec import FULL_DOMAIN

VERSION_CHARS = 12
_IDENTITY_KEYS = ("id", "name")  # naming a policy does not change what it releases


def policy_version(spec_json: dict[str, Any]) -> str:
    """Return the version fingerprint of a policy: SHA-256 of its rules as canonical JSON, shortened."""
    rules = {key: value for key, value in spec_json.items() if key not in _IDENTITY_KEYS}
    if rules.get("recoding") == FULL_DOMAIN:
        del rules["recoding"]
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:VERSION_CHARS]


def last_published_as_of(*, policy_id: int, excluding: int | None = None) -> datetime.date | None:
    """Return the as-of date of the policy's last published release, or None before the first."""
    published = Release.objects.filter(policy_id=policy_id, status=Release.Status.PUBLISHED)
    if excluding is not None:
        published = published.exclude(pk=excluding)
    return published.order_by("-as_of").values_list("as_of", flat=True).first()


def window_start_after(last: datetime.date | None) -> datetime.date | None:
    """Return the first local day of the next increment after a release as of `last` (None: all history)."""
    return None if last is None else last + datetime.timedelta(days=1)


def check_as_of(*, policy: ReleasePolicy, as_of: datetime.date) -> datetime.date | None:
    """Refuse an as-of date that is not after the policy's last published one or whose day is not over.

    Return the window start of a release as of that date (None for the policy's first release).
    """
    today = timezone.localdate()
    if as_of >= today:
        raise ReleaseOutOfOrder(
            f"A release as of {as_of:%Y-%m-%d} cannot run yet: its day is not over (today is {today:%Y-%m-%d}). "
            "Entries of a day are released once the day has ended.")
    last = last_published_as_of(policy_id=policy.pk)
    if last is not None and as_of <= last:
        raise ReleaseOutOfOrder(
            f"Policy {policy.name!r} was last published as of {last:%Y-%m-%d}; a release as of {as_of:%Y-%m-%d} "
            f"would overlap it. Releases of a policy go forward in time: choose a date after {last:%Y-%m-%d}.")
    return window_start_after(last)


def check_still_next(*, release: Release) -> None:
    """Refuse to publish a release whose window no longer starts right after the policy's last published one.

    Called inside the publication transaction with the policy row locked: another release of the
    policy published while this one ran would otherwise make the windows overlap or leave a gap.
    """
    last = last_published_as_of(policy_id=release.policy_id, excluding=release.pk)
    if window_start_after(last) != release.window_start:
        shown = f"{last:%Y-%m-%d}" if last else "never"
        raise ReleaseOutOfOrder(
            f"Another release of the policy was published while this one ran (last published as of {shown}); "
            "run this release again so that its window starts after it.")
