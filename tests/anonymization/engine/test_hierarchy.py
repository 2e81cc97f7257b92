from __future__ import annotations

from pathlib import Path

import pytest

from anonymization.engine import Hierarchy, HierarchyError
from anonymization.engine.hierarchy import interval_label, interval_leaves


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


def test_it_labels_intervals_half_open_whatever_the_data() -> None:
    assert Hierarchy.intervals([20, 24], widths=[5]).rows == (("20", "[20, 25)", "*"), ("24", "[20, 25)", "*"))
    assert Hierarchy.intervals([20.5], widths=[5]).rows == (("20.5", "[20, 25)", "*"),)
    assert interval_label(20, 5, whole_numbers=True) == "[20, 25)"
    assert interval_label(0.1, 0.2) == "[0.1, 0.3)"


def test_it_bins_leaves_before_generalizing() -> None:
    assert interval_leaves([-12.5, 3.0, 34], 10) == ["[-20, -10)", "[0, 10)", "[30, 40)"]
    assert interval_leaves([34, 41], 1) == ["34", "41"]
    hierarchy = Hierarchy.intervals([-12.5, 3.0, 49.99], widths=[50], bin_width=10)
    assert hierarchy.rows == (("[-20, -10)", "[-50, 0)", "*"), ("[0, 10)", "[0, 50)", "*"), ("[40, 50)", "[0, 50)", "*"))


def test_it_masks_chosen_counts_and_keeps_prefixes() -> None:
    assert Hierarchy.masking(["1012", "2034"], levels=[1, 3]).rows == (
        ("1012", "101*", "1***", "*"), ("2034", "203*", "2***", "*"))
    assert Hierarchy.prefixes(["1012 AB", "75"], keep=[4, 2]).rows == (
        ("1012 AB", "1012*", "10*", "*"), ("75", "75", "75", "*"))
    with pytest.raises(HierarchyError, match=r"strictly decreasing, got \[2, 4\]"):
        Hierarchy.prefixes(["1"], keep=[2, 4])


def test_it_generalizes_card_numbers_through_a_network_the_caller_gives() -> None:
    hierarchy = Hierarchy.card_numbers(["412345", "512345", "none"], network={"412345": "visa", "512345": "mc"})
    assert hierarchy.rows == (("412345", "4123**", "visa", "*"), ("512345", "5123**", "mc", "*"),
                              ("none", "none", "none", "*"))


def test_it_maps_categories_level_by_level_with_a_fallback() -> None:
    levels = [{"F": "known", "M": "known", "*": "other"}]
    assert Hierarchy.from_level_mappings(["F", "X"], levels).rows == (("F", "known", "*"), ("X", "other", "*"))
    with pytest.raises(HierarchyError, match=r"^level 1 has no mapping for 'X'$"):
        Hierarchy.from_level_mappings(["X"], [{"F": "any"}])


def test_it_parses_csv_text_and_refuses_empty_cells() -> None:
    assert Hierarchy.from_csv_text(" F ; * \n\nM;*\n").rows == (("F", "*"), ("M", "*"))
    with pytest.raises(HierarchyError, match=r"^hierarchy for 'g': line 1 has an empty value$"):
        Hierarchy.from_csv_text("F;;*\n", name="g")
