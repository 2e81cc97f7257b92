"""The engine adapter: classes over every released column (kind included), a secret row order, and local
recoding (Mondrian) over the catalog's public domains (no database)."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
import pytest

from anonymization.engine import covers
from anonymization.engine.mondrian import round_ladder
from anonymization.exceptions import ReleaseUnsatisfiable
from anonymization.policy.catalog import INDIVIDUAL
from anonymization.policy.hierarchies import build_hierarchy
from anonymization.policy.spec import PolicySpec, QuasiIdentifierSpec
from anonymization.release.anonymize import DateBounds, anonymize, climb_chain, increment_levels
from anonymization.release.verify import customers_per_class, rank_correlation

AGE = QuasiIdentifierSpec(column="age", builder="intervals", params={"widths": [10]})


def _spec(suppression_limit: float) -> PolicySpec:
    return PolicySpec(name="Kinds", source="transactions", columns=("age", "kind"), quasi_identifiers=(AGE,), k=5,
                      suppression_limit=suppression_limit, metric="loss")


def _frame() -> pd.DataFrame:
    """Ten customers of one age: nine made deposits, one only a withdrawal (a class of 1 once kind counts)."""
    kinds = ["deposit"] * 9 + ["withdrawal"]
    return pd.DataFrame({"age": np.full(10, 30), "kind": pd.Categorical(kinds), INDIVIDUAL: np.arange(10)})


def test_it_generalizes_kind_when_it_splits_a_class_below_k():
    outcome = anonymize(_frame(), _spec(suppression_limit=0.0))
    assert outcome.levels["kind"] == 1
    assert set(outcome.released["kind"]) == {"*"}
    assert outcome.suppressed == 0


def test_it_suppresses_the_rare_kind_when_the_budget_allows():
    outcome = anonymize(_frame(), _spec(suppression_limit=0.1))
    assert (outcome.levels["kind"], outcome.suppressed) == (0, 1)
    assert set(outcome.released["kind"]) == {"deposit"}
    assert 9 not in outcome.individuals


@pytest.mark.parametrize("rows", [200, 1_000])
def test_it_hands_back_rows_in_a_secret_order_aligned_with_customers_and_ledger_positions(rows):
    frame = pd.DataFrame({"age": np.arange(rows) % 50 + 20, "kind": pd.Categorical(["deposit"] * rows),
                          INDIVIDUAL: np.arange(rows) % 40})
    outcome = anonymize(frame, _spec(suppression_limit=0.02))
    assert sorted(outcome.positions.tolist()) == list(range(rows))
    assert abs(rank_correlation(outcome.positions)) < 0.1
    assert (outcome.individuals == frame[INDIVIDUAL].to_numpy()[outcome.positions]).all()


# --- local recoding (Mondrian) ---------------------------------------------------------------------

DATES = DateBounds(datetime.date(2025, 1, 1), datetime.date(2025, 3, 31))
LOCAL_QIS = (
    QuasiIdentifierSpec(column="age", builder="intervals", params={"bin": 1, "widths": [5, 10]}),
    QuasiIdentifierSpec(column="gender", builder="categories", params={"levels": [{"*": "*"}]}),
    QuasiIdentifierSpec(column="transaction_date", builder="date", params={"levels": ["month"]}),
    QuasiIdentifierSpec(column="amount", builder="intervals", params={"bin": 10, "widths": [50, 250]}),
)
KINDS = {"age": "numeric", "amount": "numeric", "transaction_date": "date", "gender": "category", "kind": "category"}


def _local_spec(**changes) -> PolicySpec:
    spec = PolicySpec(name="Local", source="transactions",
                      columns=("age", "gender", "transaction_date", "amount", "kind"), quasi_identifiers=LOCAL_QIS,
                      k=5, suppression_limit=0.02, metric="loss", recoding="local")
    return dataclasses.replace(spec, **changes)


def _ledger(rows: int = 2_000, customers: int = 60, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    customer = rng.integers(0, customers, rows)
    days = np.datetime64("2025-01-01") + rng.integers(0, 90, rows).astype("timedelta64[D]")
    return pd.DataFrame({
        "age": rng.integers(18, 90, customers)[customer], "gender": pd.Categorical(rng.choice(["F", "M"], customers)[
            customer]), "transaction_date": pd.to_datetime(days), "amount": rng.normal(0, 300, rows).round(2),
        "kind": pd.Categorical(rng.choice(["deposit", "withdrawal"], rows)), INDIVIDUAL: customer})


def test_it_recodes_locally_with_k_customers_in_every_class_and_labels_that_cover_the_raw_values():
    frame = _ledger()
    outcome = anonymize(frame, _local_spec(), dates=DATES)
    assert outcome.recoding == "local" and set(outcome.levels) == {"age", "gender"}
    assert outcome.information_loss is None
    released = outcome.released
    classes = released.groupby(list(released.columns), observed=True).ngroup().to_numpy()
    assert customers_per_class(classes, outcome.individuals).min() >= 5
    raw = frame.iloc[outcome.positions]
    for column, kind in KINDS.items():
        labels = released[column].astype(str).to_numpy()
        assert covers(kind, labels, raw[column].to_numpy(), column=column).all(), column
    assert set(outcome.label_stats) == {"age", "gender", "transaction_date", "amount", "kind"}
    assert outcome.label_stats["age"]["unit"] == "years" and outcome.label_stats["amount"]["unit"] == "EUR"


def _by_ledger_position(outcome) -> pd.DataFrame:
    """Return the released rows as text with their customer, in ledger order (the file order is secret)."""
    rows = outcome.released.astype(str).assign(customer=outcome.individuals, position=outcome.positions)
    return rows.sort_values("position").reset_index(drop=True)


def test_a_search_that_consumes_the_frame_releases_the_same_rows_and_leaves_the_frame_its_length():
    kept, consumed = _ledger(), _ledger()
    expected = anonymize(kept, _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0})
    outcome = anonymize(consumed, _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0}, consume=True)
    pd.testing.assert_frame_equal(_by_ledger_position(outcome), _by_ledger_position(expected))
    assert (outcome.risk, outcome.label_stats, outcome.suppressed) == (
        expected.risk, expected.label_stats, expected.suppressed)
    assert len(consumed) == len(kept) and list(kept.columns) == list(_ledger().columns)
    assert list(consumed.columns) == []  # every column went once the engine's table was built


def test_it_cuts_numbers_on_the_hierarchy_bin_inside_the_catalog_scale():
    outcome = anonymize(_ledger(), _local_spec(), dates=DATES)
    ladder = set(round_ladder(-5_000, 5_000, 10))  # public round bounds (multiples of the bin)
    for label in outcome.released["amount"].astype(str).unique():
        low, high = (float(x) for x in label.strip("[)]").split(", "))
        assert -5_000 <= low < high <= 5_000
        assert all(bound in ladder or bound % 10 == 5 for bound in (low, high)), label  # cuts fall between bins


def test_it_suppresses_rows_outside_the_public_domain_within_the_limit_and_refuses_more():
    frame = _ledger()
    frame.loc[:9, "amount"] = 250_000.0  # ten rows beyond the catalog's amount scale
    outcome = anonymize(frame, _local_spec(), dates=DATES)
    assert outcome.suppressed == 10 and not set(range(10)) & set(outcome.positions.tolist())
    with pytest.raises(ReleaseUnsatisfiable) as caught:
        anonymize(frame, _local_spec(suppression_limit=0.001), dates=DATES)
    assert str(caught.value) == (
        "The policy cannot be satisfied: 10 row(s) have a value of amount outside its public domain (the catalog's "
        "bounds), and at most 2 may be suppressed (k=5 counted over customers, suppression limit 0.1%).")


def test_it_gives_full_domain_recoding_the_results_it_always_had():
    frame = _ledger()
    spec = _local_spec(recoding="full_domain")
    outcome = anonymize(frame, spec, dates=DATES)
    assert outcome.recoding == "full_domain" and outcome.label_stats == {}
    assert set(outcome.levels) == {"age", "gender", "transaction_date", "amount", "kind"}
    assert outcome.information_loss is not None and outcome.nodes_checked > 0


# --- person columns at the version's fixed levels (issue 9) ----------------------------------------

PERSON = ("age", "gender")


def _person_labels(outcome) -> pd.DataFrame:
    """Return each released row's customer and person labels."""
    return pd.DataFrame({INDIVIDUAL: outcome.individuals, **{name: outcome.released[name].astype(str).to_numpy()
                                                             for name in PERSON}})


