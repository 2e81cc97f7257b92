"""Research-subset models: plain inclusion, d-presence and k-map (over a subset or estimated), on
a hand-made table whose optima are worked out by hand and by an independent brute force, and
ARX 3.9's published optima on Adult with ARX's research subset."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from anonymization.engine import (
    DPresence,
    Hierarchy,
    Inclusion,
    KAnonymity,
    KMap,
    NoSolutionError,
    anonymize,
)
from anonymization.engine.api import _Problem
from anonymization.engine.criteria import derived_k
from anonymization.engine.io import read_table
from anonymization.engine.subset import match_subset

from .conftest import ADULT_COLUMNS

AGE = Hierarchy([["20", "20-21", "*"], ["21", "20-21", "*"], ["30", "30-31", "*"], ["31", "30-31", "*"]], name="age")
SEX = Hierarchy([["M", "*"], ["F", "*"]], name="sex")
# Eight input rows; the research subset is rows 0, 2, 4 and 5.
TABLE = pd.DataFrame({"age": ["20", "20", "21", "21", "30", "30", "31", "31"],
                      "sex": ["M", "M", "M", "F", "F", "F", "F", "M"],
                      "id": [f"r{i}" for i in range(8)]})
SUBSET = [0, 2, 4, 5]
QIS = {"age": AGE, "sex": SEX}


def _levels(result) -> tuple[int, ...]:
    return tuple(result.levels.values())


# -- hand-checked optima --------------------------------------------------------------------------
# Classes (subset rows, input rows) per node (age level, sex level):
#   (0,0): 20M (1,2) 21M (1,1) 21F (0,1) 30F (2,2) 31F (0,1) 31M (0,1)
#   (0,1): 20 (1,2) 21 (1,2) 30 (2,2) 31 (0,2)      (1,0): 20-21M (2,3) 20-21F (0,1) 30-31F (2,3) 30-31M (0,1)
#   (1,1): 20-21 (2,4) 30-31 (2,4)                  (2,0): *M (2,4) *F (2,4)           (2,1): * (4,8)


def test_d_presence_keeps_every_class_share_in_range() -> None:
    # (0,0) 21M has delta 1, (0,1) 30 has 1, (1,0) 20-21M has 2/3 > 0.6: height 2 is the lowest,
    # (1,1) and (2,0) tie and the smaller level vector wins.
    result = anonymize(TABLE, QIS, [DPresence(0.4, 0.6)], 0.0, "height", subset=SUBSET)
    assert _levels(result) == (1, 1)
    assert list(result.data["id"]) == ["r0", "r2", "r4", "r5"]
    assert result.rows_in == 8 and result.subset_rows == 4 and result.rows_out == 4


def test_an_input_class_without_subset_rows_fails_d_presence_unless_a_minimal_class_size_applies() -> None:
    # With d_min > 0, the classes 21F, 31F, 31M of (0,0) hold no subset row (delta 0): they
    # cannot be suppressed, so (0,0), (0,1) and (1,0) fail. ARX exempts them when k-anonymity
    # (or l-diversity) sets a minimal class size: then (0,0) passes.
    alone = anonymize(TABLE, QIS, [DPresence(0.25, 1.0)], 0.0, "height", subset=SUBSET)
    assert _levels(alone) == (1, 1)
    with_k = anonymize(TABLE, QIS, [KAnonymity(1), DPresence(0.25, 1.0)], 0.0, "height", subset=SUBSET)
    assert _levels(with_k) == (0, 0)


def test_d_presence_is_not_monotonic() -> None:
    # With k-anonymity the input-only classes are not checked: (1,0) passes [0.6, 1] (20-21M and
    # 30-31F hold 2 of 3 input rows) while its generalization (2,0) fails (*M holds 2 of 4).
    problem = _Problem(TABLE, QIS, [KAnonymity(1), DPresence(0.6, 1.0)], 0.0, "height", None, SUBSET)
    assert problem.checker.check((1, 0)).anonymous and not problem.checker.check((2, 0)).anonymous
    assert not DPresence(0.6, 1.0).is_monotonic(False) and not DPresence(0.6, 1.0).is_monotonic(True)
    assert KMap(2).is_monotonic(True) and Inclusion().is_monotonic(True)
    result = anonymize(TABLE, QIS, [KAnonymity(1), DPresence(0.6, 1.0)], 0.0, "height", subset=SUBSET)
    assert _levels(result) == (1, 0)


def test_d_presence_suppresses_only_subset_rows_within_the_limit() -> None:
    # 25% of the 4 subset rows: one row. With [0.4, 0.45] the nodes below height 2 fail for
    # their input-only classes and every class above has delta 1/2: all 4 rows would go.
    # With k-anonymity no class is input-only-checked, and at (0,0) 20M (1/2), 21M and 30F (1) pass.
    with pytest.raises(NoSolutionError):
        anonymize(TABLE, QIS, [DPresence(0.4, 0.45)], 0.25, "height", subset=SUBSET)
    result = anonymize(TABLE, QIS, [KAnonymity(1), DPresence(0.5, 1.0)], 0.25, "height", subset=SUBSET)
    assert _levels(result) == (0, 0)
    assert result.suppressed_rows == 0


def test_k_map_counts_the_input_rows_of_a_class() -> None:
    # k-map 2: (0,0) fails (21M has one input row); (0,1) 20, 21, 30 hold 2 input rows each and
    # (1,0) 3 and 3; at height 1 the smaller level vector wins. DM* at (0,1): 1 + 1 + 4.
    result = anonymize(TABLE, QIS, [KMap(2)], 0.0, "height", subset=SUBSET)
    assert _levels(result) == (0, 1)
    assert anonymize(TABLE, QIS, [KMap(2)], 0.0, "dm", subset=SUBSET).info_loss == 6
    # k-anonymity 2 counts subset rows: at (0,1) the classes 20 and 21 hold one each, so it
    # needs (1,0) (20-21M and 30-31F hold two).
    assert _levels(anonymize(TABLE, QIS, [KAnonymity(2)], 0.0, "height", subset=SUBSET)) == (1, 0)
    # One suppressed subset row (25%) lets (0,0) pass with 21M removed.
    suppressed = anonymize(TABLE, QIS, [KMap(2)], 0.25, "height", subset=SUBSET)
    assert _levels(suppressed) == (0, 0)
    assert suppressed.suppressed_rows == 1 and list(suppressed.data["id"]) == ["r0", "r4", "r5"]


def test_inclusion_releases_the_subset_and_metrics_count_its_rows() -> None:
    # (0,0) holds three classes of subset rows: AECS = 4 / 3.
    result = anonymize(TABLE, QIS, [Inclusion()], 0.0, "aecs", subset=SUBSET)
    assert _levels(result) == (0, 0)
    assert result.info_loss == pytest.approx(4 / 3)
    assert result.classes.count == 3 and result.report()["subset_rows"] == 4
    assert list(result.data.index) == SUBSET


# -- an independent brute force ------------------------------------------------------------------


def _brute_force(table: pd.DataFrame, hierarchies: dict[str, Hierarchy], rows: list[int], model: str,
                 parameter: tuple[float, ...], limit: float) -> tuple[int, tuple[int, ...]] | None:
    """Lowest (DM*, height, levels) by trying every level vector, with ARX's subset rules."""
    parents = {c: {row[0]: row for row in h.rows} for c, h in hierarchies.items()}
    depths = [len(h.rows[0]) for h in hierarchies.values()]
    in_subset = set(rows)
    allowed = math.floor(limit * len(rows) + 1e-9)
    best = None
    for levels in itertools.product(*[range(d) for d in depths]):
        classes: dict[tuple[str, ...], list[int]] = {}
        for i, record in enumerate(table.itertuples(index=False)):
            key = tuple(parents[c][str(getattr(record, c))][lv] for c, lv in zip(hierarchies, levels, strict=True))
            counts = classes.setdefault(key, [0, 0])
            counts[0] += i in in_subset
            counts[1] += 1
        suppressed, vetoed, dm = 0, False, 0
        for count, pcount in classes.values():
            if count == 0:
                vetoed |= model == "d-presence" and parameter[0] > 0
                continue
            if model == "d-presence":
                ok = parameter[0] <= count / pcount <= parameter[1]
            else:
                ok = model == "inclusion" or pcount >= parameter[0]
            suppressed += 0 if ok else count
            dm += count * count
        if not vetoed and suppressed <= allowed:
            key = (dm, sum(levels), levels)
            best = key if best is None or key < best else best
    return None if best is None else (best[0], best[2])


