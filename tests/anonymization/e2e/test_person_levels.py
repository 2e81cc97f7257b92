"""Person columns of local releases at the policy version's fixed levels (issue 9), through the release service.

Rule: within one policy version every released row's person columns carry the customer's labels at one
step of the version's chain: their cell (their values at the levels the version's first release chose),
or a coarser step (`climb_chain`: the increment levels, with age in bands of at least 20 years, then one
person column raised one level at a time), or `*` in every person column. A spy on the run's anonymize stage keeps, per night, the extracted frame, the levels it was
given and its outcome.
"""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from anonymization.engine.coverage import Interval, parse_label
from anonymization.models import Release, ReleasePolicy
from anonymization.policy.catalog import INDIVIDUAL, NUMERIC, person_columns
from anonymization.policy.hierarchies import build_hierarchy
from anonymization.policy.spec import PolicySpec
from anonymization.release import run, service
from anonymization.release.anonymize import Outcome, climb_chain, increment_levels
from anonymization.selectors import version_person_levels
from tests.anonymization.e2e.conftest import NIGHT_1, NIGHT_2, NIGHT_3


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    """The default policy, which recodes locally."""
    policy = ReleasePolicy.objects.get(name="Nightly transactions")
    assert policy.recoding == "local"
    return policy


@pytest.fixture
def nights(monkeypatch) -> dict[datetime.date, tuple[pd.DataFrame, PolicySpec, dict | None, Outcome]]:
    """Record, per as-of date, the frame anonymized, the spec, the person levels given and the outcome."""
    found: dict[datetime.date, tuple[pd.DataFrame, PolicySpec, dict | None, Outcome]] = {}
    original = run.anonymize

    def spy(frame, spec, on_check=None, *, dates=None, person_levels=None, due=None, consume=False):
        # the frame is kept whole (not consumed by the search) so the tests can read its columns afterwards
        outcome = original(frame, spec, on_check, dates=dates, person_levels=person_levels, due=due)
        as_of = dates.last
        found[as_of] = (frame, spec, person_levels, outcome)
        return outcome

    monkeypatch.setattr(run, "anonymize", spy)
    return found


def _run(policy: ReleasePolicy, as_of: datetime.date) -> Release:
    release = service.release_run_for_policy(policy_id=policy.pk, as_of=as_of)
    assert release.status == Release.Status.PUBLISHED, release.error
    return release


def _person_hierarchies(frame: pd.DataFrame, spec: PolicySpec, levels: dict[str, int]) -> dict:
    return {qi.column: build_hierarchy(column=qi.column, series=frame[qi.column], builder=qi.builder,
                                       params=qi.params, arx_csv=qi.arx_csv)
            for qi in spec.quasi_identifiers if qi.column in levels}


def _cells(frame: pd.DataFrame, spec: PolicySpec, levels: dict[str, int]) -> pd.DataFrame:
    """Return each extracted row's cell: its person values at the levels, through the engine hierarchy."""
    cells = {}
    for qi in spec.quasi_identifiers:
        if qi.column in levels:
            built = build_hierarchy(column=qi.column, series=frame[qi.column], builder=qi.builder, params=qi.params,
                                    arx_csv=qi.arx_csv)
            cells[qi.column] = built.hierarchy.generalize(built.leaves.astype(str).tolist(), levels[qi.column])
    return pd.DataFrame(cells)


def _labels_by_row(frame, spec, outcome) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the released person labels and the rows' cells, row-aligned, with each row's customer."""
    person = list(person_columns(spec.source, spec.columns))
    released = outcome.released[person].astype(str).reset_index(drop=True)
    cells = _cells(frame, spec, outcome.levels).iloc[outcome.positions][person].reset_index(drop=True)
    released[INDIVIDUAL] = cells[INDIVIDUAL] = outcome.individuals
    return released, cells


def test_two_increments_of_one_version_label_each_customer_on_the_steps_of_one_chain(population, nightly, nights):
    first, second = _run(nightly, NIGHT_1), _run(nightly, NIGHT_2)
    assert first.policy_version == second.policy_version
    assert nights[NIGHT_1][2] is None and nights[NIGHT_2][2] == first.levels  # chosen once, then reused
    frame, spec, _, _ = nights[NIGHT_2]
    assert second.levels == increment_levels(first.levels, _person_hierarchies(frame, spec, first.levels), spec)
    for night in (NIGHT_1, NIGHT_2):
        frame, spec, _, outcome = nights[night]
        steps = [first.levels, *climb_chain(first.levels, _person_hierarchies(frame, spec, first.levels), spec)]
        released, cells = _labels_by_row(frame, spec, outcome)
        person = [name for name in released.columns if name != INDIVIDUAL]
        on_chain = (released[person] == "*").all(axis=1).to_numpy()
        for levels in steps:
            at = _cells(frame, spec, levels).iloc[outcome.positions][person].reset_index(drop=True)
            on_chain |= (released[person] == at).all(axis=1).to_numpy()
        assert on_chain.all(), night
        assert (released[person] == cells[person]).all(axis=1).any(), night  # the night's own levels


def test_a_policy_change_starts_a_version_that_chooses_its_levels_again(population, nightly, nights):
    first = _run(nightly, NIGHT_1)
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=8)
    second = _run(nightly, NIGHT_2)
    third = _run(nightly, NIGHT_3)
    assert second.policy_version != first.policy_version
    assert nights[NIGHT_2][2] is None and second.levels  # the new version chose again
    assert nights[NIGHT_3][2] == second.levels
    assert third.levels == increment_levels(second.levels, _person_hierarchies(nights[NIGHT_3][0], nights[NIGHT_3][1],
                                                                                second.levels), nights[NIGHT_3][1])
    assert version_person_levels(policy_id=nightly.pk, version=first.policy_version) == first.levels
    assert version_person_levels(policy_id=nightly.pk, version="no-such-one") is None


def test_an_increment_labels_ages_in_bands_of_twenty_years_or_more_that_hold_the_version_cell(population, nightly,
                                                                                              nights):
    first, second = _run(nightly, NIGHT_1), _run(nightly, NIGHT_2)
    assert {c: v for c, v in second.levels.items() if c != "age"} == {c: v for c, v in first.levels.items() if c != "age"}
    assert second.levels["age"] > first.levels["age"]  # the version labels ages in 10-year bands here
    frame, spec, _, outcome = nights[NIGHT_2]
    released, _ = _labels_by_row(frame, spec, outcome)
    version = _cells(frame, spec, first.levels).iloc[outcome.positions].reset_index(drop=True)
    labelled = (released["age"] != "*").to_numpy()
    assert labelled.any()
    for band, cell in zip(released["age"][labelled], version["age"][labelled], strict=True):
        wide, inner = parse_label(NUMERIC, band), parse_label(NUMERIC, cell)
        assert isinstance(wide, Interval) and isinstance(inner, Interval)
        assert wide.length >= 20 and wide.low <= inner.low and inner.high <= wide.high
