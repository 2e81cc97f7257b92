"""PIN hashing: argon2id over an HMAC of the PIN keyed with a server-side pepper.

hash = argon2id(HMAC-SHA256(ATM_PIN_PEPPER, pin)). A 4-6 digit PIN has at most 10^6 values, so a
leaked hash alone could be brute-forced offline; without the pepper (kept outside the database)
it cannot. Verifications are bounded by a semaphore because each one holds
ATM_ARGON2_MEMORY_KIB of memory for tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from django.conf import settings

TRIVIAL_PINS = frozenset(
    {"0000", "1111", "2222", "3333", "4444", "5555", "6666", "7777", "8888", "9999",
     "1234", "4321", "12345", "54321", "123456", "654321", "000000", "111111", "1212", "2580",
     "0123", "01234", "012345", "9876", "98765", "987654"}
)


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def _current_hasher() -> PasswordHasher:
    return _hasher(settings.ATM_ARGON2_TIME_COST, settings.ATM_ARGON2_MEMORY_KIB, settings.ATM_ARGON2_PARALLELISM)


@cache
def _verify_slots(limit: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(limit)


def _peppered(pin: str) -> str:
    return hmac.new(settings.ATM_PIN_PEPPER.encode(), pin.encode(), hashlib.sha256).hexdigest()


def hash_pin(pin: str) -> str:
    """Return the argon2id hash of the peppered PIN."""
    return _current_hasher().hash(_peppered(pin))


def verify_pin(pin: str, pin_hash: str) -> bool:
    """Return True when `pin` matches `pin_hash`; at most ATM_PIN_VERIFY_CONCURRENCY run at once."""
    with _verify_slots(settings.ATM_PIN_VERIFY_CONCURRENCY):
        try:
            return _current_hasher().verify(pin_hash, _peppered(pin))
        except (VerificationError, InvalidHashError):
            return False


def pin_hash_outdated(pin_hash: str) -> bool:
    """Return True when `pin_hash` was made with other argon2 parameters than the configured ones.

    Such a hash still verifies (argon2 reads its parameters from the hash itself); the card's next
    login re-hashes the PIN with the configured ones.
    """
    try:
        return _current_hasher().check_needs_rehash(pin_hash)
    except InvalidHashError:
        return False


def pin_problem(new_pin: str, old_pin: str | None = None) -> str | None:
    """Return why `new_pin` is not acceptable (4-6 digits, not trivial, not the old PIN), or None."""
    if not (new_pin.isascii() and new_pin.isdigit() and 4 <= len(new_pin) <= 6):
        return "A PIN is 4 to 6 digits."
    if new_pin in TRIVIAL_PINS or len(set(new_pin)) == 1:
        return "This PIN is too easy to guess. Choose another."
    if old_pin is not None and new_pin == old_pin:
        return "The new PIN must differ from the current PIN."
    return None
