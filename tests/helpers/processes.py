"""Processes the tests start: where the repository is, and finding a process's children."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _parents() -> dict[int, list[int]]:
    """Every process's children, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces; the parent pid follows its ")".
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended between the listing and the read
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def children_of(pid: int) -> list[int]:
    """The direct children of `pid` (an RQ worker's work horse, for instance)."""
    return _parents().get(pid, [])


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on of `pid`."""
    children = _parents()
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def stop(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """SIGTERM, and SIGKILL if the process has not ended within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
