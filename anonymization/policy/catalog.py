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
"""

from __future__ import annotations

from dataclasses import dataclass, field

NUMERIC = "numeric"
CATEGORY = "category"
CODE = "code"
DATE = "date"
CARD = "card"

GENERALIZE = "generalize"
DESCRIPTIVE = "descriptive"


@dataclass(frozen=True)
class Column:
    """One releasable column: its name, its kind (which hierarchy builders fit), its meaning and its role."""

    name: str
    kind: str
    label: str
    role: str = GENERALIZE

    @property
    def must_generalize(self) -> bool:
        """Return True when the column may only be released through a hierarchy."""
        return self.role == GENERALIZE


_PERSON = (
    Column("age", NUMERIC, "Age in whole years at the as-of date (from the birth date)"),
    Column("gender", CATEGORY, "Gender (F, M, X)"),
    Column("postal_code", CODE, "Postal code of the customer"),
    Column("card_network", CATEGORY, "Card network (the card provider)"),
    Column("card_number", CARD, "Card number as its 6-digit IIN prefix (BIN); never the PAN"),
)

TRANSACTION_COLUMNS: dict[str, Column] = {c.name: c for c in (
    *_PERSON,
    Column("transaction_date", DATE, "Local date of the ledger entry"),
    Column("amount", NUMERIC, "Signed amount in major units (credits positive)"),
    Column("balance_after", NUMERIC, "Account balance after the entry, in major units"),
    Column("kind", CATEGORY, "Kind of ledger entry (withdrawal, deposit, ...)", DESCRIPTIVE),
    Column("channel", CATEGORY, "Channel (ATM, branch, online, back office)", DESCRIPTIVE),
)}

CUSTOMER_COLUMNS: dict[str, Column] = {c.name: c for c in (
    *_PERSON,
    Column("transactions", NUMERIC, "Number of ledger entries up to the as-of date"),
    Column("deposits_total", NUMERIC, "Sum of credits up to the as-of date, in major units"),
    Column("withdrawals_total", NUMERIC, "Sum of debits up to the as-of date, in major units (positive)"),
    Column("balance", NUMERIC, "Sum of the customer's account balances at the as-of date, in major units"),
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


@dataclass
class Identifiers:
    """Normalized forms of every direct identifier in the database, for cell scanning."""

    names: set[str] = field(default_factory=set)        # first, last, full names, street addresses, casefolded
    full_names: set[str] = field(default_factory=set)   # "first last", casefolded
    emails: set[str] = field(default_factory=set)       # casefolded
    phones: set[str] = field(default_factory=set)       # digits only
    accounts: set[str] = field(default_factory=set)     # upper case, no spaces
    bin_last4: set[str] = field(default_factory=set)    # 10 digits
