"""The one published-label grammar: parsing, covering raw values, resolving against domains."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymization.engine import Hierarchy
from anonymization.engine.coverage import (
    Anything,
    CategoricalDomain,
    ColumnLabels,
    CoverageResolver,
    DateDomain,
    DayRange,
    Interval,
    NumericDomain,
    Prefix,
    ValueSet,
    covers,
    day_number,
    day_numbers,
    label_covers,
    parse_label,
)

AGE = NumericDomain(0, 100)
DATES = DateDomain("2026-01-01", "2026-12-31")
ZIPS = CategoricalDomain(("1234", "1299", "5555"))
KIND = Hierarchy.from_mapping({"deposit": ["in"], "withdrawal": ["out"], "card": ["out"]})


# --- reading a label by column kind --------------------------------------------------------------

@pytest.mark.parametrize(("kind", "label", "value", "expected"), [
    ("numeric", "*", 123, True),
    ("numeric", "[20, 25)", 20, True),
    ("numeric", "[20, 25)", 25, False),
    ("numeric", "[20, 25]", 25, True),
    ("numeric", "(20, 25]", 20, False),
    ("numeric", "(20, 25)", 24.99, True),
    ("numeric", "20-24", 24, True),
    ("numeric", "20-24", 25, False),
    ("numeric", "-50--41", -45, True),
    ("numeric", "[-60, -50)", -50, False),
    ("numeric", "-12.5", -12.5, True),
    ("numeric", "-12.5", -12.4, False),
    ("date", "2026-03-14", "2026-03-14", True),
    ("date", "2026-03-14", "2026-03-15", False),
    ("date", "2026-03", "2026-03-31", True),
    ("date", "2026-02", "2026-03-01", False),
    ("date", "2026-Q1", "2026-03-31", True),
    ("date", "2026-Q2", "2026-03-31", False),
    ("date", "2026", datetime.date(2026, 12, 31), True),
    ("date", "2020-2029", "2029-06-01", True),
    ("date", "2026-03-01..2026-03-14", "2026-03-14", True),
    ("date", "2026-03-01..2026-03-14", "2026-03-15", False),
    ("code", "12**", "1234", True),
    ("code", "12**", "1334", False),
    ("code", "81*", "81675", True),
    ("code", "81675", "81675", True),
    ("code", "81675", "8167", False),
    ("card", "4123**", "412345", True),
    ("card", "visa", "412345", False),
    ("card", "none", "none", True),
    ("category", "F", "F", True),
    ("category", "F", "M", False),
    ("category", "*", "X", True),
])
def test_it_reads_every_label_format(kind: str, label: str, value: object, expected: bool) -> None:
    assert label_covers(kind, label, value, column="c") is expected


def test_it_reads_generalized_categories_through_a_mapping() -> None:
    mapping = {"visa": ["412345", "499999"], "card": ["visa", "mastercard"]}
    assert label_covers("card", "visa", "412345", mapping=mapping)
    assert not label_covers("card", "visa", "512345", mapping=mapping)
    assert label_covers("category", "card", "visa", mapping=mapping)
    assert not label_covers("category", "card", "none", mapping=mapping)


def test_it_parses_labels_into_shapes() -> None:
    assert parse_label("numeric", "[20, 25)") == Interval(20.0, 25.0)
    assert parse_label("date", "2026-Q1") == DayRange(day_number("2026-01-01"), day_number("2026-03-31"))
    assert parse_label("code", "12**") == Prefix("12")
    assert parse_label("card", "visa") == ValueSet(frozenset({"visa"}))


@pytest.mark.parametrize(("kind", "label", "message"), [
    ("numeric", "abc", "column 'amount': cannot read 'abc' as a numeric label"),
    ("numeric", "[25, 20)", "column 'amount': cannot read '[25, 20)' as a numeric label"),
    ("date", "2026-13", "column 'amount': cannot read '2026-13' as a date label"),
    ("date", "2026-02-30", "column 'amount': cannot read '2026-02-30' as a date label"),
    ("date", "2026-03-14..2026-03-01", "column 'amount': cannot read '2026-03-14..2026-03-01' as a date label"),
    ("date", "2026-Q5", "column 'amount': cannot read '2026-Q5' as a date label"),
    ("code", "1*3", "column 'amount': cannot read '1*3' as a code label"),
    ("card", "ab**", "column 'amount': cannot read 'ab**' as a card label"),
    ("colour", "red", "column 'amount': unknown column kind 'colour'; use numeric, date, code, card, category"),
])
def test_it_names_the_column_and_label_it_cannot_read(kind: str, label: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        label_covers(kind, label, "1", column="amount")
    assert str(error.value) == message


@given(st.integers(-1000, 1000), st.integers(1, 100), st.integers(-1200, 1200))
def test_it_covers_a_value_with_an_interval_iff_inside(low: int, width: int, value: int) -> None:
    assert label_covers("numeric", f"[{low}, {low + width})", value) is (low <= value < low + width)
    assert label_covers("numeric", f"{low}-{low + width - 1}", value) is (low <= value < low + width)


@given(st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)),
       st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)))
def test_it_covers_a_day_with_its_month_quarter_and_year_only(label_day: datetime.date, day: datetime.date) -> None:
    quarter = f"{label_day.year}-Q{(label_day.month - 1) // 3 + 1}"
    assert label_covers("date", label_day.strftime("%Y-%m"), day) is ((label_day.year, label_day.month)
                                                                      == (day.year, day.month))
    assert label_covers("date", quarter, day) is (quarter == f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    assert label_covers("date", str(label_day.year), day) is (label_day.year == day.year)


@given(st.lists(st.tuples(st.sampled_from(["*", "12**", "1***", "12345", "13*"]),
                          st.sampled_from(["12345", "12999", "13000", "99999"])), min_size=1, max_size=30))
def test_it_covers_row_by_row_as_the_scalar_rule(pairs: list[tuple[str, str]]) -> None:
    labels, values = zip(*pairs, strict=True)
    expected = [label_covers("code", label, value) for label, value in pairs]
    assert covers("code", list(labels), list(values)).tolist() == expected


# --- resolving against a public domain -----------------------------------------------------------

def days(first: str, last: str) -> DayRange:
    return DayRange(day_number(first), day_number(last))


@pytest.mark.parametrize(("domain", "label", "coverage"), [
    (AGE, "*", Interval(0, 100)),
    (AGE, "[20, 25)", Interval(20, 25)),
    (AGE, "[55, 100]", Interval(55, 100, closed=True)),
    (AGE, "20-24", Interval(20, 25)),
    (AGE, "-5--1", Interval(-5, 0)),
    (AGE, "37", Interval(37, 37, closed=True)),
    (AGE, 37.5, Interval(37.5, 37.5, closed=True)),
    (DATES, "*", days("2026-01-01", "2026-12-31")),
    (DATES, "2026-03-15", days("2026-03-15", "2026-03-15")),
    (DATES, "2026-03-01..2026-03-14", days("2026-03-01", "2026-03-14")),
    (DATES, "2026-02", days("2026-02-01", "2026-02-28")),
    (DATES, "2026-Q4", days("2026-10-01", "2026-12-31")),
    (DATES, "2026", days("2026-01-01", "2026-12-31")),
    (DATES, "2020-2029", days("2020-01-01", "2029-12-31")),
    (DATES, pd.Timestamp("2026-05-02"), days("2026-05-02", "2026-05-02")),
    (ZIPS, "*", ValueSet(frozenset({"1234", "1299", "5555"}))),
    (ZIPS, "12**", ValueSet(frozenset({"1234", "1299"}))),
    (ZIPS, "****", ValueSet(frozenset({"1234", "1299", "5555"}))),
    (ZIPS, "5555", ValueSet(frozenset({"5555"}))),
    (CategoricalDomain.from_hierarchy(KIND), "out", ValueSet(frozenset({"withdrawal", "card"}))),
    (CategoricalDomain.from_hierarchy(KIND), "card", ValueSet(frozenset({"card"}))),
])
def test_it_resolves_every_label_format(domain, label, coverage) -> None:
    assert CoverageResolver("c", domain).resolve(label) == coverage


@pytest.mark.parametrize(("domain", "label", "message"), [
    (AGE, "young", "column 'c': cannot read 'young' as a numeric label"),
    (AGE, "[20, 25", "column 'c': cannot read '[20, 25' as a numeric label"),
    (DATES, "2026-13", "column 'c': cannot read '2026-13' as a date label"),
    (DATES, "2026-Q5", "column 'c': cannot read '2026-Q5' as a date label"),
    (DATES, "2026-02-30", "column 'c': cannot read '2026-02-30' as a date label"),
    (ZIPS, "9***", "column 'c': label '9***' covers no value of the domain"),
    (ZIPS, "77", "column 'c': label '77' covers no value of the domain"),
])
def test_it_rejects_unknown_labels_naming_column_and_label(domain, label, message) -> None:
    with pytest.raises(ValueError) as raised:
        CoverageResolver("c", domain).resolve(label)
    assert str(raised.value) == message


def test_it_resolves_flash_builder_labels() -> None:
    ages = Hierarchy.intervals(range(100), widths=[5, 20])
    dates = Hierarchy.dates(["2026-03-15"], levels=("day", "month", "quarter", "year", "decade"))
    for hierarchy, domain in ((ages, AGE), (dates, DATES)):
        for row in hierarchy.rows:
            inner = CoverageResolver("c", domain).resolve(row[0])
            for label in row[1:]:
                outer = CoverageResolver("c", domain).resolve(label)
                assert _within(inner, outer), (label, row[0])


def _within(inner, outer) -> bool:
    if isinstance(inner, Interval):
        return outer.low <= inner.low and inner.high <= outer.high
    return outer.first <= inner.first and inner.last <= outer.last


# --- one grammar for both readers ----------------------------------------------------------------

@pytest.mark.parametrize(("domain", "kind", "label", "value"), [
    (AGE, "numeric", "[20, 25)", 24.5), (AGE, "numeric", "20-24", 24), (AGE, "numeric", "37", 37),
    (AGE, "numeric", "(20, 25]", 20), (AGE, "numeric", "*", 99),
    (DATES, "date", "2026-Q2", "2026-03-31"), (DATES, "date", "2026-03-01..2026-03-14", "2026-03-14"),
    (ZIPS, "category", "12**", "1299"), (ZIPS, "category", "12**", "5555"),
])
def test_it_resolves_to_what_the_parser_covers(domain, kind: str, label: str, value: object) -> None:
    resolved = CoverageResolver("c", domain).resolve(label)
    raw = day_number(value) if kind == "date" else value
    assert resolved.contains(raw) is label_covers(kind, label, value)  # type: ignore[arg-type]


def test_it_reads_star_as_anything_without_a_domain_and_as_the_domain_with_one() -> None:
    assert parse_label("numeric", "*") == Anything()
    assert CoverageResolver("c", AGE).resolve("*") == AGE.coverage


def test_it_reads_prefix_builder_labels_whatever_the_value_length() -> None:
    codes = CategoricalDomain(("1012 AB", "1013", "10", "2000"))
    assert CoverageResolver("c", codes).resolve("10*") == ValueSet(frozenset({"1012 AB", "1013", "10"}))


def test_it_resolves_hierarchy_nodes_before_reading_masks() -> None:
    zips = Hierarchy.masking(["20095", "20097", "20100"])
    resolver = CoverageResolver("zip", CategoricalDomain.from_hierarchy(zips))
    assert resolver.resolve("2009*") == ValueSet(frozenset({"20095", "20097"}))
    assert resolver.resolve("20***") == ValueSet(frozenset({"20095", "20097", "20100"}))


def test_it_keeps_open_and_closed_interval_ends() -> None:
    left_open = parse_label("numeric", "(20, 25]")
    assert isinstance(left_open, Interval)
    assert left_open == Interval(20.0, 25.0, closed=True, left_open=True)
    assert not left_open.contains(20) and left_open.contains(25)
    bounds = ColumnLabels("c", "numeric", ["(20, 25]", "37", "*"])
    assert bounds.covers(20).tolist() == [False, False, True]
    assert bounds.covers(25).tolist() == [True, False, True]
    assert bounds.is_point.tolist() == [False, True, False]


def test_it_orders_string_labels_by_specificity() -> None:
    labels = ColumnLabels("c", "card", ["412345", "4123**", "41****", "visa", "*"], {"visa": ["412345", "499999"]})
    assert list(np.argsort(-labels.specificity)) == [0, 1, 2, 3, 4]


def test_it_numbers_days_from_1970_one_by_one_and_at_once() -> None:
    days = ["1970-01-01", "2026-03-14", "2026-03-14 10:30:00"]
    assert [day_number(d) for d in days] == day_numbers(days).tolist() == [0, 20526, 20526]
    assert day_number(datetime.date(2026, 3, 14)) == day_number(pd.Timestamp("2026-03-14")) == 20526


@pytest.mark.parametrize(("call", "message"), [
    (lambda: parse_label("numeric", 37), "column '': label 37 is not text"),  # type: ignore[arg-type]
    (lambda: covers("code", ["1"], ["1", "2"], column="zip"), "column 'zip': 1 labels but 2 values"),
    (lambda: ColumnLabels("zip", "code", ["1"]).overlaps(0, 1),
     "column 'zip': overlap needs a numeric column, not code"),
    (lambda: CoverageResolver("c", "0..100"),  # type: ignore[arg-type]
     "column 'c': domain must be a NumericDomain, DateDomain or CategoricalDomain, got str"),
])
def test_it_rejects_bad_calls_with_exact_messages(call, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value) == message
