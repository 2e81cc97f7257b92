"""PolicySpec: each policy rule and its one message, the JSON a release records, the engine criteria."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from anonymization.engine import DistinctLDiversity, KAnonymity, TCloseness
from anonymization.exceptions import HierarchyInvalid, PolicyInvalid
from anonymization.models import ReleasePolicy
from anonymization.policy.spec import PolicySpec, QuasiIdentifierSpec
from anonymization.release.increments import policy_version

AGE = QuasiIdentifierSpec(column="age", builder="intervals", params={"widths": [10, 20]})
GENDER = QuasiIdentifierSpec(column="gender", builder="categories", params={"levels": [{"*": "*"}]})
BALANCE = QuasiIdentifierSpec(column="balance", builder="intervals", params={"bin": 100, "widths": [1000]})
VALID = PolicySpec(name="Customers", source="customers", columns=("age", "gender", "balance"),
                   quasi_identifiers=(AGE, GENDER, BALANCE), k=5, suppression_limit=0.02, metric="loss")


def _with(**changes) -> PolicySpec:
    return dataclasses.replace(VALID, **changes)


def test_it_accepts_a_valid_policy():
    VALID.validate()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"source": "people"}, "source", "Unknown source 'people'."),
    ({"columns": ()}, "columns", "Choose at least one column to release."),
    ({"columns": ("age", "email")}, "columns", "Direct identifiers are never released: email."),
    ({"columns": ("age", "amount")}, "columns", "The customers source has no column(s) amount."),
    ({"columns": ("age", "age")}, "columns", "Each column can be released only once."),
    ({"k": 1}, "k", "k must be a whole number of at least 2."),
    ({"k": 2.5}, "k", "k must be a whole number of at least 2."),
    ({"suppression_limit": 1.5}, "suppression_limit", "The suppression limit must be a fraction between 0 and 1."),
    ({"metric": "magic"}, "metric",
     "Unknown metric 'magic'; choose one of aecs, dm, dm-nonmonotonic, entropy, entropy-nonmonotonic, height, loss, precision, precision-monotonic."),
    ({"sensitive_column": "balance", "l_diversity": 1}, "l_diversity", "l must be a whole number of at least 2."),
    ({"sensitive_column": "balance", "t_closeness": 2.0}, "t_closeness", "t must be a number between 0 and 1."),
    ({"sensitive_column": "kind", "l_diversity": 2}, "sensitive_column",
     "The sensitive column kind must be one of the released columns."),
    ({"l_diversity": 2}, "sensitive_column", "l-diversity and t-closeness need a sensitive column."),
    ({"sensitive_column": "balance"}, "sensitive_column", "Give l or t for the sensitive column balance."),
])
def test_it_words_each_policy_rule_once(changes, field, message):
    with pytest.raises(PolicyInvalid) as caught:
        _with(**changes).validate()
    assert (caught.value.field, str(caught.value)) == (field, message)


@pytest.mark.parametrize(("qis", "message"), [
    ((), "Give at least one quasi-identifier with a hierarchy."),
    ((QuasiIdentifierSpec("postal_code", "mask", {"keep": [2]}),), "Quasi-identifier(s) postal_code must be released columns."),
    ((AGE, AGE, GENDER, BALANCE), "Each quasi-identifier can have only one hierarchy."),
])
def test_it_checks_the_quasi_identifiers(qis, message):
    with pytest.raises(PolicyInvalid, match=rf"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        _with(quasi_identifiers=qis).validate()


def test_it_refuses_a_sensitive_quasi_identifier_and_a_bad_hierarchy():
    with pytest.raises(PolicyInvalid, match=r"^The sensitive column age cannot also be a quasi-identifier\.$"):
        _with(sensitive_column="age", l_diversity=2).validate()
    broken = QuasiIdentifierSpec("age", "intervals", {"widths": [10, 15]})
    with pytest.raises(HierarchyInvalid, match=r"^Hierarchy of age: width 15 must be a larger multiple of 10"):
        _with(quasi_identifiers=(broken, GENDER, BALANCE)).validate()


def test_it_round_trips_through_json_with_the_snapshot_keys_releases_have_always_recorded():
    spec = _with(id=7, sensitive_column="balance", t_closeness=0.3)
    data = spec.to_json()
    assert list(data) == ["id", "name", "source", "columns", "quasi_identifiers", "sensitive_column", "l_diversity",
                          "t_closeness", "k", "suppression_limit", "metric", "recoding"]
    assert data["quasi_identifiers"][0] == {"column": "age", "builder": "intervals", "params": {"widths": [10, 20]},
                                            "arx_csv": ""}
    assert PolicySpec.from_json(data) == spec


def test_it_loads_a_stored_snapshot_without_optional_keys():
    stored = {"name": "Old", "source": "customers", "columns": ["age"], "k": 3, "suppression_limit": 0.0,
              "metric": "dm", "quasi_identifiers": [{"column": "age", "builder": "intervals",
                                                     "params": {"widths": [10]}}]}
    spec = PolicySpec.from_json(stored)
    assert (spec.sensitive_column, spec.l_diversity, spec.t_closeness, spec.id) == ("", None, None, None)
    assert spec.quasi_identifiers == (QuasiIdentifierSpec("age", "intervals", {"widths": [10]}, ""),)
    spec.validate()


def test_it_builds_the_engine_criteria():
    assert VALID.criteria() == [KAnonymity(5)]
    numeric = _with(sensitive_column="balance", l_diversity=3, t_closeness=0.2).criteria()
    assert numeric == [KAnonymity(5), DistinctLDiversity("balance", 3), TCloseness("balance", 0.2, "ordered")]
    categorical = _with(sensitive_column="gender", t_closeness=0.2).criteria()
    assert categorical == [KAnonymity(5), TCloseness("gender", 0.2, "equal")]


def test_it_reads_a_saved_policy_with_its_hierarchies(db):
    nightly = ReleasePolicy.objects.get(name="Nightly transactions")
    spec = PolicySpec.from_model(nightly)
    assert (spec.id, spec.k, spec.columns[0]) == (nightly.pk, 5, "age")
    assert spec.qi_columns == ["age", "gender", "postal_code", "transaction_date", "amount", "balance_after", "kind"]
    assert "card_network" not in spec.columns and "card_number" not in spec.columns  # migrations 0004, 0008
    spec.validate()


def test_it_applies_the_rules_in_the_models_clean(db):
    policy = ReleasePolicy(name="x", source="customers", columns=["age"], k=1)
    with pytest.raises(Exception) as caught:
        policy.full_clean()
    assert caught.value.message_dict == {"k": ["k must be a whole number of at least 2."]}


def test_it_shows_exactly_one_message_when_the_admin_posts_k_1(client, admin_user):
    from tests.anonymization.test_admin import _policy_post

    client.force_login(admin_user)
    response = client.post(reverse("admin:anonymization_releasepolicy_add"),
                           _policy_post(k="1", **{"quasi_identifiers-1-arx_csv": "F;*\n"}))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("k must be a whole number of at least 2.") == 1
    assert "greater than or equal to 2" not in page
    assert "policy_k_at_least_2" not in page


# --- column roles and rows that must not link --------------------------------------------------------

KIND = QuasiIdentifierSpec(column="kind", builder="categories", params={"levels": [{"*": "*"}]})
AMOUNT = QuasiIdentifierSpec(column="amount", builder="intervals", params={"bin": 10, "widths": [50]})
BALANCE_AFTER = QuasiIdentifierSpec(column="balance_after", builder="intervals", params={"bin": 100, "widths": [1000]})
LEDGER = PolicySpec(name="Ledger", source="transactions", columns=("age", "amount", "balance_after", "kind"),
                    quasi_identifiers=(AGE, AMOUNT, BALANCE_AFTER), k=5, suppression_limit=0.02, metric="loss")


def test_it_refuses_a_column_that_must_be_generalized_without_a_hierarchy():
    with pytest.raises(PolicyInvalid) as caught:
        _with(quasi_identifiers=(AGE, GENDER)).validate()
    assert str(caught.value) == "The column balance must be generalized: give it a hierarchy or do not release it."
    postal = dataclasses.replace(LEDGER, columns=(*LEDGER.columns, "postal_code"))
    with pytest.raises(PolicyInvalid, match=r"^The column postal_code must be generalized: give it a hierarchy"):
        postal.validate()


def test_it_forms_classes_over_a_descriptive_column_released_without_a_hierarchy():
    LEDGER.validate()
    assert [qi.column for qi in LEDGER.class_hierarchies] == ["age", "amount", "balance_after", "kind"]
    assert LEDGER.class_hierarchies[-1] == KIND
    assert LEDGER.qi_columns == ["age", "amount", "balance_after"]
    given = dataclasses.replace(LEDGER, quasi_identifiers=(AGE, AMOUNT, BALANCE_AFTER, KIND))
    assert given.class_hierarchies == given.quasi_identifiers


def test_it_lets_only_a_descriptive_column_be_released_outside_the_classes():
    sensitive_kind = dataclasses.replace(LEDGER, sensitive_column="kind", l_diversity=2)
    sensitive_kind.validate()
    assert "kind" not in [qi.column for qi in sensitive_kind.class_hierarchies]
    with pytest.raises(PolicyInvalid) as caught:
        _with(quasi_identifiers=(AGE, GENDER), sensitive_column="balance", l_diversity=2).validate()
    assert (caught.value.field, str(caught.value)) == (
        "sensitive_column", "The sensitive column balance must be generalized, so it cannot be released outside the "
                            "classes; only a descriptive column (kind, channel) can be sensitive.")


def test_it_refuses_a_hierarchy_level_that_repeats_a_released_column():
    card = QuasiIdentifierSpec(column="card_number", builder="card", params={"prefix_lengths": [4]})
    network = QuasiIdentifierSpec(column="card_network", builder="categories", params={"levels": [{"*": "*"}]})
    both = dataclasses.replace(LEDGER, columns=(*LEDGER.columns, "card_network", "card_number"),
                               quasi_identifiers=(*LEDGER.quasi_identifiers, network, card))
    with pytest.raises(PolicyInvalid) as caught:
        both.validate()
    assert str(caught.value) == ("The card hierarchy of card_number has a level that repeats the column card_network; "
                                 "release only one of them.")
    dataclasses.replace(both, columns=LEDGER.columns + ("card_number",),
                        quasi_identifiers=(*LEDGER.quasi_identifiers, card)).validate()


@pytest.mark.parametrize(("amount", "balance", "valid"), [
    ({"bin": 1, "widths": [10]}, {"bin": 1, "widths": [10]}, False),
    ({"bin": 5, "widths": [10]}, {"bin": 1, "widths": [10]}, False),
    ({"bin": 10, "widths": [50]}, {"bin": 1, "widths": [10]}, True),
    ({"bin": 1, "widths": [10]}, {"bin": 100, "widths": [1000]}, True),
])
def test_it_releases_balance_after_with_amount_only_when_one_is_in_bands(amount, balance, valid):
    spec = dataclasses.replace(LEDGER, quasi_identifiers=(
        AGE, QuasiIdentifierSpec("amount", "intervals", amount), QuasiIdentifierSpec("balance_after", "intervals",
                                                                                    balance)))
    if valid:
        spec.validate()
        return
    with pytest.raises(PolicyInvalid) as caught:
        spec.validate()
    assert str(caught.value) == ("balance_after and amount together chain a customer's rows (previous balance + "
                                 "amount = next balance): cut at least one of them into bands of at least 10 "
                                 "(intervals with bin >= 10).")


def test_it_counts_exact_amounts_from_a_category_hierarchy_as_exact():
    exact = QuasiIdentifierSpec("amount", "categories", {"levels": [{"*": "*"}]})
    fine_balance = QuasiIdentifierSpec("balance_after", "intervals", {"bin": 1, "widths": [10]})
    with pytest.raises(PolicyInvalid, match=r"^balance_after and amount together chain a customer's rows"):
        dataclasses.replace(LEDGER, quasi_identifiers=(AGE, exact, fine_balance)).validate()


@pytest.mark.parametrize(("changes", "message"), [
    ({"recoding": "mondrian"}, "Unknown recoding 'mondrian'; choose full_domain (one hierarchy level per column, "
                               "Flash) or local (labels per equivalence class, Mondrian)."),
    ({"recoding": "local", "sensitive_column": "gender", "l_diversity": 2, "quasi_identifiers": (AGE, BALANCE)},
     "Local recoding checks k only: remove l and t, or choose full_domain recoding."),
])
def test_it_refuses_a_bad_recoding_with_one_message_on_the_recoding_field(changes, message):
    with pytest.raises(PolicyInvalid) as caught:
        _with(**changes).validate()
    assert (str(caught.value), caught.value.field) == (message, "recoding")


def test_it_accepts_local_recoding_and_records_it():
    local = _with(recoding="local")
    local.validate()
    assert local.is_local and not VALID.is_local
    assert local.to_json()["recoding"] == "local"
    assert PolicySpec.from_json(local.to_json()) == local


def test_it_loads_a_snapshot_without_the_recoding_key_as_full_domain():
    snapshot = VALID.to_json()
    del snapshot["recoding"]
    loaded = PolicySpec.from_json(snapshot)
    assert loaded.recoding == "full_domain"
    assert loaded == VALID


def test_it_keeps_the_version_of_a_full_domain_policy_from_before_the_option():
    before = VALID.to_json()
    del before["recoding"]
    assert policy_version(VALID.to_json()) == policy_version(before)
    assert policy_version(_with(recoding="local").to_json()) != policy_version(before)


@pytest.mark.django_db
def test_it_shows_the_recoding_message_on_the_policy_form_field():
    policy = ReleasePolicy(name="Bad", source="customers", columns=["age"], k=5, suppression_limit=0.02,
                           metric="loss", recoding="local", sensitive_column="age", l_diversity=2)
    with pytest.raises(ValidationError) as caught:
        policy.clean()
    assert caught.value.message_dict == {
        "recoding": ["Local recoding checks k only: remove l and t, or choose full_domain recoding."]}
