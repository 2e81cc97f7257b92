"""The Flash search (engine/flash.py): hand-made lattices where a shortcut would miss the optimum."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymization.engine import EntropyLDiversity, Hierarchy, KAnonymity, TCloseness, anonymize

FOUR_LEVELS = Hierarchy([["a", "ab", "*"], ["b", "ab", "*"], ["c", "cd", "*"], ["d", "cd", "*"]], name="q")


def _both(table: pd.DataFrame, hierarchies: dict, criteria: list, limit: float, metric: str):
    flash = anonymize(table, hierarchies, criteria, limit, metric)
    exhaustive = anonymize(table, hierarchies, criteria, limit, metric, algorithm="exhaustive")
    return flash, exhaustive


def test_it_finds_an_entropy_diverse_node_below_a_failing_one_under_suppression() -> None:
    # Level 0: class a = {x, y} passes, b = {x x x x x x} fails and is suppressed (6 of 8 rows
    # allowed). Level 1 merges them into {x*7, y}, which fails: an acceptable node below a
    # failing one, so a failing node must not tag its specializations for this criterion.
    table = pd.DataFrame({"q": ["a", "a"] + ["b"] * 6, "s": ["x", "y"] + ["x"] * 6})
    flash, exhaustive = _both(table, {"q": FOUR_LEVELS}, [KAnonymity(1), EntropyLDiversity("s", 2)], 0.75, "loss")
    assert flash.levels == exhaustive.levels == {"q": 0}
    assert flash.suppressed_rows == 6


def test_it_finds_a_close_node_below_a_failing_one_under_suppression() -> None:
    # Overall x and y are half each. Level 0: a = {x, y} is 0-close and kept, b = {x*6} and
    # c = {y*6} are 0.5 away and suppressed (12 of 14 allowed). Level 1 merges a and b into
    # {x*7, y} (0.375 away): every row fails there. Only the top (all rows) passes again.
    table = pd.DataFrame({"q": ["a", "a"] + ["b"] * 6 + ["c"] * 6, "s": ["x", "y"] + ["x"] * 6 + ["y"] * 6})
    flash, exhaustive = _both(table, {"q": FOUR_LEVELS}, [KAnonymity(1), TCloseness("s", 0.3)], 12 / 14, "loss")
    assert flash.levels == exhaustive.levels == {"q": 0}
    assert flash.suppressed_rows == 12


def test_it_finds_a_better_generalization_than_the_checked_nodes_under_suppression() -> None:
    # At the bottom 4 of 6 rows are suppressed (loss 0.667); generalizing "a".."e" to "*"
    # suppresses nothing and loses less (0.414), though Flash only has to check the bottom to
    # know that the top node is anonymous.
    rows = [("a", "x"), ("b", "x"), ("c", "x"), ("d", "x"), ("e", "y"), ("e", "y")]
    table = pd.DataFrame(rows, columns=["q", "r"])
    hierarchies = {"q": Hierarchy([[v, "*"] for v in "abcde"]), "r": Hierarchy([["x"], ["y"]])}
    flash, exhaustive = _both(table, hierarchies, [KAnonymity(2)], 4 / 6, "loss")
    assert flash.levels == exhaustive.levels == {"q": 1, "r": 0}
    assert flash.info_loss == pytest.approx(2 ** 0.5 - 1, abs=1e-9)
    assert flash.suppressed_rows == 0


def test_it_tags_specializations_of_a_failing_node_without_checking_them() -> None:
    table = pd.DataFrame({"q": list("abcd") * 2})
    result = anonymize(table, {"q": FOUR_LEVELS}, [KAnonymity(8)], 0.0, "loss")
    assert result.levels == {"q": 2}
    assert result.search.nodes_checked == 2 and result.search.nodes_tagged == 1
