"""A policy's engine options: recursive-(c,l)-diversity, hierarchical t-closeness, the metric's
gs-factor and attribute weights; their rules and messages, the JSON releases record, the admin,
and what a full-domain release hands the engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from anonymization.engine import Hierarchy, KAnonymity, RecursiveCLDiversity, TCloseness
from anonymization.engine.api import _Problem
from anonymization.exceptions import PolicyInvalid, VerificationFailed
from anonymization.models import ReleasePolicy
from anonymization.policy.catalog import INDIVIDUAL
from anonymization.policy.spec import PolicySpec, QuasiIdentifierSpec
from anonymization.release.anonymize import anonymize
from anonymization.release.increments import policy_version
from anonymization.release.verify import Expectations, check_recursive, check_t

AGE = QuasiIdentifierSpec(column="age", builder="intervals", params={"widths": [10]})
KINDS = "deposit;cash;*\nwithdrawal;cash;*\ntransfer_in;transfer;*\ntransfer_out;transfer;*\n"
SPEC = PolicySpec(name="Kinds", source="transactions", columns=("age", "kind", "channel"), quasi_identifiers=(AGE,),
                  k=5, suppression_limit=0.1, metric="loss", sensitive_column="kind", l_diversity=2)


def _with(**changes) -> PolicySpec:
    return dataclasses.replace(SPEC, **changes)


def test_it_builds_recursive_cl_diversity_and_hierarchical_t_closeness():
    spec = _with(recursive_c=3.0, t_closeness=0.4, t_hierarchy=KINDS)
    spec.validate()
    hierarchy = Hierarchy.from_csv_text(KINDS, name="kind")
    assert spec.criteria() == [KAnonymity(5), RecursiveCLDiversity("kind", 3.0, 2),
                               TCloseness("kind", 0.4, "hierarchical", hierarchy)]


def test_it_hands_the_engine_a_configured_metric_only_when_options_are_set():
    assert SPEC.engine_metric() == "loss"
    metric = _with(gs_factor=0.25, attribute_weights={"age": 2, "channel": 0}).engine_metric()
    assert not isinstance(metric, str)
    assert metric.describe() == {"name": "loss", "gs_factor": 0.25, "aggregate": "geometric-mean",
                                 "weights": {"age": 2.0, "channel": 0.0}}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"recursive_c": 0}, "recursive_c", "c must be a number greater than 0."),
    ({"recursive_c": 2, "l_diversity": None, "t_closeness": 0.5}, "recursive_c",
     "Recursive-(c,l)-diversity needs l: give l or remove c."),
    ({"t_hierarchy": KINDS}, "t_hierarchy", "A t-closeness hierarchy needs t: give t or remove the hierarchy."),
    ({"t_closeness": 0.3, "t_hierarchy": "deposit;cash;*\nwithdrawal;*\n"}, "t_hierarchy",
     "The t-closeness hierarchy is invalid: "),
    ({"gs_factor": 1.5}, "gs_factor", "The gs-factor must be a number between 0 and 1."),
    ({"gs_factor": 0.3, "metric": "dm"}, "gs_factor",
     "The metric dm takes no gs-factor; choose entropy, entropy-nonmonotonic, loss."),
    ({"attribute_weights": {"age": -1}}, "attribute_weights",
     'Attribute weights map released columns to numbers of at least 0, e.g. {"age": 2}.'),
    ({"attribute_weights": ["age"]}, "attribute_weights",
     'Attribute weights map released columns to numbers of at least 0, e.g. {"age": 2}.'),
    ({"attribute_weights": {"kind": 1, "gender": 2}}, "attribute_weights",
     "Attribute weights name column(s) kind, gender that do not form the classes (released columns but the "
     "sensitive one)."),
    ({"attribute_weights": {"age": 1}, "metric": "height"}, "attribute_weights",
     "The metric height takes no attribute weights; choose entropy, entropy-nonmonotonic, loss, precision, "
     "precision-monotonic."),
    ({"recoding": "local", "sensitive_column": "", "l_diversity": None, "gs_factor": 0.3}, "recoding",
     "Local recoding has no quality metric to tune: remove the gs-factor and attribute weights, or choose "
     "full_domain recoding."),
])
def test_it_words_each_engine_option_rule_once(changes, field, message):
    with pytest.raises(PolicyInvalid) as caught:
        _with(**changes).validate()
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_it_records_the_options_in_the_snapshot_only_when_set():
    plain = SPEC.to_json()
    assert not {"recursive_c", "t_hierarchy", "gs_factor", "attribute_weights"} & set(plain)
    tuned = _with(recursive_c=3.0, t_closeness=0.4, t_hierarchy=KINDS, gs_factor=0.25,
                  attribute_weights={"age": 2.0})
    data = tuned.to_json()
    assert (data["recursive_c"], data["gs_factor"], data["attribute_weights"]) == (3.0, 0.25, {"age": 2.0})
    assert PolicySpec.from_json(data) == tuned
    assert PolicySpec.from_json(plain) == SPEC
    # A policy without options keeps its version; setting one starts a new version.
    assert policy_version(plain) == policy_version(SPEC.to_json())
    assert policy_version(_with(gs_factor=0.25).to_json()) != policy_version(plain)


def test_a_release_hands_the_gs_factor_to_the_engine():
    # Ten customers of one age, one with a withdrawal only: with 10% suppression the default loss
    # suppresses that customer, while gs-factor 1 (generalization free) generalizes kind instead.
    spec = PolicySpec(name="Kinds", source="transactions", columns=("age", "kind"), quasi_identifiers=(AGE,), k=5,
                      suppression_limit=0.1, metric="loss")
    frame = pd.DataFrame({"age": np.full(10, 30), "kind": pd.Categorical(["deposit"] * 9 + ["withdrawal"]),
                          INDIVIDUAL: np.arange(10)})
    default = anonymize(frame, spec)
    assert (default.levels["kind"], default.suppressed) == (0, 1)
    generalizing = anonymize(frame, dataclasses.replace(spec, gs_factor=1.0))
    assert (generalizing.levels["kind"], generalizing.suppressed) == (1, 0)
    assert set(generalizing.released["kind"]) == {"*"}


@pytest.mark.django_db
def test_the_model_shows_an_option_message_on_its_field():
    policy = ReleasePolicy(name="Bad", source="customers", columns=["age", "gender"], k=5, suppression_limit=0.02,
                           metric="dm", gs_factor=0.3)
    with pytest.raises(ValidationError) as caught:
        policy.clean()
    assert caught.value.message_dict == {
        "gs_factor": ["The metric dm takes no gs-factor; choose entropy, entropy-nonmonotonic, loss."]}


def test_the_admin_saves_a_policy_with_engine_options(client, admin_user):
    from tests.anonymization.test_admin import _policy_post

    client.force_login(admin_user)
    response = client.post(reverse("admin:anonymization_releasepolicy_add"), _policy_post(**{
        "quasi_identifiers-1-arx_csv": "F;*\nM;*\n", "gs_factor": "0.3", "attribute_weights": '{"age": 2}'}))
    assert response.status_code == 302, response.context["errors"] if response.context else response
    policy = ReleasePolicy.objects.get(name="Customers yearly")
    assert (policy.gs_factor, policy.attribute_weights, policy.recursive_c, policy.t_hierarchy) == \
        (0.3, {"age": 2}, None, "")
    spec = PolicySpec.from_model(policy)
    assert spec.engine_metric().describe()["weights"] == {"age": 2.0}


def test_the_admin_shows_one_message_for_a_bad_option_and_saves_nothing(client, admin_user):
    from tests.anonymization.test_admin import _policy_post

    client.force_login(admin_user)
    response = client.post(reverse("admin:anonymization_releasepolicy_add"), _policy_post(**{
        "quasi_identifiers-1-arx_csv": "F;*\nM;*\n", "attribute_weights": '{"postal_code": 1}'}))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("Attribute weights name column(s) postal_code that do not form the classes") == 1
    assert not ReleasePolicy.objects.filter(name="Customers yearly").exists()


# --- the verifier checks the options independently of the engine ----------------------------------


def test_the_verifier_measures_the_hierarchical_distance_by_hand():
    # Overall: the four kinds equally often. A class of deposit + transfer_in moves 1/4 within
    # cash and 1/4 within transfer (level 1 of 2: cost 1/2 each): EMD 0.25, against 0.5 with the
    # equal distance. A class of deposit + withdrawal moves 1/2 from cash to transfer: 0.5 both ways.
    overall = pd.Series(["deposit", "withdrawal", "transfer_in", "transfer_out"] * 2)
    mixed = pd.Series(["deposit", "transfer_in"] * 2)
    classes = np.zeros(4, dtype=np.int64)
    assert check_t(classes, mixed, overall, 0.3, False, KINDS) == pytest.approx(0.25)
    with pytest.raises(VerificationFailed, match=r"further than t=0.3 .* \(largest: 0.5000\)"):
        check_t(classes, mixed, overall, 0.3, False)
    cash = pd.Series(["deposit", "withdrawal"] * 2)
    assert check_t(classes, cash, overall, 0.5, False, KINDS) == pytest.approx(0.5)


def test_the_verifier_agrees_with_the_engine_on_the_hierarchical_distance():
    rng = np.random.default_rng(5)
    values = ["deposit", "withdrawal", "transfer_in", "transfer_out"]
    table = pd.DataFrame({"q": rng.integers(0, 6, 300).astype(str), "kind": rng.choice(values, 300, p=[.4, .3, .2, .1])})
    criterion = TCloseness("kind", 1.0, "hierarchical", Hierarchy.from_csv_text(KINDS, name="kind"))
    problem = _Problem(table, {"q": Hierarchy([[str(i)] for i in range(6)], name="q")}, [KAnonymity(1), criterion],
                       0.0, "height", None)
    view = problem.checker.classes((0,))
    diff = view.sensitive_distribution()[:, criterion._order] - criterion._global
    engine_emd = criterion._hierarchical(diff)
    classes = view.source_class[problem.space.row_cell]
    largest = check_t(classes, table["kind"], table["kind"], 1.0, False, KINDS)
    assert largest == pytest.approx(engine_emd.max(), abs=1e-12)


def test_the_verifier_checks_recursive_cl_diversity():
    # Counts 3, 2, 1 with l = 2: r1 = 3 against the tail 2 + 1 = 3; c = 1.5 needs 3 < 4.5, c = 1 fails.
    classes = np.zeros(6, dtype=np.int64)
    kinds = pd.Series(["deposit"] * 3 + ["withdrawal"] * 2 + ["transfer_in"])
    assert check_recursive(classes, kinds, 1.5, 2) == pytest.approx(1.0)
    with pytest.raises(VerificationFailed, match=r"1 class\(es\) are not recursive-\(c=1, l=2\)-diverse"):
        check_recursive(classes, kinds, 1.0, 2)


def test_the_verifier_expects_what_the_policy_sets():
    spec = _with(recursive_c=3.0, t_closeness=0.4, t_hierarchy=KINDS)
    expected = Expectations.from_spec(spec)
    assert (expected.recursive_c, expected.t_hierarchy) == (3.0, KINDS)
