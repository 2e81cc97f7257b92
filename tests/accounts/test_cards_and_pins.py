"""Card numbers, account numbers and PIN hashes follow the bank's rules."""

from __future__ import annotations

import random

import pytest

from accounts.cards import generate_pan, luhn_checksum_ok, network_for_pan, pan_fingerprint
from accounts.iban import iban_for, iban_is_valid, random_iban
from accounts.pins import hash_pin, pin_problem, verify_pin


@pytest.mark.parametrize("network", ["visa", "mastercard", "maestro", "amex", "discover"])
def test_it_generates_luhn_valid_pans_inside_the_network_range(network):
    rng = random.Random(7)
    for _ in range(50):
        pan = generate_pan(network, rng)
        assert luhn_checksum_ok(pan)
        assert network_for_pan(pan) == network
        assert 13 <= len(pan) <= 19


def test_it_rejects_a_pan_with_one_wrong_digit():
    assert luhn_checksum_ok("4539578763621486")
    assert not luhn_checksum_ok("4539578763621487")


def test_it_fingerprints_pans_with_a_key_not_a_plain_hash():
    import hashlib

    pan = "4539578763621486"
    assert pan_fingerprint(pan) == pan_fingerprint(pan)
    assert pan_fingerprint(pan) != hashlib.sha256(pan.encode()).hexdigest()
    assert pan not in pan_fingerprint(pan)


def test_it_builds_valid_ibans():
    assert iban_is_valid("NL91ABNA0417164300")
    assert not iban_is_valid("NL92ABNA0417164300")
    assert iban_is_valid(iban_for("0123456789"))
    assert all(iban_is_valid(random_iban(random.Random(seed))) for seed in range(20))


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
