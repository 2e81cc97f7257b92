"""Policy editing and ARX hierarchy uploads in the releases admin survive hostile input.

Every submission gets a form page with errors or a redirect, never a 500; an invalid one leaves
policies, hierarchies and schedules exactly as they were.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from hypothesis import example, given
from hypothesis import strategies as st

from anonymization.models import QuasiIdentifier, ReleasePolicy
from tests.security.conftest import assert_handled, fuzz, hostile_client, rolled_back

pytestmark = pytest.mark.django_db

ADD = reverse("admin:anonymization_releasepolicy_add")
junk = st.one_of(
    st.text(max_size=40), st.sampled_from(["", " ", "\x00", "١٢", "１２", "1e9", "-5", "0.5", "9" * 40, "null"]),
)
csv_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.sampled_from(["F", "M", "X", "*", "", "a;b", "\x00", "é"]), min_size=1, max_size=4),
             max_size=6).map(lambda rows: "\n".join(";".join(row) for row in rows).encode()),
)
OVERSIZED = b"F;*\n" * 700_000  # past the 2 MB limit: tried once, as an explicit example


def _state() -> tuple:
    return (
        list(ReleasePolicy.objects.order_by("pk").values_list("name", "k", "enabled", "suppression_limit")),
        list(QuasiIdentifier.objects.order_by("pk").values_list("column", "builder", "arx_csv")),
        list(PeriodicTask.objects.order_by("pk").values_list("name", "enabled")),
    )


def _submission(field_values: dict[str, str], upload: bytes | None) -> dict:
    data = {
        "name": "Fuzzed", "source": "customers", "columns": ["age", "gender"], "sensitive_column": "",
        "l_diversity": "", "t_closeness": "", "k": "5", "suppression_limit": "0.02", "metric": "loss",
        "quasi_identifiers-TOTAL_FORMS": "1", "quasi_identifiers-INITIAL_FORMS": "0",
        "quasi_identifiers-MIN_NUM_FORMS": "0", "quasi_identifiers-MAX_NUM_FORMS": "1000",
        "quasi_identifiers-0-column": "gender", "quasi_identifiers-0-builder": "arx",
        "quasi_identifiers-0-params": "{}", "quasi_identifiers-0-arx_csv": "",
    }
    data.update(field_values)
    if upload is not None:
        data["quasi_identifiers-0-arx_upload"] = SimpleUploadedFile("h.csv", upload, content_type="text/csv")
    return data


@fuzz(25)
@example(fields={"k": "١٢"}, upload=None)
@example(fields={"quasi_identifiers-TOTAL_FORMS": "99999999999999999999"}, upload=None)
@example(fields={"quasi_identifiers-0-params": "[1, {"}, upload=None)
@example(fields={}, upload=b"\xff\xfe\x00")
@example(fields={}, upload=OVERSIZED)
@given(
    fields=st.dictionaries(st.sampled_from([
        "name", "source", "k", "suppression_limit", "metric", "l_diversity", "t_closeness", "sensitive_column",
        "quasi_identifiers-TOTAL_FORMS", "quasi_identifiers-0-column", "quasi_identifiers-0-builder",
        "quasi_identifiers-0-params", "quasi_identifiers-0-arx_csv",
    ]), junk, max_size=4),
    upload=st.one_of(st.none(), csv_bytes),
)
def test_it_answers_hostile_policy_submissions_without_a_server_error(admin_user, fields, upload):
    with rolled_back():
        client = hostile_client()
        client.force_login(admin_user)
        before = _state()
        response = client.post(ADD, _submission(fields, upload))
        assert_handled(response)
        if response.status_code == 200:  # the form came back with errors: nothing was saved
            assert _state() == before
        else:
            assert response.status_code == 302
            policy = ReleasePolicy.objects.get(name=fields.get("name", "Fuzzed"))
            assert policy.quasi_identifiers.count() >= 1


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_it_answers_a_policy_posted_with_a_wrong_content_type(admin_user, content_type):
    client = hostile_client()
    client.force_login(admin_user)
    before = _state()
    response = client.post(ADD, data='{"name": "x", "k": 5}', content_type=content_type)
    assert_handled(response)
    assert _state() == before
