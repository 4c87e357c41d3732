"""The Fast DDS Discovery Server as the fleet graph's discovery, on this machine only.

By default every ROS participant finds every other one itself (simple discovery: each
announces itself to each peer); with hundreds of vehicles' topics that is a lot of traffic
and time. With a discovery server, each participant is a *client* that talks only to the
server, which tells it about the endpoints it needs (v2: only those on topics it uses).

- The server is ``fast-discovery-server`` (shipped with Fast DDS, also in the ROS wheels),
  started here on 127.0.0.1 and a port of its own, with a profile (SERVER_PROFILE) that
  gives it one UDP transport allowed on 127.0.0.1 only: by default Fast DDS also opens
  sockets on 0.0.0.0 and on every interface's address. No server on another address is
  started or used.
- A node becomes its client through ``ROS_DISCOVERY_SERVER=127.0.0.1:<port>``, read by Fast
  DDS when a participant is created (in rclpy: the first node of a Context) — so it has to be
  in the environment before that, not after.
- A client only learns endpoints on topics it has readers or writers on. fleet_manager finds
  vehicles by listing the graph's topics (``get_topic_names_and_types``), as do the ros2 CLI
  and rviz's topic lists: those must be *super clients* (``ROS_SUPER_CLIENT=TRUE``), which
  learn everything. Without it fleet_manager never discovers a vehicle.
- ``ROS_AUTOMATIC_DISCOVERY_RANGE`` stays LOCALHOST: with it rmw_fastrtps keeps Fast DDS's
  simple discovery protocol (and its loopback-only peers), which is exactly the case in which
  Fast DDS replaces it by the client of ``ROS_DISCOVERY_SERVER``: the server variable wins.
  With OFF rmw_fastrtps limits the participant to itself and no discovery happens at all.

Free of rclpy, so that the launch files, the benchmarks and the tests share it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 11811  # Fast DDS's own default
SERVER_EXECUTABLE = "fast-discovery-server"
# `fastdds discovery -l A -p P` runs `fast-discovery-server 42 -l A -p P`: 42 is the tool's
# "run a server" command (tools/fastdds/discovery/parser.py). Run directly, there is one
# process to stop, not a Python wrapper around it.
_SERVE = "42"
_STARTED = "Server started"
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # Fast DDS colours its log lines
SERVER_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>loopback_udp</transport_id>
        <type>UDPv4</type>
        <interfaces><allowlist><interface name="127.0.0.1"/></allowlist></interfaces>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="fleet_discovery_server" is_default_profile="true">
      <rtps>
        <builtin>
          <discovery_config><discoveryProtocol>SERVER</discoveryProtocol></discovery_config>
        </builtin>
        <userTransports><transport_id>loopback_udp</transport_id></userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
"""The server's Fast DDS profile: UDPv4 on loopback only (no shared memory, no 0.0.0.0)."""
TRUE_SPELLINGS = frozenset({"1", "true", "yes", "on"})
FALSE_SPELLINGS = frozenset({"", "0", "false", "no", "off"})


class DiscoveryServerError(RuntimeError):
    """The discovery server cannot be found, started or used; the message says why."""


def server_executable() -> Path | None:
    """Return fast-discovery-server on PATH or beside this Python (the venv's bin), or None."""
    found = shutil.which(SERVER_EXECUTABLE)
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / SERVER_EXECUTABLE
    return beside if beside.is_file() and os.access(beside, os.X_OK) else None


def _library_dirs(executable: Path) -> list[str]:
    """Directories the server's shared libraries are in, when its own RPATH misses them.

    The PyPI wheels install the binary in <venv>/bin with an RPATH relative to a
    site-packages directory, so it does not find libfastdds (in <venv>/lib) nor the
    wheel-vendored tinyxml2/OpenSSL (in site-packages/ros_fastdds.libs) on its own.
    """
    prefix = executable.resolve().parent.parent
    dirs = [prefix / "lib"]
    dirs += sorted(prefix.glob("lib/python3*/site-packages/ros_fastdds.libs"))
    return [str(d) for d in dirs if d.is_dir()]


