"""NUL characters are a 400 or a form error everywhere, on PostgreSQL too (which cannot store them).

Run against PostgreSQL in CI (DATABASE_URL): there a NUL reaching a query was a server error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from anonymization.models import ReleasePolicy
from tests.security.conftest import assert_handled, hostile_client
from tests.security.test_fuzz_policy_admin import ADD, _state, _submission

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [
    "/releases/1/files/csv%00/", "/releases/1/files/%00/", "/releases/policies/1/increments.csv?from=%00",
    "/admin/accounts/card/?q=%00", "/balance/?x=%00", "/%00",
])
def test_it_answers_a_nul_in_the_path_or_query_with_400(admin_user, url):
    for client in (hostile_client(), hostile_client()):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.content == b"Null characters are not allowed."
        client.force_login(admin_user)


def _policy_post(admin_user, fields=None, upload=None):
    client = hostile_client()
    client.force_login(admin_user)
    before = _state()
    response = client.post(ADD, _submission(fields or {}, upload))
    assert_handled(response)
    assert response.status_code == 200 and _state() == before
    inline = response.context["inline_admin_formsets"][0].formset.forms[0]
    return [str(error) for errors in inline.errors.values() for error in errors]


def test_it_refuses_an_arx_upload_holding_a_nul_with_a_form_error(admin_user):
    errors = _policy_post(admin_user, upload=b"F;*\nM;\x00\n")
    assert errors == ["The ARX file must not contain null characters."]


@pytest.mark.parametrize("params", ['{"levels":[{"*":"a\\u0000b"}]}', '{"a\\u0000": 1}'])
def test_it_refuses_hierarchy_parameters_holding_a_nul_with_a_form_error(admin_user, params):
    fields = {"quasi_identifiers-0-builder": "categories", "quasi_identifiers-0-params": params}
    assert _policy_post(admin_user, fields) == ["The parameters must not contain null characters."]
    assert not ReleasePolicy.objects.filter(name="Fuzzed").exists()


def test_it_keeps_the_atm_and_the_admin_working_without_nul(admin_client):
    assert admin_client.get(reverse("admin:index")).status_code == 200
    assert hostile_client().get(reverse("atm:login")).status_code == 200