def _cell(frame: pd.DataFrame, levels: dict[str, int]) -> pd.DataFrame:
    """Return each customer's cell at age level 2 (10-year bands) and gender level 0 (the value), by hand."""
    assert levels == {"age": 2, "gender": 0}
    people = frame.drop_duplicates(INDIVIDUAL)
    low = people["age"].to_numpy() // 10 * 10
    return pd.DataFrame({INDIVIDUAL: people[INDIVIDUAL].to_numpy(), "age": [f"[{a}, {a + 10})" for a in low],
                         "gender": people["gender"].astype(str).to_numpy()})


def _chain_steps(cells: pd.DataFrame) -> list[pd.DataFrame]:
    """Return each customer's labels at every step of the chain of {age: 2, gender: 0} (widths 5 and 10: no
    20-year band, so the increment keeps the levels): the cell, then age `*`, then `*` in both."""
    return [cells, cells.assign(age="*"), cells.assign(age="*", gender="*")]


def test_it_labels_every_customer_with_their_cell_or_a_coarser_step_of_its_chain_in_two_increments():
    levels = {"age": 2, "gender": 0}
    first, second = _ledger(seed=3), _ledger(seed=3)
    second["amount"] = np.random.default_rng(9).normal(0, 300, len(second)).round(2)  # another night's entries
    for night in (first, second):
        outcome = anonymize(night, _local_spec(), dates=DATES, person_levels=levels)
        assert outcome.levels == levels
        labels = _person_labels(outcome)
        on_chain = np.zeros(len(labels), dtype=bool)
        for step in _chain_steps(_cell(night, levels)):
            merged = labels.merge(step, on=INDIVIDUAL, how="left", suffixes=("", "_step"))
            on_chain |= np.logical_and.reduce([merged[name] == merged[f"{name}_step"] for name in PERSON])
        assert on_chain.all()
        in_cell = labels.merge(_cell(night, levels), on=INDIVIDUAL, suffixes=("", "_cell"))
        assert (in_cell["age"] == in_cell["age_cell"]).any()
        released = outcome.released
        classes = released.groupby(list(released.columns), observed=True).ngroup().to_numpy()
        assert customers_per_class(classes, outcome.individuals).min() >= 5


