"""Field encryption and blind indexes (accounts/crypto.py): randomized, rotatable, keyed."""

from __future__ import annotations

import pytest

from accounts.crypto import DecryptionFailed, blind_index, decrypt_text, encrypt_text, reencrypt_text

NEW_KEY = "a-brand-new-field-encryption-key-" + "k" * 16
FAILED = "A stored value could not be decrypted with the configured keys."


def test_it_encrypts_equal_values_to_different_tokens_that_decrypt_back():
    first, second = encrypt_text("ada@example.com"), encrypt_text("ada@example.com")
    assert first != second and "ada" not in first
    assert decrypt_text(first) == decrypt_text(second) == "ada@example.com"


def test_it_reads_old_tokens_during_a_rotation_and_reencrypts_them_under_the_new_key(settings):
    old_token = encrypt_text("+31 20 555 0101")
    settings.ATM_FIELD_ENCRYPTION_OLD_KEYS = [settings.ATM_FIELD_ENCRYPTION_KEY]
    settings.ATM_FIELD_ENCRYPTION_KEY = NEW_KEY
    assert decrypt_text(old_token) == "+31 20 555 0101"
    new_token = reencrypt_text(old_token)
    settings.ATM_FIELD_ENCRYPTION_OLD_KEYS = []
    assert decrypt_text(new_token) == "+31 20 555 0101"
    with pytest.raises(DecryptionFailed) as error:
        decrypt_text(old_token)
    assert str(error.value) == FAILED


@pytest.mark.parametrize("token", ["not-a-token", "gAAAAA" + "x" * 40, "ünïcode"])
def test_it_refuses_tokens_it_cannot_decrypt_with_one_message(token):
    with pytest.raises(DecryptionFailed) as error:
        decrypt_text(token)
    assert str(error.value) == FAILED


def test_it_refuses_to_reencrypt_a_token_of_an_unknown_key(settings):
    token = encrypt_text("ada@example.com")
    settings.ATM_FIELD_ENCRYPTION_KEY = NEW_KEY
    with pytest.raises(DecryptionFailed) as error:
        reencrypt_text(token)
    assert str(error.value) == FAILED


def test_it_indexes_values_ignoring_case_and_surrounding_spaces_under_the_key(settings):
    index = blind_index("Ada@Example.com")
    assert index == blind_index("  ada@example.com ") and len(index) == 64
    assert index != blind_index("grace@example.com")
    settings.ATM_FIELD_ENCRYPTION_KEY = NEW_KEY
    assert blind_index("ada@example.com") != index