def _random_case(seed: int) -> tuple[pd.DataFrame, dict[str, Hierarchy], list[int]]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 30))
    table = pd.DataFrame({"age": rng.choice(["20", "21", "30", "31"], n), "sex": rng.choice(["M", "F"], n)})
    rows = sorted(rng.choice(n, int(rng.integers(1, n + 1)), replace=False).tolist())
    return table, QIS, rows


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("model", "parameter"), [("d-presence", (0.0, 0.5)), ("d-presence", (0.3, 0.8)),
                                                  ("k-map", (3,)), ("inclusion", ())])
@pytest.mark.parametrize("limit", [0.0, 0.3])
def test_it_matches_an_independent_brute_force(seed: int, model: str, parameter: tuple, limit: float) -> None:
    table, hierarchies, rows = _random_case(seed)
    criterion = {"d-presence": lambda: DPresence(*parameter), "k-map": lambda: KMap(int(parameter[0])),
                 "inclusion": Inclusion}[model]()
    expected = _brute_force(table, hierarchies, rows, model, parameter, limit)
    try:
        result = anonymize(table, hierarchies, [criterion], limit, "dm", subset=rows)
    except NoSolutionError:
        assert expected is None
        return
    assert expected is not None
    assert (result.info_loss, _levels(result)) == expected


