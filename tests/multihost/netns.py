"""Hosts on this machine: network namespaces joined by veth pairs, and relays from a
namespace's own loopback to services on the root namespace's 127.0.0.1.

Nothing here reaches beyond the machine: the namespaces get private 10.213.x.0/24 addresses
and no default route, and every veth has both ends in namespaces this module created. All of
it is torn down by ``Hosts.close`` (namespaces, which take their veth ends with them, relays,
and the processes started in them).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from tests.tcp_proxy import TcpProxy

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
# The multicast block: Fast DDS announces participants to 239.255.0.1, and a namespace
# without a default route has no route to it unless given one.
MULTICAST = "224.0.0.0/4"


class NetnsUnavailableError(Exception):
    """Namespaces cannot be made here; the message says why (the test skips with it)."""


def _ip(*args: str) -> None:
    """Run ``ip args``; raise RuntimeError with its message when it fails."""
    done = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


def check_available() -> None:
    """Raise NetnsUnavailableError unless this process can create network namespaces."""
    if os.geteuid() != 0:
        raise NetnsUnavailableError("network namespaces need root (run as uid 0)")
    if shutil.which("ip") is None:
        raise NetnsUnavailableError("no `ip` command (Debian's iproute2)")
    probe = f"mhprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except RuntimeError as exc:
        raise NetnsUnavailableError(f"`ip netns add` fails here: {exc}") from None
    with contextlib.suppress(RuntimeError):
        _ip("netns", "del", probe)


@contextlib.contextmanager
def _in_namespace(name: str) -> Iterator[None]:
    """Move the calling thread (only it: the network namespace is per thread) into ``name``
    for the duration of the block."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:  # a thread stuck elsewhere is a bug
                err = ctypes.get_errno()
                raise OSError(err, f"setns back to the root namespace: {os.strerror(err)}")
    finally:
        os.close(home)
        os.close(target)


class Relay(TcpProxy):
    """Listens on 127.0.0.1:``port`` inside a namespace and relays every connection to
    127.0.0.1:``port`` of the root namespace (PostgreSQL, Redis).

    The listening socket is made by a thread that enters the namespace and leaves again:
    a socket stays in the namespace it was made in, so the relay's own threads connect out
    from the root namespace. PostgreSQL sees the relay as a loopback client, so neither
    listen_addresses nor pg_hba.conf need changing.
    """

    def __init__(self, namespace: str, port: int) -> None:
        made: list[socket.socket | BaseException] = []

        def make() -> None:
            try:
                with _in_namespace(namespace):
                    made.append(socket.create_server(("127.0.0.1", port)))
            except BaseException as exc:
                made.append(exc)

        maker = threading.Thread(target=make, name=f"relay-make-{port}")
        maker.start()
        maker.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        super().__init__(port, listener=made[0])

    def close(self) -> None:
        self.stop()


@dataclass
class Link:
    """A veth pair between two namespaces: ``a_dev`` (``a_addr``) in ``a``, ``b_dev`` in ``b``."""

    a: str
    a_dev: str
    a_addr: str
    b: str
    b_dev: str
    b_addr: str
    multicast: bool  # DDS discovery runs over it: both ends route the multicast block here

    def cut(self) -> None:
        """Take ``a``'s end down: ``b``'s end loses its carrier, nothing crosses."""
        _ip("-n", self.a, "link", "set", self.a_dev, "down")

    def restore(self) -> None:
        """Bring ``a``'s end up again, with the multicast route that going down removed."""
        _ip("-n", self.a, "link", "set", self.a_dev, "up")
        if self.multicast:
            _ip("-n", self.a, "route", "replace", MULTICAST, "dev", self.a_dev)