def test_rows_of_a_cell_below_k_climb_to_the_first_coarser_labels_that_hold_k_customers():
    frame = _ledger()
    frame.loc[frame[INDIVIDUAL] == 0, "age"] = 119  # one customer alone in the top age band
    gender = str(frame.loc[frame[INDIVIDUAL] == 0, "gender"].iloc[0])
    outcome = anonymize(frame, _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0})
    labels = _person_labels(outcome)
    alone = labels[outcome.individuals == 0]
    assert len(alone) and (alone[list(PERSON)] == ["*", gender]).all(axis=None)  # gender kept: age `*` holds k
    climbed = labels[(labels["age"] == "*") & (labels["gender"] == gender)]
    assert climbed[INDIVIDUAL].nunique() >= 5


def test_it_chooses_person_levels_by_flash_on_the_customers_when_the_version_has_none():
    outcome = anonymize(_ledger(), _local_spec(), dates=DATES)
    assert outcome.levels == {"age": 3, "gender": 0}  # 60 customers: 10-year bands by gender hold fewer than k
    assert set(outcome.released["age"].astype(str)) == {"*"}


def test_it_lends_customers_of_a_large_cell_under_the_same_coarser_labels_so_that_a_climbing_cell_is_released():
    frame = _ledger(customers=30)
    frame["age"], frame["gender"] = 30, pd.Categorical(["F"] * len(frame))  # one cell of 30 customers
    frame.loc[frame[INDIVIDUAL] == 0, "age"] = 80  # one customer alone in their cell
    outcome = anonymize(frame, _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0})
    labels = _person_labels(outcome)
    climbed = (labels[list(PERSON)] == ["*", "F"]).all(axis=1)
    assert climbed[labels[INDIVIDUAL] == 0].all() and 0 in outcome.individuals
    assert labels[INDIVIDUAL][climbed].nunique() == 5  # four lent, the cell keeps 26
    assert (labels[~climbed][list(PERSON)] == ["[30, 40)", "F"]).all(axis=None)
    assert outcome.suppressed == 0


def _two_small_cells(customers: int = 36) -> pd.DataFrame:
    """Customers 0-29 in one cell ([30, 40), F); 30-32 in ([50, 60), F) and 33-35 in ([50, 60), M), 3 each."""
    frame = _ledger(customers=customers)
    who = frame[INDIVIDUAL].to_numpy()
    frame["age"] = np.where(who < 30, 30, 50)
    frame["gender"] = pd.Categorical(np.where((who >= 33), "M", "F"))
    return frame


