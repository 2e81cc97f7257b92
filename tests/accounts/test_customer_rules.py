"""A customer's birth date and postal code per country: the words staff see when they are refused."""

from __future__ import annotations

import datetime

import pytest

from accounts.customer_rules import birth_date_problem, countries_of_postal_code, postal_code_problem

TODAY = datetime.date(2026, 3, 1)
DUTCH = "Enter a postal code of the Netherlands: four digits (not starting with 0) and two letters, for example 1012 AB."
GERMAN = "Enter a postal code of Germany: five digits, for example 10115."


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


@pytest.mark.parametrize(("country", "code"), [
    ("NL", "1012 AB"), ("NL", "1012AB"), ("NL", "9999 zz"), ("BE", "1000"), ("BE", "9990"), ("DE", "10115"),
    ("DE", "01067"), ("FR", "75001"), ("FR", "97218"), ("GB", "SW1A 1AA"), ("GB", "M1 1AE"), ("GB", "EC1A1BB"),
])
def test_it_accepts_the_postal_codes_of_the_customers_country(country, code):
    assert postal_code_problem(code, country) is None


@pytest.mark.parametrize(("country", "code", "problem"), [
    ("NL", "1000", DUTCH), ("NL", "0123 AB", DUTCH), ("NL", "!!!", DUTCH),
    ("BE", "1012 AB", "Enter a postal code of Belgium: four digits (not starting with 0), for example 1000."),
    ("BE", "0999", "Enter a postal code of Belgium: four digits (not starting with 0), for example 1000."),
    ("DE", "1011", GERMAN), ("DE", "", GERMAN), ("DE", "10115-1", GERMAN),
    ("FR", "SW1A 1AA", "Enter a postal code of France: five digits, for example 75001."),
    ("GB", "75001", "Enter a postal code of the United Kingdom: an outward code, a space and an inward code, "
                    "for example SW1A 1AA."),
])
def test_it_refuses_another_countrys_format_and_names_the_expected_one(country, code, problem):
    assert postal_code_problem(code, country) == problem


@pytest.mark.parametrize(("code", "countries"), [
    ("1012 AB", ["NL"]), ("1000", ["BE"]), ("SW1A 1AA", ["GB"]), ("10115", ["DE", "FR"]), ("!!!", []),
])
def test_it_tells_which_countries_a_postal_code_could_belong_to(code, countries):
    assert countries_of_postal_code(code) == countries
