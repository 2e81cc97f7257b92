"""Release files are served only to users allowed to download releases, as streamed attachments."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.storage import default_storage
from django.urls import reverse

from anonymization.models import Release, ReleasePolicy
from anonymization.release import service
from transactions.demo import population_generate as populate

AS_OF = datetime.date(2025, 3, 31)


@pytest.fixture
def published(db) -> Release:
    populate(customers=60, entries=600, last_day=AS_OF, days=20, seed=3)
    policy = ReleasePolicy.objects.get(name="Nightly transactions")
    release = service.release_run_for_policy(policy_id=policy.pk, as_of=AS_OF)
    assert release.status == Release.Status.PUBLISHED, release.error
    return release


@pytest.fixture
def officer(db) -> User:
    user = User.objects.create_user("olivia", password="officer-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Privacy officers"))
    return user


def _url(release: Release, kind: str = "csv") -> str:
    return reverse("releases:download", args=[release.pk, kind])


def test_it_streams_a_release_file_to_a_privacy_officer(client, published, officer):
    client.force_login(officer)
    response = client.get(_url(published))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="release-{published.policy_id}-2025-03-31-release.csv"')
    assert response["Content-Type"] == "text/csv"
    assert response["Cache-Control"] == "private, no-store"
    with default_storage.open(published.artifacts.get(kind="csv").name, "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def test_it_refuses_a_teller(client, published, bob_teller):
    client.force_login(bob_teller)
    assert client.get(_url(published)).status_code == 403


def test_it_sends_anonymous_visitors_to_the_login(client, published):
    response = client.get(_url(published))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_refuses_an_atm_session(client, published, alice_customer):
    session = client.session
    session["atm_card_id"] = alice_customer.card.pk
    session.save()
    response = client.get(_url(published))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_serves_nothing_of_an_unpublished_release(client, published, officer):
    client.force_login(officer)
    Release.objects.filter(pk=published.pk).update(status=Release.Status.FAILED)
    assert client.get(_url(published)).status_code == 404
    assert client.get(reverse("releases:download", args=[published.pk, "secrets"])).status_code == 404


def test_it_does_not_serve_release_files_from_a_media_url(client, published, officer):
    client.force_login(officer)
    name = published.artifacts.get(kind="csv").name
    assert client.get(f"/media-not-served/{name}").status_code == 404
    assert client.get(f"/media/{name}").status_code == 404


# --- a period's increments as one CSV ----------------------------------------------------------------

NIGHTS = [datetime.date(2025, 3, 29), datetime.date(2025, 3, 30), datetime.date(2025, 3, 31)]


@pytest.fixture
def increments(db) -> list[Release]:
    populate(customers=120, entries=2_400, last_day=NIGHTS[-1], days=20, seed=5)
    policy = ReleasePolicy.objects.get(name="Nightly transactions")
    releases = [service.release_run_for_policy(policy_id=policy.pk, as_of=night) for night in NIGHTS]
    assert all(release.status == Release.Status.PUBLISHED for release in releases), [r.error for r in releases]
    return releases


def _period_url(release: Release, query: str) -> str:
    return f"{reverse('releases:download_period', args=[release.policy_id])}?{query}"


def _csv_bytes(release: Release) -> bytes:
    with default_storage.open(release.artifacts.get(kind="csv").name, "rb") as handle:
        return handle.read()


def test_it_joins_a_periods_increments_into_one_csv(client, increments, officer):
    client.force_login(officer)
    response = client.get(_period_url(increments[0], "from=2025-03-30&to=2025-03-31"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="releases-{increments[0].policy_id}-2025-03-30-2025-03-31.csv"')
    assert response["Cache-Control"] == "private, no-store"
    second, third = _csv_bytes(increments[1]), _csv_bytes(increments[2])
    header, rest = second.split(b"\n", 1)
    assert third.startswith(header + b"\n")
    assert b"".join(response.streaming_content) == second + third[len(header) + 1:]


def test_it_counts_every_row_of_the_period_exactly_once(client, increments, officer):
    from anonymization.release import write

    client.force_login(officer)
    body = b"".join(client.get(_period_url(increments[0], "from=2025-01-01&to=2025-12-31")).streaming_content)
    assert body.count(b"\n") == 1 + sum(release.rows_out for release in increments)
    assert sum(len(write.read_csv(r.artifacts.get(kind="csv").name)) for r in increments) == body.count(b"\n") - 1


@pytest.mark.parametrize(("query", "message"), [
    ("", "Give the first as-of date as from=YYYY-MM-DD. Give the last as-of date as to=YYYY-MM-DD."),
    ("from=2025-03-30&to=31/03/2025", "to must be a date like 2025-03-31."),
    ("from=2025-02-30&to=2025-03-31", "from must be a date like 2025-03-31."),
    ("from=2025-03-31&to=2025-03-29", "The period starts (2025-03-31) after it ends (2025-03-29)."),
    ("from=%00&to=2025-03-31", "Null characters are not allowed."),  # refused before the view
])
def test_it_explains_a_bad_period_with_a_400(client, increments, officer, query, message):
    client.force_login(officer)
    response = client.get(_period_url(increments[0], query))
    assert response.status_code == 400
    assert response.content.decode() == message


def test_it_finds_no_increment_outside_the_published_period(client, increments, officer):
    client.force_login(officer)
    assert client.get(_period_url(increments[0], "from=2024-01-01&to=2024-12-31")).status_code == 404
    assert client.get(reverse("releases:download_period", args=[999]) + "?from=2025-03-29&to=2025-03-31"
                      ).status_code == 404


def test_it_refuses_increments_of_different_columns(client, increments, officer):
    from anonymization.release import write

    last = increments[-1]
    name = last.artifacts.get(kind="csv").name
    data = write.read_csv(name).drop(columns=["kind"])  # as if a later version had released fewer columns
    default_storage.delete(name)
    with default_storage.open(name, "wb") as handle:
        handle.write(data.to_csv(index=False, lineterminator="\n").encode())
    client.force_login(officer)
    response = client.get(_period_url(last, "from=2025-03-29&to=2025-03-31"))
    assert response.status_code == 400
    assert response.content.decode().startswith("The increments of this period have different columns (policy ")


def test_it_refuses_the_period_download_to_a_teller_and_anonymous_visitors(client, increments, bob_teller):
    url = _period_url(increments[0], "from=2025-03-29&to=2025-03-31")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(bob_teller)
    assert client.get(url).status_code == 403


def test_it_links_the_period_download_from_the_policy_admin(increments, admin_client_):
    response = admin_client_.get(reverse("admin:anonymization_releasepolicy_changelist"))
    url = reverse("releases:download_period", args=[increments[0].policy_id])
    assert f'href="{url}?from=2025-03-29&amp;to=2025-03-31"' in response.content.decode()
