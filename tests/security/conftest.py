"""Tools of the hostile-input suite: a client that answers 500 instead of raising, snapshots, payloads.

Every request goes through `hostile_client()` (raise_request_exception=False): a crashing view
answers 500 as it would in production, and `assert_handled` fails the test on any 5xx.
`snapshot()` reads every row a request could change and `effect(before, after)` says what changed,
in a shape the tests compare with the one change a valid request must make (`{}` = nothing).
Hypothesis examples of one test share its database, so each example runs in `rolled_back()`.

The oracles (`amount_minor`, `well_formed_pin`, ...) are the bank's rules written out again
independently of the forms, so a form that accepts too much or too little is caught.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from accounts.models import Account, Card, CardNumberTries, Customer, LoginAttempt, ProcessedRequest
from transactions.models import LedgerEntry


def fuzz(max_examples: int) -> settings:
    """Return hypothesis settings for a fuzz test: no deadline (one request can take a while on 2 cores)."""
    return settings(
        max_examples=max_examples, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.large_base_example, HealthCheck.data_too_large],
    )


def hostile_client(**kwargs: Any) -> Client:
    """Return a test client that turns a crashing view into its 500 response instead of raising."""
    return Client(raise_request_exception=False, **kwargs)


def assert_handled(response: HttpResponse) -> None:
    """Fail unless the request was answered without a server error."""
    assert response.status_code < 500, f"server error {response.status_code} for {response.request!r}"


# --- What a request changed -----------------------------------------------------------------------

WATCHED: dict[str, tuple[type, tuple[str, ...]]] = {
    "accounts": (Account, ("customer_id", "number", "kind", "currency", "balance_minor", "status",
                           "daily_withdrawal_limit_minor")),
    "cards": (Card, ("account_id", "status", "failed_pin_attempts", "pin_hash", "must_change_pin", "blocked_at")),
    "entries": (LedgerEntry, ("account_id", "kind", "amount_minor")),
    "customers": (Customer, ("first_name", "last_name", "email", "phone", "street_address", "birth_date",
                             "gender", "country", "postal_code", "city")),
    "login_attempts": (LoginAttempt, ("address", "succeeded")),
    "card_number_tries": (CardNumberTries, ("pan_hmac", "failed_pin_attempts")),
    "processed_requests": (ProcessedRequest, ("key",)),
}
# Columns whose new value is random or a timestamp: an effect says only that they changed.
RANDOM_COLUMNS = {"accounts": {"number"}, "cards": {"pin_hash", "blocked_at"}}
CHANGED = "<changed>"

Snapshot = dict[str, dict[int, dict[str, Any]]]


def snapshot() -> Snapshot:
    """Return every watched row as {table: {pk: {column: value}}}."""
    rows: Snapshot = {}
    for table, (model, columns) in WATCHED.items():
        rows[table] = {}
        for row in model.objects.order_by("pk").values("pk", *columns):
            pk = row.pop("pk")
            rows[table][pk] = row
    return rows


def _new_row(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(value for column, value in row.items() if column not in RANDOM_COLUMNS.get(table, ()))


def _changed_columns(table: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Return the changed columns with their new values (balances are reported as deltas instead)."""
    random_columns = RANDOM_COLUMNS.get(table, set())
    return {column: CHANGED if column in random_columns else new[column]
            for column in new if new[column] != old[column] and column != "balance_minor"}


