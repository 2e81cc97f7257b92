"""Reading published files for an attack (attacks/published.py): inputs are checked with exact messages."""

from __future__ import annotations

import numpy as np
import pytest

from anonymization.engine.attacks import known_transactions

from .builders import card_release


def test_it_refuses_files_and_ground_truth_of_different_lengths() -> None:
    files, ids, raw = card_release("412345")
    with pytest.raises(ValueError) as error:
        known_transactions(files, [ids[0].iloc[:5]], raw, 3, np.random.default_rng(1), k=2)
    assert str(error.value) == "ids[0] has 5 rows but files[0] has 6"


def test_it_refuses_an_unknown_column_kind_with_the_grammar_message() -> None:
    files, ids, raw = card_release("412345")
    with pytest.raises(ValueError) as error:
        known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2, kinds={"card_number": "colour"})
    assert str(error.value) == ("column 'card_number': unknown column kind 'colour'; "
                                "use numeric, date, code, card, category")

