"""Writing release files to Django's default storage, under a temporary name until they are published.

Layout: releases/<policy id>/<as-of date>/<release id>/<file>. A run writes into a `.tmp-<claim>`
folder below that; publishing copies each verified file to its final name and removes the
temporary folder. Anything found in a release's folder when a run starts, or when a run fails, is
deleted, so a worker killed half-way never leaves a file that looks published. Only the storage
API is used (open/save/delete/listdir), so an S3-compatible backend works unchanged; on a local
file system the emptied folders are removed too, so no empty `.tmp-*` folder stays behind. The file
kinds are the Artifact model's kinds.

CSV cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) get a leading apostrophe, except plain numbers such as `-12.50`, which stay as
they are (`neutralize_cell`). The Parquet file keeps the true values: it is typed data that no
spreadsheet evaluates, and the verifier compares it with the CSV through the same rule.

Both data files are written WRITE_BATCH_ROWS rows at a time (CSV lines appended, one Parquet row
group per batch), so writing ten million rows never holds more than a batch as text.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

from ..models import Artifact, Release

Kind = Artifact.Kind
FILENAMES: dict[str, str] = {Kind.CSV: "release.csv", Kind.PARQUET: "release.parquet", Kind.METADATA: "metadata.json",
             Kind.REPORT: "report.html"}
CONTENT_TYPES: dict[str, str] = {Kind.CSV: "text/csv", Kind.PARQUET: "application/vnd.apache.parquet",
                 Kind.METADATA: "application/json", Kind.REPORT: "text/html"}
_READ_CHUNK = 1 << 20
WRITE_BATCH_ROWS = 500_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_plain_number(text: str) -> bool:
    """Return True for a plain decimal number such as `-12.50` or `3e5` (what a spreadsheet reads as a number)."""
    return bool(_PLAIN_NUMBER.fullmatch(text))


def is_live_formula(text: str) -> bool:
    """Return True when a spreadsheet would run the cell as a formula: it starts with = + - @, a tab
    or a carriage return and is not a plain number."""
    return text.startswith(FORMULA_STARTS) and not is_plain_number(text)


def neutralize_cell(text: str) -> str:
    """Return the cell as the CSV holds it: a live formula gets a leading apostrophe, anything else stays."""
    return FORMULA_GUARD + text if is_live_formula(text) else text


def _neutralized_text(column: pd.Series) -> pd.Series:
    """Return a text column with every live formula neutralized, each distinct value converted once."""
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.hasnans:
        codes, texts = column.cat.codes.to_numpy(), column.cat.categories.astype(str)
    else:
        codes, texts = pd.factorize(column.astype(str))
    safe_codes, safe = pd.factorize(np.asarray([neutralize_cell(value) for value in texts], dtype=object))
    return pd.Series(pd.Categorical.from_codes(safe_codes[codes], categories=safe), index=column.index)


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame as the CSV file holds it: text columns neutralized, numbers untouched."""
    text = [name for name in frame.columns if not pd.api.types.is_numeric_dtype(frame[name])]
    return frame.assign(**{str(name): _neutralized_text(frame[name]) for name in text}) if text else frame


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


def _batches(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Return the frame's consecutive batches of WRITE_BATCH_ROWS rows (one, empty, for an empty frame)."""
    return [frame.iloc[start:start + WRITE_BATCH_ROWS] for start in range(0, len(frame), WRITE_BATCH_ROWS)] or [frame]


def _as_plain_table(batch: pd.DataFrame) -> pa.Table:
    """Return a batch as an Arrow table with categorical columns as their plain values (text stays text)."""
    plain = {name: object for name in batch.columns if isinstance(batch[name].dtype, pd.CategoricalDtype)}
    return pa.Table.from_pandas(batch.astype(plain) if plain else batch, preserve_index=False)


def write_data(frame: pd.DataFrame, folder: str) -> list[Written]:
    """Write the released rows as CSV (formulas neutralized) and Parquet (true values) into `folder`, keeping row
    order, batch by batch."""
    written = []
    with tempfile.TemporaryFile() as handle:
        for number, batch in enumerate(_batches(frame)):
            csv_frame(batch).to_csv(handle, index=False, header=number == 0, lineterminator="\n")
        handle.seek(0)
        written.append(save(f"{folder}/{FILENAMES[Kind.CSV]}", File(handle)))
    with tempfile.TemporaryFile() as handle:
        writer: pq.ParquetWriter | None = None
        for batch in _batches(frame):
            table = _as_plain_table(batch)
            writer = writer or pq.ParquetWriter(handle, table.schema, compression="zstd")
            writer.write_table(table)
        assert writer is not None  # _batches gives at least one batch
        writer.close()
        pa.default_memory_pool().release_unused()
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


def _text_columns(schema: pa.Schema) -> list[str]:
    return [field.name for field in schema if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)]


def read_parquet(name: str) -> pd.DataFrame:
    """Read a written Parquet file back; text columns come back as categoricals (each distinct text once)."""
    with _storage().open(name, "rb") as handle:
        source = io.BytesIO(handle.read())
    return pq.read_table(source, read_dictionary=_text_columns(pq.read_schema(source))).to_pandas()


def read_parquet_batches(name: str) -> Iterator[pd.DataFrame]:
    """Read a written Parquet file back WRITE_BATCH_ROWS rows at a time, text columns as categoricals; an
    empty file gives one empty frame with its columns. Arrow's freed buffers go back to the system after
    each batch."""
    with _storage().open(name, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        parquet = pq.ParquetFile(handle, read_dictionary=_text_columns(parquet.schema_arrow))
        empty = True
        for batch in parquet.iter_batches(batch_size=WRITE_BATCH_ROWS):
            empty = False
            yield pa.Table.from_batches([batch]).to_pandas()
            pa.default_memory_pool().release_unused()
        if empty:
            yield parquet.schema_arrow.empty_table().to_pandas()


def remove_folder(folder: str) -> int:
    """Delete every file below a storage folder, then the emptied local folders; return how many files went."""
    removed = _remove_files(folder)
    _remove_empty_folders(folder)
    return removed


def _remove_files(folder: str) -> int:
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
        removed += _remove_files(f"{folder}/{sub}")
    return removed


def _remove_empty_folders(folder: str) -> None:
    """Remove the empty directories left below (and at) a local storage folder, deepest first.

    Storage without local paths (S3) has no folders: a prefix disappears with its last file.
    """
    try:
        root = _storage().path(folder)
    except NotImplementedError:
        return
    if not os.path.isdir(root):
        return
    for path, _folders, _files in os.walk(root, topdown=False):
        try:
            os.rmdir(path)
        except OSError:  # not empty: a file another run wrote meanwhile stays with its folder
            continue


def local_path(name: str) -> str:
    """Return the file's local path when the storage has one, else its storage name."""
    try:
        return _storage().path(name)
    except NotImplementedError:
        return name
