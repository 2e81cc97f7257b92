from __future__ import annotations

from pathlib import Path

import pytest

from anonymization.engine import Hierarchy, HierarchyError


def test_it_reads_arx_hierarchy_csv(tmp_path: Path) -> None:
    path = tmp_path / "age.csv"
    path.write_text("1;0-4;0-9;*\n2;0-4;0-9;*\n7;5-9;0-9;*\n")
    hierarchy = Hierarchy.from_csv(path, name="age")
    assert hierarchy.depth == 4
    assert hierarchy.generalize([1, "7", 2], 1) == ["0-4", "5-9", "0-4"]
    assert hierarchy.labels[2] == ["0-9"]
    assert hierarchy.leaf_counts[1].tolist() == [2, 1]


def test_it_writes_what_it_reads(tmp_path: Path) -> None:
    original = Hierarchy([["a", "x", "*"], ["b", "x", "*"], ["c", "y", "*"]])
    original.to_csv(tmp_path / "h.csv", delimiter=",")
    assert (tmp_path / "h.csv").read_text() == "a,x,*\nb,x,*\nc,y,*\n"
    assert Hierarchy.from_csv(tmp_path / "h.csv", delimiter=",") == original


def test_it_reads_the_shared_adult_age_hierarchy(adult) -> None:
    _, hierarchies, _ = adult
    assert [hierarchies["age"].generalize([39], level)[0] for level in range(5)] == ["39", "35-39", "30-39", "20-39", "*"]
    assert [h.depth for h in hierarchies.values()] == [2, 5, 2, 3, 4, 3, 3, 3, 2]


def test_it_rejects_an_empty_hierarchy() -> None:
    with pytest.raises(HierarchyError) as error:
        Hierarchy([], name="zip")
    assert str(error.value) == "hierarchy for 'zip' is empty"


def test_it_rejects_rows_of_different_depth() -> None:
    with pytest.raises(HierarchyError) as error:
        Hierarchy([["a", "x", "*"], ["b", "*"]], name="zip")
    assert str(error.value) == "hierarchy for 'zip': row 2 ('b') has 2 levels, expected 3"


def test_it_rejects_a_value_with_two_parents() -> None:
    with pytest.raises(HierarchyError) as error:
        Hierarchy([["a", "x", "*"], ["b", "x", "+"]], name="zip")
    assert str(error.value) == "hierarchy for 'zip': value 'x' at level 1 has two parents at level 2: '*' and '+'"


def test_it_rejects_a_duplicate_value() -> None:
    with pytest.raises(HierarchyError) as error:
        Hierarchy([["a", "*"], ["a", "*"]], name="zip")
    assert str(error.value) == "hierarchy for 'zip': value 'a' appears in more than one row"


def test_it_names_data_values_missing_from_the_hierarchy() -> None:
    hierarchy = Hierarchy([["1", "*"], ["2", "*"]], name="age")
    with pytest.raises(HierarchyError) as error:
        hierarchy.leaf_codes(["1", "3", "9"])
    assert str(error.value) == "hierarchy for 'age' has no row for value(s): '3', '9'"


def test_it_builds_nested_numeric_intervals() -> None:
    hierarchy = Hierarchy.intervals([3, 17, 24, 99], widths=[5, 10, 20])
    assert hierarchy.rows[1] == ("17", "[15, 20)", "[10, 20)", "[0, 20)", "*")
    assert hierarchy.rows[3] == ("99", "[95, 100)", "[90, 100)", "[80, 100)", "*")


def test_it_builds_intervals_for_fractional_values() -> None:
    assert Hierarchy.intervals([1.5, 2.25], widths=[1, 2]).rows[1] == ("2.25", "[2, 3)", "[2, 4)", "*")


def test_it_rejects_interval_widths_that_do_not_nest() -> None:
    with pytest.raises(HierarchyError) as error:
        Hierarchy.intervals([1, 2], widths=[5, 12])
    assert str(error.value) == "interval widths must increase, each a multiple of the one before, got [5, 12]"


def test_it_masks_digits_from_the_right() -> None:
    hierarchy = Hierarchy.masking(["81675", "81677", "10115"])
    assert hierarchy.rows[1] == ("81675", "8167*", "816**", "81***", "8****", "*****")
    assert hierarchy.depth == 6


def test_it_adds_a_top_level_when_masked_values_differ_in_length() -> None:
    hierarchy = Hierarchy.masking(["4111", "41"], steps=2)
    assert hierarchy.rows == (("41", "4*", "**", "*"), ("4111", "411*", "41**", "*"))


def test_it_generalizes_dates() -> None:
    hierarchy = Hierarchy.dates(["2024-03-15", "2024-05-01"])
    assert hierarchy.rows[0] == ("2024-03-15", "2024-03-15", "2024-03", "2024-Q1", "2024", "*")
    assert hierarchy.generalize(["2024-05-01"], 3) == ["2024-Q2"]


def test_it_builds_explicit_category_mappings() -> None:
    hierarchy = Hierarchy.from_mapping({"flu": ["respiratory"], "asthma": ["respiratory"], "gastritis": ["digestive"]})
    assert hierarchy.rows[2] == ("gastritis", "digestive", "*")
    assert Hierarchy.from_mapping({"a": ["*"], "b": ["*"]}).depth == 2


def test_it_compares_data_values_as_strings() -> None:
    hierarchy = Hierarchy([["39", "30-39"], ["40", "40-49"]])
    assert hierarchy.generalize([39, 40.0, "39"], 1) == ["30-39", "40-49", "30-39"]
