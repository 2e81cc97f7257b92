"""The independent verifier: k over customers, l, t, identifier columns and cells (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.exceptions import VerificationFailed
from anonymization.policy.catalog import Identifiers
from anonymization.release.order import secret_order
from anonymization.release.verify import (
    Expectations,
    check_same_table,
    class_ids,
    emd,
    ledger_neighbours,
    rank_correlation,
)
from anonymization.release.verify import verify as release_verify

IDS = Identifiers(names={"anna", "jansen", "anna jansen", "dorpsstraat 1"}, full_names={"anna jansen"},
                  emails={"anna@example.com"}, phones={"31612345678"}, accounts={"NL91ATMB0123456789"},
                  bin_last4={"4123451234"})


def _data(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["age", "kind"]).astype("category")


def _expect(**overrides) -> Expectations:
    return Expectations(**{"columns": ["age", "kind"], "quasi_identifiers": ["age"], "k": 2, "source": "transactions",
                           **overrides})


def verify(*, data: pd.DataFrame, **kwargs):
    """Verify with ledger positions in reverse order (not ledger order) unless the test gives them."""
    kwargs.setdefault("positions", np.arange(len(data))[::-1])
    return release_verify(data=data, **kwargs)


def test_it_counts_k_over_distinct_customers_not_rows():
    data = _data([("30-39", "deposit")] * 4 + [("40-49", "deposit")] * 2)
    with pytest.raises(VerificationFailed) as caught:
        verify(data=data, individuals=np.array([1, 1, 1, 1, 2, 3]), expected=_expect(), ids=IDS)
    assert str(caught.value) == ("Verification failed: 1 equivalence class(es) have fewer than k=2 customers "
                                 "(smallest: 1).")
    passed = verify(data=data, individuals=np.array([1, 1, 2, 2, 3, 4]), expected=_expect(), ids=IDS)
    assert passed.figures == {"classes": 2, "smallest_class_customers": 2}
    assert sorted(passed.class_customers.tolist()) == [2, 2]


def test_it_checks_distinct_l_diversity():
    data = _data([("30-39", "deposit"), ("30-39", "deposit"), ("40-49", "deposit"), ("40-49", "withdrawal")])
    expected = _expect(sensitive="kind", l_diversity=2)
    with pytest.raises(VerificationFailed, match=r"1 class\(es\) have fewer than l=2 distinct values"):
        verify(data=data, individuals=np.arange(4), expected=expected, ids=IDS)


def test_it_checks_t_closeness_against_the_whole_input():
    data = _data([("30-39", "deposit"), ("30-39", "deposit"), ("40-49", "withdrawal"), ("40-49", "withdrawal")])
    expected = _expect(sensitive="kind", t_closeness=0.4)
    with pytest.raises(VerificationFailed, match=r"largest: 0\.5000"):
        verify(data=data, individuals=np.arange(4), expected=expected, ids=IDS)
    loose = verify(data=data, individuals=np.arange(4), expected=_expect(sensitive="kind", t_closeness=0.5), ids=IDS)
    assert loose.figures["largest_t"] == pytest.approx(0.5)


def test_it_uses_the_ordered_distance_for_numbers():
    overall = np.array([1 / 3, 1 / 3, 1 / 3])
    assert emd(np.array([[1.0, 0.0, 0.0]]), overall, ordered=True)[0] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert emd(np.array([[1.0, 0.0, 0.0]]), overall, ordered=False)[0] == pytest.approx(2 / 3)


@pytest.mark.parametrize(("cell", "kind"), [
    ("Anna", "a customer name or address"), ("DORPSSTRAAT 1", "a customer name or address"),
    ("to anna jansen", "a customer name"), ("anna@example.com", "an email address"),
    ("NL91 ATMB 0123 4567 89", "an account number"), ("+31 6 1234 5678", "a phone number"),
    ("4123 45** **** 1234", "a card number"),
])
def test_it_finds_identifiers_in_cells_without_repeating_them(cell, kind):
    data = _data([("30-39", cell), ("30-39", "deposit")])
    with pytest.raises(VerificationFailed) as caught:
        verify(data=data, individuals=np.array([1, 2]), expected=_expect(), ids=IDS)
    assert str(caught.value) == f"Verification failed: column 'kind' contains {kind} from the database."


def test_it_refuses_identifier_columns_and_unexpected_columns():
    data = _data([("30-39", "deposit")] * 2).assign(customer_id=["1", "2"])
    with pytest.raises(VerificationFailed, match=r"direct identifier column\(s\) 'customer_id'"):
        verify(data=data, individuals=np.array([1, 2]), expected=_expect(), ids=IDS)
    with pytest.raises(VerificationFailed, match=r"the file's columns \['kind', 'age'\] differ"):
        verify(data=_data([("30-39", "deposit")] * 2)[["kind", "age"]], individuals=np.array([1, 2]),
               expected=_expect(), ids=IDS)


# --- every released column in the classes, no linkage, no live formulas ---------------------------------

def _frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns).astype("category")


def _message(data: pd.DataFrame, expected: Expectations, individuals: np.ndarray | None = None, **kwargs) -> str:
    individuals = np.arange(len(data)) if individuals is None else individuals
    with pytest.raises(VerificationFailed) as caught:
        verify(data=data, individuals=individuals, expected=expected, ids=IDS, **kwargs)
    return str(caught.value)


def test_it_counts_kind_in_the_classes():
    data = _frame(age=["30-39"] * 4, kind=["deposit", "deposit", "deposit", "withdrawal"])
    assert _message(data, _expect(), individuals=np.array([1, 2, 3, 4])) == (
        "Verification failed: 1 equivalence class(es) have fewer than k=2 customers (smallest: 1).")
    with_kind_as_sensitive = _expect(sensitive="kind", l_diversity=2)
    assert verify(data=data, individuals=np.array([1, 2, 3, 4]), expected=with_kind_as_sensitive,
                  ids=IDS).figures["classes"] == 1


def test_it_refuses_a_column_that_must_be_generalized_but_no_hierarchy_covered():
    data = _frame(age=["30-39"] * 2, postal_code=["1012 AB", "1013 CD"])
    expected = _expect(columns=["age", "postal_code"])
    assert _message(data, expected) == (
        "Verification failed: column 'postal_code' must be generalized, but no hierarchy covered it.")


def test_it_refuses_rows_in_ledger_order():
    data = _frame(age=["30-39"] * 200, kind=["deposit"] * 200)
    assert _message(data, _expect(), positions=np.arange(200)) == (
        "Verification failed: the rows follow ledger order (rank correlation 1.00 between file and ledger positions; "
        "allowed below 0.1).")
    assert _message(data, _expect(), positions=np.arange(200)[::-1]) == (
        "Verification failed: the rows follow ledger order (rank correlation -1.00 between file and ledger "
        "positions; allowed below 0.1).")


def test_it_refuses_a_transfer_followed_by_its_own_other_leg_beyond_chance():
    kinds = ["transfer_out", "transfer_in"] * 10
    data = _frame(age=["30-39"] * 20, kind=kinds)
    # Transfers newest first, each out-leg (ledger position 2n) right before its in-leg (2n + 1).
    legs_together = np.array([leg for pair in reversed(range(10)) for leg in (2 * pair, 2 * pair + 1)])
    assert _message(data, _expect(), positions=legs_together) == (
        "Verification failed: 10 rows are directly followed by the next ledger entry, such as a transfer's other leg "
        "(a random order has about 1; at most 8 allowed).")


def test_it_refuses_exact_balances_with_exact_amounts():
    data = _frame(age=["30-39"] * 2, amount=["-12.50", "40.00"], balance_after=["87.50", "127.50"])
    expected = _expect(columns=["age", "amount", "balance_after"], quasi_identifiers=["age", "amount", "balance_after"])
    assert _message(data, expected) == (
        "Verification failed: columns 'balance_after' and 'amount' both hold exact values, which chain a customer's "
        "rows (previous balance + amount = next balance).")
    banded = data.assign(balance_after=pd.Categorical(["[0, 100)", "[100, 200)"]))
    assert _message(banded, expected) == ("Verification failed: 2 equivalence class(es) have fewer than k=2 "
                                          "customers (smallest: 1).")


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+A1", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_it_refuses_a_live_formula_cell(cell):
    data = _frame(age=["30-39"] * 2, kind=[cell, cell])
    assert _message(data, _expect()) == (
        "Verification failed: column 'kind' has a cell a spreadsheet would run as a formula.")
    neutralized = _frame(age=["30-39"] * 2, kind=["'" + cell] * 2)
    verify(data=neutralized, individuals=np.arange(2), expected=_expect(), ids=IDS)


def test_it_refuses_an_identifier_column_with_its_exact_message():
    data = _frame(age=["30-39"] * 2, kind=["deposit"] * 2, iban=["x", "y"])
    assert _message(data, _expect()) == "Verification failed: the file has direct identifier column(s) 'iban'."


def test_it_scans_a_neutralized_cell_as_it_was():
    data = _frame(age=["30-39"] * 2, kind=["'+31 6 1234 5678", "deposit"])
    assert _message(data, _expect()) == "Verification failed: column 'kind' contains a phone number from the database."


def test_it_compares_parquet_true_values_with_the_neutralized_csv():
    parquet = pd.DataFrame({"kind": ["=1+1", "-12.50"], "amount": [-12.5, 3.0]})
    csv = pd.DataFrame({"kind": ["'=1+1", "-12.50"], "amount": ["-12.5", "3.0"]})
    check_same_table(parquet, csv)
    with pytest.raises(VerificationFailed, match=r"^Verification failed: the Parquet file differs from the CSV file\.$"):
        check_same_table(parquet, csv.assign(kind=["=1+1", "-12.50"]))


def test_it_draws_a_secret_order_that_passes_the_order_rule():
    positions = np.arange(0, 2_000, 2)
    orders = [secret_order(positions) for _ in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(1_000))
        assert abs(rank_correlation(positions[order])) < 0.1
        assert ledger_neighbours(positions[order]) <= 8
    assert orders[0].tolist() != orders[1].tolist()


def test_a_day_range_is_not_read_as_a_card_number_but_other_digits_are():
    # "2025-04-12..2025-12-31" holds the digits 0412202512 across its two days
    ids = Identifiers(names=set(), full_names=set(), emails=set(), phones=set(), accounts=set(),
                      bin_last4={"0412202512"})
    released = _data([("30-39", "2025-04-12..2025-12-31")] * 2)
    verify(data=released, individuals=np.array([1, 2]), expected=_expect(), ids=ids)
    for cell in ("2025-04-12 2025-12-31", "2025-04-12..2025-12-32", "2026-04-12..2025-12-31",
                 "x 2025-04-12..2025-12-31"):
        with pytest.raises(VerificationFailed, match="a card number"):
            verify(data=_data([("30-39", cell), ("30-39", "deposit")]), individuals=np.array([1, 2]),
                   expected=_expect(), ids=ids)


def test_class_numbers_follow_first_appearance_like_grouping_every_column():
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"age": rng.choice(["20-29", "30-39", None], 400), "kind": rng.choice(["a", "b", "c"], 400),
                         "amount": rng.choice([1.5, 2.5], 400)}).astype({"age": "category", "kind": "category"})
    expected = data.groupby(["age", "kind", "amount"], sort=False, observed=True, dropna=False).ngroup().to_numpy()
    assert np.array_equal(class_ids(data, ["age", "kind", "amount"]), expected)
    assert np.array_equal(class_ids(data, []), np.zeros(400, dtype=np.int64))