def test_due_rows_of_cells_below_k_climb_age_first_and_gender_last():
    outcome = anonymize(_two_small_cells(), _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0})
    labels = _person_labels(outcome)
    women, men = labels[labels[INDIVIDUAL].between(30, 32)], labels[labels[INDIVIDUAL] >= 33]
    assert (women[list(PERSON)] == ["*", "F"]).all(axis=None)  # with two customers lent by the F cell
    assert (men[list(PERSON)] == "*").all(axis=None)  # no M cell to lend: on to `*`, with two more lent
    assert women[INDIVIDUAL].nunique() == 3 and men[INDIVIDUAL].nunique() == 3
    kept = labels[(labels[INDIVIDUAL] < 30) & (labels["age"] != "*")]
    assert (kept[list(PERSON)] == ["[30, 40)", "F"]).all(axis=None) and kept[INDIVIDUAL].nunique() == 26
    assert outcome.suppressed == 0


def test_rows_of_cells_below_k_that_can_wait_are_left_for_a_later_night():
    frame = _two_small_cells()
    outcome = anonymize(frame, _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0},
                        due=np.zeros(len(frame), dtype=bool))
    assert set(outcome.individuals.tolist()) == set(range(30))
    assert outcome.suppressed == int((frame[INDIVIDUAL] >= 30).sum())


def test_a_cell_below_twice_k_customers_waits_unless_one_of_its_rows_cannot():
    frame = _ledger(customers=6)
    frame["age"], frame["gender"] = 30, pd.Categorical(["F"] * len(frame))
    levels = {"age": 2, "gender": 0}
    waiting = anonymize(frame, _local_spec(), dates=DATES, person_levels=levels, due=np.zeros(len(frame), dtype=bool))
    assert len(waiting.released) == 0 and waiting.suppressed == len(frame)
    one_due = np.zeros(len(frame), dtype=bool)
    one_due[0] = True
    ready = anonymize(frame, _local_spec(), dates=DATES, person_levels=levels, due=one_due)
    assert ready.suppressed == 0 and (_person_labels(ready)[list(PERSON)] == ["[30, 40)", "F"]).all(axis=None)


def test_an_increment_labels_ages_in_bands_of_twenty_years_when_the_version_has_finer_ones():
    wider = tuple(dataclasses.replace(qi, params={"bin": 1, "widths": [5, 10, 20]}) if qi.column == "age" else qi
                  for qi in LOCAL_QIS)
    spec = dataclasses.replace(_local_spec(), quasi_identifiers=wider)
    outcome = anonymize(_ledger(customers=200), spec, dates=DATES, person_levels={"age": 2, "gender": 0})
    assert outcome.levels == {"age": 3, "gender": 0}
    bands = {label for label in outcome.released["age"].astype(str)} - {"*"}
    assert bands and all(int(label.split(", ")[1].rstrip(")")) - int(label[1:].split(",")[0]) == 20
                         for label in bands)


def test_an_increment_keeps_the_version_levels_when_the_hierarchy_has_no_wider_band_below_star():
    outcome = anonymize(_ledger(customers=200), _local_spec(), dates=DATES, person_levels={"age": 2, "gender": 0})
    assert outcome.levels == {"age": 2, "gender": 0}  # widths 5 and 10 only: never raised to `*`


def test_an_increments_climbing_chain_is_the_tail_of_its_versions_and_every_step_is_coarser():
    wider = tuple(dataclasses.replace(qi, params={"bin": 1, "widths": [5, 10, 20]}) if qi.column == "age" else qi
                  for qi in LOCAL_QIS)
    spec = dataclasses.replace(_local_spec(), quasi_identifiers=wider)
    frame = _ledger(customers=200)
    hierarchies = {qi.column: build_hierarchy(column=qi.column, series=frame[qi.column], builder=qi.builder,
                                              params=qi.params) for qi in wider if qi.column in PERSON}
    version = {"age": 1, "gender": 0}
    chain = climb_chain(version, hierarchies, spec)
    increment = increment_levels(version, hierarchies, spec)
    assert chain[0] == increment == {"age": 3, "gender": 0}  # 20-year bands first
    assert climb_chain(increment, hierarchies, spec) == chain[1:]
    assert chain[1:] == [{"age": 4, "gender": 0}, {"age": 4, "gender": 1}]  # age to `*`, then gender
    for finer, coarser in zip([version, *chain[:-1]], chain, strict=True):
        assert all(coarser[name] >= finer[name] for name in PERSON) and coarser != finer