def effect(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """Return what changed: balance deltas, changed columns, new rows (without pk), removed pks."""
    found: dict[str, Any] = {}
    for table in WATCHED:
        old, new = before[table], after[table]
        kept = sorted(new.keys() & old.keys())
        if table == "accounts":
            found["balances"] = {pk: new[pk]["balance_minor"] - old[pk]["balance_minor"] for pk in kept
                                 if new[pk]["balance_minor"] != old[pk]["balance_minor"]}
        found[table] = {pk: changes for pk in kept if (changes := _changed_columns(table, old[pk], new[pk]))}
        found[f"new {table}"] = sorted((_new_row(table, new[pk]) for pk in new.keys() - old.keys()), key=repr)
        found[f"removed {table}"] = sorted(old.keys() - new.keys())
    return {key: value for key, value in found.items() if value}


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a savepoint that is then rolled back, so the next example starts from the same data."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass
class Outcome:
    response: HttpResponse
    effect: dict[str, Any]


def post_watched(client: Client, url: str, submission: Submission, **headers: Any) -> Outcome:
    """POST the submission in a rolled-back savepoint; fail on a server error; return what it changed."""
    with rolled_back():
        before = snapshot()
        response = submission.send(client, url, **headers)
        after = snapshot()
    assert_handled(response)
    outcome = Outcome(response, effect(before, after))
    event("changed: " + (", ".join(sorted(outcome.effect)) or "nothing"))
    return outcome


# --- Payloads -------------------------------------------------------------------------------------

ENCODINGS = ("urlencoded", "multipart", "json", "text", "file")


@dataclass(frozen=True)
class Submission:
    """A form as a hostile client may send it: each field with zero, one or two values, in some encoding.

    "json" and "text" bodies are not form data (Django parses none of it); "file" is multipart with
    `file_field` sent as an uploaded file, where the form expects text.
    """

    fields: Mapping[str, tuple[str, ...]]
    encoding: str = "urlencoded"
    file_field: str | None = None
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def seen(self) -> dict[str, str]:
        """Return the data a Django form sees: each text field's last value."""
        if self.encoding in ("json", "text"):
            return {}
        return {name: values[-1] for name, values in {**self.fields, **self.extra}.items()
                if values and name != self.file_field}

    def resolve(self, names: Mapping[str, str]) -> Submission:
        """Return the submission with each {placeholder} replaced by its value (known only at run time)."""
        def fill(value: str) -> str:
            for placeholder, actual in names.items():
                value = value.replace(placeholder, actual)
            return value

        return replace(self, fields={name: tuple(map(fill, values)) for name, values in self.fields.items()})

    def with_fixed(self, **fixed: str | list[str]) -> Submission:
        """Return the submission with fields the test sets itself (hidden admin fields, for example)."""
        extra = {name: tuple(value) if isinstance(value, list) else (value,) for name, value in fixed.items()}
        return replace(self, extra=extra)

    def pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in {**self.fields, **self.extra}.items() for value in values]

    def send(self, client: Client, url: str, **headers: Any) -> HttpResponse:
        """POST the submission to `url` in its encoding."""
        pairs = self.pairs()
        if self.encoding == "json":
            body = json.dumps({name: list(values) for name, values in {**self.fields, **self.extra}.items()})
            return client.post(url, body, content_type="application/json", **headers)
        if self.encoding == "text":
            return client.post(url, urlencode(pairs), content_type="text/plain", **headers)
        if self.encoding == "urlencoded":
            return client.post(url, urlencode(pairs), content_type="application/x-www-form-urlencoded", **headers)
        data: dict[str, Any] = {}
        for name, value in pairs:
            if name == self.file_field:
                value = SimpleUploadedFile(f"{name}.txt", value.encode("utf-8", "surrogatepass"), "text/plain")
            data.setdefault(name, []).append(value)
        return client.post(url, data, **headers)


@st.composite
def submissions(draw: st.DrawFn, fields: Mapping[str, st.SearchStrategy[str]]) -> Submission:
    """Draw a submission: each field mostly once, sometimes missing or twice, mostly as a real form body."""
    values: dict[str, tuple[str, ...]] = {}
    for name, strategy in fields.items():
        shape = draw(st.integers(0, 9))
        count = 0 if shape == 8 else 2 if shape == 9 else 1
        values[name] = tuple(draw(strategy) for _ in range(count))
    roll = draw(st.integers(0, 18))
    encoding = "urlencoded" if roll < 9 else "multipart" if roll < 16 else ENCODINGS[roll - 14]
    file_field = draw(st.sampled_from(sorted(fields))) if encoding == "file" else None
    return Submission(values, encoding, file_field)


def form(encoding: str = "urlencoded", **fields: str) -> Submission:
    """Return a plain submission (one value per field) for @example cases."""
    return Submission({name: (value,) for name, value in fields.items()}, encoding)


UNICODE_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९𝟎𝟏𝟐𝟑𝟒"
WHITESPACE = " \t\r\n\x0b\x0c\x1c\x85\xa0\u2003\u2028\u3000"
CLASSIC_ATTACKS = (
    "' OR '1'='1", "1; DROP TABLE accounts_account;--", "<script>alert(1)</script>", "{{ 7*7 }}", "${jndi:ldap://x}",
    "../../etc/passwd", "%00", "%2e%2e%2f", "\u202e01", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "-0", "0x10",
    "1e3", "1E+2", "1_000", "1,000.00", "10 000", "+10", "10.", ".5", "00010.00", "0.001", "1e-2", "−10", "１０", "٣٠",
    "[]", "{}", "null", "true", "0", "-1", "9" * 19, "9" * 20, "9" * 400,
)


