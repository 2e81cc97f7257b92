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
