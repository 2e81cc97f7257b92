"""The back office for policies and releases: editing with validation, scheduling, running, reports."""

from __future__ import annotations

import datetime
import re

import pytest
from celery import current_app
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from anonymization.models import Release, ReleasePolicy
from anonymization.release import service
from transactions.demo import population_generate as populate

ACTION = "_selected_action"


@pytest.fixture
def officer(db) -> User:
    user = User.objects.create_user("olivia", password="officer-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Privacy officers"))
    return user


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


@pytest.fixture
def yesterday_data(db):
    return populate(customers=60, entries=600, last_day=service.default_as_of(), days=20, seed=5)


@pytest.fixture
def broker_down(monkeypatch):
    """Point Celery at a closed port with eager execution off, as when Redis is stopped."""
    closed = "redis://127.0.0.1:1/3"
    monkeypatch.setenv("CELERY_BROKER_URL", closed)  # Celery reads the variable before its settings
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, closed
    yield
    conf.task_always_eager, conf.broker_url = saved


def _run_now(client, policy: ReleasePolicy):
    return client.post(reverse("admin:anonymization_releasepolicy_changelist"),
                       {"action": "run_release_now", ACTION: [policy.pk]}, follow=True)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_it_creates_the_default_policy_with_its_nightly_schedule(nightly):
    task = nightly.periodic_task
    assert task.task == "anonymization.tasks.run_nightly_release"
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "30")
    assert task.kwargs == f'{{"policy_id": {nightly.pk}}}'
    assert nightly.k == 5 and nightly.suppression_limit == 0.02


def test_it_gives_privacy_officers_the_release_permissions(officer):
    assert officer.has_perm("anonymization.download_release")
    assert officer.has_perm("anonymization.change_releasepolicy")
    assert officer.has_perm("anonymization.view_release")
    assert not officer.has_perm("anonymization.delete_release")


def test_it_runs_a_release_now_from_the_admin(client, officer, nightly, yesterday_data):
    client.force_login(officer)
    response = _run_now(client, nightly)
    release = Release.objects.get(policy=nightly)
    assert _messages(response) == [
        f"The release of Nightly transactions as of {release.as_of} (#{release.pk}) is published."]


def test_it_says_when_the_broker_is_unreachable_and_the_atm_keeps_working(client, officer, nightly, broker_down):
    client.force_login(officer)
    response = _run_now(client, nightly)
    assert response.status_code == 200
    assert _messages(response) == [
        "Nightly transactions: The task queue is unreachable (OperationalError); the release was not queued. "
        "Check that the Celery broker is running, then try again."]
    release = Release.objects.get(policy=nightly)
    assert release.status == Release.Status.FAILED
    assert release.error.startswith("The task queue is unreachable")
    client.logout()
    assert client.get(reverse("atm:login")).status_code == 200


def test_it_keeps_the_schedule_in_step_with_enabling(client, officer, nightly):
    client.force_login(officer)
    url = reverse("admin:anonymization_releasepolicy_changelist")
    client.post(url, {"action": "disable_policies", ACTION: [nightly.pk]})
    assert not PeriodicTask.objects.get(pk=nightly.periodic_task_id).enabled
    client.post(url, {"action": "enable_policies", ACTION: [nightly.pk]})
    assert PeriodicTask.objects.get(pk=nightly.periodic_task_id).enabled


def _policy_post(**overrides) -> dict:
    data = {
        "name": "Customers yearly", "source": "customers", "columns": ["age", "gender", "balance"],
        "sensitive_column": "", "l_diversity": "", "t_closeness": "", "k": "5", "suppression_limit": "0.02",
        "metric": "loss", "recoding": "full_domain", "enabled": "on",
        "quasi_identifiers-TOTAL_FORMS": "3", "quasi_identifiers-INITIAL_FORMS": "0",
        "quasi_identifiers-MIN_NUM_FORMS": "0", "quasi_identifiers-MAX_NUM_FORMS": "1000",
        "quasi_identifiers-0-column": "age", "quasi_identifiers-0-builder": "intervals",
        "quasi_identifiers-0-params": '{"widths": [10, 20]}', "quasi_identifiers-0-arx_csv": "",
        "quasi_identifiers-1-column": "gender", "quasi_identifiers-1-builder": "arx",
        "quasi_identifiers-1-params": "{}", "quasi_identifiers-1-arx_csv": "",
        "quasi_identifiers-2-column": "balance", "quasi_identifiers-2-builder": "intervals",
        "quasi_identifiers-2-params": '{"bin": 100, "widths": [1000]}', "quasi_identifiers-2-arx_csv": "",
    }
    data.update(overrides)
    return data


