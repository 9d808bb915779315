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
import struct
import tempfile
import zipfile
from dataclasses import dataclass
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
# The one file part the upload form sends; any other file part is refused unread.
FILE_FIELD = "file"
# The file parts of a batch upload (many, each a .csv or a .zip of .csv files).
BATCH_FIELD = "files"
# One central directory entry is 46 bytes plus its name, extra field and comment (each at most
# 64 KiB); a zip with one .csv needs far less than this, a million entries far more.
MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024
# What `zipfile` can unpack; anything else (Deflate64 = 9, AES = 99, …) is refused up front.
SUPPORTED_COMPRESSION = (
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
)
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # zip64 locator, 20 bytes, just before it
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record, 56 bytes


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
    """Streams the one file part to a temp file, computing SHA-256 and size on the way.

    The size limit is one running total for the whole request, and only one file part, named
    `FILE_FIELD`, is stored: otherwise a request could write many parts of up to the limit each.
    """

    chunk_size = 1024 * 1024

    def __init__(self, request: Any = None, *, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes if max_bytes is not None else settings.MAX_UPLOAD_BYTES
        self.refusal: str | None = None
        # Whether the refusal is for size: the API answers that one with 413.
        self.too_large = False
        self._hash = hashlib.sha256()
        self._received = 0  # file bytes of the whole request, never reset
        self._files = 0

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        self._files += 1
        self._check_part(field_name)
        super().new_file(field_name, *args, **kwargs)
        self._hash = hashlib.sha256()

    def _check_part(self, field_name: str) -> None:
        if field_name != FILE_FIELD or self._files > 1:
            self._refuse(_("Upload præcis én fil ad gangen, i formularens felt til filen."))

    def _too_large(self) -> str:
        return too_large_message(self.max_bytes)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > self.max_bytes:
            self.file.close()  # a TemporaryUploadedFile deletes its temp file when closed
            self.too_large = True
            self._refuse(self._too_large())
        self._hash.update(raw_data)
        self.file.write(raw_data)
        return None

    def _refuse(self, message: str) -> None:
        self.refusal = message
        # The rest of the body is read and dropped so the browser gets our answer.
        raise StopUpload(connection_reset=False)

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        uploaded = super().file_complete(file_size)
        assert isinstance(uploaded, TemporaryUploadedFile)
        # Read back by prepare_upload: the checksum of exactly the bytes that arrived.
        uploaded.sha256 = self._hash.hexdigest()  # type: ignore[attr-defined]
        return uploaded


class BatchUploadHandler(HashingUploadHandler):
    """The same streaming, hashing and running total for a batch upload: many file parts, all
    in the field `BATCH_FIELD`, at most `max_files` of them and `max_bytes` in all
    (FLISPORTAL_BATCH_MAX_FILES, FLISPORTAL_BATCH_MAX_BYTES). Past either limit the upload
    stops and the files received so far are dropped with it."""

    def __init__(
        self, request: Any = None, *, max_bytes: int | None = None, max_files: int | None = None
    ) -> None:
        super().__init__(
            request, max_bytes=max_bytes if max_bytes is not None else settings.BATCH_MAX_BYTES
        )
        self.max_files = max_files if max_files is not None else settings.BATCH_MAX_FILES

    def _check_part(self, field_name: str) -> None:
        if field_name != BATCH_FIELD:
            self._refuse(_("Vælg filerne i formularens felt til filer."))
        if self._files > self.max_files:
            self._refuse(too_many_files_message(self.max_files))

    def _too_large(self) -> str:
        return batch_too_large_message(self.max_bytes)


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
    # `zipfile` reads the whole central directory into ZipInfo objects before we can count
    # them (a million entries cost ~360 MB), so its record is read and bounded first.
    _check_central_directory(path)
    with _open_zip(path) as archive:
        members = archive.infolist()
        if len(members) != 1:
            raise UploadRefused(_members_message(len(members)))
        info = members[0]
        _check_member(info, max_bytes=max_bytes, max_ratio=max_ratio)
        compressed = max(info.compress_size, 1)
        return _stream_member(
            archive,
            info,
            original_name=original_name,
            max_bytes=max_bytes,
            limit=min(max_bytes, compressed * max_ratio),
            max_ratio=max_ratio,
        )


@dataclass(frozen=True)
class ZipMember:
    """One member of a batch's zip: the CSV unpacked, or why it was not."""

    name: str
    file: IncomingFile | None
    refusal: str = ""


def extract_csv_members(
    path: Path, *, max_files: int, max_bytes: int, max_total: int, max_ratio: int
) -> list[ZipMember]:
    """Unpacks every member of a batch's zip with the protections of a single upload's zip.

    The central directory is bounded before `zipfile` reads it (at most `max_files` entries,
    MAX_CENTRAL_DIRECTORY_BYTES); each member is checked as `extract_single_csv` checks its
    one (no folders, nested archives, encryption or unsupported compression; size and
    expansion ratio on the declared sizes and on the bytes decompressed). A member that fails
    is returned with its refusal and the others are still unpacked. What all members unpack to
    is one running total: past `max_total`, or for a damaged archive, the whole zip is refused
    (UploadRefused) and nothing it unpacked is kept."""
    _check_central_directory(path, max_entries=max_files)
    results: list[ZipMember] = []
    try:
        with _open_zip(path) as archive:
            infos = archive.infolist()
            if len(infos) > max_files:  # the record and the directory disagree
                raise BatchLimitExceeded(too_many_files_message(max_files))
            total = 0
            for info in infos:
                name = os.path.basename(info.filename.rstrip("/\\")) or info.filename
                try:
                    _check_member(info, max_bytes=max_bytes, max_ratio=max_ratio)
                    if total + info.file_size > max_total:
                        raise BatchLimitExceeded(batch_too_large_message(max_total))
                    compressed = max(info.compress_size, 1)
                    member = _stream_member(
                        archive,
                        info,
                        original_name=info.filename,
                        max_bytes=max_bytes,
                        limit=min(max_bytes, compressed * max_ratio, max_total - total),
                        max_ratio=max_ratio,
                        max_total=max_total,
                        total_before=total,
                    )
                except BatchLimitExceeded:
                    raise  # the limits are the batch's: no member of it is kept
                except UploadRefused as refusal:
                    results.append(ZipMember(name=name, file=None, refusal=refusal.message))
                    continue
                total += member.size
                results.append(ZipMember(name=name, file=member))
    except UploadRefused:
        for result in results:
            if result.file is not None:
                result.file.path.unlink(missing_ok=True)
        raise
    return results


class BatchLimitExceeded(UploadRefused):
    """A batch's limit (FLISPORTAL_BATCH_MAX_FILES, FLISPORTAL_BATCH_MAX_BYTES) was passed by a
    zip's members: the whole batch is refused, not just the one file."""


def too_many_files_message(limit: int) -> str:
    return _(
        "For mange filer: en samlet upload kan højst have %(limit)d filer. Del filerne op i "
        "flere uploads."
    ) % {"limit": limit}


def batch_too_large_message(limit: int) -> str:
    return _(
        "Filerne fylder for meget: en samlet upload kan højst være %(limit)s i alt (pakket "
        "ud). Del filerne op i flere uploads."
    ) % {"limit": filesizeformat(limit)}


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(
            _("Zip-filen kan ikke åbnes: den er beskadiget eller ikke en zip-fil.")
        ) from None


def _check_member(info: zipfile.ZipInfo, *, max_bytes: int, max_ratio: int) -> None:
    """The rules one member of a zip must meet before a byte of it is unpacked."""
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
    if info.compress_type not in SUPPORTED_COMPRESSION:
        raise UploadRefused(_unsupported_method_message(info.compress_type))
    if info.file_size == 0:
        raise UploadRefused(_("CSV-filen i zip-filen er tom (0 bytes)."))
    if info.file_size > max_bytes:
        raise UploadRefused(too_large_message(max_bytes))
    compressed = max(info.compress_size, 1)
    if info.file_size > compressed * max_ratio:
        raise UploadRefused(_zip_bomb_message(max_ratio))


def _members_message(count: int) -> str:
    return _("Zip-filen skal indeholde præcis én .csv-fil, men indeholder %(count)d elementer.") % {
        "count": count
    }


def _unsupported_method_message(method: int) -> str:
    return _(
        "Zip-filen er pakket med en komprimeringsmetode, som ikke understøttes (metode "
        "%(method)d). Pak den igen med almindelig komprimering (Deflate), eller upload "
        "CSV-filen direkte."
    ) % {"method": method}


def _check_central_directory(path: Path, *, max_entries: int | None = None) -> None:
    """Refuses a zip whose end-of-central-directory record announces more than one entry (for
    a batch's zip: none, or more than `max_entries`) or a directory bigger than
    MAX_CENTRAL_DIRECTORY_BYTES. Found as `zipfile` finds it (the last
    record in the final 64 KiB + 22 bytes), so the record checked is the one it would use.
    A file without the record is left to `zipfile` to refuse as damaged."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        file_size = handle.tell()
        tail_start = max(0, file_size - (_EOCD.size + 0xFFFF))
        handle.seek(tail_start)
        tail = handle.read()
        # As zipfile: a record without comment in the last 22 bytes, else the last one that
        # fits whole in the tail.
        at = len(tail) - _EOCD.size
        if at < 0:
            return
        if tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\x00\x00":
            at = tail.rfind(b"PK\x05\x06", 0, len(tail) - _EOCD.size + 4)
            if at < 0:
                return
        _sig, _disk, _cd_disk, _on_disk, entries, cd_size, _offset, _comment = _EOCD.unpack_from(
            tail, at
        )
        locator_at = tail_start + at - _EOCD64_LOCATOR.size
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
            entries, cd_size = _zip64_directory(handle, locator_at, entries, cd_size)
    if max_entries is None and entries != 1:
        raise UploadRefused(_members_message(entries))
    if entries == 0:
        raise UploadRefused(_("Zip-filen er tom: den indeholder ingen filer."))
    if max_entries is not None and entries > max_entries:
        raise BatchLimitExceeded(too_many_files_message(max_entries))
    if cd_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise UploadRefused(
            _(
                "Zip-filens indholdsfortegnelse er for stor (%(size)s) til en zip-fil med én "
                ".csv-fil."
            )
            % {"size": filesizeformat(cd_size)}
            if max_entries is None
            else _("Zip-filens indholdsfortegnelse er for stor (%(size)s).")
            % {"size": filesizeformat(cd_size)}
        )


def _zip64_directory(handle: Any, locator_at: int, entries: int, cd_size: int) -> tuple[int, int]:
    """The entry count and directory size from the zip64 record, when the plain record says
    they did not fit in it (0xFFFF, 0xFFFFFFFF)."""
    if locator_at < 0:
        return entries, cd_size
    handle.seek(locator_at)
    locator = handle.read(_EOCD64_LOCATOR.size)
    sig, _disk, record_at, _disks = _EOCD64_LOCATOR.unpack(locator)
    if sig != b"PK\x06\x07":
        return entries, cd_size
    handle.seek(record_at)
    record = handle.read(_EOCD64.size)
    if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
        raise UploadRefused(_("Zip-filen kan ikke åbnes: den er beskadiget eller ikke en zip-fil."))
    fields = _EOCD64.unpack(record)
    return fields[7], fields[8]


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
    max_total: int | None = None,
    total_before: int = 0,
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
                    if max_total is not None and total_before + written > max_total:
                        raise BatchLimitExceeded(batch_too_large_message(max_total))
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
    except NotImplementedError:
        # A method `zipfile` cannot unpack that got past the check above: no 500, no temp file.
        target.unlink(missing_ok=True)
        raise UploadRefused(_unsupported_method_message(info.compress_type)) from None
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
