"""The whole attack report (attacks/__init__.py attack_report): every attack on tiny increments (no database).

Each attack has its own file in tests/anonymization/engine/attacks/.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anonymization.engine.attacks import attack_report

from .attacks.builders import frames, person

ATTACKS = Path(__file__).resolve().parents[3] / "anonymization" / "engine" / "attacks"


def k_anonymous_increments() -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Three nightly increments, each 2-anonymous over all columns: two classes of two customers."""
    files, ids, raws = [], [], []
    people = {"A": (25, "12345"), "B": (27, "12399"), "C": (45, "55501"), "D": (48, "55599")}
    for night in range(3):
        rows, raw_rows = [], []
        for age, postal in people.values():
            rows.append({**person(f"[{age // 10 * 10}, {age // 10 * 10 + 10})", postal[:3] + "**",
                                  "2026-03", "[-100, 0)"), "balance_after": "[0, 1000)"})
            raw_rows.append({"age": age, "postal_code": postal, "transaction_date": f"2026-03-0{night + 1}",
                             "amount": -20.0 - night, "kind": "withdrawal", "balance_after": 500.0})
        published, truth = frames(rows, list(people), [10 * night + i for i in range(4)])
        files.append(published)
        ids.append(truth)
        raws.append(pd.DataFrame(raw_rows))
    return files, ids, raws


def test_it_finds_nothing_below_k_in_k_anonymous_disjoint_increments() -> None:
    files, ids, raw = k_anonymous_increments()
    report = attack_report(files, ids, raw, k=2, seed=0, n_targets=4)
    assert report.below_k == 0
    assert report.intersection.aligned_rows == 0
    assert report.known_transactions.targets == 4
    assert report.differencing.new_rows == 8  # nights 2 and 3, whole files
    assert ("known_transactions", "chaining.unique_links", 0) in report.rows()


def test_it_reports_every_attack_as_table_rows() -> None:
    files, ids, raw = k_anonymous_increments()
    attacks = {attack for attack, _, _ in attack_report(files, ids, raw, k=2, seed=0, n_targets=4).rows()}
    assert attacks == {"differencing", "intersection", "known_transactions", "row_order"}

