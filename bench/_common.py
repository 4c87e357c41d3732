"""Helpers shared by the benchmarks: shipped configs, process CPU time, a spin thread."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONFIG = Path(__file__).resolve().parents[1] / "config"


def shipped_config(name: str) -> dict[str, Any]:
    """Load ``config/<name>`` for a benchmark to modify and write elsewhere.

    A shared key naming a file (``charging_stations: stations.yaml``) is made absolute, so
    the copy still finds it from a temporary directory.
    """
    doc: dict[str, Any] = yaml.safe_load((CONFIG / name).read_text())
    for section in doc.values():
        if isinstance(section, dict) and isinstance(section.get("charging_stations"), str):
            section["charging_stations"] = str(CONFIG / section["charging_stations"])
    return doc


def check_ranges(parser: Any, **ranges: tuple[float, float, float]) -> None:
    """Refuse through ``parser`` the first option outside its range: each keyword is an
    option's name (``time_factor`` for ``--time-factor``) and (value, low, high)."""
    for name, (value, low, high) in ranges.items():
        if not low <= value <= high:
            parser.error(f"--{name.replace('_', '-')} must be {low:g}..{high:g}, got {value:g}")


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Spinner:
    """Spins an executor on a daemon thread until stopped."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.1)

    def stop(self) -> None:
        """Stop spinning and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=2.0)


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process ``pid`` in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS line


def slope_per_hour(times_s: list[float], values: list[float]) -> float | None:
    """Least-squares slope of ``values`` over ``times_s`` (seconds), in units per hour; None
    with fewer than three points or no spread in time (a slope of two points is noise)."""
    n = len(times_s)
    if n < 3 or n != len(values):
        return None
    mt, mv = sum(times_s) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times_s)
    if var == 0:
        return None
    return 3600.0 * sum((t - mt) * (v - mv) for t, v in zip(times_s, values, strict=True)) / var


def socket_peer_ports(pid: int, remote_port: int) -> list[int]:
    """Local TCP ports of ``pid``'s sockets connected to ``remote_port`` (e.g. its PostgreSQL
    connections), read from /proc: the server side sees them as ``client_port``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, remote, inode = f[1], f[2], f[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.append(int(local.rsplit(":", 1)[1], 16))
    return ports


@contextlib.contextmanager
def held_domain(domain: int) -> Iterator[bool]:
    """Hold ROS domain ``domain`` for a bench run with the lock file the tests claim their
    domains with (tests/conftest.py): a run holding one keeps the tests out of it, and a
    domain a test or another bench holds is refused. Yield whether it is held; if not, say
    so on stderr."""
    lock_dir = Path(tempfile.gettempdir()) / "fleet-ros-domains"
    lock_dir.mkdir(exist_ok=True)
    with (lock_dir / f"{domain}.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"error: ROS domain {domain} is in use by a test or another benchmark "
                  f"({lock.name} is locked); choose another with --domain", file=sys.stderr)
            yield False
            return
        yield True


def clean_up_graph_run(procs: Iterable[Any], db_url: str, missions: Iterable[str], *, tag: str,
                       redis_prefix: str, tmp: Path, keep_logs: bool) -> None:
    """Undo what a whole-graph bench run left behind: stop its processes, delete its rows
    (the submitted ``missions`` and their parts, then every row under ``tag``; none without
    ``db_url``), its Redis keys under ``redis_prefix`` and, unless ``keep_logs``, ``tmp``.

    Each step runs even if one before it failed: a run that breaks must not leave the next
    one a database or a Redis full of its rows.
    """
    for p in procs:
        with contextlib.suppress(Exception):
            p.stop(10.0)
    if db_url:
        from sqlalchemy import create_engine, text

        from fleet_bringup.cleanup import forget_tag

        engine = create_engine(db_url)
        ids = list(missions)
        try:
            with engine.begin() as conn:
                # Parts of a split before their parent (the parts may be submitted themselves).
                conn.execute(text("delete from missions where parent_id = any(:m)"), {"m": ids})
                conn.execute(text("delete from missions where id = any(:m) and "
                                  "parent_id is not null"), {"m": ids})
                conn.execute(text("delete from missions where id = any(:m)"), {"m": ids})
            forget_tag(engine, tag)
            print(f"cleanup: rows under {tag} deleted", flush=True)
        except Exception as exc:
            print(f"cleanup: rows under {tag} NOT deleted: {exc}", file=sys.stderr)
        finally:
            engine.dispose()
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(os.environ.get("FLEET_REDIS_URL",
                                                     "redis://127.0.0.1:6379/0"))
        keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i:i + 1000])
        client.close()
    if keep_logs:
        print(f"logs kept in {tmp / 'logs'}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def discovery_server_env(enabled: bool) -> Iterator[Any | None]:
    """With ``enabled``, run a Fast DDS discovery server on 127.0.0.1 (a free port) and make
    this process and every process it starts meanwhile a (plain) client of it; yield the
    server (``server.client_env(super_client=True)`` for a child that lists the graph's
    topics, as fleet_manager does), or None without. On exit the server is stopped and the
    environment restored: stop the children first.
    """
    if not enabled:
        yield None
        return
    from fleet_bringup.discovery import DiscoveryServer, environment

    with DiscoveryServer() as server, environment(server.client_env(super_client=False)):
        yield server