def junk_text() -> st.SearchStrategy[str]:
    """Draw hostile text: anything, other scripts' digits, huge, negative, fractional and exponent numbers,
    whitespace, NUL bytes, very long strings and classic attack strings."""
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=UNICODE_DIGITS, min_size=1, max_size=8),
        st.integers(min_value=10**11, max_value=10**40).map(str),
        st.integers(max_value=-1).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
        st.builds("{}e{}".format, st.integers(-99, 99), st.integers(-400, 400)),
        st.text(alphabet=WHITESPACE, max_size=6),
        st.builds("{}\x00{}".format, st.text(max_size=5), st.text(max_size=5)),
        st.builds(lambda char, count: char * count, st.sampled_from("9a€\x00 ."), st.integers(21, 100_000)),
        st.sampled_from(CLASSIC_ATTACKS),
    )


def amount_text(minor: int, style: int) -> str:
    """Write `minor` cents the ways people type an amount: "12", "12.50", "12,5", " 12.50 "."""
    major, cents = divmod(minor, 100)
    styles = (
        f"{major}.{cents:02d}", f"{major},{cents:02d}", f" {major}.{cents:02d} ",
        f"{major}" if not cents else f"{major}.{cents:02d}",
        f"{major}.{cents // 10}" if cents % 10 == 0 else f"{major}.{cents:02d}",
    )
    return styles[style % len(styles)]


def amounts(note_minor: int = 1000) -> st.SearchStrategy[str]:
    """Draw amounts: well-formed ones (often whole notes) or hostile text."""
    cents = st.one_of(st.integers(1, 120).map(lambda notes: notes * note_minor), st.integers(1, 10**7))
    return st.one_of(st.builds(amount_text, cents, st.integers(0, 4)), junk_text())


def tokens() -> st.SearchStrategy[str]:
    """Draw one-time form tokens: fresh valid ones or forgeries."""
    fresh = st.uuids().map(lambda value: value.hex)
    return st.one_of(fresh, fresh, st.from_regex(r"[0-9a-fA-F]{30,34}", fullmatch=True), junk_text())


def request_keys() -> st.SearchStrategy[str]:
    """Draw staff request keys: UUIDs written the ways Django accepts, or junk."""
    spellings = st.sampled_from([str, lambda key: key.hex, lambda key: str(key).upper(), lambda key: f"{{{key}}}",
                                 lambda key: f"urn:uuid:{key}"])
    return st.one_of(st.builds(lambda spell, key: spell(key), spellings, st.uuids()), junk_text())


def pins(correct: str) -> st.SearchStrategy[str]:
    """Draw PINs: the right one, other well-formed ones, or hostile text."""
    return st.one_of(st.just(correct), st.just(f" {correct} "), st.from_regex(r"[0-9]{4,6}", fullmatch=True),
                     junk_text())


# --- The bank's rules, written out again --------------------------------------------------------------

AMOUNT_SHAPE = re.compile(r"([0-9]*)(?:[.,]([0-9]*))?")
MAX_AMOUNT_MINOR = 10**12


def _text(raw: str | None, max_length: int) -> str | None:
    """Return a text field as a form cleans it (stripped), or None when it is missing, too long or has NUL."""
    if raw is None or "\x00" in raw:
        return None
    text = raw.strip()
    return text if len(text) <= max_length else None


def amount_minor(raw: str | None) -> int | None:
    """Return the cents of a well-formed amount (ASCII digits, "." or "," and at most two decimals), else None."""
    text = _text(raw, 20)
    match = AMOUNT_SHAPE.fullmatch(text) if text else None
    if match is None or not (match[1] or match[2]) or len(match[2] or "") > 2:
        return None
    minor = int(match[1] or "0") * 100 + int((match[2] or "").ljust(2, "0"))
    return minor if 0 < minor <= MAX_AMOUNT_MINOR else None


def well_formed_pin(raw: str | None) -> str | None:
    """Return the PIN when it is 4 to 6 ASCII digits, else None."""
    text = _text(raw, 6)
    return text if text and re.fullmatch(r"[0-9]{4,6}", text) else None


def well_formed_token(raw: str | None) -> bool:
    """Return True for a form token of 32 lowercase hex digits."""
    text = _text(raw, 32)
    return bool(text and re.fullmatch(r"[0-9a-f]{32}", text))


def request_key_hex(raw: str | None) -> str | None:
    """Return the hex of a staff request key that is a UUID, else None."""
    text = _text(raw, 10_000)
    if not text:
        return None
    try:
        return uuid.UUID(text).hex
    except ValueError:
        return None


def choice(raw: str | None, choices: tuple[str, ...]) -> str | None:
    """Return the value when it is exactly one of the choices (choice fields do not strip)."""
    return raw if raw in choices else None


def required_text(raw: str | None, max_length: int) -> str | None:
    """Return a required text field's cleaned value, or None when it is empty, too long or has NUL."""
    text = _text(raw, max_length)
    return text or None
