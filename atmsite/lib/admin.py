"""The admin toolkit shared by every app's admin.py: action pages, read-only admins, hostile-input guards.

Actions that need input show an intermediate page (`action_page`) that posts back with APPLY;
one-time secrets are rendered by `one_time_page` and never cached. HostileInputMixin turns junk in
query strings, searches and action selections into bad input instead of a server error, and
`guard_registered_admins` gives it to third-party admins (Django's, Celery's) too.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist
from django.db import DataError, ProgrammingError
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.forms import Form
from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

# An action page posts back with this field, so the action knows its form was submitted.
APPLY = "apply"
# Accounts opened in one go at most: selecting every customer by mistake opens nothing.
OPEN_ACCOUNT_BATCH = 50
# Raised while a changelist query is compiled or counted from a lookup Django let through but the
# database cannot take: a string for __range, a year past 9999, text for an IP address column.
BAD_LOOKUP_ERRORS = (ValueError, TypeError, IndexError, OverflowError, DataError, ProgrammingError)
# Every model here has a 64-bit integer primary key.
ROW_ID = re.compile(r"[0-9]{1,19}")
ROW_ID_MAX = 2**63 - 1
INVALID_SELECTION_MESSAGE = "The selection is not a list of rows of this page. Nothing was done."
# Far longer than any name or account number; SQLite refuses LIKE patterns over 50,000 bytes.
MAX_SEARCH_CHARS = 1000


def submitted(request: HttpRequest) -> Any:
    """Return the POST data when an action page's form was submitted, else None (show the form)."""
    return request.POST if APPLY in request.POST else None


def only_one(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, noun: str) -> Any:
    """Return the single selected object, or tell the user to select exactly one and return None."""
    selected = list(queryset[:2])
    if len(selected) != 1:
        modeladmin.message_user(request, f"Select exactly one {noun} for this action.", messages.ERROR)
        return None
    return selected[0]


def action_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, objects: list[Model], *,
    action: str, form: Form, title: str, submit_label: str, intro: str = "",
) -> TemplateResponse:
    """Render an action's intermediate page: the selected objects, the form and the hidden action fields."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title, "intro": intro, "opts": modeladmin.opts, "objects": objects, "form": form,
        "action": action, "apply": APPLY, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "submit_label": submit_label, "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/atmsite/action_form.html", context)


def one_time_page(modeladmin: admin.ModelAdmin, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
    """Render a page that shows a secret once: it is the response itself, never stored nor cached."""
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.opts, **context}
    request.current_app = modeladmin.admin_site.name
    response = TemplateResponse(request, template, context)
    add_never_cache_headers(response)
    return response


def has_nul(data: QueryDict) -> bool:
    """Return True when a key or value holds a NUL character, which PostgreSQL text cannot hold."""
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


def is_row_id(value: str) -> bool:
    """Return True for a primary key as the changelist's checkboxes send it: ASCII digits within 64 bits."""
    return bool(ROW_ID.fullmatch(value)) and int(value) <= ROW_ID_MAX


