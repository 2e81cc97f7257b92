"""Card-number rules: Luhn, networks by BIN, PAN generation and keyed fingerprints.

Pure functions apart from `pan_fingerprint`, which reads the HMAC key from settings.
"""

from __future__ import annotations

import hashlib
import hmac
import random

from django.conf import settings

PAN_MIN_LENGTH = 13
PAN_MAX_LENGTH = 19

# (network, IIN prefix ranges as inclusive (low, high) on the first len(low) digits, PAN length)
NETWORK_RANGES: tuple[tuple[str, tuple[tuple[str, str], ...], int], ...] = (
    ("amex", (("34", "34"), ("37", "37")), 15),
    ("mastercard", (("51", "55"), ("2221", "2720")), 16),
    ("discover", (("6011", "6011"), ("65", "65"), ("644", "649")), 16),
    ("maestro", (("50", "50"), ("56", "58"), ("6304", "6304"), ("6759", "6759")), 16),
    ("visa", (("4", "4"),), 16),
)


def luhn_checksum_ok(number: str) -> bool:
    """Return True when the digit string passes the Luhn mod-10 check (sum of doubled-alternate digits ≡ 0)."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """Return the digit that makes `partial + digit` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_checksum_ok(partial + digit):
            return digit
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


def network_for_pan(pan: str) -> str:
    """Return the card network whose IIN range contains the PAN's prefix, or "other"."""
    for network, ranges, _length in NETWORK_RANGES:
        for low, high in ranges:
            prefix = pan[: len(low)]
            if len(prefix) == len(low) and low <= prefix <= high:
                return network
    return "other"


def generate_pan(network: str, rng: random.Random) -> str:
    """Return a Luhn-valid PAN inside one of the network's IIN ranges."""
    for name, ranges, length in NETWORK_RANGES:
        if name == network:
            low, high = rng.choice(ranges)
            prefix = str(rng.randint(int(low), int(high)))
            body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
            return body + luhn_check_digit(body)
    raise ValueError(f"Unknown card network {network!r}.")


def normalize_pan(raw: str) -> str:
    """Strip the spaces and dashes people type between digit groups."""
    return "".join(ch for ch in raw if ch not in " -")


def pan_fingerprint(pan: str) -> str:
    """Return HMAC-SHA256(ATM_PAN_HMAC_KEY, pan) as hex: the only lookup key a stored card has."""
    key = settings.ATM_PAN_HMAC_KEY.encode()
    return hmac.new(key, pan.encode("ascii"), hashlib.sha256).hexdigest()
