"""Mondrian local recoding: k over distinct individuals, labels, coverage, errors (no database)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonymization.engine import Hierarchy
from anonymization.engine.coverage import CoverageResolver, DayRange, Interval, ValueSet, day_number
from anonymization.engine.mondrian import DateQI, HierarchyQI, NumericQI, mondrian, round_ladder

ZIPS = ["10115", "10117", "20095", "20097", "80331"]
GENDER = Hierarchy([["F", "*"], ["M", "*"]])


def qis(rounded: bool = False) -> dict[str, object]:
    return {
        "age": NumericQI(0, 100, grain=5),
        "gender": HierarchyQI(GENDER),
        "zip": HierarchyQI(Hierarchy.masking(ZIPS)),
        "date": DateQI("2025-01-01", "2025-12-31", round_to="month" if rounded else None),
        "amount": NumericQI(0, 1000, closed=True, round_bounds=round_ladder(0, 1000, 10) if rounded else ()),
    }


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[pd.DataFrame, int, str | None]:
    people = draw(st.integers(1, 12))
    rows = []
    for person in range(people):
        age, gender, zip_code = draw(st.integers(0, 99)), draw(st.sampled_from("FM")), draw(st.sampled_from(ZIPS))
        for _ in range(draw(st.integers(1, 5))):
            day = draw(st.dates(pd.Timestamp("2025-01-01").date(), pd.Timestamp("2025-12-31").date()))
            amount = draw(st.sampled_from([0.0, 1000.0]) | st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 2)))
            rows.append((f"c{person}", age, gender, zip_code, day.isoformat(), amount))
    table = pd.DataFrame(rows, columns=["customer", "age", "gender", "zip", "date", "amount"])
    table.index = pd.RangeIndex(100, 100 + len(table))
    return table, draw(st.integers(1, 4)), draw(st.sampled_from(["customer", None]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(), st.booleans(), st.sampled_from([None, {"amount": 16.0}, {"date": 3.0, "zip": 0.5}]))
def test_it_keeps_k_individuals_covers_raw_values_and_is_deterministic(case, rounded, weights) -> None:
    table, k, individual = case
    result = mondrian(table, qis(rounded), k, individual, suppression_limit=1.0, weights=weights)
    again = mondrian(table, qis(rounded), k, individual, suppression_limit=1.0, weights=weights)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert np.array_equal(result.class_ids, again.class_ids)
    assert result.rows_out + result.suppressed_rows == result.rows_in == len(table)
    assert len(result.data) == result.rows_out == len(result.class_ids)
    raw = table.loc[result.data.index]
    people = raw[individual] if individual else pd.Series(raw.index, index=raw.index)
    if len(raw):
        sizes = people.groupby(result.class_ids).nunique()
        assert sizes.min() >= k
        assert result.classes.min_individuals == sizes.min() and result.classes.count == len(sizes)
    _assert_covered(raw, result)


def _assert_covered(raw: pd.DataFrame, result) -> None:
    domains = {c: q.domain for c, q in qis().items() if not isinstance(q, HierarchyQI)}
    whole = {c: d.coverage for c, d in domains.items()}
    for column in qis():
        for value, label in zip(raw[column], result.data[column], strict=True):
            coverage = result.coverage[column][label]
            if column in domains:
                assert CoverageResolver(column, domains[column]).resolve(label) == coverage
            if isinstance(coverage, Interval):
                assert coverage.contains(value)
                assert whole[column].low <= coverage.low and coverage.high <= whole[column].high
                assert coverage.closed <= whole[column].closed or coverage.high < whole[column].high
            elif isinstance(coverage, DayRange):
                assert coverage.contains(day_number(value))
                assert whole[column].first <= coverage.first and coverage.last <= whole[column].last
            else:
                assert isinstance(coverage, ValueSet) and str(value) in coverage.values


def test_it_pulls_number_bounds_in_to_round_numbers_never_to_observed_values() -> None:
    table = pd.DataFrame({"amount": [-430.0, -120.0, -60.0, -40.0, 35.0, 80.0, 1250.0, 1800.0]})
    plain = mondrian(table, {"amount": NumericQI(-5000, 5000, grain=10)}, 2)
    ladder = round_ladder(-5000, 5000, 10)
    rounded = mondrian(table, {"amount": NumericQI(-5000, 5000, grain=10, round_bounds=ladder)}, 2)
    assert list(plain.data["amount"]) == ["[-5000, -90)"] * 2 + ["[-90, -10)"] * 2 + ["[-10, 660)"] * 2 + [
        "[660, 5000)"] * 2
    # the same classes, each bound pulled in to the round number nearest its rows when one lies
    # inside the label: -500 <= -430 and -100 > -120; -90 stays (no round number in (-90, -60]),
    # -20 > -40; 20 <= 35 and 100 > 80; 1000 <= 1250 and 2000 > 1800
    assert list(rounded.data["amount"]) == ["[-500, -100)"] * 2 + ["[-90, -20)"] * 2 + ["[20, 100)"] * 2 + [
        "[1000, 2000)"] * 2
    assert rounded.coverage["amount"]["[1000, 2000)"] == Interval(1000.0, 2000.0)


def test_it_pulls_outer_dates_in_to_month_starts() -> None:
    table = pd.DataFrame({"date": ["2000-03-10", "2000-03-20", "2025-05-02", "2025-05-30"]})
    result = mondrian(table, {"date": DateQI("2000-01-01", "2025-12-31", round_to="month")}, 2)
    # one cut in the middle of the 25 years; each side is pulled in to the months its rows lie in
    assert list(result.data["date"]) == ["2000-03", "2000-03", "2025-05", "2025-05"]


def test_round_ladder_holds_zero_and_one_two_five_steps_of_the_grain_inside_the_domain() -> None:
    assert round_ladder(-500, 1000, 10) == (-500.0, -200.0, -100.0, -50.0, -20.0, -10.0, 0.0, 10.0, 20.0, 50.0,
                                            100.0, 200.0, 500.0, 1000.0)
    assert round_ladder(0, 120, 1) == (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 120.0)


def test_it_cuts_a_weighted_column_before_an_equally_wide_one() -> None:
    # either column can be cut once (two customers each side); both span their whole domain, so
    # unweighted the first given (the date) is cut, and weighted 16 the amount is cut instead
    table = pd.DataFrame({"customer": ["a", "b", "c", "d"], "amount": [1.0, 2.0, 60.0, 70.0],
                          "date": ["2025-01-05", "2025-12-20", "2025-01-06", "2025-12-21"]})
    described = {"date": DateQI("2025-01-01", "2025-12-31"), "amount": NumericQI(0, 1000)}
    plain = mondrian(table, described, 2, "customer")
    weighted = mondrian(table, described, 2, "customer", weights={"amount": 16.0})
    assert set(plain.data["amount"]) == {"[0, 1000)"} and plain.data["date"].nunique() == 2
    assert list(weighted.data["amount"]) == ["[0, 31)", "[0, 31)", "[31, 1000)", "[31, 1000)"]
    assert set(weighted.data["date"]) == {"2025"}


def test_it_cuts_numbers_at_midpoints_never_at_observed_extremes() -> None:
    table = pd.DataFrame({"age": [10, 20, 30, 40]})
    result = mondrian(table, {"age": NumericQI(0, 100)}, 2)
    # one cut: rows 10, 20 | 30, 40 at the midpoint 25; the halves cannot be cut again (k=2)
    assert list(result.data["age"]) == ["[0, 25)", "[0, 25)", "[25, 100)", "[25, 100)"]
    assert result.coverage["age"]["[25, 100)"] == Interval(25.0, 100.0)


def test_it_rounds_cuts_to_the_grain_and_closes_the_last_interval() -> None:
    table = pd.DataFrame({"amount": [1.0, 2.0, 7.0, 9.0, 100.0, 100.0]})
    result = mondrian(table, {"amount": NumericQI(0, 100, closed=True, grain=5)}, 2)
    # 2|7: midpoint 4.5, no multiple of 5 in (2, 4.5] -> the next one, 5; 7|9 has none in (7, 9];
    # then 9|100: midpoint 54.5 -> 50
    assert list(result.data["amount"]) == ["[0, 5)", "[0, 5)", "[5, 50)", "[5, 50)", "[50, 100]", "[50, 100]"]


def test_between_grains_it_cuts_on_odd_multiples_of_half_the_grain_so_round_values_sit_mid_band() -> None:
    # withdrawals of 50, 40 and 20 EUR, three each: on the grain's multiples the 40s get [-40, -30) and sit
    # on its lower bound; between grains they get [-45, -35), whose midpoint is their value
    table = pd.DataFrame({"amount": [-50.0] * 3 + [-40.0] * 3 + [-20.0] * 3})
    on_grid = mondrian(table, {"amount": NumericQI(-100, 100, grain=10)}, 3)
    between = mondrian(table, {"amount": NumericQI(-100, 100, grain=10, between_grains=True)}, 3)
    assert list(on_grid.data["amount"]) == ["[-100, -40)"] * 3 + ["[-40, -30)"] * 3 + ["[-30, 100)"] * 3
    assert list(between.data["amount"]) == ["[-100, -45)"] * 3 + ["[-45, -35)"] * 3 + ["[-35, 100)"] * 3


def test_it_counts_k_over_distinct_individuals() -> None:
    # customer a has 4 rows with small amounts: by rows k=2 would cut them apart, by customers it cannot
    table = pd.DataFrame({"customer": ["a", "a", "a", "a", "b", "c"], "amount": [1, 2, 3, 4, 50, 60]})
    by_rows = mondrian(table, {"amount": NumericQI(0, 100)}, 2)
    by_people = mondrian(table, {"amount": NumericQI(0, 100)}, 2, "customer")
    # by rows: cut 3|4 at 3.5 (the row median), then no side keeps 2 rows
    assert list(by_rows.data["amount"]) == ["[0, 3.5)"] * 3 + ["[3.5, 100)"] * 3
    assert by_people.classes.count == 1 and set(by_people.data["amount"]) == {"[0, 100)"}
    assert by_people.classes.min_individuals == 3


def test_it_lets_an_individual_sit_in_several_classes() -> None:
    table = pd.DataFrame({"customer": ["a", "b"] * 4, "amount": [1, 2, 3, 4, 50, 60, 70, 80]})
    result = mondrian(table, {"amount": NumericQI(0, 100)}, 2, "customer")
    # sorted 1a 2b 3a 4b | 50a 60b 70a 80b: every cut between pairs keeps both customers on each side
    assert list(result.data["amount"]) == ["[0, 2.5)", "[0, 2.5)", "[2.5, 27)", "[2.5, 27)",
                                           "[27, 65)", "[27, 65)", "[65, 100)", "[65, 100)"]
    assert result.classes == type(result.classes)(4, 2, 2.0, 2)


def test_it_names_calendar_months_quarters_and_years() -> None:
    days = ["2025-01-05", "2025-02-10", "2025-03-15", "2025-04-20", "2025-05-05", "2025-06-30"]
    table = pd.DataFrame({"date": days})
    result = mondrian(table, {"date": DateQI("2025-01-01", "2025-12-31", grain="month")}, 3)
    assert list(result.data["date"]) == ["2025-Q1"] * 3 + ["2025-04-01..2025-12-31"] * 3
    whole = mondrian(table, {"date": DateQI("2025-01-01", "2025-12-31", grain="quarter")}, 6)
    assert set(whole.data["date"]) == {"2025"}
    months = mondrian(table.iloc[:2], {"date": DateQI("2025-01-01", "2025-02-28", grain="month")}, 1)
    assert list(months.data["date"]) == ["2025-01", "2025-02"]


def test_it_accepts_datetime_columns() -> None:
    table = pd.DataFrame({"date": pd.to_datetime(["2025-01-05", "2025-01-06", "2025-07-01", "2025-07-02"])})
    result = mondrian(table, {"date": DateQI("2025-01-01", "2025-12-31")}, 2)
    assert list(result.data["date"]) == ["2025-01-01..2025-04-03"] * 2 + ["2025-04-04..2025-12-31"] * 2


def test_it_splits_hierarchy_nodes_only_when_every_child_keeps_k() -> None:
    table = pd.DataFrame({"zip": ["10115", "10117", "20095", "20097", "20097"]})
    result = mondrian(table, {"zip": Hierarchy.masking(ZIPS)}, 2)
    # ***** -> 1****, 2**** (2 and 3 rows); 1**** -> 101** (one child) -> 1011* -> stop (children of 1 row)
    assert list(result.data["zip"]) == ["1011*", "1011*", "2009*", "2009*", "2009*"]
    assert result.coverage["zip"]["2009*"] == ValueSet(frozenset({"20095", "20097"}))
    strict = mondrian(table, {"zip": Hierarchy.masking(ZIPS)}, 3)
    assert set(strict.data["zip"]) == {"*****"}


def test_it_keeps_the_input_index_and_other_columns() -> None:
    table = pd.DataFrame({"age": [30, 31, 60, 61], "note": list("wxyz")}, index=[7, 3, 9, 1])
    result = mondrian(table, {"age": NumericQI(0, 100)}, 2)
    assert list(result.data.index) == [7, 3, 9, 1]
    assert list(result.data["note"]) == list("wxyz")
    assert list(result.class_ids) == [0, 0, 1, 1]


def test_it_suppresses_everything_when_allowed_and_too_few_individuals() -> None:
    table = pd.DataFrame({"customer": ["a", "a", "b"], "age": [30, 40, 50]})
    result = mondrian(table, {"age": NumericQI(0, 100)}, 3, "customer", suppression_limit=1.0)
    assert result.rows_out == 0 and result.suppressed_rows == 3 and result.classes.count == 0
    with pytest.raises(ValueError) as raised:
        mondrian(table, {"age": NumericQI(0, 100)}, 3, "customer", suppression_limit=0.5)
    assert str(raised.value) == ("2 distinct individual(s), fewer than k=3: all 3 rows would be suppressed, "
                                 "suppression_limit 0.5 allows 1")


def test_it_suppresses_rows_with_missing_values_within_the_limit() -> None:
    table = pd.DataFrame({"age": [30, None, 50, 60]})
    result = mondrian(table, {"age": NumericQI(0, 100)}, 1, suppression_limit=0.25)
    assert list(result.data.index) == [0, 2, 3] and result.suppressed_rows == 1
    with pytest.raises(ValueError) as raised:
        mondrian(table, {"age": NumericQI(0, 100)}, 1)
    assert str(raised.value) == ("column 'age' has missing values: 1 row(s) would be suppressed, "
                                 "suppression_limit 0.0 allows 0")


@pytest.mark.parametrize(("table", "spec", "k", "individual", "message"), [
    (pd.DataFrame({"age": [1]}), {"agee": NumericQI(0, 100)}, 1, None, "unknown quasi-identifier column(s): 'agee'"),
    (pd.DataFrame({"age": [1]}), {"age": NumericQI(0, 100)}, 0, None, "k must be a positive integer, got 0"),
    (pd.DataFrame({"age": [1]}), {"age": NumericQI(0, 100)}, 1, "who", "unknown individual id column: 'who'"),
    (pd.DataFrame({"age": [1, 130]}), {"age": NumericQI(0, 120)}, 1, None,
     "column 'age': value 130 is outside the domain [0, 120)"),
    (pd.DataFrame({"age": [-2.5]}), {"age": NumericQI(0, 120)}, 1, None,
     "column 'age': value -2.5 is outside the domain [0, 120)"),
    (pd.DataFrame({"age": [120]}), {"age": NumericQI(0, 120)}, 1, None,
     "column 'age': value 120 is outside the domain [0, 120)"),
    (pd.DataFrame({"age": ["x"]}), {"age": NumericQI(0, 120)}, 1, None, "column 'age': value 'x' is not a number"),
    (pd.DataFrame({"d": ["2024-12-31"]}), {"d": DateQI("2025-01-01", "2025-12-31")}, 1, None,
     "column 'd': value 2024-12-31 is outside the domain 2025-01-01..2025-12-31"),
    (pd.DataFrame({"d": ["31/12/2025"]}), {"d": DateQI("2025-01-01", "2025-12-31")}, 1, None,
     "column 'd': value '31/12/2025' is not an ISO date (YYYY-MM-DD)"),
    (pd.DataFrame({"g": ["X"]}), {"g": GENDER}, 1, None, "column 'g': value 'X' is not in the hierarchy"),
    (pd.DataFrame({"g": ["F"]}), {"g": HierarchyQI(["F", "*"])}, 1, None,
     "quasi-identifier 'g': hierarchy must be a Hierarchy, got list"),
    (pd.DataFrame({"g": ["F"]}), {"g": {"F": "*"}}, 1, None,
     "quasi-identifier 'g': expected NumericQI, DateQI, HierarchyQI or Hierarchy, got dict"),
    (pd.DataFrame({"g": ["F"]}), {"g": Hierarchy([["F", "f"], ["M", "m"]])}, 1, None,
     "quasi-identifier 'g': hierarchy must have a single top value, got 2 ('f', 'm'...)"),
    (pd.DataFrame({"g": ["a"]}), {"g": Hierarchy([["a", "a", "*"], ["b", "a", "*"]])}, 1, None,
     "quasi-identifier 'g': hierarchy label 'a' covers different values at levels 0, 1"),
    (pd.DataFrame({"age": [1]}), {"age": NumericQI(0, 100)}, 1, None, None),
])
def test_it_rejects_bad_input_with_exact_messages(table, spec, k, individual, message) -> None:
    if message is None:
        assert mondrian(table, spec, k, individual).rows_out == 1
        return
    with pytest.raises(ValueError) as raised:
        mondrian(table, spec, k, individual)
    assert str(raised.value) == message


@pytest.mark.parametrize(("make", "message"), [
    (lambda: NumericQI(5, 5), "numeric domain needs finite low < high, got [5, 5]"),
    (lambda: NumericQI(0, 10, grain=0), "grain must be a positive number, got 0"),
    (lambda: NumericQI(0, 10, between_grains=True), "between_grains needs a grain"),
    (lambda: DateQI("2025-01-01", "2025-12-31", grain="week"),
     "grain must be one of day, month, quarter, year, got 'week'"),
    (lambda: DateQI("2025-02-01", "2025-01-01"), "date domain needs first <= last, got 2025-02-01..2025-01-01"),
    (lambda: NumericQI(0, 10, round_bounds=(0.0, 20.0)), "round bounds must lie in the domain [0, 10], got [0.0, 20.0]"),
    (lambda: DateQI("2025-01-01", "2025-12-31", round_to="day"),
     "round_to must be one of month, quarter, year, got 'day'"),
    (lambda: round_ladder(10, 0, 1), "a ladder needs grain > 0 and low < high, got grain 1, [10, 0]"),
    (lambda: mondrian(pd.DataFrame({"a": [1]}), {"a": NumericQI(0, 10)}, 1, weights={"b": 2.0}),
     "weight given for 'b', not a quasi-identifier"),
    (lambda: mondrian(pd.DataFrame({"a": [1]}), {"a": NumericQI(0, 10)}, 1, weights={"a": 0.0}),
     "weights must be positive numbers, got {'a': 0.0}"),
])
def test_it_validates_descriptions(make, message) -> None:
    with pytest.raises(ValueError) as raised:
        make()
    assert str(raised.value) == message


def test_it_rejects_a_suppression_limit_outside_zero_one() -> None:
    with pytest.raises(ValueError) as raised:
        mondrian(pd.DataFrame({"age": [1]}), {"age": NumericQI(0, 100)}, 1, suppression_limit=1.5)
    assert str(raised.value) == "suppression_limit must be a fraction between 0 and 1, got 1.5"


def test_it_partitions_a_larger_ledger_into_small_classes_quickly() -> None:
    rng = np.random.default_rng(5)
    customers = np.repeat(np.arange(300), 50)
    table = pd.DataFrame({
        "customer": customers, "age": rng.integers(18, 90, 300)[customers],
        "gender": rng.choice(["F", "M"], 300)[customers], "zip": rng.choice(ZIPS, 300)[customers],
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, len(customers)), unit="D"),
        "amount": rng.gamma(2, 50, len(customers)).clip(0, 1000).round(2),
    })
    result = mondrian(table, qis(), 5, "customer")
    assert result.classes.min_individuals >= 5 and result.classes.count > 300
    assert result.suppressed_rows == 0


def test_groups_never_share_a_class_and_each_must_hold_k_individuals() -> None:
    table = pd.DataFrame({"customer": [f"c{i}" for i in range(8)], "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    # values interleave across the two groups: without groups one cut at 4.5 would mix them
    groups = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    result = mondrian(table, {"amount": NumericQI(0, 10)}, 2, "customer", groups=groups)
    owner = pd.Series(groups, index=table.index).loc[result.data.index].to_numpy()
    for group in (0, 1):
        assert set(result.class_ids[owner == group]).isdisjoint(result.class_ids[owner != group])
    assert result.classes.min_individuals >= 2 and result.classes.count == 4
    with pytest.raises(ValueError) as raised:
        mondrian(table, {"amount": NumericQI(0, 10)}, 2, "customer", groups=np.array([0, 0, 0, 0, 0, 0, 0, 1]))
    assert str(raised.value) == "group 1 holds 1 individual(s), fewer than k=2"


def test_groups_partitioned_in_batches_get_the_labels_of_one_run(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    customers = rng.integers(0, 400, 3000)
    table = pd.DataFrame({
        "customer": customers, "age": rng.integers(18, 90, 400)[customers],
        "gender": rng.choice(["F", "M"], 400)[customers], "zip": rng.choice(ZIPS, 400)[customers],
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, len(customers)), unit="D"),
        "amount": rng.gamma(2, 50, len(customers)).clip(0, 1000).round(2),
    })
    groups = table["zip"].to_numpy()
    whole = mondrian(table, qis(rounded=True), 5, "customer", groups=groups, weights={"amount": 16.0})
    monkeypatch.setattr(sys.modules["anonymization.engine.mondrian"], "BATCH_ROWS", 500)
    batched = mondrian(table, qis(rounded=True), 5, "customer", groups=groups, weights={"amount": 16.0})
    pd.testing.assert_frame_equal(batched.data.astype(str), whole.data.astype(str))
    assert batched.classes == whole.classes and batched.coverage == whole.coverage
    # the same rows share a class, whatever the numbering
    pairs = pd.DataFrame({"whole": whole.class_ids, "batched": batched.class_ids}).drop_duplicates()
    assert len(pairs) == pairs["whole"].nunique() == pairs["batched"].nunique()


def test_categorical_ordered_columns_give_the_labels_of_their_values() -> None:
    rng = np.random.default_rng(3)
    customers = rng.integers(0, 60, 500)
    table = pd.DataFrame({
        "customer": customers,
        "date": (pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, 500), unit="D")).strftime("%Y-%m-%d"),
        "amount": rng.gamma(2, 50, 500).clip(0, 1000).round(2),
    })
    described = {"date": DateQI("2025-01-01", "2025-12-31", round_to="month"),
                 "amount": NumericQI(0, 1000, closed=True, round_bounds=round_ladder(0, 1000, 10))}
    plain = mondrian(table, described, 4, "customer")
    # categories no row holds, even outside the domains, are ignored
    coded = table.assign(date=pd.Categorical(table["date"], categories=[*sorted(set(table["date"])), "2031-01-01"]),
                         amount=pd.Categorical(table["amount"], categories=[*sorted(set(table["amount"])), 5000.0]))
    result = mondrian(coded, described, 4, "customer")
    pd.testing.assert_frame_equal(result.data.astype(str), plain.data.astype(str))
    assert np.array_equal(result.class_ids, plain.class_ids) and result.coverage == plain.coverage
