"""Downloads of release files: only for users with anonymization.download_release, never from a public URL."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from . import selectors
from .exceptions import IncrementsIncompatible
from .forms import IncrementPeriodForm
from .models import Artifact, ReleasePolicy
from .release.period import check_one_header, concatenated_csv
from .release.write import CONTENT_TYPES


def _require_download_permission(request: HttpRequest) -> None:
    if not request.user.has_perm("anonymization.download_release"):
        raise PermissionDenied("You may not download release files.")


@require_GET
@login_required
def download(request: HttpRequest, release_id: int, kind: str) -> FileResponse:
    """Stream a published release file as an attachment to a user allowed to download releases."""
    _require_download_permission(request)
    artifact = selectors.artifact_for_download(release_id=release_id, kind=kind)
    if artifact is None:
        raise Http404("This release has no such published file.")
    release = artifact.release
    filename = f"release-{release.policy_id}-{release.as_of:%Y-%m-%d}-{artifact.filename}"
    response = FileResponse(default_storage.open(artifact.name, "rb"), as_attachment=True, filename=filename,
                            content_type=CONTENT_TYPES[artifact.kind])
    response["Cache-Control"] = "private, no-store"
    return response


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@require_GET
@login_required
def download_period(request: HttpRequest, policy_id: int) -> HttpResponseBase:
    """Stream one CSV of the policy's increments published as of `from`..`to` (ISO dates, both included)."""
    _require_download_permission(request)
    policy = get_object_or_404(ReleasePolicy, pk=policy_id)
    form = IncrementPeriodForm(request.GET)
    if not form.is_valid():
        return _bad_request(form.message())
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    artifacts = selectors.increment_csvs(policy_id=policy.pk, start=start, end=end)
    if not artifacts:
        raise Http404(f"Policy {policy.name!r} has no published release as of {start:%Y-%m-%d} to {end:%Y-%m-%d}.")
    try:
        header = check_one_header(artifacts)  # before the response starts: a mismatch is a 400, not a cut file
    except IncrementsIncompatible as exc:
        return _bad_request(str(exc))
    response = StreamingHttpResponse(concatenated_csv(artifacts, header), content_type=CONTENT_TYPES[Artifact.Kind.CSV])
    filename = f"releases-{policy.pk}-{start:%Y-%m-%d}-{end:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
