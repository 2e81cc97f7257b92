"""The attacks on published files: tiny ledgers whose answer is known by hand (no database)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anonymization.engine.attacks import (
    attack_report,
    balance_chaining,
    counts_toward_promise,
    differencing,
    intersection,
    known_transactions,
    row_order,
)

ATTACKS = Path(__file__).resolve().parents[3] / "anonymization" / "engine" / "attacks"


def frames(rows: list[dict[str, object]], customers: list[object], entries: list[int]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a published file of strings and its ground truth ids."""
    published = pd.DataFrame(rows).astype(str)
    return published, pd.DataFrame({"customer": customers, "entry": entries})


def population_of(ids: list[pd.DataFrame], raw: list[pd.DataFrame],
                  columns: tuple[str, ...] = ("age", "postal_code", "card_number")) -> pd.DataFrame:
    """Return the register of the customers with published rows: their raw demographics, once each."""
    rows = pd.concat([pd.concat([i[["customer"]].reset_index(drop=True), r.reset_index(drop=True)], axis=1)
                      for i, r in zip(ids, raw, strict=True)], ignore_index=True)
    return rows[["customer", *[c for c in columns if c in rows.columns]]].drop_duplicates(ignore_index=True)


# --- differencing and intersection ---------------------------------------------------------------

def person(age: object, postal: object, day: str = "2026-03", amount: str = "[0, 100)",
           kind: str = "withdrawal") -> dict[str, object]:
    return {"age": age, "postal_code": postal, "transaction_date": day, "amount": amount, "kind": kind}


def test_it_pins_the_one_new_row_of_a_cumulative_file() -> None:
    same = person("[20, 30)", "1****")
    first = frames([same, same, same], ["A", "B", "C"], [1, 2, 3])
    second = frames([same, same, same, same], ["A", "B", "C", "A"], [1, 2, 3, 4])
    figures = differencing([first[0], second[0]], [first[1], second[1]], k=2)
    assert (figures.new_rows, figures.relabeled_rows) == (1, 0)
    assert (figures.rows_below_k, figures.rows_pinned, figures.customers_below_k) == (1, 1, 1)


