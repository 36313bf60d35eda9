"""A hostile or careless client cannot bloat the server or hold it forever: the regression tests
of the hardening issue, against a real Quorum server (skipped for other targets: they measure
the server process's memory).

Each test starts its own server, so what one does cannot hide what another finds.
"""

import os
import resource
import selectors
import socket
import struct
import time

import pytest
from kazoo.client import KazooClient

import zk

MIB = 1 << 20

pytestmark = pytest.mark.skipif(
    zk.target_from_env() != "quorum", reason="measures the Quorum server process"
)


@pytest.fixture
def server():
    srv = zk.QuorumServer(extra_cfg={"maxClientCnxns": 60}).start()
    try:
        yield srv
    finally:
        srv.stop()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def settled_rss(pid: int, seconds: float = 3.0) -> int:
    """The server's resident memory once it stopped growing for a moment."""
    last = rss_bytes(pid)
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.5)
        now = rss_bytes(pid)
        if abs(now - last) < MIB:
            return now
        last = now
    return last


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _frame(xid: int, op: int, body: bytes = b"") -> bytes:
    payload = struct.pack(">ii", xid, op) + body
    return struct.pack(">i", len(payload)) + payload


def raw_session(srv, source_ip: str = "127.0.0.1") -> socket.socket:
    """A socket with an established session, its ConnectResponse read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_ip, 0))
    s.settimeout(10)
    s.connect((srv.host, srv.port))
    body = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"
    s.sendall(struct.pack(">i", len(body)) + body)
    (n,) = struct.unpack(">i", _recv_exact(s, 4))
    _recv_exact(s, n)
    return s


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise ConnectionError("closed by the server")
        buf += b
    return buf


def kazoo(srv) -> KazooClient:
    c = KazooClient(hosts=srv.connect_string, timeout=10.0)
    c.start(timeout=15)
    return c


def test_unread_answers_to_big_reads_do_not_bloat_the_server(server):
    """1,000 pipelined getData of a 1 MB znode on a connection that never reads used to hold
    about 2 GB. Now the server holds about a megabyte of unwritten answers for it."""
    c = kazoo(server)
    c.create("/big", b"x" * 1_000_000)
    before = settled_rss(server.proc.pid)
    s = raw_session(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    get = b"".join(_frame(i, 4, _string("/big") + b"\0") for i in range(1, 1001))
    s.sendall(get)
    time.sleep(2)
    grown = settled_rss(server.proc.pid) - before
    print(f"\nRSS growth with 1,000 unread 1 MB answers: {grown / MIB:.1f} MiB")
    assert grown < 64 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
    assert c.get("/big")[1].dataLength == 1_000_000, "others are still served"
    s.close()
    c.stop()


def test_an_unread_recursive_watch_does_not_bloat_the_server(server):
    """A persistent recursive watch on / held by a client that never reads grew the server
    without limit (+277 MB over 100k writes): notifications bypassed every budget."""
    c = kazoo(server)
    c.create("/w", b"")
    s = raw_session(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(_frame(1, 106, _string("/") + struct.pack(">i", 1)))
    time.sleep(0.5)
    before = settled_rss(server.proc.pid)
    for _ in range(50):
        pending = [c.set_async("/w", b"v" * 100) for _ in range(1000)]
        for p in pending:
            p.get(timeout=30)
    grown = settled_rss(server.proc.pid) - before
    print(f"\nRSS growth with an unread recursive watch under 50,000 writes: {grown / MIB:.1f} MiB")
    assert grown < 64 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
    s.close()
    c.stop()


def test_connections_without_a_session_are_closed(server):
    """5,000 connections that never sent a ConnectRequest stayed open forever, until the server
    ran out of descriptors. ZooKeeper closes them after 10 s; so does Quorum, within 20 s."""
    raise_fd_limit()
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(3000):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.{10 + i // 50}.{1 + i % 50}", 0))
        s.connect((server.host, server.port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    open_at = time.time()
    open_ = set(socks)
    while open_ and time.time() - open_at < 20:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.fileobj.recv(16)
            except ConnectionResetError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                open_.discard(key.fileobj)
    took = time.time() - open_at
    print(f"\n3,000 idle connections closed after {took:.1f} s")
    for s in socks:
        s.close()
    assert not open_, f"{len(open_)} of 3,000 idle connections still open after 20 s"
    c = kazoo(server)
    assert c.exists("/") is not None
    c.stop()


def test_connections_from_one_address_are_limited(server):
    """maxClientCnxns was parsed and documented but not enforced."""
    held = [raw_session(server, "127.0.0.77") for _ in range(60)]
    with pytest.raises((ConnectionError, OSError)):
        raw_session(server, "127.0.0.77").recv(1)
    other = raw_session(server, "127.0.0.78")
    for s in held + [other]:
        s.close()


class LowDescriptorQuorum(zk.QuorumServer):
    """A Quorum server whose process may open only 400 files."""

    def command(self):
        return ["prlimit", "--nofile=400:400", *super().command()]


def test_running_out_of_descriptors_never_reaches_storage():
    """5,000 idle connections used to take every descriptor; the next snapshot's open() failed
    and the server exited (a fatal storage error caused by clients). Clients may now hold at most
    the open-files limit less what the server keeps for its own files, and the accept loop backs
    off instead of failing."""
    raise_fd_limit()
    srv = LowDescriptorQuorum(extra_cfg={"maxClientCnxns": 0, "snapCount": 100}).start()
    socks = []
    try:
        c = kazoo(srv)
        c.create("/fd", b"")
        for i in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((f"127.0.{40 + i // 50}.{1 + i % 50}", 0))
            try:
                s.connect((srv.host, srv.port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        # Writes enough for several snapshots while the idle connections are all there.
        for _ in range(5):
            pending = [c.set_async("/fd", b"v" * 100) for _ in range(100)]
            try:
                for p in pending:
                    p.get(timeout=10)
            except Exception as e:
                raise AssertionError(
                    f"writes failed ({e!r}); server alive: {srv.proc.poll() is None}\n"
                    f"{srv.log_tail()}"
                )
        time.sleep(1)
        assert srv.proc.poll() is None, f"the server stopped:\n{srv.log_tail()}"
        assert c.exists("/fd").version == 500
        snapshots = [n for n in os.listdir(srv.data_dir) if n.startswith("snapshot.")]
        assert snapshots, "no snapshot was written"
        c.stop()
    finally:
        for s in socks:
            s.close()
        srv.stop()
