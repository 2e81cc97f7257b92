"""What a customer's details must look like: an adult's birth date and a postal code of their country.

Pure functions returning the problem as a sentence (or None), so a form shows it next to its field
and tests assert the same words. The bank serves customers in the Netherlands, Belgium, Germany,
France and the United Kingdom (transactions/demo.py draws them from the same five); a customer's
country (ISO 3166-1 alpha-2) says which postal code format applies.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

ADULT_AGE = 18
DEFAULT_COUNTRY = "NL"


@dataclasses.dataclass(frozen=True)
class PostalFormat:
    """A country's postal codes: the pattern they match whole and the format told to staff."""

    country: str
    pattern: re.Pattern[str]
    shape: str
    example: str


POSTAL_FORMATS: dict[str, PostalFormat] = {
    "NL": PostalFormat("the Netherlands", re.compile(r"[1-9][0-9]{3} ?[A-Za-z]{2}"),
                       "four digits (not starting with 0) and two letters", "1012 AB"),
    "BE": PostalFormat("Belgium", re.compile(r"[1-9][0-9]{3}"), "four digits (not starting with 0)", "1000"),
    "DE": PostalFormat("Germany", re.compile(r"[0-9]{5}"), "five digits", "10115"),
    "FR": PostalFormat("France", re.compile(r"[0-9]{5}"), "five digits", "75001"),
    "GB": PostalFormat("the United Kingdom", re.compile(r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}"),
                       "an outward code, a space and an inward code", "SW1A 1AA"),
}
COUNTRY_CHOICES = [("NL", "Netherlands"), ("BE", "Belgium"), ("DE", "Germany"), ("FR", "France"),
                   ("GB", "United Kingdom")]


def adult_cutoff(today: datetime.date) -> datetime.date:
    """Return the latest birth date of someone who is an adult on `today` (29 February counts as 28)."""
    try:
        return today.replace(year=today.year - ADULT_AGE)
    except ValueError:
        return today.replace(year=today.year - ADULT_AGE, day=28)


def birth_date_problem(birth_date: datetime.date, today: datetime.date) -> str | None:
    """Return why a birth date cannot be a customer's (in the future, or under 18 today), or None."""
    if birth_date >= today:
        return "The birth date must be in the past."
    cutoff = adult_cutoff(today)
    if birth_date > cutoff:
        return f"Customers must be adults ({ADULT_AGE} or older): born on {cutoff:%Y-%m-%d} or earlier."
    return None


def postal_code_message(country: str) -> str:
    """Return the sentence telling staff the postal code format of `country` (one of POSTAL_FORMATS)."""
    rule = POSTAL_FORMATS[country]
    return f"Enter a postal code of {rule.country}: {rule.shape}, for example {rule.example}."


def postal_code_problem(code: str, country: str) -> str | None:
    """Return why `code` is not a postal code of `country`, or None (an unknown country is the country field's problem)."""
    rule = POSTAL_FORMATS.get(country)
    if rule is None or rule.pattern.fullmatch(code):
        return None
    return postal_code_message(country)


def countries_of_postal_code(code: str) -> list[str]:
    """Return the countries whose postal code format `code` has (none, one, or several for five digits)."""
    return [country for country, rule in POSTAL_FORMATS.items() if rule.pattern.fullmatch(code.strip())]
