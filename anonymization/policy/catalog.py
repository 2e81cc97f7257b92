"""The columns a release can contain, per source table, and the identifiers that never leave the bank.

Only the columns listed here can be extracted at all: direct identifiers (names, contact data,
card numbers, account numbers, database ids) are not in any catalog, so no policy can select them.
The verifier (release/verify.py) scans released cells for the database's identifiers, which the
selectors collect into :class:`Identifiers`.

Every column declares its role. A GENERALIZE column (a person or transaction attribute: age,
gender, postal code, card, date, amounts, balances, counts) is released only through a hierarchy,
as a quasi-identifier. A DESCRIPTIVE column (kind, channel: a few values shared by many rows) may
be released without one; it is then a quasi-identifier with the trivial hierarchy value -> `*`.
Either way every released column except the sensitive one forms the equivalence classes.

Every column also says what it describes (`subject`): PERSON columns (age, gender, postal code,
card network and number) describe the customer and are the same in every night's rows of that
customer; TRANSACTION columns describe the entry (date, amount, balance, kind, channel) or the
customer's activity (counts and totals). Local recoding generalizes person columns at fixed
per-version levels and cuts only transaction columns afresh each night (release/anonymize.py).

Every numeric column has a fixed public :class:`Scale`, chosen here and never read from the data
(the data's minimum and maximum would publish its extremes). Local recoding cuts numbers inside
`[low, high)` and the utility workload draws its range queries there; a row whose value lies
outside is suppressed by local recoding (held back, then suppressed for good), so the bounds sit
well beyond the ledger's ordinary values. Dates have the public domain FIRST_LEDGER_DAY (a policy's
first release) or its window's first day minus the hold-back days, to the as-of date.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

NUMERIC = "numeric"
CATEGORY = "category"
CODE = "code"
DATE = "date"
CARD = "card"

GENERALIZE = "generalize"
DESCRIPTIVE = "descriptive"

PERSON = "person"
TRANSACTION = "transaction"


# The first local day a ledger entry can have: the lower bound of a first release's dates.
FIRST_LEDGER_DAY = datetime.date(2000, 1, 1)


@dataclass(frozen=True)
class Scale:
    """The public range of a numeric column, its grain and the workload's range queries over it.

    `grain` is the narrowest band local recoding cuts when the policy's hierarchy does not set one
    (an intervals hierarchy's `bin` wins); range queries start on multiples of `step` and are one
    of `widths` wide.
    """

    low: float
    high: float
    grain: float
    unit: str
    step: float
    widths: tuple[float, ...]


AGE = Scale(0, 120, grain=1, unit="years", step=5, widths=(10, 20, 30))
AMOUNT = Scale(-5_000, 5_000, grain=10, unit="EUR", step=50, widths=(100, 250, 500, 1000))
BALANCE = Scale(0, 50_000, grain=100, unit="EUR", step=100, widths=(500, 1000, 2500, 5000))
COUNT = Scale(0, 100_000, grain=1, unit="entries", step=5, widths=(10, 25, 50, 100))
TOTAL = Scale(0, 10_000_000, grain=100, unit="EUR", step=100, widths=(500, 1000, 2500, 5000))


@dataclass(frozen=True)
class Column:
    """One releasable column: its name, its kind (which hierarchy builders fit), its meaning, its role
    (GENERALIZE or DESCRIPTIVE), its subject (PERSON or TRANSACTION), and whether it is a `measure`
    (an amount analysts add up: local recoding cuts measures before any other column)."""

    name: str
    kind: str
    label: str
    role: str = GENERALIZE
    scale: Scale | None = None
    subject: str = TRANSACTION
    measure: bool = False

    @property
    def must_generalize(self) -> bool:
        """Return True when the column may only be released through a hierarchy."""
        return self.role == GENERALIZE


_PERSON = (
    Column("age", NUMERIC, "Age in whole years at the as-of date (from the birth date)", scale=AGE, subject=PERSON),
    Column("gender", CATEGORY, "Gender (F, M, X)", subject=PERSON),
    Column("postal_code", CODE, "Postal code of the customer", subject=PERSON),
    Column("card_network", CATEGORY, "Card network (the card provider)", subject=PERSON),
    Column("card_number", CARD, "Card number as its 6-digit IIN prefix (BIN); never the PAN", subject=PERSON),
)

TRANSACTION_COLUMNS: dict[str, Column] = {c.name: c for c in (
    *_PERSON,
    Column("transaction_date", DATE, "Local date of the ledger entry"),
    Column("amount", NUMERIC, "Signed amount in major units (credits positive)", scale=AMOUNT, measure=True),
    Column("balance_after", NUMERIC, "Account balance after the entry, in major units", scale=BALANCE),
    Column("kind", CATEGORY, "Kind of ledger entry (withdrawal, deposit, ...)", DESCRIPTIVE),
    Column("channel", CATEGORY, "Channel (ATM, branch, online, back office)", DESCRIPTIVE),
)}

CUSTOMER_COLUMNS: dict[str, Column] = {c.name: c for c in (
    *_PERSON,
    Column("transactions", NUMERIC, "Number of ledger entries up to the as-of date", scale=COUNT),
    Column("deposits_total", NUMERIC, "Sum of credits up to the as-of date, in major units", scale=TOTAL,
           measure=True),
    Column("withdrawals_total", NUMERIC, "Sum of debits up to the as-of date, in major units (positive)",
           scale=TOTAL, measure=True),
    Column("balance", NUMERIC, "Sum of the customer's account balances at the as-of date, in major units",
           scale=TOTAL),
)}

CATALOGS: dict[str, dict[str, Column]] = {"transactions": TRANSACTION_COLUMNS, "customers": CUSTOMER_COLUMNS}

# Column names that must never appear in a released file, whatever a policy or a bug says.
DIRECT_IDENTIFIERS: frozenset[str] = frozenset({
    "id", "pk", "name", "first_name", "last_name", "full_name", "email", "phone", "pan", "card_pan",
    "account", "account_id", "account_number", "number", "iban", "card_id", "customer_id", "customer",
    "pan_hmac", "last4", "pin", "pin_hash", "reference", "idempotency_key", "terminal_id", "staff_user_id",
    "email_index", "street_address", "address",
})

# The in-memory column holding each row's customer: used to count k over customers, never written.
INDIVIDUAL = "__customer__"


def catalog_for(source: str) -> dict[str, Column]:
    """Return the releasable columns of a source table."""
    return CATALOGS[source]


def person_columns(source: str, names: Iterable[str]) -> tuple[str, ...]:
    """Return the columns among `names` (in their order) that describe the customer (subject PERSON)."""
    catalog = catalog_for(source)
    return tuple(name for name in names if catalog[name].subject == PERSON)


@dataclass
class Identifiers:
    """Normalized forms of every direct identifier in the database, for cell scanning."""

    names: set[str] = field(default_factory=set)        # first, last, full names, street addresses, casefolded
    full_names: set[str] = field(default_factory=set)   # "first last", casefolded
    emails: set[str] = field(default_factory=set)       # casefolded
    phones: set[str] = field(default_factory=set)       # digits only
    accounts: set[str] = field(default_factory=set)     # upper case, no spaces
    bin_last4: set[str] = field(default_factory=set)    # 10 digits
