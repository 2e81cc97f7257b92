"""What a release reports: its recoding, the utility figures and their warnings, in metadata.json and report.html."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.files.storage import default_storage

from anonymization.models import QuasiIdentifier, Release, ReleasePolicy
from anonymization.release import service
from transactions.demo import population_generate as populate

AS_OF = datetime.date(2025, 3, 31)
POSTAL_WARNING = "postal_code has the same value in every row."  # every code of this population starts "10"
STAR_WARNING = "{} is * in every row: the release says nothing about it."
AMOUNT_WARNING = STAR_WARNING.format("amount")


@pytest.fixture
def population(db):
    return populate(customers=80, entries=1_500, last_day=AS_OF, days=40, seed=7)


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def _published(policy: ReleasePolicy) -> tuple[Release, dict, str]:
    release = service.release_run_for_policy(policy_id=policy.pk, as_of=AS_OF)
    assert release.status == Release.Status.PUBLISHED, release.error
    with default_storage.open(release.artifacts.get(kind="metadata").name) as handle:
        metadata = json.load(handle)
    with default_storage.open(release.artifacts.get(kind="report").name) as handle:
        report = handle.read().decode()
    return release, metadata, report


def test_it_reports_local_recoding_with_labels_utility_and_warnings(population, nightly):
    release, metadata, report = _published(nightly)
    utility = metadata["utility"]
    assert utility == release.utility
    workload = utility["workload"]
    assert workload["measured"] and workload["queries"] == 200 and workload["seed"] == 0
    assert workload["raw_rows"] == 1_500 and not workload["sampled"]
    assert workload["mean"] >= 0 and workload["median"] >= 0
    assert set(utility["survival"]) == set(nightly.columns)
    assert utility["survival"]["postal_code"] == {"specific_share": 0.0, "distinct_values": 1,
                                                  "generalized_everywhere": False, "constant": True}
    # person columns sit at the version's fixed levels (issue 9): with 80 customers Flash leaves no
    # age band or gender of k customers on its own, so both are `*` in every row
    assert release.levels == {"age": 4, "gender": 1, "postal_code": 2}
    assert utility["warnings"] == [STAR_WARNING.format("age"), STAR_WARNING.format("gender"), POSTAL_WARNING]
    assert metadata["recoding"] == "local" and set(metadata["labels"]) == set(nightly.columns)
    assert metadata["person_levels"] == release.levels
    assert "local (Mondrian: labels per equivalence class)" in report
    assert f"Warning: {POSTAL_WARNING}" in report
    assert f'<strong class="workload-mean">{workload["mean"]:.3f}</strong>' in report
    assert "Labels per column" in report and "Generalization level of each quasi-identifier" not in report
    _assert_self_contained(report)
    # a distribution of every released column, saying how many of its values it shows
    assert set(release.distributions) == set(nightly.columns)
    for column in nightly.columns:
        assert f'aria-label="{column} after"' in report, column
    assert "Shown: after: all 1 value" in report  # postal_code: one value left
    assert "most common of" in report and "other values)" in report  # transaction dates: more than 12


def _assert_self_contained(report: str) -> None:
    """The published report carries its own styles and loads nothing: it looks the same opened from disk."""
    assert "<style>" in report and ".release-report h2" in report
    for loader in ("<link", "<script", "src=", "url(", "@import", "http://", "https://"):
        assert loader not in report.replace('xmlns="http://www.w3.org/2000/svg"', ""), loader


def test_it_warns_of_columns_full_domain_recoding_generalizes_to_a_star_everywhere(population, nightly):
    ReleasePolicy.objects.filter(pk=nightly.pk).update(recoding="full_domain")
    release, metadata, report = _published(nightly)
    assert metadata["recoding"] == "full_domain" and metadata["engine"]["name"] == "flash"
    assert metadata["levels"] == release.levels and "labels" not in metadata
    assert metadata["utility"]["workload"]["measured"]
    assert release.levels["amount"] == 4 and metadata["utility"]["survival"]["amount"]["generalized_everywhere"]
    assert AMOUNT_WARNING in metadata["utility"]["warnings"]
    assert "full-domain (Flash: one level per column)" in report
    assert "Generalization level of each quasi-identifier" in report and "Workload error" in report
    for warning in release.utility["warnings"]:
        assert f"Warning: {warning}" in report
    # levels are named by what they release, not "level 2 of 4"
    assert "level 4 of" not in report
    assert "<tr><td>amount</td><td>hidden (*)</td></tr>" in report
    assert "<tr><td>transaction_date</td><td>" in report
    _assert_self_contained(report)


KINDS = "deposit;cash;*\nwithdrawal;cash;*\ntransfer_in;transfer;*\ntransfer_out;transfer;*\n"


def _kind_sensitive(policy: ReleasePolicy, **fields) -> None:
    """Make kind the policy's sensitive column (it is a quasi-identifier by default) with ``fields``."""
    QuasiIdentifier.objects.filter(policy=policy, column="kind").delete()
    ReleasePolicy.objects.filter(pk=policy.pk).update(recoding="full_domain", sensitive_column="kind", **fields)


def test_it_reports_the_policys_engine_options_with_its_criteria(population, nightly):
    # A privacy officer reads the report and metadata.json to see which models the release met:
    # recursive-(c,l) instead of distinct l, hierarchical t, and the metric's gs-factor and weights.
    _kind_sensitive(nightly, l_diversity=2, recursive_c=3.0, t_closeness=0.5, t_hierarchy=KINDS, gs_factor=0.25,
                    attribute_weights={"age": 2})
    release, metadata, report = _published(nightly)
    policy = metadata["policy"]
    assert (policy["sensitive_column"], policy["l_diversity"], policy["recursive_c"]) == ("kind", 2, 3.0)
    assert (policy["t_closeness"], policy["t_hierarchy"]) == (0.5, KINDS)
    assert (policy["gs_factor"], policy["attribute_weights"]) == (0.25, {"age": 2})
    assert metadata["metrics"]["metric"] == "loss"
    assert (metadata["metrics"]["gs_factor"], metadata["metrics"]["attribute_weights"]) == (0.25, {"age": 2})
    assert ('<dd class="privacy-criteria">k = 5 customers, recursive-(3, 2)-diversity, '
            't = 0.5 (hierarchical distance) on kind</dd>') in report
    assert "<dt>Information loss (loss; gs-factor 0.25; weights age 2 (others 0.5))</dt>" in report
    _assert_self_contained(report)


def test_it_reports_plain_criteria_without_engine_options(population, nightly):
    _kind_sensitive(nightly, l_diversity=2, t_closeness=0.5)
    _, metadata, report = _published(nightly)
    assert not {"recursive_c", "t_hierarchy", "gs_factor", "attribute_weights"} & set(metadata["policy"])
    assert not {"gs_factor", "attribute_weights"} & set(metadata["metrics"])
    assert '<dd class="privacy-criteria">k = 5 customers, l = 2, t = 0.5 on kind</dd>' in report
    assert "<dt>Information loss (loss)</dt>" in report
