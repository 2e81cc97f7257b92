"""Encryption at rest for customer contact details, and keyed blind indexes to find them.

Ciphertext = MultiFernet([primary, *old keys]).encrypt(utf-8 text): AES-128-CBC with
HMAC-SHA256, randomized, so equal values never look equal in the database. Each Fernet key is
derived from a configured secret with HKDF-SHA256 (info "atmsite field encryption"), so any
random string of 32+ characters is a valid setting. Decryption tries the primary key, then the
old keys: a key rotation is "put the new key first, keep the old one in
ATM_FIELD_ENCRYPTION_OLD_KEYS, run `manage.py rotate_field_encryption`, then drop the old key".

Blind index = HMAC-SHA256(K_index, normalized value), K_index derived from the primary secret
with another HKDF label: equal emails give equal indexes, so staff can find a customer by exact
email, while the index alone reveals nothing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class DecryptionFailed(Exception):
    """A stored value could not be decrypted with any configured key."""


def _derive(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())


@cache
def _fernet(primary: str, old: tuple[str, ...]) -> MultiFernet:
    keys = [Fernet(base64.urlsafe_b64encode(_derive(s, b"atmsite field encryption"))) for s in (primary, *old)]
    return MultiFernet(keys)


def _current() -> MultiFernet:
    return _fernet(settings.ATM_FIELD_ENCRYPTION_KEY, tuple(settings.ATM_FIELD_ENCRYPTION_OLD_KEYS))


def encrypt_text(plain: str) -> str:
    """Return the Fernet token (ASCII) of `plain` under the primary key."""
    return _current().encrypt(plain.encode()).decode("ascii")


def decrypt_text(token: str) -> str:
    """Return the plain text of a token made with the primary or an old key."""
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionFailed("A stored value could not be decrypted with the configured keys.") from exc


def reencrypt_text(token: str) -> str:
    """Return the token re-encrypted under the primary key (for key rotation)."""
    try:
        return _current().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise DecryptionFailed("A stored value could not be decrypted with the configured keys.") from exc


def blind_index(value: str) -> str:
    """Return HMAC-SHA256(K_index, value stripped and lower-cased) as hex."""
    key = _derive(settings.ATM_FIELD_ENCRYPTION_KEY, b"atmsite blind index")
    return hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()
