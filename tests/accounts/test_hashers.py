"""Staff password hashing (accounts/hashers.py): argon2id at the configured cost; other costs upgrade at login."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

STAFF_HASHER = "accounts.hashers.StaffArgon2PasswordHasher"


@pytest.fixture
def staff_hashing(settings):
    settings.PASSWORD_HASHERS = [STAFF_HASHER]
    settings.STAFF_ARGON2_TIME_COST, settings.STAFF_ARGON2_MEMORY_KIB, settings.STAFF_ARGON2_PARALLELISM = 1, 64, 1
    return settings


def test_it_hashes_with_the_configured_cost(staff_hashing):
    encoded = make_password("a long staff password")
    params = extract_parameters(encoded.removeprefix("argon2"))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == ("ID", 1, 64, 1)


def test_it_upgrades_a_hash_of_another_cost_at_the_next_login(staff_hashing):
    class OldDefault(Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 128, 2

    user = User.objects.create(username="bob", password=OldDefault().encode("teller-password-1", "saltsaltsalt"))
    assert not user.check_password("wrong password")
    assert extract_parameters(User.objects.get(pk=user.pk).password.removeprefix("argon2")).memory_cost == 128
    assert user.check_password("teller-password-1")
    params = extract_parameters(User.objects.get(pk=user.pk).password.removeprefix("argon2"))
    assert (params.memory_cost, params.parallelism) == (64, 1)
