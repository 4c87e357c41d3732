"""The durable spool: round trips, crash recovery, torn records, commits, limits, the lock."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet_db.samples import TelemetrySample
from fleet_db.spool import (
    HEADER_SIZE,
    PG_EPOCH,
    RecordEncoder,
    Spool,
    SpoolFullError,
    SpoolLockedError,
    SpoolRecordError,
    decode_payload,
    encode_record,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SRC = str(Path(__file__).resolve().parents[2] / "src" / "fleet_db")


def make(i: int, vehicle: str = "uav0") -> TelemetrySample:
    return TelemetrySample(
        vehicle, T0 + timedelta(milliseconds=100 * i), 47.0 + i * 1e-6, 8.0 - i * 1e-6,
        altitude_amsl=400.0 + i, altitude_rel=float(i % 50), heading_deg=90.5,
        ground_speed_mps=12.25, climb_rate_mps=-0.5, battery_pct=80.0, voltage_v=22.2,
        current_a=15.5, mode="AUTO.MISSION", armed=i % 2 == 0, landed_state=2,
        mission_id=f"m-{i % 3}")


def test_a_record_round_trips_every_field_and_every_absent_field() -> None:
    full = make(7)
    bare = TelemetrySample("ü-vehicle", T0 + timedelta(microseconds=123457), -33.9, 151.2)
    for sample in (full, bare):
        record = encode_record(sample, 1700000000.25)
        decoded, received = decode_payload(record[8:])
        assert decoded == sample
        assert received == pytest.approx(1700000000.25)
    assert decode_payload(encode_record(bare, 0.0)[8:])[0].armed is None


def test_a_sample_that_cannot_be_encoded_names_the_field() -> None:
    with pytest.raises(SpoolRecordError, match="mode is 70000 bytes"):
        encode_record(TelemetrySample("v", T0, 0.0, 0.0, mode="x" * 70000), 0.0)
    with pytest.raises(SpoolRecordError, match="landed_state 99999"):
        encode_record(TelemetrySample("v", T0, 0.0, 0.0, landed_state=99999), 0.0)


def test_records_read_back_in_order_across_segment_rotations(tmp_path: Path) -> None:
    samples = [make(i) for i in range(500)]
    with Spool(tmp_path, segment_bytes=4096) as spool:
        for s in samples:
            spool.append(s)
        assert spool.stats().segments > 10
        got: list[TelemetrySample] = []
        cursor = spool.start()
        while not spool.at_end(cursor):
            batch = spool.read(cursor, 37)
            got.extend(batch.samples())
            cursor = batch.end
        assert got == samples


def test_committed_records_are_not_replayed_and_their_segments_are_deleted(
        tmp_path: Path) -> None:
    samples = [make(i) for i in range(300)]
    with Spool(tmp_path, segment_bytes=4096) as spool:
        for s in samples:
            spool.append(s)
        segments_before = spool.stats().segments
        batch = spool.read(spool.start(), 200)
        spool.commit(batch.end)
        assert spool.stats().segments < segments_before
    with Spool(tmp_path, segment_bytes=4096) as spool:
        assert spool.read(spool.start(), 1000).samples() == samples[200:]
        spool.commit(spool.end())
    # Fully committed: the next open finds nothing left and close removes its empty segment.
    with Spool(tmp_path) as spool:
        assert spool.read(spool.start(), 10).samples() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LOCK"]


def test_a_segment_committed_before_it_rotated_is_deleted_at_the_next_commit(
        tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=4096) as spool:
        spool.append(make(0))
        spool.commit(spool.end())  # the active segment is fully committed, but still active
        first = spool.end().segment
        i = 1
        while spool.end().segment == first:  # fill until it rotates
            spool.append(make(i))
            i += 1
        spool.commit(spool.end())
        assert spool.stats().segments == 1
        assert not (tmp_path / f"{first:016d}.seg").exists()


def test_a_killed_writer_loses_no_appended_record(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from fleet_db.spool import Spool
        from test_spool import make
        spool = Spool({str(tmp_path)!r}, segment_bytes=8192, fsync_interval_s=5.0)
        for i in range(1000):
            spool.append(make(i))
            print(i, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked == 600:
            break
    # While the child lives, its spool is its own: another process is refused, by name.
    with pytest.raises(SpoolLockedError, match=f"in use by another writer \\(pid {proc.pid}\\)"):
        Spool(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with Spool(tmp_path) as spool:
        got = spool.read(spool.start(), 5000).samples()
    assert len(got) >= 601
    assert got == [make(i) for i in range(len(got))]


def test_a_torn_last_record_is_truncated_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Spool(tmp_path) as spool:
        for i in range(10):
            spool.append(make(i))
        segment = tmp_path / f"{spool.end().segment:016d}.seg"
        # close() deletes nothing here (the segment holds uncommitted records); it cuts the
        # preallocated tail off, so that the torn record lands just after the last one.
    torn = encode_record(make(10), 0.0)[:-5]
    with segment.open("ab") as f:
        f.write(torn)
    size = segment.stat().st_size
    with caplog.at_level(logging.WARNING), Spool(tmp_path) as spool:
        assert spool.stats().truncated_records == 1
        assert spool.read(spool.start(), 100).samples() == [make(i) for i in range(10)]
    assert "torn or corrupt record" in caplog.text
    assert segment.stat().st_size == size - len(torn)


def test_a_segment_of_zeros_after_a_power_cut_keeps_its_valid_prefix(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for i in range(5):
            spool.append(make(i))
        segment = tmp_path / f"{spool.end().segment:016d}.seg"
    with segment.open("ab") as f:
        f.write(b"\0" * 4096)
    with Spool(tmp_path) as spool:
        assert spool.read(spool.start(), 100).samples() == [make(i) for i in range(5)]


def test_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolLockedError, match=f"{tmp_path}.*in use"):
        Spool(tmp_path)
    Spool(tmp_path).close()  # free again once the first one closed


def test_a_full_spool_refuses_the_record_and_keeps_the_rest(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=4096, max_bytes=8192) as spool:
        stored = 0
        with contextlib.suppress(SpoolFullError):
            while stored < 1000:
                spool.append(make(stored))
                stored += 1
        assert 0 < stored < 1000
        with pytest.raises(SpoolFullError, match="limit 8192"):
            spool.append(make(stored))
        assert spool.stats().bytes <= 8192
        assert spool.read(spool.start(), 1000).samples() == [make(i) for i in range(stored)]
        # Committing frees room again.
        spool.commit(spool.end())
        spool.append(make(stored))


def test_concurrent_appends_keep_each_threads_order(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=16384) as spool:
        def produce(vehicle: str) -> None:
            for i in range(500):
                spool.append(make(i, vehicle))

        threads = [threading.Thread(target=produce, args=(f"uav{k}",)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = spool.read(spool.start(), 10_000).samples()
    assert len(got) == 2000
    for k in range(4):
        assert [s for s in got if s.vehicle_id == f"uav{k}"] == [
            make(i, f"uav{k}") for i in range(500)]


def test_a_corrupt_marker_replays_the_whole_segment(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for i in range(5):
            spool.append(make(i))
        spool.commit(spool.read(spool.start(), 2).end)
        seq = spool.end().segment
    (tmp_path / f"{seq:016d}.committed").write_text("garbage")
    with Spool(tmp_path) as spool:
        assert spool.start().offset == HEADER_SIZE
        assert len(spool.read(spool.start(), 100).samples()) == 5


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"segment_bytes": 100}, "segment_bytes 100"),
    ({"max_bytes": 5000, "segment_bytes": 8192}, "max_bytes 5000"),
    ({"fsync_interval_s": 0.0}, "fsync_interval_s 0.0"),
], ids=["tiny-segment", "limit-below-segment", "zero-fsync-interval"])
def test_bad_settings_are_refused_by_name(
        tmp_path: Path, kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Spool(tmp_path, **kwargs)  # type: ignore[arg-type]


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_the_encoders_fast_path_writes_the_same_bytes_as_encode_record() -> None:
    encoder = RecordEncoder(max_cached=2)
    partial = TelemetrySample("uav1", T0, 1.0, 2.0, altitude_amsl=3.0, armed=False)
    no_mission = TelemetrySample("uav2", T0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0,
                                 None, True, 4, None)
    samples = [make(i, f"uav{i % 3}") for i in range(10)] + [partial, no_mission]
    for sample in samples:
        assert encoder.encode(sample, 12.5) == encode_record(sample, 12.5)
    t_us = (T0 - PG_EPOCH) // timedelta(microseconds=1)
    assert encoder.encode(make(0), 1.0, t_us) == encode_record(make(0), 1.0)


@pytest.mark.parametrize(("sample", "match"), [
    (TelemetrySample("v", T0, 0.0, 0.0, mode="AUTO\0"), r"mode 'AUTO\\x00' contains a NUL"),
    (TelemetrySample("", T0, 0.0, 0.0), "empty vehicle_id"),
    (make(1, vehicle="x" * 70000), "vehicle_id is 70000 bytes"),
], ids=["nul", "empty-id", "long-id"])
def test_the_encoder_refuses_strings_a_copy_tuple_cannot_hold(
        sample: TelemetrySample, match: str) -> None:
    with pytest.raises(SpoolRecordError, match=match):
        RecordEncoder().encode(sample, 0.0)
    with pytest.raises(SpoolRecordError, match=match):
        encode_record(sample, 0.0)


def test_the_active_segment_is_preallocated_and_cut_to_its_records_on_close(
        tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=1 << 20) as spool:
        for i in range(10):
            spool.append(make(i))
        (segment,) = segment_files(tmp_path)
        assert segment.stat().st_size == 1 << 20
        end = spool.end().offset
    assert segment.stat().st_size == end
    with Spool(tmp_path) as spool:
        assert spool.stats().truncated_records == 0
        assert spool.read(spool.start(), 100).samples() == [make(i) for i in range(10)]


def test_a_record_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    big = TelemetrySample("uav0", T0, 1.0, 2.0, mode="M" * 10_000)
    with Spool(tmp_path, segment_bytes=4096) as spool:
        spool.append(make(0))
        spool.append(big)
        spool.append(make(1))
        assert spool.read(spool.start(), 10).samples() == [make(0), big, make(1)]


def run_and_kill(tmp_path: Path, body: str, acked_target: int) -> int:
    """Run ``body`` (which prints an index per acknowledged append) and kill -9 it."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from fleet_db.spool import Spool, encode_record
        from test_spool import make
        spool = Spool({str(tmp_path)!r}, segment_bytes=1 << 20, fsync_interval_s=10.0)
    """) + textwrap.dedent(body)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked == acked_target:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return acked


def test_a_killed_writers_zero_filled_tail_is_cut_off_silently(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # fsync every 10 s: the records reach the file through the page cache alone.
    acked = run_and_kill(tmp_path, """
        for i in range(300):
            spool.append(make(i))
            print(i, flush=True)
        time.sleep(60)
    """, 299)
    assert acked == 299
    (segment,) = segment_files(tmp_path)
    assert segment.stat().st_size == 1 << 20  # still preallocated: nobody closed it
    with caplog.at_level(logging.WARNING), Spool(tmp_path) as spool:
        assert spool.stats().truncated_records == 0
        batch = spool.read(spool.start(), 1000)
        assert batch.samples() == [make(i) for i in range(300)]
        assert segment.stat().st_size == batch.end.offset  # the zeros are gone
    assert "torn" not in caplog.text


def test_a_record_torn_inside_the_preallocated_tail_is_cut_off_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # What a kill -9 in the middle of the copy into the mapping leaves: the head and part
    # of the record, then the zeros of the preallocated tail.
    acked = run_and_kill(tmp_path, """
        for i in range(50):
            spool.append(make(i))
            print(i, flush=True)
        spool._map.write(encode_record(make(50), 0.0)[:-20])
        print(50, flush=True)
        time.sleep(60)
    """, 50)
    assert acked == 50
    with caplog.at_level(logging.WARNING), Spool(tmp_path) as spool:
        assert spool.stats().truncated_records == 1
        assert spool.read(spool.start(), 1000).samples() == [make(i) for i in range(50)]
    assert "torn or corrupt record" in caplog.text


def test_a_segment_created_but_never_written_is_removed(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(make(0))
    # A crash between preallocating the next segment and writing its magic (or a power cut
    # that kept the file's size but not its first page).
    (tmp_path / f"{99:016d}.seg").write_bytes(bytes(8192))
    with Spool(tmp_path) as spool:
        assert spool.read(spool.start(), 10).samples() == [make(0)]
    assert not (tmp_path / f"{99:016d}.seg").exists()


def test_read_copy_returns_the_tuples_their_time_range_and_what_is_fresh(
        tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=4096) as spool:
        for i in range(30):
            spool.append(make(i), received=1000.0 + i)
    us = timedelta(microseconds=1)
    with Spool(tmp_path, segment_bytes=4096) as spool:
        # Out of time order on purpose: the range is the batch's min and max, not its ends.
        spool.append(make(-5), received=2000.0)
        for i in range(30, 40):
            spool.append(make(i), received=2000.0 + i)
        batch = spool.read_copy(spool.start(), 1000)
        records = [encode_record(s, 0.0)[16:] for s in
                   [make(i) for i in range(30)] + [make(-5)] + [make(i) for i in range(30, 40)]]
        assert batch.data == b"".join(records)
        assert (batch.count, batch.fresh) == (41, 11)
        assert batch.min_time_us == (make(-5).time - PG_EPOCH) // us
        assert batch.max_time_us == (make(39).time - PG_EPOCH) // us
        assert batch.first_received == 1000.0
        assert spool.at_end(batch.end)
        part = spool.read_copy(spool.start(), 7)
        assert (part.count, part.fresh, part.data) == (7, 0, b"".join(records[:7]))


def test_a_full_disk_refuses_the_record_that_needs_a_new_segment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Spool(tmp_path, segment_bytes=4096) as spool:
        def no_space(fd: int, offset: int, length: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(os, "posix_fallocate", no_space)
            stored = 0
            with contextlib.suppress(SpoolFullError):
                while stored < 100:  # a 4 KiB segment holds ~20: the 21st needs a new one
                    spool.append(make(stored))
                    stored += 1
            assert 0 < stored < 100
            with pytest.raises(SpoolFullError, match=r"disk holding spool .* is full"):
                spool.append(make(stored))
        # Nothing was lost, and once there is room again the spool carries on.
        spool.append(make(stored))
        assert spool.read(spool.start(), 1000).samples() == [make(i) for i in range(stored + 1)]
    assert not list(tmp_path.glob("*.tmp"))