def server_library_env(executable: Path,
                       base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The LD_LIBRARY_PATH the server needs (over ``base``'s, os.environ's), or nothing."""
    dirs = _library_dirs(executable)
    inherited = (os.environ if base is None else base).get("LD_LIBRARY_PATH")
    if inherited:
        dirs.append(inherited)
    return {"LD_LIBRARY_PATH": os.pathsep.join(dirs)} if dirs else {}


def server_env(executable: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to run the server with: ``base`` (os.environ) and its libraries."""
    env = dict(os.environ if base is None else base)
    env.update(server_library_env(executable, env))
    return env


def check_port(port: int, *, allow_any: bool = False) -> int:
    """Return ``port`` if it is a UDP port (0, "any free one", only with ``allow_any``)."""
    low = 0 if allow_any else 1
    if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= 65535:
        raise DiscoveryServerError(f"discovery server port must be {low}..65535, got {port!r}")
    return port


def check_loopback(host: str) -> str:
    """Return ``host`` if it is a loopback address: the server never listens beyond it."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise DiscoveryServerError(f"discovery server address must be a loopback address such "
                                   f"as {LOOPBACK}, got {host!r}")
    return host


def write_server_profile(directory: Path) -> Path:
    """Write SERVER_PROFILE into ``directory``; return its path."""
    path = directory / "fleet_discovery_server.xml"
    path.write_text(SERVER_PROFILE)
    return path


def server_command(executable: Path, port: int, profile: Path,
                   host: str = LOOPBACK) -> list[str]:
    """The command line of a server listening on ``host:port`` (UDP), with the loopback-only
    transport of ``profile`` (write_server_profile)."""
    return [str(executable), _SERVE, "-x", str(profile), "-l", check_loopback(host),
            "-p", str(check_port(port))]


def client_env(port: int, *, super_client: bool, host: str = LOOPBACK) -> dict[str, str]:
    """The variables that make a node a client (``super_client``: one that learns the whole
    graph) of the server at ``host:port``, its discovery kept on this machine."""
    env = {"ROS_DISCOVERY_SERVER": f"{check_loopback(host)}:{check_port(port)}",
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    if super_client:
        env["ROS_SUPER_CLIENT"] = "TRUE"
    return env


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Read a true/false environment variable (1/0, true/false, yes/no, on/off; unset: false)."""
    value = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if value in TRUE_SPELLINGS:
        return True
    if value in FALSE_SPELLINGS:
        return False
    raise DiscoveryServerError(f"{name}={value!r} must be true or false (1/0, yes/no, on/off)")


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port nobody listens on at ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class DiscoveryServer:
    """A fast-discovery-server process on loopback, started and stopped by this process.

    ``port=0`` takes a free port. ``start`` returns once the server says it runs; ``stop``
    (also on leaving a ``with``) interrupts it as Ctrl-C would and waits for it.
    """

    def __init__(self, port: int = 0, host: str = LOOPBACK,
                 executable: Path | None = None) -> None:
        self.host = check_loopback(host)
        self.port = check_port(port, allow_any=True) or free_udp_port(host)
        found = executable or server_executable()
        if found is None:
            raise DiscoveryServerError(
                f"{SERVER_EXECUTABLE} not found on PATH nor in {Path(sys.executable).parent} "
                "(it comes with Fast DDS: the ROS 2 wheels of make setup, or ros-<distro>-"
                "fastrtps); run without the discovery server")
        self.executable = found
        self._proc: subprocess.Popen[str] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._output: list[str] = []
        self._started = threading.Event()

    @property
    def locator(self) -> str:
        """``host:port``, the value of ROS_DISCOVERY_SERVER for its clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def client_env(self, *, super_client: bool) -> dict[str, str]:
        """The variables that make a node a client of this server."""
        return client_env(self.port, super_client=super_client, host=self.host)

    def _read(self, stream: Iterator[str]) -> None:
        # Drained on a thread of its own: a full pipe would block the server.
        for line in stream:
            self._output.append(_COLOUR.sub("", line).rstrip())
            if _STARTED in line:
                self._started.set()

    def start(self, timeout: float = 10.0) -> DiscoveryServer:
        """Start the server; raise DiscoveryServerError if it has not started in ``timeout``."""
        if self._proc is not None:
            return self
        self._dir = tempfile.TemporaryDirectory(prefix="fleet-discovery-")
        profile = write_server_profile(Path(self._dir.name))
        try:
            self._proc = subprocess.Popen(
                server_command(self.executable, self.port, profile, self.host),
                env=server_env(self.executable), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                start_new_session=True)  # a terminal's Ctrl-C is ours to pass on, in order
        except OSError as exc:
            self._dir.cleanup()
            raise DiscoveryServerError(f"cannot run {self.executable}: {exc.strerror}") from None
        assert self._proc.stdout is not None
        threading.Thread(target=self._read, args=(self._proc.stdout,),
                         name=f"discovery-server-{self.port}", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._started.wait(0.05):
            code = self._proc.poll()
            if code is not None or time.monotonic() > deadline:
                self.stop()
                said = " / ".join(line for line in self._output if line.strip())
                raise DiscoveryServerError(
                    f"{SERVER_EXECUTABLE} on {self.locator} did not start"
                    + (f" (exit code {code})" if code is not None else f" within {timeout:g} s")
                    + (f": {said}" if said else ""))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and wait for it (killed if it outlives ``timeout``)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> DiscoveryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def environment(values: Mapping[str, str],
                environ: MutableMapping[str, str] | None = None) -> Iterator[None]:
    """Set ``values`` in ``environ`` (os.environ) for a while, then put back what was there."""
    target = os.environ if environ is None else environ
    before = {name: target.get(name) for name in values}
    target.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                target.pop(name, None)
            else:
                target[name] = old


@contextlib.contextmanager
def discovery_server(port: int = 0, *, super_client: bool = True) -> Iterator[DiscoveryServer]:
    """Run a server on loopback and make this process's participants created meanwhile (and
    the processes it starts) its clients; stop it and restore the environment on exit.

    ``super_client`` for a process whose participant has to see the whole graph (one that
    holds fleet_manager, or lists topics); the child processes that need not can be given
    ``server.client_env(super_client=False)`` over it.
    """
    with DiscoveryServer(port) as server, environment(server.client_env(
            super_client=super_client)):
        yield server
