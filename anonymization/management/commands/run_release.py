"""Run a policy's release now, in this process, with a progress bar.

    python manage.py run_release "Nightly transactions" [--as-of 2025-03-31]

Ends by printing `release=<id> status=<status>`, then `artifact=<local path>` per published file.
A release that fails prints its reason and exits with status 1.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from anonymization.exceptions import ReleaseError
from anonymization.models import Release, ReleasePolicy
from anonymization.release import service
from anonymization.release.write import local_path


def _policy(value: str) -> ReleasePolicy:
    policy = ReleasePolicy.objects.filter(name=value).first()
    if policy is None and value.isdigit():
        policy = ReleasePolicy.objects.filter(pk=int(value)).first()
    if policy is None:
        names = ", ".join(ReleasePolicy.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"No release policy named {value!r} (known: {names}).")
    return policy


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of must be a date like 2025-03-31, not {value!r}.") from exc


class Command(BaseCommand):
    help = "Run a release policy now (extract, anonymize, write, verify, publish)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("policy", help="Policy name (or id).")
        parser.add_argument("--as-of", default="", help="Date the release covers (default: yesterday).")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: object, **options: object) -> None:
        policy = _policy(str(options["policy"]))
        as_of = _date(str(options["as_of"])) if options["as_of"] else service.default_as_of()
        release = self._run(policy, as_of, show=not options["no_progress"])
        self.stdout.write(f"release={release.pk} status={release.status}")
        if release.status != Release.Status.PUBLISHED:
            raise CommandError(release.error or f"The release is {release.status}.")
        for artifact in release.artifacts.order_by("kind"):
            self.stdout.write(f"artifact={local_path(artifact.name)}")

    def _run(self, policy: ReleasePolicy, as_of: datetime.date, show: bool) -> Release:
        bar = tqdm(total=100, unit="%", disable=not show, file=self.stderr._out, leave=False)

        def progress(percent: int, step: str) -> None:
            bar.set_description(step)
            bar.update(max(percent - bar.n, 0))

        try:
            release, _created = service.release_request(policy_id=policy.pk, as_of=as_of)
        except ReleaseError as exc:  # a date the policy has already gone past, or a day not over yet
            bar.close()
            raise CommandError(str(exc)) from exc
        try:
            if release.status != Release.Status.PUBLISHED:
                release = service.release_run(release_id=release.pk, progress=progress)
        except KeyboardInterrupt:
            service.release_abandon(release_id=release.pk, reason="Interrupted from the command line.")
            raise
        except ReleaseError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        return release
