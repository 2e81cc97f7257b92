"""Model fields that keep customer contact details encrypted at rest."""

from __future__ import annotations

from typing import Any

from django.core import validators
from django.core.exceptions import FieldError
from django.db import models

from .crypto import blind_index, decrypt_text, encrypt_text


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token and read back as plain text.

    Only `isnull` lookups are allowed: a randomized ciphertext never equals anything, so an
    `exact` or `icontains` filter would silently match nothing. Search through a blind index.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt_text(value) if value else value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypt_text(value) if value else value

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(f"Encrypted field {self.name!r} cannot be filtered with {lookup_name!r}; use its blind index.")
        return super().get_lookup(lookup_name)


class EncryptedEmailField(EncryptedTextField):
    default_validators = [validators.validate_email]

    def formfield(self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any) -> Any:
        from django import forms

        return super().formfield(
            form_class=form_class or forms.EmailField, choices_form_class=choices_form_class,
            **{"max_length": 254, **kwargs},
        )


class BlindIndexField(models.CharField):
    """HMAC-SHA256 of another field's value, computed on every save (bulk_create included)."""

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.source) or ""
        index = blind_index(value) if value else ""
        setattr(model_instance, self.attname, index)
        return index
