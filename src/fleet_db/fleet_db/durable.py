"""What the recorder's two durable queues share: record framing, directory and marker syncs.

The telemetry spool (:mod:`fleet_db.spool`: memory-mapped segments of binary records) and the
row journal (:mod:`fleet_db.journal`: one file of JSON lines) keep different files for
different loads, but they make data durable the same way: a record is whole or absent after
a crash, a new directory entry counts only once its directory is synced, and how far the
database has the records (the committed offset) lives in a small marker file replaced
atomically, which may lag behind without harm because every write of a record is idempotent.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

RECORD_HEAD = struct.Struct(">II")
"""A framed record's head: payload length, crc32 of the payload (big-endian)."""


class SpoolError(Exception):
    """Base of every error a spool raises on purpose."""


def frame(payload: bytes) -> bytes:
    """Return ``payload`` framed as a record: its head, then the payload."""
    return RECORD_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def scan_records(data: bytes, start: int, max_record_bytes: int) -> int:
    """Return the offset just after the last whole, intact record at or after ``start``."""
    pos = start
    end = len(data)
    head = RECORD_HEAD.size
    while pos + head <= end:
        length, crc = RECORD_HEAD.unpack_from(data, pos)
        if length == 0 or length > max_record_bytes or pos + head + length > end:
            break
        if zlib.crc32(data[pos + head:pos + head + length]) != crc:
            break
        pos += head + length
    return pos


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def sync_directory(directory: Path, sync: Callable[[int], None] = os.fsync) -> None:
    """Make the directory's entries (a created or renamed file) durable with ``sync``."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sync(fd)
    finally:
        os.close(fd)


def write_offset(path: Path, offset: int, *, durable: bool) -> None:
    """Replace the marker ``path`` by one holding ``offset``, atomically (write, rename).

    ``durable``: fdatasync the new file before the rename, so that a power cut leaves the old
    marker or the new one, never an empty file. The directory is not synced: losing the rename
    only replays records the database already holds.
    """
    tmp = path.with_name(f"{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, f"{offset}\n".encode())
        if durable:
            os.fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_offset(path: Path) -> int:
    """Return the offset in the marker ``path``; FileNotFoundError or ValueError if none."""
    return int(path.read_text().strip())
