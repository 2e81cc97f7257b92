"""A customer's birth date and postal code: the words staff see when they are refused."""

from __future__ import annotations

import datetime

import pytest

from accounts.customer_rules import POSTAL_CODE_MESSAGE, birth_date_problem, postal_code_problem

TODAY = datetime.date(2026, 3, 1)


@pytest.mark.parametrize(("birth_date", "problem"), [
    (datetime.date(2030, 1, 1), "The birth date must be in the past."),
    (TODAY, "The birth date must be in the past."),
    (datetime.date(2008, 3, 2), "Customers must be adults (18 or older): born on 2008-03-01 or earlier."),
    (datetime.date(2008, 3, 1), None),
    (datetime.date(1950, 6, 30), None),
])
def test_it_accepts_only_an_adults_birth_date(birth_date, problem):
    assert birth_date_problem(birth_date, TODAY) == problem


def test_it_counts_a_leap_day_as_the_28th_for_the_adult_cutoff():
    assert birth_date_problem(datetime.date(2006, 2, 28), datetime.date(2024, 2, 29)) is None
    assert birth_date_problem(datetime.date(2006, 3, 1), datetime.date(2024, 2, 29)) is not None


@pytest.mark.parametrize("code", ["1012 AB", "1012AB", "1000", "10115", "75001", "SW1A 1AA", "M1 1AE"])
def test_it_accepts_the_postal_codes_of_the_banks_countries(code):
    assert postal_code_problem(code) is None


@pytest.mark.parametrize("code", ["!!!", "0123 AB", "123", "1012 A", "ABCDE", "10115-1", ""])
def test_it_refuses_anything_else_and_says_which_shapes_fit(code):
    assert postal_code_problem(code) == POSTAL_CODE_MESSAGE
