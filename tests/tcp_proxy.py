"""A loopback TCP relay a test puts between a client and a server (PostgreSQL, Redis) to
break the path between them in the ways a network does.

- :meth:`TcpProxy.cut`: every open link is dropped and new connections are refused, as when
  the server vanishes.
- :meth:`TcpProxy.black_hole`: new connections are accepted and read from, and nothing is
  forwarded either way, on them or on the links that were open. TCP stays healthy (the
  proxy acknowledges everything, answers keepalives) and the server never sees a statement,
  so only the client's own reply deadline can end a wait. A link that swallowed bytes never
  forwards again (its protocol stream is broken), as a real hung path leaves a connection
  that only the client can give up.
- :meth:`TcpProxy.restore`: new connections forward again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class TcpProxy:
    """Relays every connection to its listener to 127.0.0.1:``target_port``.

    The listener is a new loopback socket on a free port unless ``listener`` is given (one
    made in another network namespace, say); :attr:`port` is its port.
    """

    def __init__(self, target_port: int = 5432, listener: socket.socket | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = listener if listener is not None else socket.create_server(
            ("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.up = threading.Event()  # cleared while cut
        self.up.set()
        self.forwarding = threading.Event()  # cleared while black-holed
        self.forwarding.set()
        self.stopped = threading.Event()
        self.swallowed = 0  # bytes received while black-holed and never forwarded
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"tcp-proxy-{self.port}",
                                        daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """Return ``url`` (of the server on 127.0.0.1:5432) pointed at this proxy instead."""
        return url.replace("127.0.0.1:5432", f"127.0.0.1:{self.port}")

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            links, self.links = self.links, []
        for s in links:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def black_hole(self) -> None:
        self.forwarding.clear()

    def restore(self) -> None:
        self.forwarding.set()
        self.up.set()

    def stop(self) -> None:
        self.stopped.set()
        self.cut()
        self.listener.close()
        self._thread.join(5.0)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # refused while cut: the client sees the server vanish
                continue
            server = None
            if self.forwarding.is_set():
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()  # the server is down: so is the path to it
                    continue
            with self.lock:
                self.links += [client] + ([server] if server else [])
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket | None) -> None:
        live = server is not None
        ends = [client] + ([server] if server else [])
        try:
            while self.up.is_set() and not self.stopped.is_set():
                readable, _, _ = select.select(ends, [], [], 0.05)
                # Once black-holed, a link stays so: its protocol stream lost bytes.
                live = live and self.forwarding.is_set()
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peer = server if s is client else client
                    if live and peer is not None:
                        peer.sendall(data)
                    else:
                        self.swallowed += len(data)
        except OSError:
            pass
        finally:
            for s in ends:
                with contextlib.suppress(OSError):
                    s.close()