def four_people_two_ways() -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Four customers; night 1 hides age, night 2 hides postal code: each file is 2-anonymous."""
    ages, postals = [22, 27, 22, 27], ["12345", "12345", "12399", "12399"]
    night1 = frames([person("[20, 30)", p) for p in postals], list("ABCD"), [1, 2, 3, 4])
    night2 = frames([person(str(a), "123**") for a in ages], list("ABCD"), [1, 2, 3, 4])
    raw = pd.DataFrame({"age": ages, "postal_code": postals, "transaction_date": "2026-03-02",
                        "amount": 50.0, "kind": "withdrawal"})
    return [night1[0], night2[0]], [night1[1], night2[1]], [raw, raw]


def test_it_isolates_customers_by_intersecting_two_generalizations() -> None:
    files, ids, raw = four_people_two_ways()
    figures = intersection(files, ids, k=2)
    assert (figures.aligned_entries, figures.aligned_rows, figures.entries) == (4, 8, 4)
    assert (figures.classes, figures.classes_below_k, figures.entries_pinned, figures.customers_below_k) == (4, 4, 4, 4)


def test_it_counts_relabeled_rows_as_new_but_not_below_k() -> None:
    files, ids, _ = four_people_two_ways()
    figures = differencing(files, ids, k=2)
    assert (figures.new_rows, figures.relabeled_rows, figures.rows_below_k) == (4, 4, 0)


def test_it_aligns_nothing_for_disjoint_increments() -> None:
    night1 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    night2 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [3, 4])
    figures = intersection([night1[0], night2[0]], [night1[1], night2[1]], k=2)
    assert (figures.aligned_entries, figures.aligned_rows, figures.entries_below_k) == (0, 0, 0)


def test_it_links_a_target_across_increments_only_with_the_ground_truth() -> None:
    # every night is 2-anonymous and A is the only customer active on both nights; the same labels
    # cover A, B and C both nights, so without pseudonyms the attacker is left with all three
    night1 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    night2 = frames([person("[20, 30)", "1****")] * 2, ["A", "C"], [3, 4])
    raw = pd.DataFrame({"age": [25, 25], "postal_code": ["12345", "12345"]})
    ids = [night1[1], night2[1]]
    figures = intersection([night1[0], night2[0]], ids, k=2, raw=[raw, raw], population=population_of(ids, [raw, raw]),
                           targets=3, rng=np.random.default_rng(0))
    assert (figures.targets, figures.targets_below_k_one_file) == (3, 0)
    assert (figures.targets_below_k_two_files, figures.linked_targets_below_k_two_files) == (0, 1)


def test_it_asks_for_the_population_register_for_the_demographic_intersection() -> None:
    night = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    raw = pd.DataFrame({"age": [25, 25], "postal_code": ["12345", "12345"]})
    with pytest.raises(ValueError) as error:
        intersection([night[0]], [night[1]], k=2, raw=[raw])
    assert str(error.value) == "the demographic intersection needs the population register: pass population="


def test_it_refuses_a_register_without_every_customer_of_the_files() -> None:
    night = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    raw = pd.DataFrame({"age": [25, 25], "postal_code": ["12345", "12345"]})
    register = pd.DataFrame({"customer": ["A"], "age": [25], "postal_code": ["12345"]})
    with pytest.raises(ValueError) as error:
        intersection([night[0]], [night[1]], k=2, raw=[raw], population=register)
    assert str(error.value) == "population lacks 1 customer(s) of the files: 'B'"
    with pytest.raises(ValueError) as error:
        intersection([night[0]], [night[1]], k=2, raw=[raw], population=register[["customer", "age"]])
    assert str(error.value) == "population lacks column(s): 'postal_code'"


# --- observable candidates: boxes of two nights against the population register ---------------------

#: Sixteen customers: ages 20..27 in postal codes 12345 and 12399; the target is 23 in 12345.
REGISTER = pd.DataFrame([{"customer": f"{postal}-{age}", "age": age, "postal_code": postal}
                         for postal in ("12345", "12399") for age in range(20, 28)])
TARGET = "12345-23"


def box_night(age: str, postal: str, owners: list[str], night: int
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One night's file: a withdrawal by each owner, all published in the one box ``(age, postal)``."""
    day = f"2026-03-0{night + 1}"
    published, ids = frames([person(age, postal, day, "[-100, 0)")] * len(owners), owners,
                            [10 * night + i for i in range(len(owners))])
    people = REGISTER.set_index("customer").loc[owners]
    raw = pd.DataFrame({"age": people["age"].to_numpy(), "postal_code": people["postal_code"].to_numpy(),
                        "transaction_date": day, "amount": -50.0, "kind": "withdrawal"})
    return published, ids, raw


