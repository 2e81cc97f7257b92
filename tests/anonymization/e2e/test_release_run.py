"""Release runs end to end, eagerly: extraction, Flash, writing, independent verification, publication."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone

from anonymization.exceptions import ReleaseBusy
from anonymization.models import QuasiIdentifier, Release, ReleasePolicy
from anonymization.release import run, service, verify, write
from transactions.demo import population_generate as populate

AS_OF = datetime.date(2025, 3, 31)


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: escapes every `except Exception`, so nothing gets cleaned up."""


@pytest.fixture
def population(db):
    return populate(customers=80, entries=1_500, last_day=AS_OF, days=40, seed=7)


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def _run(policy: ReleasePolicy, as_of: datetime.date = AS_OF) -> Release:
    return service.release_run_for_policy(policy_id=policy.pk, as_of=as_of)


def _stored_files(release: Release) -> list[str]:
    folder = write.release_folder(policy_id=release.policy_id, as_of=release.as_of.isoformat(),
                                      release_id=release.pk)
    found = []

    def walk(path: str) -> None:
        try:
            folders, files = default_storage.listdir(path)
        except FileNotFoundError:
            return
        found.extend(f"{path}/{name}" for name in files)
        for sub in folders:
            walk(f"{path}/{sub}")

    walk(folder)
    return found


def test_it_publishes_a_verified_release_of_the_default_policy(population, nightly):
    release = _run(nightly)
    assert release.status == Release.Status.PUBLISHED, release.error
    assert release.rows_in == 1_500
    assert release.rows_out + release.held_rows + release.suppressed_rows == 1_500
    assert release.held_rows + release.suppressed_rows <= 30
    assert release.class_stats["smallest"] >= 5
    # the default policy recodes locally: labels per class, and its version's fixed person levels
    assert set(release.levels) == {"age", "gender", "postal_code"}
    assert set(release.label_stats) == {qi.column for qi in nightly.quasi_identifiers.all()}
    assert set(release.artifacts.values_list("kind", flat=True)) == {"csv", "parquet", "metadata", "report"}
    data = write.read_csv(release.artifacts.get(kind="csv").name)
    assert list(data.columns) == nightly.columns
    assert len(data) == release.rows_out
    assert not any(".tmp-" in name for name in _stored_files(release))


def test_it_records_the_sha256_of_every_file_in_the_metadata(population, nightly):
    release = _run(nightly)
    with default_storage.open(release.artifacts.get(kind="metadata").name) as handle:
        metadata = json.load(handle)
    for entry in metadata["files"]:
        artifact = release.artifacts.get(kind=entry["kind"])
        with default_storage.open(artifact.name, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == entry["sha256"] == artifact.sha256
    assert metadata["policy"]["k"] == 5
    assert metadata["recoding"] == "local" and metadata["engine"]["name"] == "mondrian"
    assert metadata["labels"] == release.label_stats and "levels" not in metadata
    assert all(len(qi["hierarchy_sha256"]) == 64 for qi in metadata["policy"]["quasi_identifiers"])
    assert metadata["rows"] == {"in": 1_500, "out": release.rows_out, "suppressed": release.suppressed_rows,
                                "held_back": release.held_rows, "taken_in_from_earlier_nights": 0}
    assert metadata["release"]["window"] == {"from": None, "to": "2025-03-31"}
    assert metadata["release"]["policy_version"] == release.policy_version != ""


def test_it_fails_clearly_when_k_exceeds_the_customers(population, nightly):
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=81)
    release = _run(nightly)
    assert release.status == Release.Status.FAILED
    assert release.error == ("The policy cannot be satisfied: the rows to release belong to 80 customer(s), fewer "
                             "than k (k=81 counted over customers, suppression limit 2.0%).")
    assert not release.artifacts.exists()
    assert _stored_files(release) == []


def test_it_fails_clearly_on_a_hierarchy_that_misses_values(population, nightly):
    QuasiIdentifier.objects.filter(policy=nightly, column="gender").update(
        builder="arx", params={}, arx_csv="F;*\nX;*\n")
    release = _run(nightly)
    assert release.status == Release.Status.FAILED
    assert release.error == "Hierarchy of gender: hierarchy has no row for value(s): 'M'."
    assert not release.artifacts.exists()
    assert _stored_files(release) == []


