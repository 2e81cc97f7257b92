"""ARX 3.9's optima on the shared Adult set-up (all 9 columns as quasi-identifiers)."""

from __future__ import annotations

import pytest

from anonymization.engine import KAnonymity, anonymize

from .conftest import ADULT_COLUMNS

TOLERANCE = 1e-12

LOSS_NO_SUPPRESSION = {
    2: (0.5296955144342308, (0, 4, 1, 1, 3, 2, 0, 2, 0)),
    5: (0.5731509655590044, (0, 4, 1, 1, 3, 2, 2, 1, 0)),
    10: (0.5731509655590044, (0, 4, 1, 1, 3, 2, 2, 1, 0)),
    25: (0.5731509655590044, (0, 4, 1, 1, 3, 2, 2, 1, 0)),
    50: (0.5731509655590044, (0, 4, 1, 1, 3, 2, 2, 1, 0)),
    100: (0.632495796757806, (0, 4, 1, 2, 3, 2, 2, 1, 0)),
}
LOSS_TWO_PERCENT = {
    2: (0.2093709911332433, (0, 3, 0, 1, 2, 1, 1, 1, 0)),
    5: (0.3137130352819242, (0, 3, 0, 2, 2, 1, 1, 2, 0)),
    10: (0.34233670356549895, None),
    100: (0.507286319012554, None),
}
DM_NO_SUPPRESSION = {2: 19399310, 5: 33627534, 10: 55170356, 25: 57808634, 50: 70009068, 100: 102352340}
HEIGHT_NO_SUPPRESSION = {2: 13, 5: 14, 100: 15}


def _run(adult, k: int, limit: float, metric: str):
    table, hierarchies, _ = adult
    return anonymize(table, hierarchies, [KAnonymity(k)], suppression_limit=limit, metric=metric)


@pytest.mark.parametrize("k", sorted(LOSS_NO_SUPPRESSION))
def test_it_reproduces_arx_loss_without_suppression(adult, k: int) -> None:
    loss, levels = LOSS_NO_SUPPRESSION[k]
    result = _run(adult, k, 0.0, "loss")
    assert result.info_loss == pytest.approx(loss, abs=TOLERANCE)
    assert tuple(result.levels[c] for c in ADULT_COLUMNS) == levels
    assert result.suppressed_rows == 0 and result.classes.min_size >= k


@pytest.mark.parametrize("k", sorted(LOSS_TWO_PERCENT))
def test_it_reproduces_arx_loss_with_two_percent_suppression(adult, k: int) -> None:
    loss, levels = LOSS_TWO_PERCENT[k]
    result = _run(adult, k, 0.02, "loss")
    assert result.info_loss == pytest.approx(loss, abs=TOLERANCE)
    if levels is not None:
        assert tuple(result.levels[c] for c in ADULT_COLUMNS) == levels
    assert 0 < result.suppressed_rows <= 0.02 * result.rows_in
    assert len(result.data) == result.rows_in - result.suppressed_rows


@pytest.mark.parametrize("k", sorted(DM_NO_SUPPRESSION))
def test_it_reproduces_arx_discernibility_without_suppression(adult, k: int) -> None:
    result = _run(adult, k, 0.0, "dm")
    assert result.info_loss == DM_NO_SUPPRESSION[k]
    assert sum(size * size * count for size, count in result.classes.size_distribution.items()) == DM_NO_SUPPRESSION[k]


@pytest.mark.parametrize("k", sorted(HEIGHT_NO_SUPPRESSION))
def test_it_reproduces_arx_height_without_suppression(adult, k: int) -> None:
    result = _run(adult, k, 0.0, "height")
    assert result.info_loss == HEIGHT_NO_SUPPRESSION[k] == sum(result.levels.values())


def test_it_matches_exhaustive_search_on_adult_with_suppression(adult) -> None:
    table, hierarchies, _ = adult
    columns = ADULT_COLUMNS[:6]
    subset = {c: hierarchies[c] for c in columns}
    for metric in ("loss", "precision", "entropy", "aecs"):
        flash = anonymize(table, subset, [KAnonymity(5)], suppression_limit=0.02, metric=metric)
        exhaustive = anonymize(table, subset, [KAnonymity(5)], suppression_limit=0.02, metric=metric,
                               algorithm="exhaustive")
        assert flash.info_loss == pytest.approx(exhaustive.info_loss, rel=1e-12, abs=TOLERANCE), metric
        assert flash.search.nodes_checked < exhaustive.search.nodes_checked