def two_nights(second_age: str, second_postal: str, second_owners: list[str]
               ) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Night 1 publishes the box ages [20, 24) x 123** (8 customers); night 2 the given box."""
    nights = [box_night("[20, 24)", "123**", [TARGET, "12345-20", "12399-21"], 0),
              box_night(second_age, second_postal, second_owners, 1)]
    return [n[0] for n in nights], [n[1] for n in nights], [n[2] for n in nights]


def test_it_narrows_a_target_whose_two_nights_boxes_cross_on_few_customers() -> None:
    # night 2 cuts ages [23, 28) x 12345 (5 customers): the boxes meet on the target alone
    files, ids, raw = two_nights("[23, 28)", "12345", [TARGET, "12345-25", "12345-27"])
    demographic = intersection(files, ids, k=3, raw=raw, population=REGISTER, targets=5, rng=np.random.default_rng(0))
    assert (demographic.targets_below_k_one_file, demographic.targets_below_k_two_files) == (0, 1)
    known = known_transactions(files, ids, raw, [TARGET], np.random.default_rng(0), k=3, population=REGISTER)
    assert (known.transactions_below_k, known.targets_below_k, known.targets_pinned) == (0, 1, 1)
    assert known.median_target_candidates == 1.0


def test_it_does_not_narrow_a_target_whose_boxes_nest_in_one_tree() -> None:
    # night 2 publishes a child of night 1's box (ages [20, 24) x 12345, 4 customers): the
    # intersection is that child, as large as the tree's nodes
    files, ids, raw = two_nights("[20, 24)", "12345", [TARGET, "12345-21", "12345-22"])
    demographic = intersection(files, ids, k=3, raw=raw, population=REGISTER, targets=5, rng=np.random.default_rng(0))
    assert (demographic.targets_below_k_two_files, demographic.linked_targets_below_k_two_files) == (0, 1)
    known = known_transactions(files, ids, raw, [TARGET], np.random.default_rng(0), k=3, population=REGISTER)
    assert (known.targets_below_k, known.targets_pinned, known.median_target_candidates) == (0, 0, 4.0)
    assert (known.linked_targets_below_k, known.linked_targets_pinned) == (1, 1)  # pseudonyms would pin them


def test_it_counts_register_customers_without_any_published_row_as_candidates() -> None:
    # 12345-20 publishes nothing, yet both nights' boxes cover it: with it the target keeps 4 candidates
    nights = [box_night("[20, 24)", "123**", [TARGET, "12399-21", "12399-22"], 0),
              box_night("[20, 24)", "12345", [TARGET, "12345-21", "12345-22"], 1)]
    files, ids, raw = ([n[i] for n in nights] for i in range(3))
    only_owners = REGISTER[REGISTER["customer"].isin(pd.concat(ids)["customer"])]
    whole = known_transactions(files, ids, raw, [TARGET], np.random.default_rng(0), k=4, population=REGISTER)
    owners = known_transactions(files, ids, raw, [TARGET], np.random.default_rng(0), k=4, population=only_owners)
    assert (whole.targets_below_k, whole.median_target_candidates) == (0, 4.0)
    assert (owners.targets_below_k, owners.median_target_candidates) == (1, 3.0)


# --- known transactions and chaining ---------------------------------------------------------------

def card_release(card_label: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Three customers with distinct exact ages, two withdrawals each, cards shown as ``card_label``."""
    rows, customers, raw_rows = [], [], []
    for number, (customer, age) in enumerate([("A", 30), ("B", 40), ("C", 50)] * 2):
        rows.append({**person(str(age), "12345", "2026-03-0" + str(1 + number % 2), "[-100, 0)"),
                     "card_number": card_label})
        customers.append(customer)
        raw_rows.append({"age": age, "postal_code": "12345", "card_number": "412345",
                         "transaction_date": "2026-03-0" + str(1 + number % 2), "amount": -50.0, "kind": "withdrawal"})
    published, ids = frames(rows, customers, list(range(6)))
    return [published], [ids], [pd.DataFrame(raw_rows)]


def test_it_pins_targets_whose_demographics_are_published_exactly() -> None:
    files, ids, raw = card_release("412345")
    figures = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2, population=population_of(ids, raw))
    assert (figures.targets, figures.transactions, figures.transactions_below_k) == (3, 6, 6)
    assert (figures.targets_below_k, figures.targets_pinned, figures.own_rows_missed) == (3, 3, 0)
    assert (figures.linked_targets_below_k, figures.linked_targets_pinned) == (3, 3)


def test_it_reports_true_rows_missed_without_a_network_mapping() -> None:
    files, ids, raw = card_release("visa")
    register = population_of(ids, raw)
    missed = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2, population=register)
    mapped = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2, population=register,
                                mappings={"card_number": {"visa": ["412345"]}})
    assert (missed.own_rows_missed, missed.targets_below_k) == (6, 0)
    assert (mapped.own_rows_missed, mapped.targets_pinned) == (0, 3)


def test_it_refuses_files_and_ground_truth_of_different_lengths() -> None:
    files, ids, raw = card_release("412345")
    with pytest.raises(ValueError) as error:
        known_transactions(files, [ids[0].iloc[:5]], raw, 3, np.random.default_rng(1), k=2,
                           population=population_of(ids, raw))
    assert str(error.value) == "ids[0] has 5 rows but files[0] has 6"


