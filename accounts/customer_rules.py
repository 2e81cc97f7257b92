"""What a customer's details must look like: an adult's birth date and a postal code of the bank's countries.

Pure functions returning the problem as a sentence (or None), so a form shows it next to its field
and tests assert the same words. The bank serves customers in the Netherlands, Belgium, Germany,
France and the United Kingdom (transactions/demo.py draws them from the same five); a customer has no
country field, so a postal code must have the shape of one of these countries' codes.
"""

from __future__ import annotations

import datetime
import re

ADULT_AGE = 18
POSTAL_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "Netherlands": (re.compile(r"[1-9][0-9]{3} ?[A-Za-z]{2}"), "1012 AB"),
    "Belgium": (re.compile(r"[1-9][0-9]{3}"), "1000"),
    "Germany": (re.compile(r"[0-9]{5}"), "10115"),
    "France": (re.compile(r"[0-9]{5}"), "75001"),
    "United Kingdom": (re.compile(r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}"), "SW1A 1AA"),
}
POSTAL_CODE_MESSAGE = ("Enter a postal code of the Netherlands (1012 AB), Belgium (1000), Germany (10115), France "
                       "(75001) or the United Kingdom (SW1A 1AA).")


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


def postal_code_problem(code: str) -> str | None:
    """Return why a postal code fits none of the bank's countries, or None."""
    if any(pattern.fullmatch(code) for pattern, _example in POSTAL_FORMATS.values()):
        return None
    return POSTAL_CODE_MESSAGE
