"""PINs (accounts.pins): argon2id hashing with a pepper, the rules for a new PIN."""

from __future__ import annotations

import pytest

from accounts.pins import hash_pin, pin_problem, verify_pin


def test_it_hashes_pins_with_argon2id_and_a_pepper(settings):
    pin_hash = hash_pin("2468")
    assert pin_hash.startswith("$argon2id$")
    assert "2468" not in pin_hash
    assert verify_pin("2468", pin_hash)
    assert not verify_pin("2469", pin_hash)
    settings.ATM_PIN_PEPPER = "another-pepper-" + "x" * 32
    assert not verify_pin("2468", pin_hash), "the hash alone, without the pepper, must not verify"


@pytest.mark.parametrize(
    ("pin", "old", "problem"),
    [
        ("123", None, "A PIN is 4 to 6 digits."),
        ("1234567", None, "A PIN is 4 to 6 digits."),
        ("12a4", None, "A PIN is 4 to 6 digits."),
        ("١٢٣٤", None, "A PIN is 4 to 6 digits."),
        ("0000", None, "This PIN is too easy to guess. Choose another."),
        ("1234", None, "This PIN is too easy to guess. Choose another."),
        ("777777", None, "This PIN is too easy to guess. Choose another."),
        ("2468", "2468", "The new PIN must differ from the current PIN."),
        ("2468", "1357", None),
    ],
)
def test_it_judges_new_pins(pin, old, problem):
    assert pin_problem(pin, old) == problem