def test_it_refuses_an_unknown_column_kind_with_the_grammar_message() -> None:
    files, ids, raw = card_release("412345")
    with pytest.raises(ValueError) as error:
        known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2, kinds={"card_number": "colour"},
                           population=population_of(ids, raw))
    assert str(error.value) == ("column 'card_number': unknown column kind 'colour'; "
                                "use numeric, date, code, card, category")


def ledger_with_balances(exact: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """A: 100 -> +50 -> 150 -> -30 -> 120; B: 1000 -> -200 -> 800."""
    entries = [("A", 100, 100), ("A", 50, 150), ("A", -30, 120), ("B", 1000, 1000), ("B", -200, 800)]
    def shown(value: int) -> str:
        return str(value) if exact else f"[{value // 500 * 500}, {value // 500 * 500 + 500})"
    rows = [{"amount": shown(a), "balance_after": shown(b)} for _, a, b in entries]
    published, ids = frames(rows, [c for c, _, _ in entries], list(range(5)))
    return [published], [ids]


def test_it_chains_rows_by_exact_balances() -> None:
    figures = balance_chaining(*ledger_with_balances(exact=True))
    assert (figures.linkable_rows, figures.unique_links, figures.true_links) == (5, 3, 3)
    assert (figures.customers_exposed, figures.share_customers_exposed) == (2, 1.0)


def test_it_cannot_chain_generalized_balances() -> None:
    figures = balance_chaining(*ledger_with_balances(exact=False))
    assert (figures.linkable_rows, figures.unique_links, figures.customers_exposed) == (0, 0, 0)


# --- row order -------------------------------------------------------------------------------------

def transfers(pairs: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``pairs`` transfers, each a transfer_out then the matching transfer_in, in ledger order."""
    rows, raw_rows, customers = [], [], []
    for number in range(pairs):
        amount = 10 * (number % 40 + 1)
        for sign, kind in ((-1, "transfer_out"), (1, "transfer_in")):
            rows.append(person("*", "*", "2026-03", str(sign * amount), kind))
            raw_rows.append({"age": 30, "postal_code": "12345", "transaction_date": "2026-03-02",
                             "amount": float(sign * amount), "kind": kind})
            customers.append(f"c{number % 50}" if sign < 0 else f"c{(number + 1) % 50}")
    published, ids = frames(rows, customers, list(range(2 * pairs)))
    return published, ids, pd.DataFrame(raw_rows)


def test_it_finds_transfer_pairs_in_a_file_in_ledger_order() -> None:
    published, ids, raw = transfers(400)
    figures = row_order([published], [ids], [ids["entry"].to_numpy()], raw=[raw], k=2, targets=10,
                        population=population_of([ids], [raw]))
    assert figures.spearman_mean == pytest.approx(1.0)
    assert (figures.transfer_out_rows, figures.transfer_pairs_adjacent, figures.transfer_pair_share) == (400, 400, 1.0)
    assert figures.transfer_pair_share_by_chance < 0.05


def test_it_finds_no_order_in_a_shuffled_file() -> None:
    published, ids, raw = transfers(400)
    shuffle = np.random.default_rng(7).permutation(len(published))
    files, truth, raws = ([frame.iloc[shuffle].reset_index(drop=True)] for frame in (published, ids, raw))
    figures = row_order(files, truth, [truth[0]["entry"].to_numpy()], raw=raws, k=2, targets=10,
                        population=population_of(truth, raws))
    assert abs(figures.spearman_mean) < 0.1
    assert figures.transfer_pair_share < figures.transfer_pair_share_by_chance + 0.02


def _one_file(rows: list[dict[str, object]], raw_rows: list[dict[str, object]], customers: list[int],
              shuffled: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """One published file with its ids and raw values, in ledger order or in a seeded shuffled order."""
    published, ids = frames(rows, customers, list(range(len(rows))))
    raw = pd.DataFrame(raw_rows)
    if shuffled:
        order = np.random.default_rng(3).permutation(len(rows))
        published, ids, raw = (frame.iloc[order].reset_index(drop=True) for frame in (published, ids, raw))
    return [published], [ids], [raw]


def daily_pairs(shuffled: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Twenty days; on day d customers d and d+1 withdraw; every label is coarse except the order."""
    rows, raw_rows, customers = [], [], []
    for day in range(20):
        for customer in (day, (day + 1) % 20):
            rows.append(person("*", "*", "2026-03", "[-100, 0)"))
            raw_rows.append({"age": 30, "postal_code": "12345", "transaction_date": f"2026-03-{day + 1:02d}",
                             "amount": -50.0, "kind": "withdrawal"})
            customers.append(customer)
    return _one_file(rows, raw_rows, customers, shuffled)


def test_it_learns_whose_rows_a_window_holds_only_from_their_labels() -> None:
    # ledger order tells which two rows hold the known day, but their labels cover everyone
    files, ids, raw = daily_pairs(shuffled=False)
    figures = row_order(files, ids, [ids[0]["entry"].to_numpy()], raw=raw, k=5, targets=20,
                        rng=np.random.default_rng(0), population=population_of(ids, raw))
    assert (figures.targets, figures.targets_below_k_without_order) == (20, 0)
    assert (figures.targets_below_k_window, figures.targets_pinned_window) == (0, 0)
    assert (figures.linked_targets_below_k_window, figures.linked_targets_pinned_window) == (20, 20)


def fine_and_coarse(shuffled: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Forty withdrawals, two a day: customer c on day c // 2 + 1 with their exact age, on day c // 2 + 11 with ``*``."""
    rows, raw_rows, customers = [], [], []
    for day in range(40):
        customer = day % 20
        rows.append(person(str(20 + customer) if day < 20 else "*", "*", "2026-03", "[-100, 0)"))
        raw_rows.append({"age": 20 + customer, "postal_code": "12345", "transaction_date": f"2026-03-{day // 2 + 1:02d}",
                         "amount": -50.0, "kind": "withdrawal"})
        customers.append(customer)
    return _one_file(rows, raw_rows, customers, shuffled)


def test_it_narrows_targets_with_day_windows_when_rows_are_in_ledger_order() -> None:
    # the window of the exact-age row's day keeps that row alone; without it `*` rows cover everyone
    files, ids, raw = fine_and_coarse(shuffled=False)
    figures = row_order(files, ids, [ids[0]["entry"].to_numpy()], raw=raw, k=5, targets=20,
                        rng=np.random.default_rng(0), population=population_of(ids, raw))
    assert (figures.targets, figures.targets_below_k_without_order) == (20, 0)
    assert (figures.targets_below_k_window, figures.targets_pinned_window) == (20, 20)


def test_it_gains_little_from_day_windows_when_rows_are_shuffled() -> None:
    files, ids, raw = fine_and_coarse(shuffled=True)
    figures = row_order(files, ids, [ids[0]["entry"].to_numpy()], raw=raw, k=5, targets=20,
                        rng=np.random.default_rng(0), population=population_of(ids, raw))
    assert figures.targets_below_k_window <= 2


# --- the whole report ------------------------------------------------------------------------------

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
    report = attack_report(files, ids, raw, k=2, seed=0, n_targets=4, population=population_of(ids, raw))
    assert (report.below_k, report.linked_below_k) == (0, 0)
    assert report.intersection.aligned_rows == 0
    assert report.known_transactions.targets == 4
    assert report.differencing.new_rows == 8  # nights 2 and 3, whole files
    assert ("known_transactions", "chaining.unique_links", 0) in report.rows()


def test_it_reports_every_attack_as_table_rows() -> None:
    files, ids, raw = k_anonymous_increments()
    rows = attack_report(files, ids, raw, k=2, seed=0, n_targets=4, population=population_of(ids, raw)).rows()
    attacks = {attack for attack, _, _ in rows}
    assert attacks == {"differencing", "intersection", "known_transactions", "row_order"}


def test_it_counts_observable_figures_toward_the_promise_and_reports_linked_ones() -> None:
    assert counts_toward_promise("targets_below_k_two_files")
    assert counts_toward_promise("targets_pinned_window")
    assert not counts_toward_promise("linked_targets_below_k")
    assert not counts_toward_promise("nested.linked_targets_pinned")
    assert not counts_toward_promise("targets_below_k_without_order")
    assert not counts_toward_promise("median_target_candidates")
