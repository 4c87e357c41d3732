"""A durable, append-only spool of telemetry samples on local disk (the ingest path's journal).

Layout of a spool directory::

    LOCK                       flock'ed by the one process that owns the spool
    0000000000000001.seg       segment: 8-byte magic, then records, then zeros
    0000000000000001.committed committed byte offset of that segment (absent: none committed)

A record is ``<u32 payload length><u32 crc32 of payload><payload>`` (big-endian, see
:mod:`fleet_db.durable`); the payload is the wall time the sample was received (f64) followed
by the sample as one tuple of PostgreSQL's binary COPY format (:mod:`fleet_db.copy_codec`,
whose names this module still exports), so that spooled records go to the database without
being decoded again.

The active segment is preallocated (``posix_fallocate``, so a full disk fails when a segment
is created, never as a SIGBUS on a later store) and memory-mapped: an append is a copy into
the mapping, no system call. The mapping is ``MAP_SHARED``, so the bytes are in the kernel's
page cache the moment the copy is done: once :meth:`Spool.append` returns, a crash of the
process (even ``kill -9``) loses nothing that was appended. A background thread fdatasyncs the
active segment every ``fsync_interval_s`` (group commit; on Linux that writes back the pages
dirtied through the mapping as well), so a power loss or kernel crash loses at most the
records of that last window; :meth:`Spool.sync` forces it.

Segments are never appended to after the process that wrote them is gone: opening a spool
scans the existing segments, cuts off the zero-filled preallocated tail (silently) or a torn
last record (with a warning), and starts a new segment. A sealed segment is cut to the end of
its records. A segment is deleted once it is sealed and committed to its end. Committed
offsets are written atomically (temporary file, fsync, rename): at worst a crash replays
records that were already stored, and the database's ``ON CONFLICT DO NOTHING`` makes that
harmless.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import mmap
import os
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from fleet_db.copy_codec import (
    COPY_TUPLE_AT,
    HEAD_TO_TIME,
    MAX_RECORD_BYTES,
    PG_EPOCH,
    TUPLE_AT,
    TUPLE_COLUMNS,
    RecordEncoder,
    SpoolRecordError,
    decode_payload,
    encode_record,
    payload_received,
    payload_time_us,
)
from fleet_db.durable import (
    RECORD_HEAD,
    SpoolError,
    read_offset,
    scan_records,
    sync_directory,
    write_offset,
)
from fleet_db.samples import TelemetrySample

# The codec's names stay importable from here, where callers found them before the split.
__all__ = [
    "HEADER_SIZE", "MAGIC", "MAX_RECORD_BYTES", "PG_EPOCH", "TUPLE_AT", "TUPLE_COLUMNS",
    "CopyBatch", "RecordEncoder", "Spool", "SpoolBatch", "SpoolCursor", "SpoolError",
    "SpoolFullError", "SpoolLockedError", "SpoolRecordError", "SpoolStats", "decode_payload",
    "encode_record", "payload_received", "payload_time_us",
]

_LOG = logging.getLogger(__name__)

MAGIC = b"FLSPOOL4"
HEADER_SIZE = len(MAGIC)
_SEGMENT_SUFFIX = ".seg"
_MARKER_SUFFIX = ".committed"


class SpoolLockedError(SpoolError):
    """Another process (or another Spool in this one) already owns the spool directory."""


class SpoolFullError(SpoolError):
    """The spool reached its size limit (or the disk is full); the record was not stored."""




class SpoolCursor(NamedTuple):
    """A position in the spool: the byte offset just after a record in one segment."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    """Records read back from the spool, in append order."""

    payloads: list[bytes]  # received time + COPY tuple (see encode_record)
    end: SpoolCursor  # the cursor after the last record (the start when there is none)

    def samples(self) -> list[TelemetrySample]:
        """Return the records decoded."""
        return [decode_payload(p)[0] for p in self.payloads]

    @property
    def first_received(self) -> float | None:
        """Wall time (s) the first record was appended, None for an empty batch."""
        return payload_received(self.payloads[0]) if self.payloads else None


@dataclass(frozen=True, slots=True)
class CopyBatch:
    """Records read back as one run of binary COPY tuples, ready to send (see read_copy)."""

    data: bytes  # the records' COPY tuples, concatenated, in append order
    count: int
    fresh: int  # how many of them this Spool appended (the rest: a previous process)
    min_time_us: int  # sample times, microseconds since PG_EPOCH (0 for an empty batch)
    max_time_us: int
    first_received: float | None  # wall time (s) the first record was appended
    end: SpoolCursor  # the cursor after the last record (the start when there is none)


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """Size of the spool on disk."""

    bytes: int  # bytes of records (the active segment's preallocated tail is not counted)
    segments: int
    truncated_records: int  # torn records cut off when the spool was opened



@dataclass(slots=True)
class _Segment:
    seq: int
    size: int  # bytes of records and header (of the active segment: see Spool._size)
    committed: int  # committed byte offset
    sealed: bool


class Spool:
    """An append-only, crash-safe journal of samples in one directory, owned by one process.

    Thread-safe: any thread may append; one consumer reads and commits in order.
    """

    def __init__(self, directory: str | os.PathLike[str], *,
                 segment_bytes: int = 64 * 1024 * 1024, max_bytes: int = 4 * 1024 ** 3,
                 fsync_interval_s: float = 0.05) -> None:
        if segment_bytes < 4096:
            raise ValueError(f"segment_bytes {segment_bytes} is below 4096")
        if max_bytes < segment_bytes:
            raise ValueError(f"max_bytes {max_bytes} is below segment_bytes {segment_bytes}")
        if not 0.0 < fsync_interval_s <= 10.0:
            raise ValueError(f"fsync_interval_s {fsync_interval_s} is outside (0, 10]")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync_interval_s = fsync_interval_s
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock()
        self._lock = threading.Lock()
        self._segments: dict[int, _Segment] = {}
        self._truncated = 0
        self._total = 0  # bytes of records and headers of the segments on disk
        self._appended = 0  # records appended by this Spool
        self._synced = 0  # ...of which the syncer has fdatasynced
        # (fd, size) of sealed segments the syncer still has to cut to size and fsync.
        self._retired: list[tuple[int, int]] = []
        self._dirty = False  # a new segment's header not yet synced
        self._dir_dirty = False
        # The newest committed offset not yet in its marker file. The syncer writes it (the
        # flusher must not wait for a file's fsync per batch: losing a marker to a crash
        # only replays records the database already holds). _marker_lock keeps that write
        # and commit's deletion of a finished segment's files apart.
        self._marker_due: tuple[int, int] | None = None
        self._marker_lock = threading.Lock()
        self._closed = False
        self._encoder = RecordEncoder()
        self._fd = -1
        self._map: mmap.mmap | None = None
        try:
            self._recover()
            last = max(self._segments, default=0)
            self.first_own_segment = last + 1  # segments before it are a previous process's
            self._active = self._new_segment(last + 1)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="spool-fsync", daemon=True)
        self._syncer.start()

    # -- opening ---------------------------------------------------------------------------

    def _take_lock(self) -> int:
        path = self.directory / "LOCK"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SpoolLockedError(
                f"spool directory {self.directory} is in use by another writer (pid {holder}); "
                "two writers must not share one spool") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _recover(self) -> None:
        seqs = sorted(int(p.stem) for p in self.directory.glob(f"*{_SEGMENT_SUFFIX}")
                      if p.stem.isdigit())
        for marker in self.directory.glob(f"*{_MARKER_SUFFIX}"):
            if marker.stem.isdigit() and int(marker.stem) not in seqs:
                marker.unlink()  # its segment was deleted just before a crash
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink()
        for seq in seqs:
            path = self._segment_path(seq)
            data = path.read_bytes()
            if data[:HEADER_SIZE] != MAGIC:
                # Created but never written: a crash right after rotation (the preallocated
                # file may be all zeros, or hold a partial magic).
                if (len(data) <= HEADER_SIZE and MAGIC.startswith(data)) or not data.strip(b"\0"):
                    path.unlink()
                    self._marker_path(seq).unlink(missing_ok=True)
                    continue
                raise SpoolError(f"{path} is not a spool segment (starts with {data[:8]!r})")
            committed = self._read_marker(seq)
            committed = min(max(committed, HEADER_SIZE), len(data))
            valid = scan_records(data, committed, MAX_RECORD_BYTES)
            if valid < len(data):
                # Zeros after the records: the preallocated tail of a segment whose writer
                # died (or a power cut before the pages were written back). Anything else is
                # a record torn by a crash in the middle of an append.
                if data.count(0, valid) != len(data) - valid:
                    _LOG.warning("spool segment %s: torn or corrupt record at byte %d, "
                                 "truncating %d bytes", path, valid, len(data) - valid)
                    self._truncated += 1
                with path.open("r+b") as f:
                    f.truncate(valid)
                    os.fsync(f.fileno())
            if committed >= valid:
                path.unlink()
                self._marker_path(seq).unlink(missing_ok=True)
                continue
            self._segments[seq] = _Segment(seq, valid, committed, sealed=True)
            self._total += valid

    def _read_marker(self, seq: int) -> int:
        try:
            return read_offset(self._marker_path(seq))
        except FileNotFoundError:
            return HEADER_SIZE
        except ValueError as exc:
            _LOG.warning("spool marker %s: %s, replaying the whole segment",
                         self._marker_path(seq), exc)
            return HEADER_SIZE

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{_SEGMENT_SUFFIX}"

    def _marker_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{_MARKER_SUFFIX}"

    def _new_segment(self, seq: int, need: int = 0) -> _Segment:
        """Create, preallocate and map segment ``seq`` (room for ``need`` bytes at least)."""
        size = max(self.segment_bytes, HEADER_SIZE + need)
        path = self._segment_path(seq)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                # A file system without fallocate: a sparse file. Its blocks are allocated
                # at write-back, where a full disk would be an I/O error, hence the warning.
                _LOG.warning("spool %s: file system cannot preallocate (%s); a full disk "
                             "will not be detected in advance", self.directory, exc)
                os.ftruncate(fd, size)
            mapped = mmap.mmap(fd, size)
        except OSError as exc:
            os.close(fd)
            path.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SpoolFullError(f"disk holding spool {self.directory} is full: "
                                     "sample not stored") from exc
            raise SpoolError(f"cannot create spool segment {path}: {exc}") from exc
        mapped.write(MAGIC)
        if self._map is not None:
            self._map.close()
            self._retired.append((self._fd, self._active.size))
        self._fd = fd
        self._map = mapped
        seg = _Segment(seq, HEADER_SIZE, HEADER_SIZE, sealed=False)
        self._segments[seq] = seg
        self._total += HEADER_SIZE
        self._dir_dirty = True
        self._dirty = True
        return seg

    # -- writing ---------------------------------------------------------------------------

    def append(self, sample: TelemetrySample, received: float | None = None) -> SpoolCursor:
        """Write one sample; return the cursor after it. Raise SpoolFullError when full."""
        record = self._encoder.encode(sample, time.time() if received is None else received)
        return self.append_record(record)

    def append_record(self, record: bytes) -> SpoolCursor:
        """Write one encoded record (see :func:`encode_record`); return the cursor after it."""
        with self._lock:
            self._write(record)
            return SpoolCursor(self._active.seq, self._size(self._active))

    def write(self, record: bytes) -> int:
        """Write one encoded record; return how many records this Spool has appended so far.

        The fast form of :meth:`append_record`, for a producer that needs no cursor.
        """
        with self._lock:
            return self._write(record)

    def write_many(self, records: Sequence[bytes]) -> tuple[int, int, SpoolError | None]:
        """Write encoded records in order under one lock.

        Return how many were written, how many records this Spool has appended so far, and
        the error that stopped the rest (None when every record was written).
        """
        written = 0
        with self._lock:
            try:
                for record in records:
                    self._write(record)
                    written += 1
            except SpoolError as exc:
                return written, self._appended, exc
            return written, self._appended, None

    def _write(self, record: bytes) -> int:
        # Caller holds the lock.
        if self._closed:
            raise SpoolError(f"spool {self.directory} is closed")
        total = self._total + len(record)
        if total > self.max_bytes:
            raise SpoolFullError(f"spool {self.directory} holds {self._total} bytes, limit "
                                 f"{self.max_bytes}: sample not stored")
        mapped = self._map
        assert mapped is not None  # open: set by _new_segment
        try:
            mapped.write(record)  # ValueError: the record does not fit in this segment
        except ValueError:
            self._rotate(record)
            total = self._total + len(record)
        self._total = total
        self._appended += 1
        return self._appended

    def _rotate(self, record: bytes) -> None:
        # Caller holds the lock. The new segment exists before the old one is sealed, so a
        # failure (disk full) leaves the spool as it was.
        old = self._active
        old.size = self._size(old)
        self._active = self._new_segment(old.seq + 1, len(record))
        old.sealed = True
        assert self._map is not None
        self._map.write(record)

    def _size(self, seg: _Segment) -> int:
        # Caller holds the lock. The active segment's end is the mapping's write position.
        if seg is self._active and self._map is not None and not self._map.closed:
            return self._map.tell()
        return seg.size

    def sync(self) -> None:
        """fdatasync everything appended so far (the syncer thread does this periodically)."""
        with self._lock:
            retired, self._retired = self._retired, []
            dirty = self._dirty or self._appended != self._synced
            fd = os.dup(self._fd) if dirty and self._fd >= 0 else -1
            self._dirty = False
            self._synced = self._appended
            dir_dirty, self._dir_dirty = self._dir_dirty, False
            marker, self._marker_due = self._marker_due, None
        # fsync outside the lock so appends never wait for the disk; the dup keeps the file
        # open even if a rotation retires the original descriptor meanwhile.
        for rfd, size in retired:
            with contextlib.suppress(OSError):
                os.ftruncate(rfd, size)  # give the preallocated tail back
                os.fdatasync(rfd)
            os.close(rfd)
        if fd >= 0:
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        if dir_dirty:
            sync_directory(self.directory)
        if marker is not None:
            with self._marker_lock:
                with self._lock:
                    alive = marker[0] in self._segments
                if alive:
                    self._write_marker(*marker)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval_s):
            try:
                self.sync()
            except OSError:
                _LOG.exception("spool %s: fsync failed", self.directory)

    # -- reading and committing ------------------------------------------------------------

    @property
    def appended(self) -> int:
        """How many records this Spool has appended since it was opened."""
        return self._appended

    def start(self) -> SpoolCursor:
        """Return the cursor of the first uncommitted record."""
        with self._lock:
            first = min(self._segments)
            return SpoolCursor(first, self._segments[first].committed)

    def end(self) -> SpoolCursor:
        """Return the cursor after the last appended record."""
        with self._lock:
            return SpoolCursor(self._active.seq, self._size(self._active))

    def at_end(self, cursor: SpoolCursor) -> bool:
        """Tell whether no record follows ``cursor``."""
        with self._lock:
            return self._normalize(cursor) >= SpoolCursor(self._active.seq,
                                                          self._size(self._active))

    def _normalize(self, cursor: SpoolCursor) -> SpoolCursor:
        # Caller holds the lock. Step over the ends of sealed segments.
        while True:
            seg = self._segments.get(cursor.segment)
            if seg is None:
                later = [s for s in self._segments if s > cursor.segment]
                if not later:
                    return cursor
                cursor = SpoolCursor(min(later), HEADER_SIZE)
                continue
            if seg.sealed and cursor.offset >= seg.size:
                cursor = SpoolCursor(seg.seq + 1, HEADER_SIZE)
                continue
            return cursor

    def _window(self, cursor: SpoolCursor, want: int) -> tuple[SpoolCursor, bytes, bool] | None:
        """Return (cursor, bytes from it, whether this Spool wrote them), None at the end."""
        with self._lock:
            cursor = self._normalize(cursor)
            seg = self._segments.get(cursor.segment)
            if seg is None:
                return None
            limit = self._size(seg)
            if cursor.offset >= limit:
                return None
        # Records are small; read a window that fits the wanted count in most cases. The
        # active segment reads through the page cache the mapping writes into.
        with self._segment_path(cursor.segment).open("rb") as f:
            f.seek(cursor.offset)
            data = f.read(min(limit - cursor.offset, max(MAX_RECORD_BYTES, want * 256)))
        return cursor, data, cursor.segment >= self.first_own_segment

    def read(self, cursor: SpoolCursor, max_records: int) -> SpoolBatch:
        """Return up to ``max_records`` records after ``cursor``, in append order."""
        payloads: list[bytes] = []
        while len(payloads) < max_records:
            got = self._window(cursor, max_records - len(payloads))
            if got is None:
                break
            cursor, data, _own = got
            pos = 0
            head = RECORD_HEAD.size
            while len(payloads) < max_records and pos + head <= len(data):
                length, crc = RECORD_HEAD.unpack_from(data, pos)
                if pos + head + length > len(data):
                    break
                payload = data[pos + head:pos + head + length]
                if zlib.crc32(payload) != crc:
                    raise SpoolError(f"spool segment {self._segment_path(cursor.segment)}: "
                                     f"corrupt record at byte {cursor.offset + pos}")
                payloads.append(payload)
                pos += head + length
            if pos == 0:
                raise SpoolError(f"spool segment {self._segment_path(cursor.segment)}: "
                                 f"truncated record at byte {cursor.offset}")
            cursor = SpoolCursor(cursor.segment, cursor.offset + pos)
        return SpoolBatch(payloads, cursor)

    def read_copy(self, cursor: SpoolCursor, max_records: int) -> CopyBatch:
        """Return up to ``max_records`` records after ``cursor`` as concatenated COPY tuples.

        The flusher's read: no record is decoded. Records of a previous process are checked
        against their CRC (they were scanned when the spool opened, but a disk may rot);
        this process's own come straight from the page cache it wrote them to.
        """
        tuples: list[bytes] = []
        times: list[int] = []
        fresh = 0
        first_received: float | None = None
        unpack = HEAD_TO_TIME.unpack_from
        tuple_at = COPY_TUPLE_AT
        crc32 = zlib.crc32
        smallest = HEAD_TO_TIME.size
        while len(tuples) < max_records:
            got = self._window(cursor, max_records - len(tuples))
            if got is None:
                break
            cursor, data, own = got
            pos = 0
            end_of_data = len(data)
            before = count = len(tuples)
            add_tuple = tuples.append
            add_time = times.append
            while count < max_records and pos + smallest <= end_of_data:
                length, crc, received, _fields, _time_len, time_us = unpack(data, pos)
                end = pos + 8 + length
                if end > end_of_data:
                    break
                if not own and crc32(data[pos + 8:end]) != crc:
                    raise SpoolError(f"spool segment {self._segment_path(cursor.segment)}: "
                                     f"corrupt record at byte {cursor.offset + pos}")
                if first_received is None:
                    first_received = received
                add_tuple(data[pos + tuple_at:end])
                add_time(time_us)
                count += 1
                pos = end
            if pos == 0:
                raise SpoolError(f"spool segment {self._segment_path(cursor.segment)}: "
                                 f"truncated record at byte {cursor.offset}")
            if own:
                fresh += count - before
            cursor = SpoolCursor(cursor.segment, cursor.offset + pos)
        return CopyBatch(b"".join(tuples), len(tuples), fresh, min(times, default=0),
                         max(times, default=0), first_received, cursor)

    def commit(self, cursor: SpoolCursor) -> None:
        """Mark every record before ``cursor`` as stored; delete fully committed segments.

        The committed offset reaches its marker file at the next sync (within
        ``fsync_interval_s``, and at close).
        """
        with self._lock:
            if self._closed:
                return  # a flusher that outlived close(): the next run replays the batch
            done: list[int] = []
            marker: tuple[int, int] | None = None
            for seq in sorted(self._segments):
                seg = self._segments[seq]
                size = self._size(seg)
                if seq < cursor.segment:
                    offset = size
                elif seq == cursor.segment:
                    offset = min(cursor.offset, size)
                else:
                    break
                if offset > seg.committed:
                    seg.committed = offset
                    if not seg.sealed or seg.committed < size:
                        marker = (seq, offset)
                # A segment committed to its end before it was sealed goes at the next commit.
                if seg.sealed and seg.committed >= size:
                    done.append(seq)
                    del self._segments[seq]
                    self._total -= size
            if marker is not None:
                self._marker_due = marker
            elif self._marker_due is not None and self._marker_due[0] in done:
                self._marker_due = None
        if done:
            with self._marker_lock:
                for seq in done:
                    self._segment_path(seq).unlink(missing_ok=True)
                    self._marker_path(seq).unlink(missing_ok=True)

    def _write_marker(self, seq: int, offset: int) -> None:
        # A lost rename (the directory is not synced) only replays records the database
        # already holds, which ON CONFLICT DO NOTHING absorbs.
        write_offset(self._marker_path(seq), offset, durable=True)

    # -- diagnostics and closing -----------------------------------------------------------

    def stats(self) -> SpoolStats:
        """Return the spool's size on disk (segments still holding uncommitted records)."""
        with self._lock:
            return SpoolStats(self._total, len(self._segments), self._truncated)

    def pending_bytes(self) -> int:
        """Return the bytes of records appended but not committed."""
        with self._lock:
            return sum(self._size(s) - s.committed for s in self._segments.values())

    def close(self) -> None:
        """fsync, stop the syncer, cut or remove the active segment and release the lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._syncer.join(timeout=5.0)
        self.sync()
        with self._lock:
            active = self._active
            active.size = self._size(active)
            if self._map is not None:
                self._map.close()
                self._map = None
            if active.size <= active.committed:
                self._segment_path(active.seq).unlink(missing_ok=True)
                self._marker_path(active.seq).unlink(missing_ok=True)
                self._segments.pop(active.seq, None)
            else:
                os.ftruncate(self._fd, active.size)  # give the preallocated tail back
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
        os.close(self._lock_fd)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