def test_it_fails_clearly_on_a_number_hierarchy_whose_groups_are_names(population, nightly):
    groups = "\n".join(f"{age};{'young' if age < 50 else 'old'};*" for age in range(0, 121))
    QuasiIdentifier.objects.filter(policy=nightly, column="age").update(builder="arx", params={}, arx_csv=groups)
    release = _run(nightly)
    assert release.status == Release.Status.FAILED
    assert release.error == ("Hierarchy of age: the group label 'young' (level 1) is not a range such as [20, 40); "
                             "a numeric column's groups must say which values they cover.")
    assert not release.artifacts.exists()


def test_it_does_not_make_a_second_release_for_the_same_policy_and_date(population, nightly):
    first = _run(nightly)
    second = _run(nightly)
    assert second.pk == first.pk
    assert second.attempts == 1
    assert Release.objects.filter(policy=nightly, as_of=AS_OF).count() == 1
    assert service.release_enqueue(policy_id=nightly.pk, as_of=AS_OF).pk == first.pk
    assert Release.objects.get(pk=first.pk).attempts == 1


def _with_extra_column(monkeypatch, name: str, value) -> None:
    original = write.write_data

    def leaky(frame, folder):
        frame = frame.copy()
        frame[name] = value
        return original(frame, folder)

    monkeypatch.setattr(write, "write_data", leaky)


def test_it_refuses_to_publish_an_email_column(population, nightly, monkeypatch):
    from accounts.models import Customer

    _with_extra_column(monkeypatch, "email", Customer.objects.first().email)
    release = _run(nightly)
    assert release.status == Release.Status.FAILED
    assert release.error == "Verification failed: the file has direct identifier column(s) 'email'."
    assert not release.artifacts.exists()
    assert _stored_files(release) == []


@pytest.mark.parametrize(("field", "kind"), [
    ("email", "an email address"), ("number", "an account number"), ("full_name", "a customer name"),
    ("card", "a card number"),
])
def test_it_refuses_to_publish_an_identifier_hidden_in_a_cell(population, nightly, monkeypatch, field, kind):
    from accounts.models import Account

    account = Account.objects.select_related("customer").filter(cards__isnull=False).first()
    card = account.cards.first()
    values = {"email": f"mail {account.customer.email.upper()}", "number": account.number,
              "full_name": f"Dear {account.customer.full_name}", "card": f"{card.bin}******{card.last4}"}
    _with_extra_column(monkeypatch, "kind", values[field])
    release = _run(nightly)
    assert release.status == Release.Status.FAILED
    assert release.error == f"Verification failed: column 'kind' contains {kind} from the database."
    assert values[field] not in release.error
    assert _stored_files(release) == []


def test_it_leaves_no_artifact_when_the_worker_dies_and_the_rerun_publishes(population, nightly, monkeypatch,
                                                                             settings):
    original = write.write_data

    def dies_half_way(frame, folder):
        original(frame.head(10), folder)
        raise WorkerKilled()

    monkeypatch.setattr(write, "write_data", dies_half_way)
    with pytest.raises(WorkerKilled):
        _run(nightly)
    release = Release.objects.get(policy=nightly, as_of=AS_OF)
    assert release.status == Release.Status.RUNNING
    assert not release.artifacts.exists()
    assert all(".tmp-" in name for name in _stored_files(release))

    monkeypatch.setattr(write, "write_data", original)
    with pytest.raises(ReleaseBusy):  # its heartbeat is fresh: the dead worker might still be alive
        _run(nightly)
    settings.ANONYMIZATION_STALE_SECONDS = 0
    rerun = _run(nightly)
    assert rerun.pk == release.pk
    assert rerun.status == Release.Status.PUBLISHED, rerun.error
    assert rerun.attempts == 2
    assert not any(".tmp-" in name for name in _stored_files(rerun))


def test_it_runs_one_release_of_a_policy_at_a_time(population, nightly):
    other = Release.objects.create(policy=nightly, as_of=AS_OF - datetime.timedelta(days=1),
                                   status=Release.Status.RUNNING, heartbeat_at=timezone.now())
    with pytest.raises(ReleaseBusy, match=f"Release #{other.pk} of policy 'Nightly transactions' is running"):
        _run(nightly)
    assert Release.objects.get(policy=nightly, as_of=AS_OF).status == Release.Status.QUEUED


