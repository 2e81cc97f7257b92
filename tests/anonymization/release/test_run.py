"""The stages of a claimed run: the heartbeat during the search and stopping when taken over."""

from __future__ import annotations

import datetime

import pytest

from anonymization.models import Release, ReleasePolicy
from anonymization.release import run, service


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    """The default policy with full-domain recoding (Flash), whose search and hold-back these tests follow."""
    ReleasePolicy.objects.filter(name="Nightly transactions").update(recoding="full_domain")
    return ReleasePolicy.objects.get(name="Nightly transactions")


def test_it_keeps_the_heartbeat_fresh_during_the_search(nightly, monkeypatch):
    from transactions.demo import population_generate as populate

    as_of = datetime.date(2025, 3, 31)
    populate(customers=40, entries=300, last_day=as_of, days=10, seed=7)
    monkeypatch.setattr(run, "HEARTBEAT_SECONDS", 0.0)
    beats: list[str] = []
    original = run._Run.searching

    def spy(claimed_run, nodes_checked: int, lattice_size: int) -> None:
        original(claimed_run, nodes_checked, lattice_size)
        beats.append(Release.objects.get(pk=claimed_run.release.pk).progress_step)

    monkeypatch.setattr(run._Run, "searching", spy)
    release = service.release_run_for_policy(policy_id=nightly.pk, as_of=as_of)
    assert release.status == Release.Status.PUBLISHED, release.error
    assert beats and beats[0].startswith("searching: 1/")
    assert all(beat.endswith(" checked") for beat in beats)


def test_it_stops_a_search_whose_release_was_taken_over(nightly, monkeypatch):
    from transactions.demo import population_generate as populate

    as_of = datetime.date(2025, 3, 31)
    populate(customers=40, entries=300, last_day=as_of, days=10, seed=8)
    monkeypatch.setattr(run, "HEARTBEAT_SECONDS", 0.0)
    original = run._Run.searching

    def taken_over(claimed_run, nodes_checked: int, lattice_size: int) -> None:
        Release.objects.filter(pk=claimed_run.release.pk).update(claim_token="another-worker")
        original(claimed_run, nodes_checked, lattice_size)

    monkeypatch.setattr(run._Run, "searching", taken_over)
    release = service.release_run_for_policy(policy_id=nightly.pk, as_of=as_of)
    # This worker stopped at its first search heartbeat: nothing written, the release left to its new owner.
    assert (release.status, release.claim_token) == (Release.Status.RUNNING, "another-worker")
    assert not release.artifacts.exists()
    assert release.progress_step == "anonymizing"
