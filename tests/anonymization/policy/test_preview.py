"""The policy editor's preview: sample values of a column at every level, levels named by meaning."""

from __future__ import annotations

import pytest

from anonymization.exceptions import HierarchyInvalid
from anonymization.policy.hierarchies import level_names
from anonymization.policy.preview import hierarchy_preview


def test_it_shows_dates_by_month_quarter_and_year():
    preview = hierarchy_preview(column="transaction_date", builder="date", params={"levels": ["month", "quarter"]})
    assert preview.levels == ["day", "month", "quarter", "hidden (*)"]
    assert preview.rows[0] == ["2025-01-15", "2025-01", "2025-Q1", "*"]


def test_it_shows_numbers_next_to_their_bands_in_the_column_unit():
    preview = hierarchy_preview(column="amount", builder="intervals", params={"bin": 10, "widths": [50, 100]})
    assert preview.levels == ["sample", "bands of 10 EUR", "bands of 50 EUR", "bands of 100 EUR", "hidden (*)"]
    assert preview.rows[1] == ["-20", "[-20, -10)", "[-50, 0)", "[-100, 0)", "*"]


def test_it_previews_an_uploaded_arx_file_on_its_first_rows():
    text = "F;any;*\nM;any;*\nX;other;*\nY;other;*\nZ;other;*\n"
    preview = hierarchy_preview(column="gender", builder="arx", params={}, arx_csv=text)
    assert preview.levels == ["exact value", "ARX level 1", "hidden (*)"]
    assert preview.rows == [["F", "any", "*"], ["M", "any", "*"], ["X", "other", "*"], ["Y", "other", "*"]]


@pytest.mark.parametrize(("column", "builder", "params", "message"), [
    ("age", "intervals", {"widths": [10, 15]}, "Hierarchy of age: width 15 must be a larger multiple of 10 so "
                                               "intervals nest."),
    ("age", "date", {}, "Hierarchy of age: the date builder does not fit a numeric column."),
    ("pan", "mask", {"keep": [4]}, "Choose a column: 'pan' is not a releasable column."),
    ("gender", "categories", [], "Hierarchy of gender: parameters must be a JSON object."),
])
def test_it_says_why_a_definition_cannot_be_previewed(column, builder, params, message):
    with pytest.raises(HierarchyInvalid) as caught:
        hierarchy_preview(column=column, builder=builder, params=params)
    assert str(caught.value) == message


@pytest.mark.parametrize(("builder", "params", "height", "unit", "names"), [
    ("card", {"prefix_lengths": [4, 2]}, 5, "",
     ["6-digit BIN", "first 4 digits", "first 2 digits", "card network", "hidden (*)"]),
    ("mask", {"levels": [1, 2]}, 4, "", ["exact value", "last 1 character hidden", "last 2 characters hidden",
                                         "hidden (*)"]),
    ("intervals", {"bin": 1, "widths": [5]}, 3, "years", ["bands of 1 year", "bands of 5 years", "hidden (*)"]),
    ("categories", {"levels": [{"*": "*"}]}, 2, "", ["exact value", "hidden (*)"]),
    ("categories", {"levels": [{"F": "any", "M": "any", "X": "other"}]}, 3, "",
     ["exact value", "grouped as any, other", "hidden (*)"]),
])
def test_it_names_each_level_by_what_it_releases(builder, params, height, unit, names):
    assert level_names(builder=builder, params=params, height=height, unit=unit) == names
