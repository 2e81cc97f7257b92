"""Back-office forms that post to the ledger: a staff adjustment and a reversal, each with a reason.

Each form carries a hidden request key generated when the form is first shown, so a double
submit reaches the ledger service with the same idempotency key and posts once.
"""

from __future__ import annotations

import uuid

from django import forms

from accounts.money import AmountField


class LedgerRequestForm(forms.Form):
    """Base of the forms that post to the ledger: a hidden key makes a double submit post once."""

    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    key_prefix = "admin"

    def idempotency_key(self) -> str:
        """Return the ledger idempotency key of this submission."""
        return f"{self.key_prefix}-{self.cleaned_data['request_key'].hex}"


class AdjustmentForm(LedgerRequestForm):
    CREDIT = "credit"
    DEBIT = "debit"

    direction = forms.ChoiceField(
        choices=[(CREDIT, "Credit: pay money into the account"), (DEBIT, "Debit: take money off the account")],
        widget=forms.RadioSelect,
    )
    amount = AmountField(help_text="In major units, for example 20 or 12.50.")
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "A reason is required for a staff adjustment."},
    )
    key_prefix = "admin-adjustment"

    def signed_amount_minor(self) -> int:
        """Return the amount with its sign: positive for a credit, negative for a debit."""
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["direction"] == self.CREDIT else -amount


class ReversalForm(LedgerRequestForm):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "A reason is required for a reversal."},
    )
    key_prefix = "admin-reversal"


class RejectionForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "A reason is required to reject a request."},
    )
