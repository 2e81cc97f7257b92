"""Hierarchies as a policy configures them: parameter checks, leaves and the engine builders (no database)."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymization.exceptions import HierarchyInvalid
from anonymization.policy.hierarchies import build_hierarchy, check_definition, parse_arx


def _rows(builder: str, values: list, params: dict, arx_csv: str = "") -> list[tuple[str, ...]]:
    built = build_hierarchy(column="c", series=pd.Series(values), builder=builder, params=params, arx_csv=arx_csv)
    return list(built.hierarchy.rows)


def test_it_builds_nested_intervals_over_binned_leaves():
    rows = _rows("intervals", [-12.5, 3.0, 49.99, 260.0], {"bin": 10, "widths": [50, 250]})
    assert rows == [
        ("[-20, -10)", "[-50, 0)", "[-250, 0)", "*"),
        ("[0, 10)", "[0, 50)", "[0, 250)", "*"),
        ("[40, 50)", "[0, 50)", "[0, 250)", "*"),
        ("[260, 270)", "[250, 300)", "[250, 500)", "*"),
    ]


def test_it_keeps_whole_numbers_as_leaves_when_the_bin_is_one():
    built = build_hierarchy(column="age", series=pd.Series([34, 41, 34]), builder="intervals",
                            params={"widths": [5]})
    assert list(built.leaves) == ["34", "41", "34"]
    assert list(built.hierarchy.rows) == [("34", "[30, 35)", "*"), ("41", "[40, 45)", "*")]


def test_it_masks_postal_codes_by_prefix_or_from_the_right():
    assert _rows("mask", ["1012 AB", "75001"], {"keep": [4, 2]}) == [
        ("1012 AB", "1012*", "10*", "*"), ("75001", "7500*", "75*", "*")]
    assert _rows("mask", ["1012"], {"levels": [1, 3]}) == [("1012", "101*", "1***")]


def test_it_generalizes_dates_and_card_numbers():
    assert _rows("date", [pd.Timestamp("2025-05-17")], {}) == [("2025-05-17", "2025-05", "2025-Q2", "2025", "*")]
    assert _rows("card", ["412345", "none"], {"prefix_lengths": [4]}) == [
        ("412345", "4123**", "visa", "*"), ("none", "none", "none", "*")]


def test_it_maps_categories_with_a_fallback():
    assert _rows("categories", ["F", "M", "X"], {"levels": [{"F": "known", "M": "known", "*": "other"}]}) == [
        ("F", "known", "*"), ("M", "known", "*"), ("X", "other", "*")]


@pytest.mark.parametrize(("builder", "kind", "params", "message"), [
    ("intervals", "numeric", {"widths": []}, "Hierarchy of c: widths must be a non-empty list of numbers, e.g. [10, 50, 100]."),
    ("intervals", "numeric", {"bin": 0, "widths": [5]}, "Hierarchy of c: bin must be a positive number, not 0."),
    ("intervals", "category", {"widths": [5]}, "Hierarchy of c: the intervals builder does not fit a category column."),
    ("mask", "code", {"keep": [2, 4]}, "Hierarchy of c: keep must be strictly decreasing."),
    ("date", "date", {"levels": ["year", "month"]},
     "Hierarchy of c: levels must be in the order month, quarter, year without repeats."),
    ("card", "card", {"prefix_lengths": [6]}, "Hierarchy of c: prefix_lengths must be a list of whole numbers from 1 to 5."),
    ("categories", "category", {"levels": ["x"]}, "Hierarchy of c: level 1 must map values to text."),
    ("nope", "category", {}, "Hierarchy of c: unknown builder 'nope'."),
])
def test_it_explains_bad_builder_parameters(builder, kind, params, message):
    with pytest.raises(HierarchyInvalid) as caught:
        check_definition(column="c", kind=kind, builder=builder, params=params)
    assert str(caught.value) == message


def test_an_arx_hierarchy_of_a_number_or_a_date_must_label_its_groups_as_ranges_or_periods():
    check_definition(column="age", kind="numeric", builder="arx", params={},
                     arx_csv="30;[20, 40);*\n45;[40, 60);*\n")
    check_definition(column="day", kind="date", builder="arx", params={},
                     arx_csv="2025-01-05;2025-01;2025-Q1\n2025-02-10;2025-02;2025-Q1\n")
    check_definition(column="gender", kind="category", builder="arx", params={}, arx_csv="F;someone\nM;someone\n")
    with pytest.raises(HierarchyInvalid) as caught:
        check_definition(column="day", kind="date", builder="arx", params={},
                         arx_csv="2025-01-05;winter;*\n2025-07-10;summer;*\n")
    assert str(caught.value) == ("Hierarchy of day: the group label 'winter' (level 1) is not a period such as "
                                 "2025-03 or 2025-Q1; a date column's groups must say which values they cover.")


@pytest.mark.parametrize(("text", "message"), [
    ("", "Hierarchy of c: hierarchy is empty."),
    ("a;*\nb\n", "Hierarchy of c: hierarchy: row 2 ('b') has 1 levels, expected 2."),
    ("a;*\na;*\n", "Hierarchy of c: hierarchy: value 'a' appears in more than one row."),
    ("a;;*\n", "Hierarchy of c: hierarchy: line 1 has an empty value."),
])
def test_it_refuses_malformed_arx_files(text, message):
    with pytest.raises(HierarchyInvalid) as caught:
        parse_arx("c", text)
    assert str(caught.value) == message


def test_it_refuses_data_an_arx_file_does_not_cover_and_missing_values():
    with pytest.raises(HierarchyInvalid, match=r"^Hierarchy of c: hierarchy has no row for value\(s\): 'b', 'c'\.$"):
        _rows("arx", ["a", "b", "c"], {}, arx_csv="a;*\n")
    with pytest.raises(HierarchyInvalid, match="the data has missing values"):
        _rows("mask", ["1012", None], {"keep": [2]})


def test_it_labels_every_interval_level_half_open_as_the_engine_does():
    built = build_hierarchy(column="amount", series=pd.Series([20.0, 24.99, 25.0]), builder="intervals",
                            params={"bin": 5, "widths": [10]})
    assert list(built.leaves) == ["[20, 25)", "[20, 25)", "[25, 30)"]
    assert list(built.hierarchy.rows) == [("[20, 25)", "[20, 30)", "*"), ("[25, 30)", "[20, 30)", "*")]
