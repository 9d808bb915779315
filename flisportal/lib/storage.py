"""Reading a stored file (an extract, a fetched copy) as a stream, whatever the storage.

Extracts run to gigabytes, so no reader may hold a whole one in memory. Django's file storage
streams by itself; django-storages' `S3File` does not: on its first read it downloads the
whole object into a `SpooledTemporaryFile`, which with the default `max_memory_size` of 0 never
rolls over to disk, so a download, a push or a validation would hold the whole extract in the
process's memory before the first byte moved. `open_stored` reads such an object from the
object store's own HTTP response instead, a piece at a time.
"""

from __future__ import annotations

from types import TracebackType
from typing import IO, Any, Protocol, cast

from django.core.files.storage import Storage, default_storage
from django.http import FileResponse


class _Body(Protocol):
    def read(self, amt: int | None = None) -> bytes: ...

    def close(self) -> None: ...


class ObjectStream:
    """An object store's response body, read in pieces as the caller asks for them. Not
    seekable: a reader that needs to go back must copy it first (the validator does)."""

    def __init__(self, body: _Body, *, name: str, size: int) -> None:
        self._body = body
        self.name = name
        self.size = size

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_stored(name: str, storage: Storage | None = None, *, start: int = 0) -> IO[bytes]:
    """The stored file `name`, opened for reading in pieces (`read(n)`, `close()`, a context
    manager; an `ObjectStream` from an object store, which cannot seek). With `start`, reading
    begins at that byte (a push over several connections reads each part on its own). Raises
    FileNotFoundError when the storage has no such file, as `Storage.open` does."""
    storage = storage if storage is not None else default_storage
    handle: Any = storage.open(name, "rb")
    # django-storages' S3File names its object `obj` (a boto3 Object, already checked to exist
    # by the open above); every other storage's file already reads in pieces.
    s3_object = getattr(handle, "obj", None)
    if s3_object is None or not hasattr(s3_object, "get"):
        if start:
            handle.seek(start)
        return handle  # type: ignore[no-any-return]
    handle.close()  # nothing was downloaded through it: closing only marks it closed
    # A ranged GET: the store sends only the bytes from `start` on.
    body = (s3_object.get(Range=f"bytes={start}-") if start else s3_object.get())["Body"]
    size = max(int(s3_object.content_length) - start, 0)
    # Typed as a file: every caller reads it front to back, which is all it offers.
    return cast(IO[bytes], ObjectStream(body, name=name, size=size))


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> FileResponse:
    """A download of the stored file `name` as an attachment, streamed in blocks from the
    storage. Raises FileNotFoundError when the file is gone."""
    stream = open_stored(name, storage)
    response = FileResponse(
        stream, as_attachment=True, filename=filename, content_type=content_type
    )
    if isinstance(stream, ObjectStream):
        # FileResponse measures seekable files itself; an object's length comes from the store.
        response.headers["Content-Length"] = str(stream.size)
        # Each block is one read on the store's HTTP response: Django's 4 KiB would mean many
        # small reads for a large extract.
        response.block_size = 64 * 1024
    return response
