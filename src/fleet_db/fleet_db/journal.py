"""The row journal: rows appended to one file before the database has them, replayed after.

The recorder's low-rate rows (events, missions, registry; see :mod:`fleet_db.writes`) go
through this journal, its telemetry through :mod:`fleet_db.spool`; both take directory syncs,
whole writes and the committed-offset marker from :mod:`fleet_db.durable`. Each row is one
JSON line: in the kernel's page cache once ``append`` returns, so a crash of the process loses
nothing; on disk after the journal's next group ``fdatasync``.

What the spool does not do, and this journal must: say which appends are durable
(``wait_durable``, the ``journaled`` count), refuse appends for good after a failed
``fdatasync``, and keep rows of any size in one file compacted in place (logical offsets), not
in preallocated segments of small binary records.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet_db.durable import read_offset, sync_directory, write_all, write_offset


@dataclass(frozen=True, slots=True)
class Row:
    """A row as the journal keeps it: ``kind`` names its record type, ``values`` its fields."""

    kind: str
    values: dict[str, Any]


# The first line of a compacted journal: {"journal_base":<logical offset of the next line>}
_HEADER_START = b'{"journal_base":'
# Compaction copies at most this much uncommitted tail while appends wait for the lock.
_COMPACT_TAIL_MAX = 256 * 1024


def _encode(row: Row) -> bytes:
    def default(value: object) -> object:
        if isinstance(value, datetime):
            return {"$dt": value.isoformat()}
        raise TypeError(f"cannot journal a {type(value).__name__}")
    return json.dumps({"kind": row.kind, "values": row.values}, default=default,
                      separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> Row:
    def hook(obj: dict[str, Any]) -> Any:
        return datetime.fromisoformat(obj["$dt"]) if set(obj) == {"$dt"} else obj
    data = json.loads(line, object_hook=hook)
    return Row(str(data["kind"]), dict(data["values"]))


class Journal:
    """An append-only file of the rows not yet in the database, and how far it has them.

    ``append`` writes a row's line and returns at once (the line is in the kernel's page cache:
    a crash of the process loses nothing); one thread makes appends durable with
    ``fdatasync``, grouped: when lines wait, at most one sync per ``sync_interval_s``, and at
    once while someone waits in ``wait_durable``. A row counts as journaled only once a sync
    that began after its append has returned.

    Offsets are logical: they keep growing when the file is compacted, so the committed mark
    (``rows.committed``, how far the database has the rows) never has to change together with
    the file. A compacted file begins with a header line giving the logical offset of its
    first row. Compaction writes the uncommitted tail to a new file, syncs it, renames it over
    the journal and syncs the directory: a crash at any point leaves either the old file or the
    new one, and the mark is valid for both. The mark itself is not synced: a stale mark only
    replays rows already stored, and every write of a row is idempotent.
    """

    def __init__(self, directory: Path, *, sync: Callable[[int], None] = os.fdatasync,
                 sync_interval_s: float = 0.01, compact_bytes: int = 1 << 20) -> None:
        if not 0.0 <= sync_interval_s <= 1.0:
            raise ValueError(f"sync_interval_s {sync_interval_s} is outside 0..1")
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._path = directory / "rows.jsonl"
        self._tmp = directory / "rows.jsonl.tmp"
        self._mark = directory / "rows.committed"
        self._sync = sync
        self._interval = sync_interval_s
        self._compact_bytes = compact_bytes
        self._cv = threading.Condition()
        # Left by a compaction that crashed before its rename: never the journal itself.
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()
        created = not self._path.exists()
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        # What a previous process appended may still be only in the page cache.
        self._sync(self._fd)
        if created:
            sync_directory(self._dir, self._sync)
        self._base, self._header = self._read_header()
        self._size = self._base + os.fstat(self._fd).st_size - self._header
        try:
            committed = read_offset(self._mark)
        except (OSError, ValueError):
            committed = 0  # replaying too much only repeats idempotent writes
        self._committed = min(max(committed, self._base), self._size)
        self._durable = self._size
        self._appended_rows = self._durable_rows = self._syncs = 0
        self._syncing = False
        self._waiters = 0
        self._closing = False
        self.error: str | None = None  # set when a sync failed: nothing is durable after it
        self._thread = threading.Thread(target=self._sync_loop, name="journal-sync",
                                        daemon=True)
        self._thread.start()

    def _read_header(self) -> tuple[int, int]:
        """Return the logical offset of the file's first row and the header's length."""
        head = os.pread(self._fd, 64, 0)
        end = head.find(b"\n")
        if head.startswith(_HEADER_START) and end > 0:
            try:
                return int(head[len(_HEADER_START):end].rstrip(b"}")), end + 1
            except ValueError:
                pass
        return 0, 0

    def pending(self) -> list[tuple[Row, int]]:
        """Return the rows after the committed mark, each with its end offset."""
        with self._cv:
            start = self._committed
            data = os.pread(self._fd, self._size - start, start - self._base + self._header)
        out: list[tuple[Row, int]] = []
        offset = start
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn by a crash in the middle of a write: never acknowledged
            offset += len(line)
            try:
                out.append((_decode(line), offset))
            except (ValueError, KeyError, TypeError):
                continue  # unreadable line: skipped, the rest is still replayed
        return out

    def append(self, row: Row) -> int:
        """Append a row; return the offset just after it (see ``wait_durable``).

        Raises OSError when the journal is closed, the disk refused the line, or an earlier
        sync failed.
        """
        line = _encode(row)
        with self._cv:
            if self._fd < 0 or self._closing:
                raise OSError(errno.EBADF, f"journal {self._path} is closed")
            if self.error is not None:
                raise OSError(errno.EIO, f"journal {self._path}: {self.error}")
            written = os.write(self._fd, line)
            if written != len(line):
                # Cut the torn line off, or it would swallow the next one when replayed.
                os.ftruncate(self._fd, self._size - self._base + self._header)
                raise OSError(errno.ENOSPC, f"journal {self._path}: wrote {written} of "
                                            f"{len(line)} bytes")
            self._size += len(line)
            self._appended_rows += 1
            self._cv.notify_all()
            return self._size

    def wait_durable(self, offset: int, timeout_s: float) -> bool:
        """Wait until everything before ``offset`` is synced; False on timeout or sync error."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            self._waiters += 1  # the syncer skips its interval while someone waits
            self._cv.notify_all()
            try:
                while self._durable < offset:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.error is not None or not self._thread.is_alive():
                        return False
                    self._cv.wait(remaining)
                return True
            finally:
                self._waiters -= 1

    @property
    def end(self) -> int:
        """Return the offset after the last appended row."""
        with self._cv:
            return self._size

    def stats(self) -> dict[str, Any]:
        """Return rows appended and synced by this process, syncs, and the sync error."""
        with self._cv:
            return {"journal_appended": self._appended_rows, "journaled": self._durable_rows,
                    "journal_syncs": self._syncs, "journal_error": self.error or ""}

    def _sync_loop(self) -> None:
        last_start = -math.inf
        cv = self._cv
        with cv:
            while self.error is None:
                if self._durable >= self._size:
                    if self._closing:
                        return
                    cv.wait(1.0)
                    continue
                # Group commit: lines appended while a sync runs, or within the interval
                # after it began, go with the next one.
                delay = last_start + self._interval - time.monotonic()
                if delay > 0 and not self._waiters and not self._closing:
                    cv.wait(delay)
                    continue
                target, rows, fd = self._size, self._appended_rows, self._fd
                self._syncing = True
                last_start = time.monotonic()
                cv.release()
                try:
                    self._sync(fd)
                    failure = None
                except OSError as exc:
                    # After a failed fdatasync the kernel may have dropped the dirty pages:
                    # a retry could "succeed" without them, so no later sync is trusted.
                    failure = f"fdatasync failed: {exc}"
                finally:
                    cv.acquire()
                self._syncing = False
                self._syncs += 1
                if failure is None:
                    self._durable = max(self._durable, target)
                    self._durable_rows = max(self._durable_rows, rows)
                else:
                    self.error = failure
                cv.notify_all()

    def commit(self, offset: int) -> None:
        """Record that everything up to ``offset`` is in the database; compact the file."""
        with self._cv:
            if self._fd < 0:
                return
            self._committed = max(self._committed, min(offset, self._size))
            # Not synced: a stale mark only replays rows already stored.
            write_offset(self._mark, self._committed, durable=False)
            done = self._committed - self._base
            if done >= self._compact_bytes and self._size - self._committed <= min(
                    done, _COMPACT_TAIL_MAX):
                self._compact()

    def _compact(self) -> None:
        """Replace the file by its uncommitted tail (called with the lock held)."""
        deadline = time.monotonic() + 1.0
        while self._syncing:  # the syncer uses the current descriptor outside the lock
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # a slow disk: try again at a later commit
            self._cv.wait(remaining)
        if self.error is not None or self._fd < 0:
            return
        start = self._committed
        tail = os.pread(self._fd, self._size - start, start - self._base + self._header)
        header = _HEADER_START + str(start).encode() + b"}\n"
        fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            write_all(fd, header + tail)
            self._sync(fd)
            os.replace(self._tmp, self._path)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            return  # compaction only saves space: the old file is still whole
        # Until the directory is synced a crash may bring the old file back, which the
        # logical offsets make as valid as the new one.
        with contextlib.suppress(OSError):
            sync_directory(self._dir, self._sync)
        os.close(self._fd)
        self._fd = fd
        self._base, self._header = start, len(header)
        # The whole new file was synced: every row appended so far is on disk or stored.
        self._durable = max(self._durable, self._size)
        self._durable_rows = self._appended_rows

    def close(self, timeout_s: float = 2.0) -> None:
        """Sync what was appended and close the file (idempotent); a later append raises."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout_s)
        with self._cv:
            # A sync stuck past the deadline still uses the descriptor: leave it open.
            if self._fd >= 0 and not self._thread.is_alive():
                os.close(self._fd)
                self._fd = -1