def test_it_hands_the_release_back_to_the_queue_on_a_database_error(population, nightly, monkeypatch):
    def lost_connection(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(run, "extract", lost_connection)
    with pytest.raises(OperationalError):
        _run(nightly)
    assert Release.objects.get(policy=nightly, as_of=AS_OF).status == Release.Status.QUEUED


def test_it_runs_a_release_from_the_command_line(population, nightly):
    out = io.StringIO()
    call_command("run_release", "Nightly transactions", "--as-of", "2025-03-31", "--no-progress", stdout=out)
    lines = out.getvalue().splitlines()
    release = Release.objects.get(policy=nightly, as_of=AS_OF)
    assert lines[0] == f"release={release.pk} status=published"
    paths = [line.removeprefix("artifact=") for line in lines[1:]]
    assert len(paths) == 4 and all(line.startswith("artifact=") for line in lines[1:])
    assert {Path(path).name for path in paths} == {"release.csv", "release.parquet", "metadata.json", "report.html"}
    assert all(Path(path).is_file() for path in paths)


def test_it_explains_command_line_mistakes(db):
    with pytest.raises(CommandError, match=r"No release policy named 'Nope' \(known: Nightly transactions\)\."):
        call_command("run_release", "Nope")
    with pytest.raises(CommandError, match=r"--as-of must be a date like 2025-03-31, not '31/03/2025'\."):
        call_command("run_release", "Nightly transactions", "--as-of", "31/03/2025")
    assert not Release.objects.exists()


def test_it_reports_a_failed_release_from_the_command_line(population, nightly):
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=500)
    out = io.StringIO()
    with pytest.raises(CommandError, match="The policy cannot be satisfied"):
        call_command("run_release", "Nightly transactions", "--as-of", "2025-03-31", "--no-progress", stdout=out)
    release = Release.objects.get(policy=nightly)
    assert out.getvalue() == f"release={release.pk} status=failed\n"


# --- a file that is safe to combine -------------------------------------------------------------------

LABEL = "=cmd|' /C calc'!A0"


def _temporary_folders() -> list[str]:
    root = Path(default_storage.path("releases"))
    return [str(path) for path in root.rglob(".tmp-*")] if root.exists() else []


def test_it_publishes_rows_in_a_secret_order_not_ledger_order(population, nightly, monkeypatch):
    kept = {}
    original = run.verify_written

    def spy(**kwargs):
        kept["positions"] = kwargs["positions"]
        return original(**kwargs)

    monkeypatch.setattr(run, "verify_written", spy)
    release = _run(nightly)
    assert release.status == Release.Status.PUBLISHED, release.error
    positions = kept["positions"]
    assert len(positions) == release.rows_out == len(write.read_csv(release.artifacts.get(kind="csv").name))
    assert abs(verify.rank_correlation(positions)) < verify.ORDER_BOUND
    assert verify.ledger_neighbours(positions) <= verify.MAX_LEDGER_NEIGHBOURS
    assert "kind" in release.label_stats and "card_network" not in release.label_stats


def test_it_never_publishes_a_hierarchy_label_as_a_live_formula(population, nightly, monkeypatch):
    _with_extra_column(monkeypatch, "kind", LABEL)
    release = _run(nightly)
    assert release.status == Release.Status.PUBLISHED, release.error
    with default_storage.open(release.artifacts.get(kind="csv").name, "rb") as handle:
        rows = handle.read().decode().splitlines()
    assert rows[0].split(",")[-1] == "kind"
    assert all(row.endswith(f",'{LABEL}") for row in rows[1:])
    assert set(write.read_parquet(release.artifacts.get(kind="parquet").name)["kind"]) == {LABEL}


def test_it_leaves_no_temporary_folder_after_publishing_or_failing(population, nightly, monkeypatch):
    original = write.write_data
    _with_extra_column(monkeypatch, "email", "x")
    failed = _run(nightly, as_of=AS_OF - datetime.timedelta(days=1))
    assert failed.status == Release.Status.FAILED
    assert _temporary_folders() == []
    monkeypatch.setattr(write, "write_data", original)
    assert _run(nightly).status == Release.Status.PUBLISHED
    assert _temporary_folders() == []
