"""Admin forms for release policies: columns as checkboxes, hierarchies as builder parameters or an ARX upload.

The policy's own fields are checked by the model's `clean()`, its hierarchies by the inline
formset's clean; both apply PolicySpec's rules, the ones a release run applies, and each
problem is shown once.
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from atmsite.lib.nul import refuse_nul

from .exceptions import PolicyInvalid
from .models import QuasiIdentifier, ReleasePolicy
from .policy.catalog import CUSTOMER_COLUMNS, TRANSACTION_COLUMNS
from .policy.hierarchies import check_definition
from .policy.spec import PolicySpec, metric_names

ALL_COLUMNS = {**TRANSACTION_COLUMNS, **CUSTOMER_COLUMNS}
MAX_ARX_BYTES = 2_000_000


def _column_choices() -> list[tuple[str, str]]:
    return [(name, f"{name}: {column.label}") for name, column in ALL_COLUMNS.items()]


class OneMessageForm(forms.Form):
    """A form whose errors are answered as one sentence list (a 400 response's text or JSON)."""

    def message(self) -> str:
        """Return every error in one sentence list."""
        return " ".join(str(error) for errors in self.errors.values() for error in errors)


class IncrementPeriodForm(OneMessageForm):
    """The period of a policy's increments to download: as-of dates `from` and `to`, both included."""

    start = forms.DateField(input_formats=["%Y-%m-%d"], error_messages={
        "required": "Give the first as-of date as from=YYYY-MM-DD.",
        "invalid": "from must be a date like 2025-03-31."})
    end = forms.DateField(input_formats=["%Y-%m-%d"], error_messages={
        "required": "Give the last as-of date as to=YYYY-MM-DD.",
        "invalid": "to must be a date like 2025-03-31."})

    def __init__(self, query: dict) -> None:
        super().__init__({"start": query.get("from"), "end": query.get("to")})

    def clean(self) -> dict:
        super().clean()
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        if start and end and start > end:
            raise ValidationError(f"The period starts ({start:%Y-%m-%d}) after it ends ({end:%Y-%m-%d}).")
        return self.cleaned_data


class HierarchyPreviewForm(OneMessageForm):
    """A hierarchy as the policy editor holds it while it is being edited, to preview (not saved)."""

    column = forms.CharField(max_length=40, error_messages={"required": "Choose a column."})
    builder = forms.CharField(max_length=20, error_messages={"required": "Choose a builder."})
    params = forms.JSONField(required=False, error_messages={"invalid": "The parameters are not valid JSON."})
    arx_csv = forms.CharField(required=False, max_length=MAX_ARX_BYTES, strip=False,
                              error_messages={"max_length": "The ARX file is larger than 2 MB."})

    def clean_params(self) -> object:
        params = self.cleaned_data.get("params")
        return {} if params is None else params


class ReleaseAsOfForm(forms.Form):
    """The as-of date of a release run from the back office: a complete local day, before today."""

    as_of = forms.DateField(
        label="As of", input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The last day the release covers.",
        error_messages={"required": "Give the as-of date.", "invalid": "Give the as-of date as YYYY-MM-DD."})

    def clean_as_of(self) -> datetime.date:
        as_of = self.cleaned_data["as_of"]
        today = timezone.localdate()
        if as_of >= today:
            yesterday = today - datetime.timedelta(days=1)
            raise ValidationError(f"The as-of date must be a complete day before today: {yesterday:%Y-%m-%d} "
                                  "or earlier.")
        return as_of


class ReleasePolicyForm(forms.ModelForm):
    columns = forms.MultipleChoiceField(
        choices=_column_choices, widget=forms.CheckboxSelectMultiple,
        help_text="Released columns. Direct identifiers are not offered: they are never released.")
    sensitive_column = forms.ChoiceField(required=False, choices=lambda: [("", "(none)"), *_column_choices()])
    metric = forms.ChoiceField(choices=lambda: [(name, name) for name in metric_names()])

    class Meta:
        model = ReleasePolicy
        fields = ["name", "source", "columns", "sensitive_column", "l_diversity", "recursive_c", "t_closeness",
                  "t_hierarchy", "k", "suppression_limit", "metric", "gs_factor", "attribute_weights", "recoding",
                  "enabled"]
        widgets = {"t_hierarchy": forms.Textarea(attrs={"rows": 3, "cols": 40}),
                   "attribute_weights": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def clean_columns(self) -> list[str]:
        chosen = self.cleaned_data["columns"]
        # Keep the catalog's order, so released files have a stable column order.
        return [name for name in ALL_COLUMNS if name in chosen]

    def clean_attribute_weights(self) -> object:
        # An empty box means no weights; the model's clean words every other problem (PolicySpec).
        weights = self.cleaned_data.get("attribute_weights")
        return {} if weights in (None, "") else weights


class QuasiIdentifierForm(forms.ModelForm):
    column = forms.ChoiceField(choices=_column_choices)
    params = forms.JSONField(required=False, initial=dict, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text='e.g. {"bin": 1, "widths": [5, 10, 20]} or {"keep": [4, 2]}')
    arx_upload = forms.FileField(required=False, label="Upload ARX CSV",
                                 help_text="Semicolon-separated, one row per value, most general level last.")

    class Meta:
        model = QuasiIdentifier
        fields = ["column", "builder", "params", "arx_csv", "arx_upload"]
        widgets = {"arx_csv": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean_arx_upload(self) -> str | None:
        upload = self.cleaned_data.get("arx_upload")
        if not upload:
            return None
        if upload.size > MAX_ARX_BYTES:
            raise ValidationError("The ARX file is larger than 2 MB.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError("The ARX file must be UTF-8 text.") from exc
        return str(refuse_nul(text, "The ARX file must not contain null characters."))

    def clean_params(self) -> object:
        """Refuse parameters holding a NUL character (jsonb on PostgreSQL cannot store one)."""
        return refuse_nul(self.cleaned_data.get("params"), "The parameters must not contain null characters.")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("arx_upload"):
            data["arx_csv"] = data["arx_upload"]
        if data.get("params") is None:
            data["params"] = {}
        if data.get("column") and data.get("builder") and not self.errors:
            try:
                check_definition(column=data["column"], kind=ALL_COLUMNS[data["column"]].kind,
                                 builder=data["builder"], params=data["params"], arx_csv=data.get("arx_csv") or "")
            except PolicyInvalid as exc:
                raise ValidationError(str(exc)) from exc
        return data

    def save(self, commit: bool = True) -> QuasiIdentifier:
        self.instance.arx_csv = self.cleaned_data.get("arx_csv") or ""
        return super().save(commit=commit)


class QuasiIdentifierFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """Check the hierarchies with the policy being edited, by the rules of a release run.

        A policy whose own fields break a rule is left to the policy form, which shows that
        message (through the model's clean), so it is not repeated here.
        """
        super().clean()
        if any(form.errors for form in self.forms):
            return
        kept = [form.cleaned_data for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        spec = PolicySpec.from_form(self.instance, quasi_identifiers=kept)
        try:
            spec.validate_settings()
        except PolicyInvalid:
            return
        try:
            spec.validate_quasi_identifiers()
        except PolicyInvalid as exc:
            raise ValidationError(str(exc)) from exc
