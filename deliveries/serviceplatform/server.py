"""The stand-in's SSH/SFTP server, built on asyncssh (no hand-written SSH or SFTP).

- Users are the SftpUsers of the stand-in's Endpoint; a login is accepted for a public key
  registered with the stand-in for that user (`RegisteredKey`, its stand-in for KOMBIT's
  Administrationsmodul), looked up at each login, so a registration needs no restart. The
  portal's own key states are never consulted: a key the portal uses is not thereby one the
  platform knows.
- Each user is locked into `<root>/<username>/` (chroot): `..` is refused, absolute paths are
  read relative to the home, and a path that resolves outside it (a symlink) is refused.
  Users write only directly in `OUT/`, may read and delete in `OUT/` and `IN/`, and cannot make
  folders or links.
- When a client closes an upload of `OUT/<name>.trigger` (or renames a file to that name), the
  trigger is processed in a worker thread (`routing.trigger_process`), so the event loop keeps
  serving other clients meanwhile.
- On start, before accepting logins, distributions that a crash cut off are completed
  (`routing.distributions_resume`); then triggers already waiting in the users' OUT/ (closed
  while no stand-in ran, or left unanswered by a crash) are processed once
  (`routing.trigger_recover`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
from django.conf import settings
from django.db import close_old_connections, connections

from deliveries.protocol import INBOX, OUTBOX, TRIGGER_SUFFIX, is_safe_file_name
from deliveries.serviceplatform.keys import authorised_public_keys, registered_keys_onboard
from deliveries.serviceplatform.routing import (
    distributions_resume,
    home_of,
    trigger_process,
    trigger_recover,
    trigger_refuse_internal,
    triggers_waiting,
)
from routes.models import Endpoint, SftpUser

logger = logging.getLogger("deliveries.serviceplatform")

HOST_KEY_NAME = "ssh_host_ed25519_key"
T = TypeVar("T")


def data_dir() -> Path:
    return Path(settings.DATA_DIR) / "serviceplatform"


def default_host_key_path() -> Path:
    return data_dir() / HOST_KEY_NAME


def default_root() -> Path:
    return data_dir() / "homes"


# --- Host key and the local Endpoint -------------------------------------------------------


def host_key_load_or_create(path: Path) -> asyncssh.SSHKey:
    """The stand-in's host key, generated once: a new key on every start would break every
    client's pinned host key."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="flisportal-serviceplatform")
    # O_EXCL: two stand-ins starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return asyncssh.read_private_key(str(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return key


def host_key_fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


def host_key_line(key: asyncssh.SSHKey, *, host: str, port: int) -> str:
    """A known_hosts line for the key, as routes.hostkeys reads it."""
    public = key.export_public_key("openssh").decode().split()
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {public[0]} {public[1]}"


def _client_host(host: str) -> str:
    # A stand-in listening on every interface is still reached on loopback by the portal.
    return "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host  # noqa: S104


def endpoint_register_standin(*, slug: str, key: asyncssh.SSHKey, host: str, port: int) -> Endpoint:
    """Pin the stand-in's host key and port on its Endpoint, so the portal's host-key check
    passes for it, and register the current key of each SFTP user the stand-in has not met
    yet (onboarding; a rotated key is registered explicitly, `serviceplatform_register_key`)."""
    endpoint = Endpoint.objects.get(slug=slug)
    if not endpoint.is_standin:
        raise ValueError(
            f"Endpoint '{slug}' is not marked as a stand-in; refusing to overwrite its host key."
        )
    endpoint.host = _client_host(host)
    endpoint.port = port
    endpoint.host_key = host_key_line(key, host=endpoint.host, port=port)
    endpoint.save(update_fields=["host", "port", "host_key"])
    onboarded = registered_keys_onboard(endpoint=endpoint)
    if onboarded.registered:
        logger.info(
            "registered the current key of %d SFTP users met for the first time: %s",
            len(onboarded.registered),
            ", ".join(onboarded.registered),
        )
    return endpoint


