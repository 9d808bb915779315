"""Receiving an extract: a streaming upload handler and the checks on what arrived.

The handler writes each chunk to a temp file and feeds the same bytes to SHA-256 as they
arrive, so a 1 GB upload is never read twice or held in memory; it stops storing as soon as the
size limit is passed. A .zip is opened member by member: exactly one .csv, no folders or nested
archives, and an expansion ratio checked on the declared sizes and again on the bytes actually
decompressed (a zip bomb can lie about its sizes).

What comes out is the intake service's `IncomingFile`: the web layer receives and unpacks, the
service decides whether it becomes a delivery. Who may upload is said in `deliveries.access`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from deliveries.services.intake import IncomingFile

ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".zst")
COPY_CHUNK = 1024 * 1024


class UploadRefused(Exception):
    """The uploaded file is not one intake can take (its type, its size, a bad zip); the message
    says why in Danish. The rules about the delivery itself are the intake service's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def too_large_message(limit: int) -> str:
    return _("Filen er for stor: den største tilladte størrelse er %(limit)s.") % {
        "limit": filesizeformat(limit)
    }


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams the file field to a temp file, computing SHA-256 and size on the way."""

    chunk_size = 1024 * 1024

    def __init__(self, request: Any = None, *, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes if max_bytes is not None else settings.MAX_UPLOAD_BYTES
        self.refusal: str | None = None
        self._hash = hashlib.sha256()
        self._size = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._size += len(raw_data)
        if self._size > self.max_bytes:
            self.refusal = too_large_message(self.max_bytes)
            self.file.close()  # a TemporaryUploadedFile deletes its temp file when closed
            # The rest of the body is read and dropped so the browser gets our answer.
            raise StopUpload(connection_reset=False)
        self._hash.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        uploaded = super().file_complete(file_size)
        assert isinstance(uploaded, TemporaryUploadedFile)
        # Read back by prepare_upload: the checksum of exactly the bytes that arrived.
        uploaded.sha256 = self._hash.hexdigest()  # type: ignore[attr-defined]
        return uploaded


def prepare_upload(uploaded: Any, *, max_bytes: int, max_ratio: int) -> IncomingFile:
    """Checks an uploaded file and returns the CSV to hand to intake, or raises UploadRefused.

    A .csv is handed over as the upload's own temp file (so local storage moves it rather than
    reading it a second time); a .zip's single member is unpacked to a new temp file."""
    name = os.path.basename(uploaded.name or "")
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in (".csv", ".zip"):
        raise UploadRefused(
            _(
                "Filtypen «%(suffix)s» accepteres ikke: upload en .csv-fil eller en .zip-fil med "
                "præcis én .csv-fil."
            )
            % {"suffix": suffix or _("(ingen)")}
        )
    if uploaded.size == 0:
        raise UploadRefused(_("Filen er tom (0 bytes). Vælg udtrækket igen og upload det."))
    if uploaded.size > max_bytes:
        raise UploadRefused(too_large_message(max_bytes))
    path = Path(uploaded.temporary_file_path())
    if suffix == ".csv":
        sha = getattr(uploaded, "sha256", None) or _sha256_of(path)
        return IncomingFile(path=path, original_name=name, size=uploaded.size, sha256=sha)
    return extract_single_csv(path, original_name=name, max_bytes=max_bytes, max_ratio=max_ratio)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_single_csv(
    path: Path, *, original_name: str, max_bytes: int, max_ratio: int
) -> IncomingFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(
            _("Zip-filen kan ikke åbnes: den er beskadiget eller ikke en zip-fil.")
        ) from None
    with archive:
        members = archive.infolist()
        if len(members) != 1:
            raise UploadRefused(
                _(
                    "Zip-filen skal indeholde præcis én .csv-fil, men indeholder %(count)d "
                    "elementer."
                )
                % {"count": len(members)}
            )
        info = members[0]
        if info.is_dir() or "/" in info.filename or "\\" in info.filename:
            raise UploadRefused(
                _(
                    "Zip-filen må ikke indeholde mapper eller stier («%(name)s»): læg .csv-filen "
                    "direkte i zip-filen."
                )
                % {"name": info.filename}
            )
        lowered = info.filename.lower()
        if lowered.endswith(ARCHIVE_SUFFIXES):
            raise UploadRefused(
                _(
                    "Zip-filen indeholder et andet arkiv («%(name)s»); arkiver i arkiver "
                    "accepteres ikke."
                )
                % {"name": info.filename}
            )
        if not lowered.endswith(".csv"):
            raise UploadRefused(
                _("Filen i zip-filen («%(name)s») er ikke en .csv-fil.") % {"name": info.filename}
            )
        if info.flag_bits & 0x1:
            raise UploadRefused(_("Zip-filen er krypteret; upload den uden adgangskode."))
        if info.file_size == 0:
            raise UploadRefused(_("CSV-filen i zip-filen er tom (0 bytes)."))
        if info.file_size > max_bytes:
            raise UploadRefused(too_large_message(max_bytes))
        compressed = max(info.compress_size, 1)
        if info.file_size > compressed * max_ratio:
            raise UploadRefused(_zip_bomb_message(max_ratio))
        return _stream_member(
            archive,
            info,
            original_name=original_name,
            max_bytes=max_bytes,
            limit=min(max_bytes, compressed * max_ratio),
            max_ratio=max_ratio,
        )


def _zip_bomb_message(max_ratio: int) -> str:
    return _(
        "Zip-filen pakker ud til mere end %(ratio)d gange sin egen størrelse og afvises "
        "(beskyttelse mod zip-bomber). Upload CSV-filen direkte."
    ) % {"ratio": max_ratio}


def _stream_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    original_name: str,
    max_bytes: int,
    limit: int,
    max_ratio: int,
) -> IncomingFile:
    handle, name = tempfile.mkstemp(suffix=".csv", dir=settings.FILE_UPLOAD_TEMP_DIR)
    target = Path(name)
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(handle, "wb") as out, archive.open(info) as member:
            while chunk := member.read(COPY_CHUNK):
                written += len(chunk)
                # The declared sizes were checked above; the real bytes are counted too.
                if written > limit:
                    raise UploadRefused(
                        too_large_message(max_bytes)
                        if written > max_bytes
                        else _zip_bomb_message(max_ratio)
                    )
                digest.update(chunk)
                out.write(chunk)
    except UploadRefused:
        target.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        target.unlink(missing_ok=True)
        raise UploadRefused(
            _(
                "Zip-filen kan ikke pakkes ud: den er beskadiget (kontrolsum eller "
                "størrelse passer ikke)."
            )
        ) from None
    return IncomingFile(
        path=target, original_name=original_name, size=written, sha256=digest.hexdigest()
    )
