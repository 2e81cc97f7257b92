"""Django's and Celery's own admins get the same bad-input guard as ours: junk is a 4xx or a redirect, never a 500."""

from __future__ import annotations

import pytest
from django.contrib import admin

from atmsite.lib.admin import HostileInputMixin

pytestmark = pytest.mark.django_db

THIRD_PARTY_LISTS = [
    "/admin/auth/user/", "/admin/auth/group/", "/admin/django_celery_beat/periodictask/",
    "/admin/django_celery_beat/crontabschedule/", "/admin/django_celery_beat/intervalschedule/",
    "/admin/django_celery_results/taskresult/", "/admin/django_celery_results/groupresult/",
]
JUNK = [
    {"date_joined__year": "99999999999999999999"}, {"q": "\x00"}, {"id__range": "5"},
    {"last_run_at__year": "99999999999999999999"}, {"date_done__year": "99999999999999999999"},
]


def test_it_guards_every_registered_admin():
    unguarded = [model._meta.label for model, model_admin in admin.site._registry.items()
                 if not isinstance(model_admin, HostileInputMixin)]
    assert unguarded == []


@pytest.mark.parametrize("url", THIRD_PARTY_LISTS)
@pytest.mark.parametrize("params", JUNK)
def test_it_answers_junk_lookups_on_third_party_admins_without_a_server_error(admin_client, url, params):
    response = admin_client.get(url, params)
    assert response.status_code in (200, 302, 400)


@pytest.mark.parametrize(("url", "lookup"), [
    ("/admin/auth/user/", "password__startswith"),
    ("/admin/django_celery_results/taskresult/", "result__contains"),
])
def test_it_refuses_lookups_on_fields_that_are_not_filters(admin_client, url, lookup):
    response = admin_client.get(url, {lookup: "a"})
    assert response.status_code == 400


def test_it_refuses_an_action_on_a_selection_that_is_not_row_ids(admin_client):
    response = admin_client.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": [" 1"]},
                                 follow=True)
    assert "The selection is not a list of rows of this page. Nothing was done." in response.content.decode()
    assert admin_client.get("/admin/auth/user/").status_code == 200
