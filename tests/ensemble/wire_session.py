"""A ZooKeeper session that moves between servers the way the Java and C clients do.

kazoo drops every watch when its connection is lost (it fires EventType.NONE and never sends
SetWatches), so it cannot show that a server keeps a session's watches across a reconnect.
``Session`` speaks the wire protocol (framing and constants from tests/compat/rawzk.py): it
opens a session, remembers its id, password and the last zxid it has seen, and ``reconnect``
resumes the same session on another server and re-registers its data watches with SetWatches
(opcode 101, xid -8, relative to the last zxid seen), as the Java client does.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time

import rawzk

OP_CREATE = 1
OP_GET_DATA = 4
OP_SET_WATCHES = 101
XID_SET_WATCHES = -8
EPHEMERAL = 1
OPEN_ACL = struct.pack(">ii", 1, 31) + rawzk._string("world") + rawzk._string("anyone")


class SessionExpired(Exception):
    pass


class Session:
    def __init__(self, timeout_ms: int = 4000):
        self.timeout_ms = timeout_ms
        self.session_id = 0
        self.passwd = b"\0" * 16
        self.last_zxid = 0
        self.data_watches: set[str] = set()
        self.events: "queue.Queue[tuple[str, str]]" = queue.Queue()
        self.sock: socket.socket | None = None
        self._replies: "queue.Queue[tuple[int, int, bytes]]" = queue.Queue()
        self._lock = threading.Lock()
        self._xid = 0
        self._gen = 0
        self.connected = False

    # ------------------------------------------------------------------ connection

    def connect(self, host: str, port: int, timeout: float = 2.0):
        """Open (or resume) the session on host:port; raises OSError if the server does not
        answer, SessionExpired if it says the session is gone."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = (
            struct.pack(">iqiq", 0, self.last_zxid, self.timeout_ms, self.session_id)
            + struct.pack(">i", len(self.passwd))
            + self.passwd
            + b"\0"
        )
        try:
            sock.sendall(struct.pack(">i", len(req)) + req)
            resp = self._frame(sock)
        except (OSError, ConnectionError) as e:
            sock.close()
            raise OSError(f"no session from {host}:{port}: {e}") from e
        _proto, neg_timeout, sid = struct.unpack(">iiq", resp[:16])
        (plen,) = struct.unpack(">i", resp[16:20])
        if neg_timeout <= 0:
            sock.close()
            raise SessionExpired(hex(self.session_id))
        self.session_id, self.passwd, self.timeout_ms = sid, resp[20 : 20 + plen], neg_timeout
        self._gen += 1
        self.sock = sock
        self.connected = True
        self._replies = queue.Queue()
        gen = self._gen
        threading.Thread(target=self._read_loop, args=(sock, gen), daemon=True).start()
        threading.Thread(target=self._ping_loop, args=(sock, gen), daemon=True).start()
        if self.data_watches:
            body = struct.pack(">q", self.last_zxid)
            body += struct.pack(">i", len(self.data_watches))
            body += b"".join(rawzk._string(p) for p in sorted(self.data_watches))
            body += struct.pack(">ii", 0, 0)  # exist watches, child watches
            with self._lock:
                self._send(struct.pack(">ii", XID_SET_WATCHES, OP_SET_WATCHES) + body)
            xid, err, _ = self._replies.get(timeout=5)
            assert (xid, err) == (XID_SET_WATCHES, 0), (xid, err)

    def reconnect(self, servers, within: float) -> float:
        """Resume the session on the first of ``servers`` [(host, port)] that takes it, trying
        for ``within`` seconds; returns the time it took."""
        t0 = time.time()
        self.drop()
        while True:
            for host, port in servers:
                try:
                    self.connect(host, port, timeout=0.5)
                    return time.time() - t0
                except OSError:
                    pass
            if time.time() - t0 > within:
                raise TimeoutError(f"session {self.session_id:#x} not resumed within {within}s")
            time.sleep(0.05)

    def stay_connected(self, servers, until: float) -> int:
        """Until time ``until``, resume the session whenever its connection drops (a server
        that accepted it may close it when it finds the leader gone); returns how many times
        it reconnected."""
        n = 0
        while time.time() < until:
            if not self.connected:
                self.reconnect(servers, within=max(0.1, until - time.time()))
                n += 1
            time.sleep(0.05)
        return n

    def drop(self):
        """Forget the current connection without closing the session."""
        self.connected = False
        self._gen += 1
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def close(self):
        if self.sock is not None:
            try:
                self.request(-11, b"", timeout=2)
            except Exception:
                pass
        self.drop()

    # ------------------------------------------------------------------ wire

    @staticmethod
    def _frame(sock) -> bytes:
        def exact(n):
            buf = b""
            while len(buf) < n:
                b = sock.recv(n - len(buf))
                if not b:
                    raise ConnectionError("closed by server")
                buf += b
            return buf

        (n,) = struct.unpack(">i", exact(4))
        return exact(n)

    def _send(self, payload: bytes):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _read_loop(self, sock, gen):
        sock.settimeout(None)
        try:
            while gen == self._gen:
                frame = self._frame(sock)
                xid, zxid, err = struct.unpack(">iqi", frame[:16])
                if xid == -1:
                    etype, _state, plen = struct.unpack(">iii", frame[16:28])
                    path = frame[28 : 28 + plen].decode()
                    self.data_watches.discard(path)
                    self.events.put((rawzk.EVENT_NAMES.get(etype, str(etype)), path))
                    continue
                if zxid > 0:
                    self.last_zxid = max(self.last_zxid, zxid)
                if xid == -2:
                    continue
                self._replies.put((xid, err, frame[16:]))
        except (OSError, ConnectionError, struct.error):
            pass
        if gen == self._gen:
            self.connected = False

    def _ping_loop(self, sock, gen):
        while gen == self._gen:
            time.sleep(self.timeout_ms / 3000.0)
            if gen != self._gen:
                return
            try:
                with self._lock:
                    sock.sendall(struct.pack(">iii", 8, -2, rawzk.OP_PING))
            except OSError:
                return

    def request(self, op: int, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
        with self._lock:
            self._xid += 1
            xid = self._xid
            self._send(struct.pack(">ii", xid, op) + body)
        got, err, payload = self._replies.get(timeout=timeout)
        assert got == xid, f"reply for xid {got}, expected {xid}"
        return err, payload

    # ------------------------------------------------------------------ operations

    def create(self, path: str, data: bytes, ephemeral: bool = False) -> int:
        body = rawzk._string(path) + struct.pack(">i", len(data)) + data + OPEN_ACL
        body += struct.pack(">i", EPHEMERAL if ephemeral else 0)
        return self.request(OP_CREATE, body)[0]

    def get_data(self, path: str, watch: bool = False) -> tuple[int, bytes]:
        err, payload = self.request(OP_GET_DATA, rawzk._string(path) + (b"\1" if watch else b"\0"))
        if err:
            return err, b""
        if watch:
            self.data_watches.add(path)
        (n,) = struct.unpack(">i", payload[:4])
        return 0, payload[4 : 4 + max(n, 0)]

    def next_event(self, timeout: float = 5.0):
        return self.events.get(timeout=timeout)
