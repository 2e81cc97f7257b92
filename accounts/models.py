"""Customers, their accounts and their cards.

Invariants kept here (by database constraints where the database can):
- an account's balance is never negative (CHECK balance_minor >= 0);
- a customer's email, phone and street address are stored encrypted (accounts.crypto);
- a card stores no PAN, PIN or CVV: only HMAC-SHA256(key, PAN), the BIN, the last four digits
  and an argon2id hash of the peppered PIN.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .customer_rules import COUNTRY_CHOICES, DEFAULT_COUNTRY, postal_code_problem
from .fields import BlindIndexField, EncryptedEmailField, EncryptedTextField
from .money import default_currency, validate_currency


class Customer(models.Model):
    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "X", "Other / not stated"

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # Contact details are encrypted at rest (accounts.crypto); find by email through email_index.
    email = EncryptedEmailField(blank=True)
    email_index = BlindIndexField(source="email", db_index=True)
    phone = EncryptedTextField(blank=True)
    street_address = EncryptedTextField(blank=True)
    birth_date = models.DateField()
    gender = models.CharField(max_length=1, choices=Gender.choices)
    # ISO 3166-1 alpha-2 code of one of the countries the bank serves.
    country = models.CharField(max_length=2, choices=COUNTRY_CHOICES, default=DEFAULT_COUNTRY,
                               help_text="The postal code must have this country's format.")
    postal_code = models.CharField(max_length=12)
    city = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def clean(self) -> None:
        """Refuse a postal code that does not have the format of the customer's country."""
        super().clean()
        problem = postal_code_problem(self.postal_code, self.country)
        if problem:
            raise ValidationError({"postal_code": problem})

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def masked_name(self) -> str:
        """Return the name as a payer may see it before paying: initials only ("A. S****")."""
        return f"{self.first_name[:1]}. {self.last_name[:1]}****"


class Account(models.Model):
    class Kind(models.TextChoices):
        CHECKING = "checking", "Checking"
        SAVINGS = "savings", "Savings"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FROZEN = "frozen", "Frozen"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    number = models.CharField(max_length=34, unique=True, help_text="IBAN-style account number.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHECKING)
    currency = models.CharField(
        max_length=3, default=default_currency, validators=[validate_currency],
        help_text="ISO 4217 code, one of settings.ATM_CURRENCIES.",
    )
    # Minor units (cents). Changed only by the ledger services, under a row lock.
    balance_minor = models.BigIntegerField(default=0, editable=False)
    # Balance the account was opened (or migrated) with; verify_ledger checks
    # balance_minor == opening_balance_minor + sum(ledger amounts).
    opening_balance_minor = models.BigIntegerField(default=0, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    daily_withdrawal_limit_minor = models.BigIntegerField(default=settings.ATM_DEFAULT_DAILY_LIMIT_MINOR)
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_minor__gte=0), name="account_balance_not_negative"),
            models.CheckConstraint(condition=Q(opening_balance_minor__gte=0), name="account_opening_not_negative"),
            models.CheckConstraint(
                condition=Q(daily_withdrawal_limit_minor__gte=0), name="account_daily_limit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Card(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"
        EXPIRED = "expired", "Expired"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cards")
    pan_hmac = models.CharField(max_length=64, unique=True, editable=False, help_text="HMAC-SHA256 of the PAN.")
    bin = models.CharField("BIN", max_length=6, editable=False)
    last4 = models.CharField(max_length=4, editable=False, db_index=True)
    network = models.CharField(max_length=20, editable=False)
    expiry = models.DateField(help_text="Last day of the expiry month.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    pin_hash = models.CharField(max_length=200, editable=False)
    must_change_pin = models.BooleanField(default=False)
    issued_at = models.DateTimeField(default=timezone.now)
    blocked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-issued_at", "pk"]

    def __str__(self) -> str:
        return f"{self.network} {self.bin}…{self.last4}"

    @property
    def masked_pan(self) -> str:
        return f"{self.bin[:4]} {self.bin[4:]}** **** {self.last4}"

    def is_expired(self, today: datetime.date | None = None) -> bool:
        return (today or timezone.localdate()) > self.expiry

    @property
    def is_usable(self) -> bool:
        """Return True when the card may log in and move money: active and not past its expiry."""
        return self.status == self.Status.ACTIVE and not self.is_expired()


class CardNumberTries(models.Model):
    """Wrong PINs typed with a card number that has no usable card: unknown, blocked or expired.

    Counted in the database, shared by every browser and worker, so such a number answers a
    guesser who comes back from a new browser as a live card would (accounts.services). Keyed by
    the PAN's keyed fingerprint, the same HMAC-SHA256 as Card.pan_hmac: never the PAN itself.
    Rows are not pruned: a blocked card answers "blocked" for good, so a number that reached the
    limit must too (SECURITY.md).
    """

    pan_hmac = models.CharField(max_length=64, unique=True, editable=False, help_text="HMAC-SHA256 of the PAN.")
    # Capped at ATM_MAX_PIN_ATTEMPTS: past it every answer is "This card is blocked".
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    last_failed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "card number tries"

    def __str__(self) -> str:
        return f"{self.pan_hmac[:12]}… {self.failed_pin_attempts} wrong"


class LoginAttempt(models.Model):
    """One web ATM login attempt from a client address, kept for throttling per address, network and overall.

    Holds no card data, only where and when and whether it succeeded, except for an attempt let
    through a throttled source as a number's one check in the window (atm.throttle): that row keeps
    the number's keyed fingerprint (as Card.pan_hmac, never the PAN) until it is pruned with the window.
    """

    address = models.GenericIPAddressField()
    # The address's network in CIDR form (its /24, or its /64 for IPv6): a spread of addresses
    # in one network is throttled as one.
    network = models.CharField(max_length=49, default="", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField(default=False)
    # Set only on an attempt let through a throttled address or network: the number it checked.
    pan_hmac = models.CharField(max_length=64, default="", blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["address", "created_at"]),
            models.Index(fields=["network", "created_at"]),
            models.Index(fields=["created_at"], name="accounts_loginattempt_when"),
        ]

    def __str__(self) -> str:
        outcome = "succeeded" if self.succeeded else "failed"
        return f"{self.address} {outcome} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ProcessedRequest(models.Model):
    """A staff request key already carried out: a refreshed or doubled form is refused, not repeated.

    Used for operations whose result is shown only once (a new PAN, a one-time PIN), which cannot
    be replayed and must not run twice.
    """

    key = models.CharField(max_length=80, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
