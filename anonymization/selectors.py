"""Read paths for releases: identifier sets for verification, downloadable artifacts, report data."""

from __future__ import annotations

import datetime
import re

from django.db.models import QuerySet

from accounts.models import Account, Card, Customer

from .models import Artifact, Release
from .policy.catalog import Identifiers

CHUNK_SIZE = 20_000


def identifiers_in_database() -> Identifiers:
    """Return every customer's names, street address, email, phone, account numbers and BIN+last4, normalized."""
    ids = Identifiers()
    people = Customer.objects.order_by().values_list("first_name", "last_name", "email", "phone", "street_address")
    for first, last, email, phone, address in people.iterator(chunk_size=CHUNK_SIZE):
        if address and address.strip():
            ids.names.add(address.strip().casefold())
        names = [name.strip().casefold() for name in (first, last) if name and len(name.strip()) > 1]
        ids.names.update(names)
        if len(names) == 2:
            full = f"{names[0]} {names[1]}"
            ids.names.add(full)
            ids.full_names.add(" ".join(re.findall(r"[^\W\d_]+", full)))
        if email:
            ids.emails.add(email.strip().casefold())
        digits = re.sub(r"\D", "", phone or "")
        if len(digits) >= 7:
            ids.phones.add(digits)
    for number in Account.objects.order_by().values_list("number", flat=True).iterator(chunk_size=CHUNK_SIZE):
        ids.accounts.add(re.sub(r"\s", "", number).upper())
    cards = Card.objects.order_by().values_list("bin", "last4")
    ids.bin_last4.update(f"{bin_}{last4}" for bin_, last4 in cards.iterator(chunk_size=CHUNK_SIZE))
    return ids


def release_list() -> QuerySet[Release]:
    """Return releases with their policy, newest first."""
    return Release.objects.select_related("policy").order_by("-as_of", "-pk")


def increment_csvs(*, policy_id: int, start: datetime.date, end: datetime.date) -> list[Artifact]:
    """Return the CSV files of the policy's published releases as of `start`..`end`, in as-of order."""
    return list(Artifact.objects.select_related("release")
                .filter(kind=Artifact.Kind.CSV, release__policy_id=policy_id, release__status=Release.Status.PUBLISHED,
                        release__as_of__gte=start, release__as_of__lte=end)
                .order_by("release__as_of"))


def published_period(*, policy_id: int) -> tuple[datetime.date, datetime.date] | None:
    """Return the as-of dates of the policy's first and last published releases, or None."""
    dates = (Release.objects.filter(policy_id=policy_id, status=Release.Status.PUBLISHED)
             .order_by("as_of").values_list("as_of", flat=True))
    first, last = dates.first(), dates.last()
    return (first, last) if first and last else None


def artifact_for_download(*, release_id: int, kind: str) -> Artifact | None:
    """Return a published release's artifact of this kind, or None."""
    return (Artifact.objects.select_related("release")
            .filter(release_id=release_id, kind=kind, release__status=Release.Status.PUBLISHED).first())


def version_person_levels(*, policy_id: int, version: str, excluding: int | None = None) -> dict[str, int] | None:
    """Return the person levels of a policy version: those its first published release recorded.

    Local recoding labels person columns at one level per column for a whole policy version
    (release/anonymize.py); the version's first release chooses them and records them as its
    `levels`. None when no published release of the version recorded levels yet (the caller
    chooses them; releases published before the rule recorded none).
    """
    published = Release.objects.filter(policy_id=policy_id, policy_version=version,
                                       status=Release.Status.PUBLISHED).order_by("as_of", "pk")
    if excluding is not None:
        published = published.exclude(pk=excluding)
    for levels in published.values_list("levels", flat=True):
        if levels:
            return {str(name): int(level) for name, level in levels.items()}
    return None