def test_it_adds_a_policy_with_an_uploaded_hierarchy_and_schedules_it(client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("gender.csv", b"F;*\nM;*\nX;*\n", content_type="text/csv")
    response = client.post(reverse("admin:anonymization_releasepolicy_add"),
                           _policy_post(**{"quasi_identifiers-1-arx_upload": upload}))
    assert response.status_code == 302, response.context["errors"] if response.context else response
    policy = ReleasePolicy.objects.get(name="Customers yearly")
    assert policy.quasi_identifiers.get(column="gender").arx_csv == "F;*\nM;*\nX;*\n"
    assert PeriodicTask.objects.get(pk=policy.periodic_task_id).name == "Nightly release: Customers yearly"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"quasi_identifiers-0-params": '{"widths": [10, 15]}'},
     "Hierarchy of age: width 15 must be a larger multiple of 10 so intervals nest."),
    ({"quasi_identifiers-1-arx_csv": "F;x;*\nM;x;*\nX;y;*\nF2;x;y\n"},
     "Hierarchy of gender: hierarchy: value &#x27;x&#x27; at level 1 has two parents at level 2: &#x27;*&#x27; and "
     "&#x27;y&#x27;."),
    ({"sensitive_column": "balance", "quasi_identifiers-1-arx_csv": "F;*\n"},
     "Give l or t for the sensitive column balance."),
    ({"sensitive_column": "gender", "l_diversity": "2", "quasi_identifiers-1-arx_csv": "F;*\n"},
     "The sensitive column gender cannot also be a quasi-identifier."),
    ({"columns": ["age", "gender"], "quasi_identifiers-1-arx_csv": "F;*\n", "quasi_identifiers-0-column": "balance",
      "quasi_identifiers-TOTAL_FORMS": "2"}, "Quasi-identifier(s) balance must be released columns."),
    ({"quasi_identifiers-1-arx_csv": "F;*\n", "quasi_identifiers-TOTAL_FORMS": "2"},
     "The column balance must be generalized: give it a hierarchy or do not release it."),
    ({"k": "1", "quasi_identifiers-1-arx_csv": "F;*\n"}, "k must be a whole number of at least 2."),
])
def test_it_refuses_a_broken_policy_with_a_clear_message(client, admin_user, overrides, message):
    client.force_login(admin_user)
    response = client.post(reverse("admin:anonymization_releasepolicy_add"), _policy_post(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReleasePolicy.objects.filter(name="Customers yearly").exists()
    assert not PeriodicTask.objects.filter(name="Nightly release: Customers yearly").exists()


def test_it_shows_a_report_with_inline_svg_and_no_scripts_or_style_attributes(client, officer, nightly,
                                                                              yesterday_data):
    release = service.release_run_for_policy(policy_id=nightly.pk)
    client.force_login(officer)
    response = client.get(reverse("admin:anonymization_release_report", args=[release.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<svg") >= 2 + 2 * 4
    assert "Equivalence classes by number of customers" in page
    assert "Labels per column" in page  # the default policy recodes locally: no levels chart
    assert "Workload error" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page
    assert reverse("releases:download", args=[release.pk, "csv"]) in page


def test_it_lists_releases_with_status_and_progress(client, officer, nightly):
    Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 2), status=Release.Status.RUNNING,
                           progress=60, progress_step="writing")
    client.force_login(officer)
    page = client.get(reverse("admin:anonymization_release_changelist")).content.decode()
    assert '<progress max="100" value="60">60%</progress> writing' in page
    assert "Running" in page


def test_it_keeps_tellers_out_of_release_reports(client, bob_teller, nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 2))
    client.force_login(bob_teller)
    assert client.get(reverse("admin:anonymization_release_report", args=[release.pk])).status_code == 403


@pytest.mark.parametrize(("url", "params"), [
    ("/admin/anonymization/release/", {"as_of__year": "99999999999999999999"}),
    ("/admin/anonymization/release/", {"policy__id__exact": "\x00"}),
    ("/admin/anonymization/release/", {"status__exact": "\x00", "o": "99"}),
    ("/admin/anonymization/releasepolicy/", {"q": "\x00", "enabled__exact": "x"}),
    ("/admin/anonymization/releasepolicy/", {"created_at__year": "99999999999999999999"}),
])
def test_it_answers_crafted_list_parameters_without_a_server_error(client, officer, url, params):
    client.force_login(officer)
    assert client.get(url, params).status_code < 500


def test_it_answers_unknown_releases_with_not_found(client, officer):
    client.force_login(officer)
    assert client.get(reverse("admin:anonymization_release_report", args=[999])).status_code == 404
    assert client.get(reverse("releases:download", args=[999, "csv"])).status_code == 404


def _run_as_of(client, policy: ReleasePolicy, as_of: str | None):
    data = {"action": "run_release_as_of", ACTION: [policy.pk]}
    if as_of is not None:
        data.update({"apply": "1", "as_of": as_of})
    return client.post(reverse("admin:anonymization_releasepolicy_changelist"), data, follow=True)


def test_it_asks_for_the_as_of_date_of_a_release_run_now(client, officer, nightly, yesterday_data):
    client.force_login(officer)
    form_page = _run_as_of(client, nightly, None).content.decode()
    yesterday = service.default_as_of()
    assert f'type="date" name="as_of" value="{yesterday:%Y-%m-%d}"' in form_page
    earlier = yesterday - datetime.timedelta(days=3)
    response = _run_as_of(client, nightly, f"{earlier:%Y-%m-%d}")
    release = Release.objects.get(policy=nightly)
    assert release.as_of == earlier and release.status == Release.Status.PUBLISHED
    assert _messages(response) == [f"The release of Nightly transactions as of {earlier} (#{release.pk}) is published."]


@pytest.mark.parametrize(("as_of", "message"), [
    ("today", "The as-of date must be a complete day before today: {yesterday} or earlier."),
    ("31/12/2024", "Give the as-of date as YYYY-MM-DD."),
    ("", "Give the as-of date."),
])
def test_it_refuses_an_as_of_date_that_is_not_a_complete_past_day(client, officer, nightly, as_of, message):
    client.force_login(officer)
    yesterday = service.default_as_of()
    value = f"{yesterday + datetime.timedelta(days=1):%Y-%m-%d}" if as_of == "today" else as_of
    page = _run_as_of(client, nightly, value).content.decode()
    assert message.format(yesterday=f"{yesterday:%Y-%m-%d}") in page
    assert not Release.objects.exists()


def test_it_shows_a_release_as_a_read_only_page_with_its_report_and_files(client, officer, nightly, yesterday_data):
    release = service.release_run_for_policy(policy_id=nightly.pk)
    client.force_login(officer)
    page = client.get(reverse("admin:anonymization_release_change", args=[release.pk])).content.decode()
    assert reverse("admin:anonymization_release_report", args=[release.pk]) in page
    for kind in ("csv", "parquet", "metadata", "report"):
        assert reverse("releases:download", args=[release.pk, kind]) in page
    assert "<form" not in page.split('id="content-main"')[1]  # nothing to save on a record of what was published
    assert 'name="_save"' not in page and "{&quot;" not in page and '{"' not in page
    assert f'<span class="badge badge--published" data-release-status="{release.pk}">Published</span>' in page
    assert f"<dt>Released</dt><dd>{release.rows_out}</dd>" in page


def test_it_tells_the_page_the_progress_of_running_releases(client, officer, nightly, bob_teller):
    running = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 2), status=Release.Status.RUNNING,
                                     progress=40, progress_step="anonymizing")
    done = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1), status=Release.Status.PUBLISHED,
                                  progress=100, progress_step="published")
    url = reverse("admin:anonymization_release_progress")
    client.force_login(officer)
    data = client.get(url, {"id": [running.pk, done.pk, "x", "-1"]}).json()
    assert sorted(data["releases"], key=lambda r: r["id"]) == sorted([
        {"id": running.pk, "status": "running", "status_label": "Running", "progress": 40, "step": "anonymizing",
         "active": True},
        {"id": done.pk, "status": "published", "status_label": "Published", "progress": 100, "step": "published",
         "active": False}], key=lambda r: r["id"])
    page = client.get(reverse("admin:anonymization_release_change", args=[running.pk])).content.decode()
    assert f'data-release="{running.pk}" data-active="true" data-url="{url}"' in page
    client.force_login(bob_teller)
    assert client.get(url, {"id": [running.pk]}).status_code == 403


def test_it_previews_a_hierarchy_being_edited(client, officer, bob_teller):
    url = reverse("admin:anonymization_releasepolicy_preview")
    client.force_login(officer)
    answer = client.post(url, {"column": "postal_code", "builder": "mask", "params": '{"keep": [4, 2]}'}).json()
    assert answer["levels"] == ["exact value", "first 4 characters", "first 2 characters", "hidden (*)"]
    assert answer["rows"][0] == ["1012 AB", "1012*", "10*", "*"]
    assert client.post(url, {"column": "age", "builder": "intervals", "params": "{bin"}).json() == {
        "error": "The parameters are not valid JSON."}
    assert client.get(url).status_code == 405
    client.force_login(bob_teller)
    assert client.post(url, {"column": "age", "builder": "intervals", "params": "{}"}).status_code == 403