@dataclass
class Hosts:
    """Namespaces named ``<prefix><host>``, their links, relays and processes."""

    prefix: str
    log_dir: Path
    namespaces: list[str] = field(default_factory=list)
    links: dict[tuple[str, str], Link] = field(default_factory=dict)
    relays: list[Relay] = field(default_factory=list)
    procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run first by close

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def add_host(self, host: str) -> str:
        name = self.ns(host)
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def connect(self, a: str, b: str, subnet: int, *, multicast: bool = False) -> Link:
        """Join hosts ``a`` (.1) and ``b`` (.2) with a veth pair on 10.213.<subnet>.0/24."""
        a_dev, b_dev = f"{self.prefix}{a}{b}", f"{self.prefix}{b}{a}"
        # Made in a's namespace directly: no end ever appears in the root namespace.
        _ip("-n", self.ns(a), "link", "add", a_dev, "type", "veth", "peer", "name", b_dev,
            "netns", self.ns(b))
        link = Link(self.ns(a), a_dev, f"10.213.{subnet}.1", self.ns(b), b_dev,
                    f"10.213.{subnet}.2", multicast)
        for ns, dev, addr in ((link.a, a_dev, link.a_addr), (link.b, b_dev, link.b_addr)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            if multicast:
                _ip("-n", ns, "route", "add", MULTICAST, "dev", dev)
        self.links[(a, b)] = link
        return link

    def relay(self, host: str, port: int) -> Relay:
        """Make the root namespace's 127.0.0.1:``port`` reachable on ``host``'s loopback."""
        r = Relay(self.ns(host), port)
        self.relays.append(r)
        return r

    def start(self, host: str, name: str, argv: Sequence[str], env: Mapping[str, str],
              cwd: Path) -> subprocess.Popen[bytes]:
        """Start ``argv`` on ``host`` with the environment ``env``; its output goes to
        ``<log_dir>/<name>.log``."""
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop
        # `ip netns exec` execs the command: the pid is the node's own.
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(host), *argv], env=dict(env),
                                stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
        """SIGINT ``proc`` (a node's clean stop: the recorder flushes), then SIGKILL its
        process group past ``timeout``; return its exit code."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5.0)
        for entry in list(self.procs):
            if entry[1] is proc:
                entry[2].close()
                self.procs.remove(entry)
        return proc.returncode

    def log(self, name: str) -> str:
        """The tail of a process's output, for a failure message."""
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-3000:]

    def close(self) -> None:
        """Stop every process, every relay, and delete every namespace (their veths go with
        them); keep going past errors and raise the first at the end."""
        errors: list[BaseException] = []
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except BaseException as exc:
                errors.append(exc)
        self.cleanups.clear()
        for _name, proc, _log in list(reversed(self.procs)):
            try:
                self.stop(proc, timeout=10.0)
            except BaseException as exc:
                errors.append(exc)
        for r in self.relays:
            try:
                r.close()
            except BaseException as exc:
                errors.append(exc)
        self.relays.clear()
        for ns in reversed(self.namespaces):
            try:
                _ip("netns", "del", ns)
            except BaseException as exc:
                errors.append(exc)
        self.namespaces.clear()
        if errors:
            raise errors[0]


def prefix_of_this_process() -> str:
    """``mh<pid>``: namespaces and veths of this process (a veth name fits 15 characters)."""
    return f"mh{os.getpid()}"


def sweep_stale() -> list[str]:
    """Delete the namespaces a killed test run left (``mh<pid><host>`` whose pid is gone),
    after killing what still runs in them; return their names."""
    listed = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True,
                            text=True, timeout=10).stdout
    swept = []
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(r"mh(\d+)[a-z]", name)
        if m is None or Path(f"/proc/{m.group(1)}").exists():
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], check=False, capture_output=True,
                              text=True, timeout=10).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        with contextlib.suppress(RuntimeError):
            _ip("netns", "del", name)
        swept.append(name)
    return swept


@contextlib.contextmanager
def hosts(prefix: str, log_dir: Path) -> Iterator[Hosts]:
    """Yield an empty Hosts and tear down whatever was built in it, however the block ends."""
    sweep_stale()
    h = Hosts(prefix, log_dir)
    try:
        yield h
    finally:
        h.close()


def in_host(h: Hosts, host: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a thread inside ``host``'s namespace (its sockets are that host's) and
    return what it returns, or raise what it raised."""
    out: list[T] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            with _in_namespace(h.ns(host)):
                out.append(fn())
        except BaseException as exc:
            err.append(exc)

    t = threading.Thread(target=run, name=f"in-{host}")
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]
