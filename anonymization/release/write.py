"""Writing release files to Django's default storage, under a temporary name until they are published.

Layout: releases/<policy id>/<as-of date>/<release id>/<file>. A run writes into a `.tmp-<claim>`
folder below that; publishing copies each verified file to its final name and removes the
temporary folder. Anything found in a release's folder when a run starts, or when a run fails, is
deleted, so a worker killed half-way never leaves a file that looks published. Only the storage
API is used (open/save/delete/listdir), so an S3-compatible backend works unchanged. The file
kinds are the Artifact model's kinds.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

from ..models import Artifact, Release

Kind = Artifact.Kind
FILENAMES = {Kind.CSV: "release.csv", Kind.PARQUET: "release.parquet", Kind.METADATA: "metadata.json",
             Kind.REPORT: "report.html"}
CONTENT_TYPES = {Kind.CSV: "text/csv", Kind.PARQUET: "application/vnd.apache.parquet",
                 Kind.METADATA: "application/json", Kind.REPORT: "text/html"}
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Written:
    """A file in storage with its size and SHA-256."""

    kind: str
    name: str
    size: int
    sha256: str


def release_folder(*, policy_id: int, as_of: str, release_id: int) -> str:
    """Return the storage folder of one release."""
    return f"releases/{policy_id}/{as_of}/{release_id}"


def folder_of(release: Release) -> str:
    """Return the storage folder of a release row."""
    return release_folder(policy_id=release.policy_id, as_of=release.as_of.isoformat(), release_id=release.pk)


def discard_files(release_id: int) -> None:
    """Delete every stored file of a release (temporary or final)."""
    remove_folder(folder_of(Release.objects.get(pk=release_id)))


def temp_folder(folder: str, claim_token: str) -> str:
    """Return the folder a claim writes into before its files are verified."""
    return f"{folder}/.tmp-{claim_token}"


def _storage() -> Storage:
    return default_storage


def open_stored(name: str) -> File:
    """Open a stored file for reading in binary mode."""
    return _storage().open(name, "rb")


def digest(name: str) -> tuple[int, str]:
    """Return (size, SHA-256) of a stored file, read back in chunks."""
    sha, size = hashlib.sha256(), 0
    with _storage().open(name, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def save(name: str, content: File) -> Written:
    """Save under exactly `name` (replacing a leftover) and return its digest."""
    storage = _storage()
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, content)
    if saved != name:
        raise OSError(f"Storage saved {name!r} as {saved!r}.")
    size, sha = digest(name)
    kind = next(Kind(kind) for kind, filename in FILENAMES.items() if name.endswith("/" + filename))
    return Written(kind=kind, name=name, size=size, sha256=sha)


def write_data(frame: pd.DataFrame, folder: str) -> list[Written]:
    """Write the released rows as CSV and Parquet into `folder`, keeping row order."""
    written = []
    with tempfile.TemporaryFile() as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
        handle.seek(0)
        written.append(save(f"{folder}/{FILENAMES[Kind.CSV]}", File(handle)))
    with tempfile.TemporaryFile() as handle:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle, compression="zstd")
        handle.seek(0)
        written.append(save(f"{folder}/{FILENAMES[Kind.PARQUET]}", File(handle)))
    return written


def write_text(kind: str, text: str, folder: str) -> Written:
    """Write a small text file (metadata JSON, HTML report) into `folder`."""
    return save(f"{folder}/{FILENAMES[kind]}", ContentFile(text.encode("utf-8")))


def read_csv(name: str) -> pd.DataFrame:
    """Read a written CSV back as text categoricals (no type guessing, empty cells stay empty strings)."""
    with _storage().open(name, "rb") as handle:
        return pd.read_csv(handle, dtype="category", keep_default_na=False, na_filter=False)


def read_parquet(name: str) -> pd.DataFrame:
    """Read a written Parquet file back."""
    with _storage().open(name, "rb") as handle:
        return pq.read_table(io.BytesIO(handle.read())).to_pandas()


def remove_folder(folder: str) -> int:
    """Delete every file below a storage folder; return how many were deleted."""
    storage = _storage()
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in files:
        storage.delete(f"{folder}/{name}")
        removed += 1
    for sub in folders:
        removed += remove_folder(f"{folder}/{sub}")
    return removed


def local_path(name: str) -> str:
    """Return the file's local path when the storage has one, else its storage name."""
    try:
        return _storage().path(name)
    except NotImplementedError:
        return name
