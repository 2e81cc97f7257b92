"""Account numbers (accounts.iban): valid IBANs."""

from __future__ import annotations

import random

from accounts.iban import iban_for, iban_is_valid, random_iban


def test_it_builds_valid_ibans():
    assert iban_is_valid("NL91ABNA0417164300")
    assert not iban_is_valid("NL92ABNA0417164300")
    assert iban_is_valid(iban_for("0123456789"))
    assert all(iban_is_valid(random_iban(random.Random(seed))) for seed in range(20))
