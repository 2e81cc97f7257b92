"""The query workload, its error on releases and column survival (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymization.engine import Hierarchy, KAnonymity, anonymize
from anonymization.engine.coverage import CategoricalDomain, DateDomain, NumericDomain, day_number
from anonymization.engine.mondrian import NumericQI, mondrian
from anonymization.engine.utility import (
    ColumnSurvival,
    MonthColumn,
    PrefixColumn,
    Query,
    RangeColumn,
    RangePredicate,
    ValueColumn,
    ValuesPredicate,
    column_survival,
    domains_of,
    workload_answer,
    workload_error,
    workload_generate,
)

AGE = NumericDomain(0, 100)
DATES = DateDomain("2026-01-01", "2026-12-31")
ZIPS = CategoricalDomain(("1234", "1299", "5555"))
KIND = Hierarchy.from_mapping({"deposit": ["in"], "withdrawal": ["out"], "card": ["out"]})


def ledger(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    return pd.DataFrame({
        "age": rng.integers(18, 40, rows),
        "gender": rng.choice(["F", "M"], rows, p=[0.8, 0.2]),
        "zip": rng.choice(ZIPS.values, rows, p=[0.7, 0.25, 0.05]),
        "date": stamps.strftime("%Y-%m-%d"),
        "kind": rng.choice(["deposit", "withdrawal", "card"], rows),
        "amount": rng.gamma(2, 40, rows).round(2),
    })


def columns() -> dict[str, object]:
    return {
        "age": RangeColumn(AGE, step=5, widths=(10, 20)),
        "gender": ValueColumn(CategoricalDomain(("F", "M"))),
        "zip": PrefixColumn(ZIPS, digits=1),
        "date": MonthColumn(DATES),
        "kind": ValueColumn(CategoricalDomain.from_hierarchy(KIND)),
        "amount": RangeColumn(NumericDomain(0, 1000), step=10, widths=(50, 100, 200)),
    }


def domains() -> dict[str, object]:
    return domains_of(columns())


def generate(table: pd.DataFrame, seed: int = 0, n: int = 60, min_rows: int = 20) -> list[Query]:
    return workload_generate(table, columns(), n_queries=n, seed=seed, min_rows=min_rows, measure="amount",
                             measure_domain=NumericDomain(0, 1000))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_it_generates_a_deterministic_workload_matching_min_rows(seed: int, min_rows: int) -> None:
    table = ledger()
    queries = generate(table, seed, n=20, min_rows=min_rows)
    assert queries == generate(table, seed, n=20, min_rows=min_rows)
    for query in queries:
        assert 2 <= len(query.predicates) <= 4
        assert len({p.column for p in query.predicates}) == len(query.predicates)
        assert _matching_rows(table, query) >= min_rows


def _matching_rows(table: pd.DataFrame, query: Query) -> int:
    """Count raw rows with plain boolean masks (independent of the uniform-spread estimator)."""
    mask = np.ones(len(table), dtype=bool)
    for p in query.predicates:
        if isinstance(p, RangePredicate):
            mask &= (table[p.column] >= p.low).to_numpy() & (table[p.column] < p.high).to_numpy()
        elif isinstance(p, ValuesPredicate):
            mask &= table[p.column].astype(str).isin(p.values).to_numpy()
        else:
            day = np.array([day_number(d) for d in table[p.column]])
            mask &= (day >= p.first) & (day <= p.last)
    return int(mask.sum())


def test_it_gives_different_workloads_for_different_seeds_and_uses_both_aggregates() -> None:
    table = ledger()
    first, second = generate(table, 1), generate(table, 2)
    assert first != second
    assert {q.aggregate for q in first} == {"count", "sum"}
    assert first[0].describe().startswith(("COUNT(*) WHERE ", "SUM(amount) WHERE "))


def test_it_answers_the_raw_table_exactly() -> None:
    table = ledger()
    queries = generate(table)
    error = workload_error(table, table, queries, domains())
    assert error.mean == 0 and error.median == 0
    for item in error.queries:
        if item.query.measure is None:
            assert item.true == _matching_rows(table, item.query)


def test_it_gives_an_error_near_one_when_everything_is_starred() -> None:
    table = ledger()
    queries = [q for q in generate(table, n=80) if q.measure is None]
    starred = table.assign(**{c: "*" for c in columns()})
    error = workload_error(table, starred, queries, domains())
    # ages live in 18-39 of a 0-100 domain, 80% women, 70% one postal code: spreading every row
    # over the whole domains estimates far too little for the queries that match many rows
    assert 0.7 <= error.median <= 1.0


def test_it_estimates_a_hand_made_release() -> None:
    raw = pd.DataFrame({"age": [22, 27, 35, 38, 45, 52], "gender": ["F", "F", "M", "M", "F", "M"],
                        "amount": [10.0, 30.0, 50.0, 70.0, 90.0, 110.0]})
    released = pd.DataFrame({"age": ["[20, 40)"] * 4 + ["[40, 60)"] * 2, "gender": ["*"] * 6,
                             "amount": ["[0, 100)"] * 5 + ["[100, 200)"]})
    spaces = {"age": AGE, "gender": CategoricalDomain(("F", "M")), "amount": NumericDomain(0, 200)}
    summed = Query((RangePredicate("age", 30, 50), RangePredicate("amount", 50, 150)), "amount")
    counted = Query((ValuesPredicate("gender", frozenset({"F"}), "= 'F'"), RangePredicate("age", 20, 30)))
    # SUM: true = 50 + 70 + 90 = 210.
    #   rows 1-4: age [20,40) meets [30,50) on 10 of 20 -> 0.5; amount [0,100) meets [50,150) on
    #   [50,100): share 0.5, midpoint 75 -> 37.5; 0.5 * 37.5 = 18.75 each, 75 for four rows;
    #   row 5: age [40,60) -> 0.5; amount as above 37.5 -> 18.75;
    #   row 6: age 0.5; amount [100,200) meets on [100,150): 0.5 * 125 = 62.5 -> 31.25.
    #   estimate = 75 + 18.75 + 31.25 = 125; error = |125 - 210| / max(210, 0.001 * 360) = 85 / 210.
    # COUNT: true = 2 (22 F, 27 F); rows 1-4: age 10/20 * gender 1/2 = 0.25 each -> 1.0;
    #   error = |1 - 2| / max(2, 0.001 * 6) = 0.5.
    assert list(workload_answer(released, [summed, counted], spaces)) == [125.0, 1.0]
    error = workload_error(raw, released, [summed, counted], spaces)
    assert [q.true for q in error.queries] == [210.0, 2.0]
    assert error.queries[0].error == pytest.approx(85 / 210)
    assert error.queries[1].error == 0.5
    assert error.mean == pytest.approx((85 / 210 + 0.5) / 2) == error.median


def test_it_uses_a_floor_of_a_thousandth_of_the_total_for_tiny_answers() -> None:
    raw = pd.DataFrame({"age": list(range(0, 100)), "gender": ["F"] * 100})
    released = raw.assign(age="*")
    spaces = {"age": AGE, "gender": CategoricalDomain(("F", "M"))}
    query = Query((RangePredicate("age", 200, 210), ValuesPredicate("gender", frozenset({"F"}), "= 'F'")))
    assert workload_error(raw, released, [query], spaces).median == 0.0


def test_it_measures_mondrian_and_flash_releases() -> None:
    table = ledger(rows=800)
    queries = generate(table, n=40)
    local = mondrian(table, {"age": NumericQI(0, 100, grain=5), "amount": NumericQI(0, 1000, grain=1)}, 5)
    hierarchies = {"age": Hierarchy.intervals(range(100), widths=[5, 20]),
                   "zip": Hierarchy.masking(ZIPS.values),
                   "date": Hierarchy.dates(sorted(set(table["date"])), levels=("month", "quarter", "year"))}
    full = anonymize(table, hierarchies, [KAnonymity(5)], suppression_limit=0.0)
    local_error = workload_error(table, local.data, queries, domains())
    full_error = workload_error(table, full.data, queries, domains())
    assert 0 < local_error.median < 1 and 0 <= full_error.median < 1


def test_it_reports_column_survival() -> None:
    released = pd.DataFrame({"age": ["[20, 40)", "[0, 100)", "37", "[20, 40)"], "gender": ["*"] * 4,
                             "zip": ["12**", "12**", "12**", "12**"]})
    spaces = {"age": AGE, "gender": CategoricalDomain(("F", "M")), "zip": ZIPS}
    assert column_survival(released, spaces) == {
        "age": ColumnSurvival(0.75, 3, False, False),
        "gender": ColumnSurvival(0.0, 1, True, True),
        "zip": ColumnSurvival(1.0, 1, False, True),
    }


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: workload_generate(t, {"agee": columns()["age"], "age": columns()["age"]}),
     "unknown workload column(s): 'agee'"),
    (lambda t: workload_generate(t, {"age": columns()["age"]}), "a workload needs at least 2 columns, got 1"),
    (lambda t: workload_generate(t, {"age": columns()["age"], "kind": "x"}),
     "workload column 'kind': expected RangeColumn, MonthColumn, ValueColumn or PrefixColumn, got str"),
    (lambda t: workload_generate(t, columns(), measure="amount"), "measure 'amount' needs measure_domain"),
    (lambda t: workload_generate(t, columns(), n_queries=1, min_rows=10_000, max_attempts=5),
     "query 1: no draw matched at least 10000 rows in 5 attempts"),
    (lambda t: workload_error(t, t, [], domains()), "the workload is empty"),
    (lambda t: workload_answer(t, generate(t, n=1), {}), None),
    (lambda t: RangeColumn(AGE, step=0, widths=(10,)),
     "range column needs step > 0 and widths in (0, 100], got step 0, widths [10]"),
])
def test_it_rejects_bad_workload_input(call, message) -> None:
    table = ledger()
    with pytest.raises(ValueError) as raised:
        call(table)
    if message is not None:
        assert str(raised.value) == message
    else:
        assert str(raised.value).startswith("no domain for column(s): ")
