"""Benchmark: the zero-loss ingest path (spool + COPY + ON CONFLICT) against plain COPY.

    python bench/ingest.py [--samples 300000] [--vehicles 200] [--rate-hz 10]
                           [--rounds 3] [--switch-interval SECONDS]

Creates (or reuses) the database ``fleet_bench`` (as the superuser, owned by ``fleet``, with
PostGIS; never dropped) and migrates it to head. Generates the samples once (vehicles
interleaved in time order, as a recorder delivers them), then measures on fresh rows (own
vehicle ids, a past day of its own):

  (a) plain COPY: one binary COPY of every row straight into ``telemetry`` — no spool, no
      staging, no conflict handling — and its commit;
  (b) TelemetryWriter: a producer thread calls ``submit`` for every sample (validation, spool
      append), the flusher reads batches back from the spool and COPYs them into
      ``telemetry`` (the staging table and ``ON CONFLICT DO NOTHING`` only when a batch meets
      stored rows, which fresh rows never do); timed from the first submit until ``flush``
      confirms every sample committed;
  (c) ``submit`` alone: the same samples submitted from one thread to a writer whose database
      is unreachable (its flusher only backs off), i.e. the producer's cost per sample; then
      the same with ``submit_many`` in calls of 100.

(a) and (b) alternate for ``--rounds`` rounds (the machine is shared: its load drifts). Prints
samples/s and the ratio per round, the median ratio (targets: writer >= 20,000/s and >= 50 %
of plain COPY), the producer's submit latency, then deletes its rows and drops the partition
it created.

``--switch-interval`` sets ``sys.setswitchinterval`` for the whole run (default: Python's
5 ms). The flusher needs the GIL back after every database round trip, and a producer that
never blocks holds it for a whole interval, so a smaller one lets the flusher keep the
database busier while samples are produced.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from _benchdb import DATABASE, HOST, URL, provision
from sqlalchemy import create_engine, text

from fleet_db.ingest import COLUMNS, TelemetryWriter, WriterSettings, ewkb_point
from fleet_db.partitions import ensure_partitions
from fleet_db.samples import TelemetrySample

# Two days ago (the writer refuses samples in the future and older than a week); the rows
# are told apart from any other benchmark's by their vehicle ids.
START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
PREFIX = "ingestbench"
COPY_TYPES = ("text", "timestamptz", "bytea", "float8", "float8", "float8", "float8", "float8",
              "float8", "float8", "float8", "text", "bool", "int2", "text")


def generate(n: int, vehicles: int, rate_hz: float) -> list[tuple[int, float, TelemetrySample]]:
    """Return (vehicle index, seconds, sample template) of n interleaved samples."""
    out = []
    for i in range(n):
        k, step = i % vehicles, i // vehicles
        t = step / rate_hz
        out.append((k, t, TelemetrySample(
            "", START + timedelta(seconds=t), 47.0 + k * 1e-3 + step * 1e-6, 8.0 + step * 1e-6,
            altitude_amsl=480.0 + step * 0.01, altitude_rel=30.0, heading_deg=87.5,
            ground_speed_mps=11.0, climb_rate_mps=0.0, battery_pct=90.0 - step * 1e-3,
            voltage_v=22.4, current_a=14.2, mode="AUTO.MISSION", armed=True, landed_state=2,
            mission_id=f"m{k}")))
    return out


def with_vehicles(rows: Sequence[tuple[int, float, TelemetrySample]],
                  prefix: str) -> list[TelemetrySample]:
    """Return the samples with vehicle ids ``prefix-<k>`` (fresh rows for each run)."""
    out = []
    for k, _t, s in rows:
        out.append(TelemetrySample(
            f"{prefix}-{k}", s.time, s.latitude, s.longitude, s.altitude_amsl, s.altitude_rel,
            s.heading_deg, s.ground_speed_mps, s.climb_rate_mps, s.battery_pct, s.voltage_v,
            s.current_a, s.mode, s.armed, s.landed_state, s.mission_id))
    return out


def row(s: TelemetrySample) -> tuple[Any, ...]:
    return (s.vehicle_id, s.time, ewkb_point(s.longitude, s.latitude), s.altitude_amsl,
            s.altitude_rel, s.heading_deg, s.ground_speed_mps, s.climb_rate_mps, s.battery_pct,
            s.voltage_v, s.current_a, s.mode, s.armed, s.landed_state, s.mission_id)


def plain_copy(samples: list[TelemetrySample]) -> float:
    """COPY every sample straight into telemetry in one transaction; return seconds."""
    engine = create_engine(URL)
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        t0 = time.perf_counter()
        with conn.begin(), raw.cursor() as cur, cur.copy(
                f"copy telemetry ({', '.join(COLUMNS)}) from stdin (format binary)") as copy:
            copy.set_types(COPY_TYPES)
            for s in samples:
                copy.write_row(row(s))
        seconds = time.perf_counter() - t0
    engine.dispose()
    return seconds


def writer_path(samples: list[TelemetrySample]) -> tuple[float, list[float], Any]:
    """Submit every sample from a producer thread; return seconds to all-committed."""
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-spool-") as spool:
        writer = TelemetryWriter(URL, spool, WriterSettings())
        # One warm-up sample connects and creates the staging table outside the timing.
        writer.submit(samples[0])
        writer.flush(30.0)

        def produce() -> None:
            # Every 8th call is timed: timing each one would cost more than a submit.
            clock = time.perf_counter
            submit = writer.submit
            for i, s in enumerate(samples[1:]):
                if i & 7:
                    ok = submit(s)
                else:
                    t = clock()
                    ok = submit(s)
                    latencies.append(clock() - t)
                if not ok:
                    raise RuntimeError(f"sample refused: {writer.metrics().last_error}")

        t0 = time.perf_counter()
        producer = threading.Thread(target=produce)
        producer.start()
        producer.join()
        submitted = time.perf_counter() - t0
        if not writer.flush(600.0):
            raise RuntimeError(f"writer did not finish: {writer.metrics()}")
        seconds = time.perf_counter() - t0
        metrics = writer.metrics()
        writer.close()
    print(f"      producer done after {submitted:.2f} s "
          f"({(len(samples) - 1) / submitted:,.0f} submits/s)")
    return seconds, latencies, metrics


def submit_alone(samples: list[TelemetrySample], chunk: int = 0) -> float:
    """Submit every sample from this thread to a writer with no database; return seconds.

    ``chunk`` > 0: ``submit_many`` with that many samples per call instead of ``submit``.
    """
    with tempfile.TemporaryDirectory(prefix="ingest-bench-spool-") as spool:
        # Port 1 refuses at once: the flusher backs off (5 s) and stays out of the way; its
        # warning about that is expected here.
        logging.getLogger("fleet_db.ingest").setLevel(logging.ERROR)
        writer = TelemetryWriter(f"postgresql+psycopg://fleet@{HOST}:1/none", spool,
                                 WriterSettings(retry_initial_s=5.0, retry_max_s=5.0))
        t0 = time.perf_counter()
        if chunk:
            submit_many = writer.submit_many
            stored = sum(submit_many(samples[i:i + chunk])
                         for i in range(0, len(samples), chunk))
        else:
            submit = writer.submit
            stored = sum(1 for s in samples if submit(s))
        seconds = time.perf_counter() - t0
        if stored != len(samples):
            raise RuntimeError(f"samples refused: {writer.metrics().last_error}")
        writer.close(timeout=0.0)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300_000)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--switch-interval", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.samples < args.vehicles or args.vehicles < 1 or args.rate_hz <= 0:
        parser.error("need --samples >= --vehicles >= 1 and --rate-hz > 0")
    if not 1 <= args.rounds <= 20:
        parser.error(f"--rounds {args.rounds} is outside 1..20")
    if args.switch_interval is not None:
        if not 1e-6 <= args.switch_interval <= 0.1:
            parser.error(f"--switch-interval {args.switch_interval} is outside 1e-6..0.1")
        sys.setswitchinterval(args.switch_interval)
    provision()
    template = generate(args.samples, args.vehicles, args.rate_hz)
    # The pre-generated samples are the benchmark's, not a recorder's: keep the collector from
    # scanning them (a full pass over this heap stalls every thread for ~120 ms).
    gc.freeze()
    last = template[-1][2].time
    engine = create_engine(URL)
    with engine.begin() as conn:
        created = ensure_partitions(conn, START, last)
        leftover = conn.execute(text("select count(*) from telemetry where time >= :a and "
                                     "time <= :b and vehicle_id like :p"),
                                {"a": START, "b": last, "p": f"{PREFIX}%"}).scalar_one()
        if leftover:
            conn.execute(text("delete from telemetry where time >= :a and time <= :b and "
                              "vehicle_id like :p"), {"a": START, "b": last, "p": f"{PREFIX}%"})
    run = f"{PREFIX}{os.getpid()}"
    print(f"ingest: {args.samples:,} samples, {args.vehicles} vehicles at {args.rate_hz:g} Hz "
          f"({(last - START).total_seconds():.0f} s of flight), database {DATABASE}, "
          f"switch interval {sys.getswitchinterval() * 1000:g} ms")
    ratios: list[float] = []
    try:
        for r in range(args.rounds):
            # Fresh rows every round; (a) and (b) alternate so that a change in the machine's
            # load (it is shared) hits both sides rather than one.
            print(f" round {r + 1} of {args.rounds}")
            plain_samples = with_vehicles(template, f"{run}a{r}")
            gc.freeze()
            copy_s = plain_copy(plain_samples)
            del plain_samples
            copy_rate = args.samples / copy_s
            print(f"  (a) plain COPY:        {copy_s:6.2f} s  {copy_rate:>10,.0f} samples/s")
            writer_samples = with_vehicles(template, f"{run}b{r}")
            gc.freeze()
            writer_s, lat, m = writer_path(writer_samples)
            writer_rate = (args.samples - 1) / writer_s
            print(f"  (b) TelemetryWriter:   {writer_s:6.2f} s  {writer_rate:>10,.0f} samples/s "
                  f"({m.batches} batches, {m.written:,} written, {m.duplicates_skipped} dup, "
                  f"{m.retries} retries)")
            lat_us = sorted(x * 1e6 for x in lat)
            print(f"      submit latency (every 8th call): median "
                  f"{statistics.median(lat_us):.0f} us, p99 {lat_us[int(len(lat_us) * 0.99)]:.0f}"
                  f" us, p99.9 {lat_us[int(len(lat_us) * 0.999)]:.0f} us, max "
                  f"{lat_us[-1] / 1000:.1f} ms")
            with engine.connect() as conn:
                n = conn.execute(text("select count(*) from telemetry where vehicle_id like :p"),
                                 {"p": f"{run}b{r}-%"}).scalar_one()
            print(f"      rows stored by the writer: {n:,} (expected {args.samples:,})")
            ratios.append(writer_rate / copy_rate)
            print(f"  writer / plain COPY:   {ratios[-1]:.0%}; >= 20,000/s: "
                  f"{'yes' if writer_rate >= 20_000 else 'NO'}")
        ratio = statistics.median(ratios)
        print(f" writer / plain COPY, median of {len(ratios)} rounds: {ratio:.0%} (range "
              f"{min(ratios):.0%} .. {max(ratios):.0%}); target >= 50 %: "
              f"{'yes' if ratio >= 0.5 else 'NO'}")
        alone_s = submit_alone(writer_samples)
        print(f"  (c) submit alone:      {alone_s:6.2f} s  {args.samples / alone_s:>10,.0f} "
              f"samples/s ({alone_s / args.samples * 1e6:.2f} us per submit)")
        many_s = submit_alone(writer_samples, chunk=100)
        print(f"      submit_many(100):  {many_s:6.2f} s  {args.samples / many_s:>10,.0f} "
              f"samples/s ({many_s / args.samples * 1e6:.2f} us per sample)")
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from telemetry where time >= :a and time <= :b and "
                              "vehicle_id like :p"), {"a": START, "b": last, "p": f"{run}%"})
            for name in created:
                if conn.execute(text(f"select not exists (select 1 from {name})")).scalar_one():
                    conn.execute(text(f"drop table {name}"))
        engine.dispose()


if __name__ == "__main__":
    main()