# --- Database access from the event loop ---------------------------------------------------


def _in_db_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ORM code in a worker thread and leave no connection behind in that thread."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


def _usernames(endpoint_id: int) -> list[str]:
    return list(SftpUser.objects.filter(endpoint_id=endpoint_id).values_list("username", flat=True))


# --- SSH and SFTP --------------------------------------------------------------------------


class _SSHServer(asyncssh.SSHServer):
    """Public-key logins only, checked against the registry at every login."""

    def __init__(self, standin: Standin) -> None:
        self._standin = standin
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._standin.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._standin.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # The user name becomes a folder name: refuse anything that is not a plain name.
        if not is_safe_file_name(username) or username.startswith("."):
            return False
        for text in await self._standin.run_db(
            authorised_public_keys, self._standin.endpoint_id, username
        ):
            try:
                if asyncssh.import_public_key(text).public_data == key.public_data:
                    return True
            except (asyncssh.KeyImportError, ValueError):
                logger.warning("unreadable public key stored for SFTP user %s", username)
        return False


class _Denied(asyncssh.SFTPPermissionDenied):
    def __init__(self, danish: str, english: str) -> None:
        super().__init__(f"{danish} / {english}")


# What a client may set on its own upload: times, which clients copy from the source file.
# A size would turn a 1-byte upload into a file of any size (outside the OUT/ quota, which
# counts writes), and mode or owner are the platform's to decide.
_SETTABLE_ATTRS = frozenset({"type", "atime", "atime_ns", "mtime", "mtime_ns"})


def _only_times(attrs: asyncssh.SFTPAttrs) -> None:
    changed = [
        name
        for name, value in vars(attrs).items()
        if name not in _SETTABLE_ATTRS and value not in (None, ())
    ]
    if changed:
        raise _Denied(
            f"Kun tidsstempler kan ændres, ikke {', '.join(changed)}.",
            f"Only times can be changed, not {', '.join(changed)}.",
        )


def _folder_bytes(home: bytes, folder: str) -> int:
    """Apparent size of the regular files directly in `home/folder`. A file that is gone by
    the time it is looked at counts as nothing: the trigger thread removes distributed files
    from OUT/ while other sessions of the same user write."""
    total = 0
    with os.scandir(os.path.join(home, os.fsencode(folder))) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


class StandinSFTPServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel, standin: Standin) -> None:
        self._standin = standin
        self._username: str = chan.get_extra_info("username")
        home = home_of(standin.root, self._username)
        super().__init__(chan, chroot=os.fsencode(home))
        self._home = os.fsencode(os.path.realpath(home))
        # Open uploads in OUT/: file object -> file name. Tells `close` which file it closes.
        self._uploads: dict[object, str] = {}
        standin.sessions += 1

    def exit(self) -> None:
        # Called once the session is over and every handle it left open has been closed.
        self._standin.sessions -= 1

    # Paths

    def _parts(self, path: bytes) -> list[bytes]:
        parts = [part for part in path.split(b"/") if part not in (b"", b".")]
        if b".." in parts:
            raise _Denied("'..' er ikke tilladt i stier.", "'..' is not allowed in paths.")
        return parts

    def _inside_home(self, local: bytes) -> bool:
        real = os.path.realpath(local)
        return real == self._home or real.startswith(self._home + b"/")

    def map_path(self, path: bytes) -> bytes:
        self._parts(path)
        # Absolute paths are read relative to the home (the chroot); what is left to refuse is
        # a path whose real location, after symlinks, is outside it.
        local = super().map_path(path)
        if not self._inside_home(local):
            raise _Denied(
                "Stien fører uden for din hjemmemappe.", "The path leads outside your home."
            )
        return local

    def _file_in(self, path: bytes, folders: tuple[str, ...]) -> str | None:
        """The file name, if `path` names a file directly inside one of `folders`."""
        parts = self._parts(path)
        if len(parts) == 2 and parts[0].decode("utf-8", "replace") in folders:
            return parts[1].decode("utf-8", "surrogateescape")
        return None

    def lstat(self, path: bytes) -> os.stat_result:
        # A link itself may be looked at (directory listings do), as long as it sits inside
        # the home; following it is what map_path refuses.
        self._parts(path)
        local = super().map_path(path)
        if not self._inside_home(os.path.dirname(local) or b"/"):
            raise _Denied(
                "Stien fører uden for din hjemmemappe.", "The path leads outside your home."
            )
        return os.lstat(local)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        # asyncssh's own listing looks up '<dir>/..', which map_path refuses; listings show
        # '.' and '..' with the folder's own attributes instead.
        local = self.map_path(path)
        attrs = asyncssh.SFTPAttrs.from_local(os.stat(local))
        for name in (b".", b".."):
            yield asyncssh.SFTPName(name, attrs=attrs)
        with os.scandir(local) as entries:
            for entry in entries:
                yield asyncssh.SFTPName(
                    os.fsencode(entry.name),
                    attrs=asyncssh.SFTPAttrs.from_local(entry.stat(follow_symlinks=False)),
                )

    # Files

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        writes = pflags & (
            asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
        )
        name = None
        if writes:
            name = self._file_in(path, (OUTBOX,))
            if name is None or not is_safe_file_name(name):
                raise _Denied(
                    "Du kan kun uploade filer direkte i OUT/.",
                    "You can only upload files directly into OUT/.",
                )
        file_obj = super().open(path, pflags, attrs)
        if name is not None:
            self._uploads[file_obj] = name
        return file_obj

    def close(self, file_obj: object) -> None:
        name = self._uploads.pop(file_obj, None)
        super().close(file_obj)
        # asyncssh also closes every handle still open when a session ends (`_cleanup`),
        # for instance after an abrupt disconnect mid-upload. Only the client's own CLOSE
        # request (`_process_close`) means the upload is complete; a half-written trigger
        # must not be processed, so look at who is closing.
        closed_by_client = sys._getframe(1).f_code.co_name == "_process_close"
        if name is not None and name.endswith(TRIGGER_SUFFIX):
            if closed_by_client:
                self._standin.trigger_completed(self._username, name)
            else:
                logger.info(
                    "upload of OUT/%s by %s ended without a close: not processed",
                    name,
                    self._username,
                )

    def remove(self, path: bytes) -> None:
        if self._file_in(path, (OUTBOX, INBOX)) is None:
            raise _Denied(
                "Du kan kun slette filer i OUT/ og IN/.",
                "You can only delete files in OUT/ and IN/.",
            )
        super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        new_name = self._check_rename(oldpath, newpath)
        super().rename(oldpath, newpath)
        self._renamed(new_name)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        new_name = self._check_rename(oldpath, newpath)
        super().posix_rename(oldpath, newpath)
        self._renamed(new_name)

    def _check_rename(self, oldpath: bytes, newpath: bytes) -> str:
        old_name = self._file_in(oldpath, (OUTBOX,))
        new_name = self._file_in(newpath, (OUTBOX,))
        if old_name is None or new_name is None or not is_safe_file_name(new_name):
            raise _Denied(
                "Du kan kun omdøbe filer inden for OUT/.",
                "You can only rename files within OUT/.",
            )
        return new_name

    def _renamed(self, new_name: str) -> None:
        # Clients that upload under a temporary name and rename at the end (WinSCP does)
        # complete a trigger with the rename.
        if new_name.endswith(TRIGGER_SUFFIX):
            self._standin.trigger_completed(self._username, new_name)

    def write(self, file_obj: object, offset: int, data: bytes) -> int | Awaitable[int]:
        size = os.fstat(file_obj.fileno()).st_size  # type: ignore[attr-defined]
        appending = "a" in getattr(file_obj, "mode", "")
        growth = len(data) if appending else max(offset + len(data) - size, 0)
        # Apparent size, not blocks: a write far past the end makes a sparse file that costs
        # nothing here but a full copy wherever a recipient fetches it.
        if growth and _folder_bytes(self._home, OUTBOX) + growth > self._standin.out_quota:
            raise asyncssh.SFTPFailure(
                f"Din OUT/ må højst fylde {self._standin.out_quota} bytes. / "
                f"Your OUT/ may hold at most {self._standin.out_quota} bytes."
            )
        return super().write(file_obj, offset, data)

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        if self._file_in(path, (OUTBOX,)) is None:
            raise _Denied("Du kan kun ændre filer i OUT/.", "You can only change files in OUT/.")
        _only_times(attrs)
        super().setstat(path, attrs)

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self.setstat(path, attrs)

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        # Only the user's own uploads: a delivered file in IN/ may share its inode with another
        # recipient's copy (hard link), so changing its mode would change theirs too.
        if file_obj not in self._uploads:
            raise _Denied("Du kan kun ændre filer i OUT/.", "You can only change files in OUT/.")
        _only_times(attrs)
        super().fsetstat(file_obj, attrs)

    # Folders and links: the platform's homes have a fixed shape.

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise _Denied("Du kan ikke oprette mapper.", "You cannot create folders.")

    def rmdir(self, path: bytes) -> None:
        raise _Denied("Du kan ikke slette mapper.", "You cannot delete folders.")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise _Denied("Symbolske links er ikke tilladt.", "Symbolic links are not allowed.")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise _Denied("Links er ikke tilladt.", "Links are not allowed.")


