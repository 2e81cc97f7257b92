"""The independent verifier: k over customers, l, t, identifier columns and cells (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.exceptions import VerificationFailed
from anonymization.policy.catalog import Identifiers
from anonymization.release.verify import Expectations, emd
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
