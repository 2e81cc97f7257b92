"""Increments: release windows, refused dates and policy versions."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from anonymization.exceptions import ReleaseOutOfOrder
from anonymization.models import Release, ReleasePolicy
from anonymization.policy.spec import PolicySpec
from anonymization.release.increments import check_as_of, check_still_next, policy_version

D = datetime.date(2025, 3, 31)


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def _published(policy: ReleasePolicy, as_of: datetime.date) -> Release:
    return Release.objects.create(policy=policy, as_of=as_of, status=Release.Status.PUBLISHED)


def test_it_starts_the_first_window_at_the_beginning_and_later_ones_after_the_last_published(nightly):
    assert check_as_of(policy=nightly, as_of=D) is None
    _published(nightly, D)
    Release.objects.create(policy=nightly, as_of=D + datetime.timedelta(days=3), status=Release.Status.FAILED)
    assert check_as_of(policy=nightly, as_of=D + datetime.timedelta(days=5)) == D + datetime.timedelta(days=1)


@pytest.mark.parametrize("days_before", [0, 1, 30])
def test_it_refuses_an_as_of_on_or_before_the_last_published(nightly, days_before):
    _published(nightly, D)
    earlier = D - datetime.timedelta(days=days_before)
    with pytest.raises(ReleaseOutOfOrder) as refused:
        check_as_of(policy=nightly, as_of=earlier)
    assert str(refused.value) == (
        f"Policy 'Nightly transactions' was last published as of 2025-03-31; a release as of {earlier:%Y-%m-%d} "
        "would overlap it. Releases of a policy go forward in time: choose a date after 2025-03-31.")


def test_it_refuses_today_and_later(nightly):
    today = timezone.localdate()
    for as_of in (today, today + datetime.timedelta(days=1)):
        with pytest.raises(ReleaseOutOfOrder, match=f"as of {as_of:%Y-%m-%d} cannot run yet: its day is not over"):
            check_as_of(policy=nightly, as_of=as_of)


def test_it_refuses_to_publish_when_another_release_overtook_this_one(nightly):
    running = Release.objects.create(policy=nightly, as_of=D, window_start=None)
    check_still_next(release=running)
    _published(nightly, D + datetime.timedelta(days=1))
    with pytest.raises(ReleaseOutOfOrder, match=r"published while this one ran \(last published as of 2025-04-01\)"):
        check_still_next(release=running)


def test_it_gives_a_new_version_to_every_change_of_the_spec_but_not_to_a_rename(nightly):
    spec = PolicySpec.from_model(nightly).to_json()
    version = policy_version(spec)
    assert len(version) == 12
    assert policy_version({**spec, "name": "Renamed", "id": 99}) == version
    assert policy_version({**spec, "k": 6}) != version
    assert policy_version({**spec, "columns": spec["columns"][:-1]}) != version
    changed = [dict(qi) for qi in spec["quasi_identifiers"]]
    changed[0]["params"] = {**changed[0]["params"], "extra": 1}
    assert policy_version({**spec, "quasi_identifiers": changed}) != version
