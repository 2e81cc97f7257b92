"""Card numbers (accounts.cards): Luhn-valid PANs per network, keyed fingerprints."""

from __future__ import annotations

import random

import pytest

from accounts.cards import generate_pan, luhn_checksum_ok, network_for_pan, pan_fingerprint


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
