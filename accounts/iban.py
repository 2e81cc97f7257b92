"""IBAN-style account numbers: NLkk ATMB nnnnnnnnnn, with ISO 13616 mod-97 check digits."""

from __future__ import annotations

import random
import string

COUNTRY = "NL"
BANK_CODE = "ATMB"


def _as_digits(text: str) -> int:
    """Return the IBAN integer: letters become 10..35, digits stay."""
    return int("".join(str(int(ch, 36)) for ch in text))


def iban_is_valid(iban: str) -> bool:
    """Return True when the rearranged IBAN (first four characters moved to the end) ≡ 1 mod 97."""
    iban = iban.replace(" ", "").upper()
    if len(iban) < 15 or len(iban) > 34 or not iban.isalnum() or not iban.isascii():
        return False
    return _as_digits(iban[4:] + iban[:4]) % 97 == 1


def iban_for(account_digits: str) -> str:
    """Return the IBAN for a 10-digit account identifier at this bank."""
    bban = BANK_CODE + account_digits
    check = 98 - _as_digits(bban + COUNTRY + "00") % 97
    return f"{COUNTRY}{check:02d}{bban}"


def random_iban(rng: random.Random | None = None) -> str:
    """Return a fresh random IBAN at this bank (uniqueness is the caller's business)."""
    rng = rng or random.SystemRandom()
    return iban_for("".join(rng.choice(string.digits) for _ in range(10)))


def normalize_account_number(raw: str) -> str:
    """Upper-case and drop spaces, as people type IBANs in groups of four."""
    return raw.replace(" ", "").upper()
