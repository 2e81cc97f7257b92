"""Downloads of release files: only for users with anonymization.download_release, never from a public URL."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from . import selectors
from .release.write import CONTENT_TYPES


@require_GET
@login_required
def download(request: HttpRequest, release_id: int, kind: str) -> FileResponse:
    """Stream a published release file as an attachment to a user allowed to download releases."""
    if not request.user.has_perm("anonymization.download_release"):
        raise PermissionDenied("You may not download release files.")
    artifact = selectors.artifact_for_download(release_id=release_id, kind=kind)
    if artifact is None:
        raise Http404("This release has no such published file.")
    release = artifact.release
    filename = f"release-{release.policy_id}-{release.as_of:%Y-%m-%d}-{artifact.filename}"
    response = FileResponse(default_storage.open(artifact.name, "rb"), as_attachment=True, filename=filename,
                            content_type=CONTENT_TYPES[artifact.kind])
    response["Cache-Control"] = "private, no-store"
    return response