# -- matching a subset and bad input --------------------------------------------------------------


def test_subset_rows_match_the_first_unused_identical_input_rows() -> None:
    rows = TABLE.iloc[[2, 0]].drop(columns="id").assign(id=["r2", "r0"])[["id", "sex", "age"]]
    assert match_subset(TABLE, rows).tolist() == [0, 2]
    twins = pd.DataFrame({"a": ["x", "y", "x", "x"]})
    assert match_subset(twins, pd.DataFrame({"a": ["x", "x"]})).tolist() == [0, 2]
    assert match_subset(twins, np.array([False, True, False, True])).tolist() == [1, 3]


@pytest.mark.parametrize(("subset", "message"), [
    (pd.DataFrame({"a": ["z"]}), "research subset row 1 matches no input row: ['z']"),
    (pd.DataFrame({"a": ["y", "y"]}), "research subset row 2 occurs more often than in the input: ['y']"),
    (pd.DataFrame({"b": ["x"]}), "must have the input's columns; missing ['a'], unknown ['b']"),
    ([True, False], "needs one value per input row (4), got 2"),
    ([0, 7], "must lie in 0..3"),
    ([1, 1], "must not repeat"),
    ([], "the research subset is empty"),
])
def test_bad_subsets_have_clear_messages(subset, message: str) -> None:
    with pytest.raises(ValueError) as error:
        match_subset(pd.DataFrame({"a": ["x", "y", "x", "x"]}), subset)
    assert message in str(error.value)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: DPresence(0.5, 0.2), "d_min must not exceed d_max"),
    (lambda: DPresence(-0.1, 0.2), "d_min must be a number between 0 and 1"),
    (lambda: KMap(0), "k must be a positive integer"),
    (lambda: KMap(5, "poisson"), "an estimator needs a population_size"),
    (lambda: KMap(5, "normal", 100), "estimator must be one of poisson, zero-truncated-poisson"),
    (lambda: KMap(5, "poisson", 100, significance=2), "significance must be a number between 0 and 1"),
])
def test_bad_model_parameters_have_clear_messages(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_subset_models_need_a_subset_and_no_individual_id() -> None:
    with pytest.raises(ValueError, match=r"DPresence, KMap need\(s\) a research subset"):
        anonymize(TABLE, QIS, [DPresence(0, 0.5), KMap(2)], 0.0)
    with pytest.raises(ValueError, match="cannot be combined with individual_id"):
        anonymize(TABLE, QIS, [KAnonymity(1)], 0.0, subset=SUBSET, individual_id="id")
    with pytest.raises(ValueError, match=r"population_size \(5\) is smaller than the table \(8 rows\)"):
        anonymize(TABLE, QIS, [KMap(3, "poisson", 5)], 0.0)


# -- estimated k-map --------------------------------------------------------------------------


def test_estimated_k_map_derives_k_as_arx_does() -> None:
    # lambda = k * N / population. Zero-truncated: P(1 | >0) = lambda e^-lambda / (1 - e^-lambda).
    lam = 1000 * 30162 / 317238626
    first = lam * math.exp(-lam) / -math.expm1(-lam)
    second = lam**2 / 2 * math.exp(-lam) / -math.expm1(-lam)
    assert first < 0.99 <= first + second  # two terms reach 99%: the count stops at 3
    assert derived_k(1000, lam, 0.01, "zero-truncated-poisson") == 3
    # Poisson: P(0) = e^-lambda < 0.99 <= P(0) + P(1): the first count reaching 99% is c = 1,
    # and ARX returns c + 2 = 3.
    assert math.exp(-lam) < 0.99 <= math.exp(-lam) * (1 + lam)
    assert derived_k(1000, lam, 0.01, "poisson") == 3
    # The count never passes k: k = 2 stops at once.
    assert derived_k(2, 5.0, 0.01, "poisson") == 3  # ARX then takes min(k, k') = 2
    model = KMap(2, "poisson", 1000)
    anonymize(TABLE, QIS, [model], 0.0, "height")
    assert model.derived_k == 2


# -- ARX 3.9 on Adult (8 quasi-identifiers, occupation left out, ARX's research subset) --------------

USA_POPULATION = 317238626  # ARX's population model for Region.USA

D_PRESENCE = [  # (suppression, metric, d_min, d_max, value, levels)
    (0.0, "aecs", 0.0, 0.2, 52.0, (1, 4, 1, 1, 0, 2, 2, 0)),
    (0.0, "entropy", 0.0, 0.2, 30238.2081484441, (0, 1, 1, 2, 3, 2, 2, 0)),
    (0.05, "entropy", 0.0, 0.2, 19804.2887675027, (1, 0, 1, 1, 2, 2, 2, 0)),
    (0.05, "entropy-nonmonotonic", 0.0, 0.2, 20747.362350403302, (1, 0, 1, 1, 2, 2, 2, 0)),
    (0.05, "aecs", 0.05, 0.15, 97.29032258064517, (1, 4, 1, 1, 0, 2, 2, 1)),
    (0.05, "entropy-nonmonotonic", 0.05, 0.15, 33660.3063277646, (1, 4, 1, 1, 0, 2, 2, 1)),
]
K_MAP = [  # (suppression, metric, k, value, levels)
    (0.0, "aecs", 5, 45.014925373134325, (1, 0, 1, 2, 3, 2, 2, 1)),
    (0.0, "entropy", 3, 23387.494246375998, (0, 0, 1, 2, 3, 2, 2, 0)),
    (0.0, "entropy-nonmonotonic", 5, 28551.7222913157, (1, 0, 1, 2, 3, 2, 2, 1)),
    (0.0, "entropy", 2, 23108.1673304724, (1, 0, 1, 1, 3, 2, 2, 0)),
    (0.0, "entropy-nonmonotonic", 10, 30238.2081484441, (0, 1, 1, 2, 3, 2, 2, 0)),
    (0.05, "aecs", 20, 11.424242424242424, (1, 0, 1, 1, 3, 2, 1, 0)),
    (0.05, "aecs", 10, 7.215311004784689, (0, 0, 1, 1, 3, 2, 1, 0)),
    (0.05, "entropy", 7, 17075.7181747451, (0, 0, 1, 1, 2, 2, 2, 0)),
    (0.05, "entropy", 5, 17053.8743069776, (0, 0, 1, 0, 2, 2, 2, 1)),
    (0.05, "entropy-nonmonotonic", 3, 15121.633326877098, (0, 0, 1, 1, 1, 2, 1, 0)),
]
K_MAP_ESTIMATED = [  # zero-truncated Poisson, significance 0.01, USA: (k, derived k, value, levels)
    (3, 2, 130804.5332092598, (0, 0, 1, 1, 0, 2, 2, 0)),
    (1000, 3, 151894.1394841501, (0, 0, 1, 1, 1, 2, 1, 0)),
]


@pytest.fixture(scope="module")
def adult_subset(adult):
    table, hierarchies, folder = adult
    columns = [c for c in ADULT_COLUMNS if c != "occupation"]
    return table, {c: hierarchies[c] for c in columns}, read_table(folder / "adult_subset.csv")


def _check(result, value: float, levels: tuple[int, ...]) -> None:
    assert result.info_loss == pytest.approx(value, rel=1e-14)
    assert _levels(result) == levels


@pytest.mark.parametrize(("limit", "metric", "d_min", "d_max", "value", "levels"), D_PRESENCE)
def test_it_reproduces_arx_d_presence_on_adult(adult_subset, limit, metric, d_min, d_max, value, levels) -> None:
    table, hierarchies, subset = adult_subset
    result = anonymize(table, hierarchies, [DPresence(d_min, d_max)], limit, metric, subset=subset)
    _check(result, value, levels)
    assert result.subset_rows == len(subset) == 3016 and result.rows_in == len(table)
    assert result.suppressed_rows <= math.floor(limit * 3016) and len(result.data) == result.rows_out


@pytest.mark.parametrize(("limit", "metric", "k", "value", "levels"), K_MAP)
def test_it_reproduces_arx_k_map_over_the_subset_on_adult(adult_subset, limit, metric, k, value, levels) -> None:
    table, hierarchies, subset = adult_subset
    _check(anonymize(table, hierarchies, [KMap(k)], limit, metric, subset=subset), value, levels)


@pytest.mark.parametrize(("k", "derived", "value", "levels"), K_MAP_ESTIMATED)
def test_it_reproduces_arx_estimated_k_map_on_adult(adult_subset, k, derived, value, levels) -> None:
    table, hierarchies, _ = adult_subset
    model = KMap(k, "zero-truncated-poisson", USA_POPULATION, significance=0.01)
    _check(anonymize(table, hierarchies, [model], 0.05, "entropy-nonmonotonic"), value, levels)
    assert model.derived_k == derived
