"""A minimal ZooKeeper client speaking the wire protocol directly (jute over TCP).

kazoo 2.11 has no ``add_watch``, so the persistent and persistent-recursive watch tests use this
to send ``addWatch`` (opcode 106) and ``removeWatches`` (18) and read the watcher events; the data
changes themselves are made with kazoo.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading

OP_PING = 11
OP_CLOSE = -11
OP_REMOVE_WATCHES = 18
OP_ADD_WATCH = 106

ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1

# WatcherType for removeWatches
WATCHER_ANY = 3

EVENT_NAMES = {
    1: "CREATED",
    2: "DELETED",
    3: "CHANGED",
    4: "CHILD",
    5: "DATA_WATCH_REMOVED",
    6: "CHILD_WATCH_REMOVED",
    7: "PERSISTENT_WATCH_REMOVED",
}


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


class RawClient:
    def __init__(self, host: str, port: int, timeout_ms: int = 10000):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
        self._send(body)
        resp = self._recv_frame()
        _proto, self.timeout_ms, self.session_id = struct.unpack(">iiq", resp[:16])
        self.xid = 0
        self.events: "queue.Queue[tuple[str, str]]" = queue.Queue()
        self.replies: "queue.Queue[tuple[int, int]]" = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._pinger = threading.Thread(target=self._ping_loop, daemon=True)
        self._pinger.start()

    def _send(self, payload: bytes):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            b = self.sock.recv(n - len(buf))
            if not b:
                raise ConnectionError("closed by server")
            buf += b
        return buf

    def _recv_frame(self) -> bytes:
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def _read_loop(self):
        self.sock.settimeout(None)
        try:
            while True:
                frame = self._recv_frame()
                xid, _zxid, err = struct.unpack(">iqi", frame[:16])
                if xid == -1:
                    etype, _state, plen = struct.unpack(">iii", frame[16:28])
                    path = frame[28 : 28 + plen].decode()
                    self.events.put((EVENT_NAMES.get(etype, str(etype)), path))
                elif xid == -2:
                    continue  # ping
                else:
                    self.replies.put((xid, err))
        except (OSError, ConnectionError, struct.error):
            pass

    def _ping_loop(self):
        import time

        while not self._closed:
            time.sleep(self.timeout_ms / 3000.0)
            if self._closed:
                return
            try:
                with self._lock:
                    self._send(struct.pack(">ii", -2, OP_PING))
            except OSError:
                return

    def request(self, op: int, body: bytes, timeout: float = 10.0) -> int:
        """Send one request and return its error code (0 = ok)."""
        with self._lock:
            self.xid += 1
            xid = self.xid
            self._send(struct.pack(">ii", xid, op) + body)
        got_xid, err = self.replies.get(timeout=timeout)
        assert got_xid == xid, f"reply for xid {got_xid}, expected {xid}"
        return err

    def add_watch(self, path: str, mode: int) -> int:
        return self.request(OP_ADD_WATCH, _string(path) + struct.pack(">i", mode))

    def remove_watches(self, path: str, watcher_type: int = WATCHER_ANY) -> int:
        return self.request(OP_REMOVE_WATCHES, _string(path) + struct.pack(">i", watcher_type))

    def next_event(self, timeout: float = 5.0):
        return self.events.get(timeout=timeout)

    def drain_events(self, wait: float = 0.3):
        out = []
        try:
            while True:
                out.append(self.events.get(timeout=wait))
        except queue.Empty:
            return out

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            with self._lock:
                self.xid += 1
                self._send(struct.pack(">ii", self.xid, OP_CLOSE))
            try:
                self.replies.get(timeout=2)
            except queue.Empty:
                pass
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
