"""Claiming a release for a worker."""

from __future__ import annotations

import datetime

import pytest

from anonymization.exceptions import ReleaseNotRunnable
from anonymization.models import Release, ReleasePolicy
from anonymization.release.claim import release_claim


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def test_it_never_runs_a_published_release_again(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1),
                                     status=Release.Status.PUBLISHED)
    with pytest.raises(ReleaseNotRunnable, match=rf"^Release #{release.pk} is already published\.$"):
        release_claim(release_id=release.pk)