# --- The stand-in --------------------------------------------------------------------------


class Standin:
    """One stand-in: an SSH/SFTP listener plus the workers that process triggers."""

    def __init__(
        self,
        *,
        root: Path,
        endpoint_id: int,
        host_key: asyncssh.SSHKey,
        host: str,
        port: int,
        workers: int = 4,
        out_quota: int | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.out_quota = (
            settings.SERVICEPLATFORM_STANDIN_OUT_QUOTA_BYTES if out_quota is None else out_quota
        )
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.endpoint_id = endpoint_id
        self.host_key = host_key
        self.host = host
        self.port = port
        # Separate pools: a long copy of a large extract must not hold up logins.
        self._auth_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="standin-auth")
        self._trigger_pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="standin-trigger"
        )
        self._tasks: set[asyncio.Task[None]] = set()
        # Open SSH connections and SFTP sessions (only touched on the event loop).
        self.connections: set[asyncssh.SSHServerConnection | None] = set()
        self.sessions = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Before the first login: a recipient must not fetch (and remove) files of a
        # distribution that is about to be completed, or they would be placed again.
        await self._loop.run_in_executor(
            self._trigger_pool,
            functools.partial(
                _in_db_thread, distributions_resume, endpoint_id=self.endpoint_id, root=self.root
            ),
        )
        self._acceptor = await asyncssh.listen(
            self.host,
            self.port,
            server_host_keys=[self.host_key],
            server_factory=functools.partial(_SSHServer, self),
            sftp_factory=functools.partial(StandinSFTPServer, standin=self),
            allow_scp=False,
            # SFTP version 3, what OpenSSH and paramiko speak; later versions would route opens
            # through open56, which the OUT/-only rule above does not cover.
            sftp_version=3,
            login_timeout=60,
        )
        self.port = self._acceptor.get_port()
        await self.recover_waiting_triggers()

    async def recover_waiting_triggers(self) -> None:
        """Hand every trigger already waiting in a user's OUT/ to the workers: uploads closed
        while no stand-in ran, or left unanswered by a crash (`routing.trigger_recover`
        answers each once)."""
        usernames = await self.run_db(_usernames, self.endpoint_id)
        for username, trigger_name in triggers_waiting(self.root, usernames):
            logger.info("trigger OUT/%s of %s found on start", trigger_name, username)
            self._enqueue(username, trigger_name, trigger_recover)

    async def stop(self) -> None:
        if self._acceptor is not None:
            # asyncssh's acceptor only stops listening; clients still connected are sent away
            # here, so that a stop never waits on an idle client.
            self._acceptor.close()
            for conn in list(self.connections):
                if conn is not None:
                    conn.close()
            for conn in list(self.connections):
                if conn is not None:
                    await conn.wait_closed()
            await self._acceptor.wait_closed()
        await self.wait_idle()
        self._auth_pool.shutdown(wait=True)
        self._trigger_pool.shutdown(wait=True)

    async def wait_idle(self) -> None:
        """Wait until every trigger handed in so far has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run_db(self, function: Callable[..., T], /, *args: Any) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(
            self._auth_pool, functools.partial(_in_db_thread, function, *args)
        )

    def trigger_completed(self, username: str, trigger_name: str) -> None:
        self._enqueue(username, trigger_name, trigger_process)

    def _enqueue(self, username: str, trigger_name: str, process: Callable[..., object]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._process(username, trigger_name, process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(
        self, username: str, trigger_name: str, process: Callable[..., object]
    ) -> None:
        assert self._loop is not None
        arguments = {
            "endpoint_id": self.endpoint_id,
            "username": username,
            "root": self.root,
            "trigger_name": trigger_name,
        }
        try:
            await self._loop.run_in_executor(
                self._trigger_pool, functools.partial(_in_db_thread, process, **arguments)
            )
        except Exception as exc:
            logger.exception("trigger OUT/%s of %s could not be processed", trigger_name, username)
            try:
                await self._loop.run_in_executor(
                    self._trigger_pool,
                    functools.partial(
                        _in_db_thread,
                        trigger_refuse_internal,
                        **arguments,
                        reason=f"{type(exc).__name__}: {exc}",
                    ),
                )
            except Exception:
                # A distribution that had begun stays in progress (never refused); the next
                # start, or the sender's next trigger for the same SendersFileId, completes it.
                logger.exception("could not even answer OUT/%s of %s", trigger_name, username)


class StandinThread:
    """A stand-in on its own event loop in a background thread: for tests (this project's
    and those of the push and fetch code, which need a real Serviceplatform to talk to)."""

    def __init__(self, standin: Standin) -> None:
        self.standin = standin
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="serviceplatform-standin", daemon=True
        )

    @property
    def port(self) -> int:
        return self.standin.port

    def _call(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self._call(self.standin.start(), 30)

    def wait_idle(self, timeout: float = 30) -> None:
        self._call(self.standin.wait_idle(), timeout)

    def wait_sessions_closed(self, timeout: float = 30) -> None:
        """Wait until no SFTP session is open (the server has seen every disconnect)."""

        async def closed() -> None:
            while self.standin.sessions:
                await asyncio.sleep(0.02)
            await self.standin.wait_idle()

        self._call(closed(), timeout)

    def stop(self) -> None:
        try:
            self._call(self.standin.stop(), 60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@contextlib.contextmanager
def standin_running(
    *,
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    endpoint_slug: str = "lokal",
    host_key_path: Path | None = None,
) -> Iterator[StandinThread]:
    """Start a stand-in in this process (port 0: a free one), register it on its Endpoint,
    and stop it on exit. The database rows it needs must be committed."""
    key = host_key_load_or_create(host_key_path or Path(root) / HOST_KEY_NAME)
    endpoint = Endpoint.objects.get(slug=endpoint_slug)
    runner = StandinThread(
        Standin(root=root, endpoint_id=endpoint.pk, host_key=key, host=host, port=port)
    )
    runner.start()
    try:
        endpoint_register_standin(slug=endpoint_slug, key=key, host=host, port=runner.port)
        yield runner
    finally:
        runner.stop()
