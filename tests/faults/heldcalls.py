"""gRPC calls held open over raw HTTP/2, as a process with no SVID can hold them.

Each connection opens ``per_connection`` calls: HEADERS only (the request message never
comes), or HEADERS and one message (a stream the server then keeps open, like health
``Watch``). Whenever the daemon ends one, a replacement is opened at the next top-up, so the
count stays up for as long as the context is held. Server PINGs and SETTINGS are
acknowledged as a real client would.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from pathlib import Path
from typing import Self

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"
"""One gRPC message frame holding an empty protobuf (every field at its default)."""


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def _literal(name: str, value: str) -> bytes:
    """HPACK literal field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def _headers(method: str) -> bytes:
    fields = (
        (":method", "POST"),
        (":scheme", "http"),
        (":path", method),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    )
    return b"".join(_literal(name, value) for name, value in fields)


class _Connection:
    def __init__(self, path: Path, method: str, calls: int, message: bool) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self._block = _headers(method)
        self._calls, self._message = calls, message
        self._next_id = 1
        self._open: set[int] = set()
        self._write = threading.Lock()
        self.ended: Counter[str] = Counter()
        self.sock.sendall(PREFACE + _frame(SETTINGS, 0, 0))
        self.top_up()

    def top_up(self) -> None:
        with self._write:
            frames = b""
            while len(self._open) < self._calls:
                stream, self._next_id = self._next_id, self._next_id + 2
                self._open.add(stream)
                frames += _frame(HEADERS, END_HEADERS, stream, self._block)
                if self._message:
                    frames += _frame(DATA, END_STREAM, stream, EMPTY_MESSAGE)
            if frames:
                self.sock.sendall(frames)

    def held(self) -> int:
        with self._write:
            return len(self._open)

    def read(self) -> None:
        """Until the connection closes: note ended calls, acknowledge what must be."""
        try:
            while True:
                head = self._exactly(9)
                length = int.from_bytes(head[:3], "big")
                kind, flags = head[3], head[4]
                stream = struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
                payload = self._exactly(length)
                if kind == SETTINGS and not flags & ACK:
                    self._send(_frame(SETTINGS, ACK, 0))
                elif kind == PING and not flags & ACK:
                    self._send(_frame(PING, ACK, 0, payload))
                elif kind == GOAWAY:
                    self.ended["goaway"] += 1
                elif (kind == HEADERS and flags & END_STREAM) or kind == RST_STREAM:
                    self._end(stream, "reset" if kind == RST_STREAM else "ended")
        except OSError:
            return

    def _end(self, stream: int, how: str) -> None:
        with self._write:
            if stream in self._open:
                self._open.discard(stream)
                self.ended[how] += 1

    def _send(self, data: bytes) -> None:
        with self._write:
            self.sock.sendall(data)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionResetError("closed by the daemon")
            data += chunk
        return data


class HeldCalls:
    """``connections`` raw connections to ``path``, each holding ``per_connection`` calls."""

    def __init__(
        self,
        path: Path,
        method: str,
        *,
        connections: int,
        per_connection: int,
        message: bool = False,
    ) -> None:
        self._args = (path, method, per_connection, message)
        self._count = connections
        self._connections: list[_Connection] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        try:
            for _ in range(self._count):
                self._connections.append(_Connection(*self._args))
        except BaseException:
            self.__exit__()
            raise
        self._threads = [
            threading.Thread(target=c.read, name="held-reader", daemon=True)
            for c in self._connections
        ]
        self._threads.append(threading.Thread(target=self._top_up, name="held-top-up", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for connection in self._connections:
            connection.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def held(self) -> int:
        """Calls opened and not yet ended by the daemon."""
        return sum(c.held() for c in self._connections)

    def ended(self) -> Counter[str]:
        """How the daemon ended calls so far: ``ended`` (trailers), ``reset``, ``goaway``."""
        return sum((Counter(c.ended) for c in self._connections), Counter())

    def _top_up(self) -> None:
        """Replace ended calls five times a second: an attacker's pace, not a handshake."""
        while not self._stop.wait(0.2):
            for connection in self._connections:
                try:
                    connection.top_up()
                except OSError:
                    continue
