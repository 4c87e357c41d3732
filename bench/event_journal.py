"""Benchmark: the recorder's event journal, appends with and without fdatasync.

    python bench/event_journal.py [--rows 20000] [--sync-interval-ms 10] [--dir PATH]

Appends coordination-event rows (about 330 bytes of JSON each) to a fresh journal in a
temporary directory (under ``--dir``, default the system's temporary directory: it must be a
real disk for the fsync figures to mean anything) and prints appends/s and fsyncs per 1,000
appends for:

  (a) no fsync: the journal's sync is a no-op (what the journal cost before group commit);
  (b) group commit: one thread appends as fast as it can (the recorder's ROS callbacks), the
      journal's syncer fdatasyncs what waits at most every ``--sync-interval-ms``; timed until
      the last row is durable;
  (c) one fsync per append: each append waits for its own row to be durable before the next
      (interval 0), i.e. what a journal without grouping would cost;
  (d) four threads, each waiting for its row to be durable before appending the next:
      waiting appenders share syncs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet_db.journal import Journal, Row

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def event(n: int) -> Row:
    t = START + timedelta(milliseconds=n)
    return Row("coordination_event", {
        "key": f"uav{n % 50}-link_lost-{n}", "time": t, "type": "link_lost",
        "severity": "warning", "vehicle_id": f"uav{n % 50}", "other_vehicle_id": None,
        "zone_id": None, "opened_at": t, "closed_at": None,
        "message": "no heartbeat for 3.0 s", "details": {"last_seen_s": 3.0, "n": n}})


class CountingSync:
    """fdatasync (or nothing), counted."""

    def __init__(self, real: bool) -> None:
        self.real = real
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.real:
            os.fdatasync(fd)


def run(parent: Path, name: str, rows: list[Row], *, real: bool, interval_s: float,
        append: Callable[[Journal, list[Row]], None]) -> None:
    directory = Path(tempfile.mkdtemp(prefix=f"journal-{name}-", dir=parent))
    sync = CountingSync(real)
    journal = Journal(directory, sync=sync, sync_interval_s=interval_s)
    opened = sync.calls
    t0 = time.perf_counter()
    append(journal, rows)
    if not journal.wait_durable(journal.end, 60.0):
        raise RuntimeError(f"{name}: rows not durable after 60 s: {journal.stats()}")
    seconds = time.perf_counter() - t0
    syncs = sync.calls - opened if real else 0  # (a)'s calls do nothing
    journal.close()
    print(f"  {name:<32} {len(rows):>7,} rows {seconds:7.3f} s {len(rows) / seconds:>10,.0f} "
          f"appends/s  {syncs:>6} fsyncs  {syncs * 1000 / len(rows):7.1f} per 1,000 appends")
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()


def burst(journal: Journal, rows: list[Row]) -> None:
    append = journal.append
    for row in rows:
        append(row)


def one_by_one(journal: Journal, rows: list[Row]) -> None:
    for row in rows:
        if not journal.wait_durable(journal.append(row), 10.0):
            raise RuntimeError(f"row not durable after 10 s: {journal.stats()}")


def four_waiting_threads(journal: Journal, rows: list[Row]) -> None:
    threads = [threading.Thread(target=one_by_one, args=(journal, rows[k::4]))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--sync-interval-ms", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    if not 1_000 <= args.rows <= 10_000_000:
        parser.error(f"--rows {args.rows} is outside 1,000..10,000,000")
    if not 0.0 <= args.sync_interval_ms <= 1000.0:
        parser.error(f"--sync-interval-ms {args.sync_interval_ms} is outside 0..1000")
    rows = [event(n) for n in range(args.rows)]
    few = rows[:min(len(rows), 2_000)]  # one fsync each: keep it short
    interval = args.sync_interval_ms / 1000.0
    print(f"event journal in {args.dir} ({os.statvfs(args.dir).f_bsize} B blocks), "
          f"sync interval {args.sync_interval_ms:g} ms")
    run(args.dir, "(a) no fsync", rows, real=False, interval_s=interval, append=burst)
    run(args.dir, "(b) group commit", rows, real=True, interval_s=interval, append=burst)
    run(args.dir, "(c) one fsync per append", few, real=True, interval_s=0.0,
        append=one_by_one)
    run(args.dir, "(d) 4 threads waiting for each", few, real=True, interval_s=0.0,
        append=four_waiting_threads)


if __name__ == "__main__":
    main()