class HostileInputMixin:
    """Treat junk in a changelist's query string, a search term or an action's selection as bad input.

    Django checks a lookup's name when it builds the filter, but some values fail only while the
    query is compiled or run (a 500): a NUL byte on PostgreSQL, a year past 9999, text for an IP
    column, a string for __range. The autocomplete view searches with an unchecked term, neither
    search limits its length, and an action filters on the selected ids exactly as they were posted.
    """

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """Build the changelist; a query the database cannot run is an invalid lookup (redirect to ?e=1)."""
        if has_nul(request.GET):
            raise IncorrectLookupParameters("Null characters are not allowed.")
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except BAD_LOOKUP_ERRORS as exc:
            raise IncorrectLookupParameters(exc) from exc

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Accept a query-string lookup only on a declared filter, the date hierarchy or a row id.

        Django accepts any lookup on the model's own fields, so `?pin_hash__startswith=ab` would
        tell, one character at a time, whether a hidden value matches. Only the fields staff can
        filter on in the sidebar (and the ids every link carries) may appear in a query string.
        """
        path = _field_path(self.model, lookup)  # type: ignore[attr-defined]
        if not path:
            return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]
        allowed = _declared_filter_paths(self, request)
        return any(path == declared or path == [*declared, "id"] for declared in allowed)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Match nothing for a search term holding a NUL character or longer than any searchable value."""
        if "\x00" in search_term or len(search_term) > MAX_SEARCH_CHARS:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponseBase | None:
        """Run an action on row ids only; refuse any other selection with a message."""
        if not all(is_row_id(value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, INVALID_SELECTION_MESSAGE, messages.ERROR)  # type: ignore[attr-defined]
            return None
        return super().response_action(request, queryset)  # type: ignore[misc]


def _field_path(model: type[Model], lookup: str) -> list[str]:
    """Return the fields a lookup walks through ("account__customer__id__exact" -> 3 fields); "pk" is "id"."""
    path: list[str] = []
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            if part != "pk":
                break
            field = model._meta.pk
        path.append(field.name if getattr(field, "primary_key", False) else part)
        if not getattr(field, "path_infos", None):
            break
        model = field.path_infos[-1].to_opts.model
    return path


def _declared_filter_paths(model_admin: Any, request: HttpRequest | None) -> list[list[str]]:
    """Return the field paths staff may filter on: the list filters, the date hierarchy and the row id."""
    declared: list[str] = ["id"]
    if model_admin.date_hierarchy:
        declared.append(model_admin.date_hierarchy)
    filters = model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
    for item in filters:
        if isinstance(item, (list, tuple)):
            declared.append(item[0])
        elif isinstance(item, str):
            declared.append(item)
        elif isinstance(item, type) and issubclass(item, admin.SimpleListFilter) and item.parameter_name:
            declared.append(item.parameter_name)
    # A relation by its row id: the "entries of this account" links use ?account__id__exact=.
    declared += [field.name for field in model_admin.model._meta.get_fields() if field.many_to_one]
    return [name.split(LOOKUP_SEP) for name in declared]


class ObjectActionsMixin:
    """Offer some of the admin's actions as buttons on an object's own page (`object_actions`: name, label).

    A button posts to the changelist exactly as the action menu does with this one row selected, so
    the action, its permission check and its intermediate page are the same.
    """

    object_actions: tuple[tuple[str, str], ...] = ()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        available = self.get_actions(request)  # type: ignore[attr-defined]
        obj = self.get_object(request, unquote(object_id)) if self.object_actions else None  # type: ignore[attr-defined]
        buttons = [(name, label) for name, label in self.object_actions
                   if name in available and obj is not None and self.object_action_allowed(obj, name)]
        context = {**(extra_context or {}), "object_actions": buttons,
                   "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
        return super().change_view(request, object_id, form_url, extra_context=context)  # type: ignore[misc]

    def object_action_allowed(self, obj: Model, name: str) -> bool:
        """Return True when the action makes sense for this object now (a button is offered)."""
        return True


class ReadOnlyAdminMixin:
    """Admin over rows that change only through services: view them, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def guard_registered_admins(site: admin.AdminSite) -> list[str]:
    """Put HostileInputMixin in front of every registered admin that lacks it (Django's, Celery's).

    Returns the names of the models whose admin was wrapped. Called once all admins are
    registered (accounts' AppConfig.ready, after admin autodiscovery).
    """
    wrapped = []
    for model, model_admin in list(site._registry.items()):
        admin_class = type(model_admin)
        if isinstance(model_admin, HostileInputMixin):
            continue
        site.unregister(model)
        site.register(model, type(f"Guarded{admin_class.__name__}", (HostileInputMixin, admin_class), {}))
        wrapped.append(model._meta.label)
    return wrapped
