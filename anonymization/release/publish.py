"""Publishing a verified release: copy its files to their final names, then record it in one transaction.

Both steps are conditional on the claim: a worker that lost its claim publishes nothing, and the
release row and its artifact rows change together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from ..exceptions import ReleaseNotRunnable
from ..models import Artifact, Release
from . import write


def publish_files(written: list[write.Written], folder: str) -> list[write.Written]:
    """Copy each verified temporary file to its final name in `folder`; return the published files."""
    published = []
    for item in written:
        final = f"{folder}/{write.FILENAMES[item.kind]}"
        with write.open_stored(item.name) as handle:
            copy = write.save(final, File(handle))
        if copy.sha256 != item.sha256:
            raise OSError(f"The published copy of {write.FILENAMES[item.kind]} differs from the verified file.")
        published.append(copy)
    return published


def record_published(*, release_id: int, token: str, published: list[write.Written], summary: dict,
                     also: Callable[[], None] | None = None) -> None:
    """Mark the release published and record its artifacts, in one transaction, under the claim.

    `also` runs first in the same transaction (the increment's checks and held entries); if it
    raises, nothing is recorded.
    """
    now = timezone.now()
    with transaction.atomic():
        if also is not None:
            also()
        updated = Release.objects.filter(pk=release_id, claim_token=token).update(
            status=Release.Status.PUBLISHED, progress=100, progress_step="published", finished_at=now,
            heartbeat_at=now, error="", **summary)
        if not updated:
            raise ReleaseNotRunnable(f"Release #{release_id} was taken over by another worker.")
        Artifact.objects.filter(release_id=release_id).delete()
        Artifact.objects.bulk_create([
            Artifact(release_id=release_id, kind=item.kind, name=item.name, size=item.size, sha256=item.sha256)
            for item in published])
