"""Many requests of mixed kinds in flight on one session, as kazoo's async API, Curator and the
Java client send them, against the target under test (COMPAT_TARGET). kazoo checks that every
reply carries the xid it expects next, so an answer out of order is a lost connection here.

PIPELINE_SECONDS (default 60) sets how long the set/sync/set loop runs.
"""

import os
import random
import socket
import struct
import threading
import time

from kazoo.exceptions import NoNodeError, NodeExistsError, NotEmptyError
from kazoo.protocol.states import KazooState

import zk

LOOP_SECONDS = float(os.environ.get("PIPELINE_SECONDS", "60"))


def _watch_states(client):
    """Every connection state kazoo went through after now."""
    states = []
    client.add_listener(states.append)
    return states


def test_set_sync_set_pipelined(zkc, base, make_client):
    """kazoo looping set_async; sync_async; set_async crashed the server it talked to within a
    second (and, in an ensemble, each server it failed over to). The loop runs for a while with
    up to 64 rounds in flight; every answer must come, in order, on one connection."""
    path = base + "/p"
    zkc.create(path, b"0")
    states = _watch_states(zkc)
    deadline = time.time() + LOOP_SECONDS
    rounds = 0
    while time.time() < deadline:
        # One round at a time (waiting for its last answer), as the loop that crashed did...
        for _ in range(50):
            zkc.set_async(path, b"a")
            zkc.sync_async(path)
            zkc.set_async(path, b"b").get(timeout=30)
        rounds += 50
        # ...then 64 rounds in flight at once.
        pending = []
        for _ in range(64):
            pending.append(zkc.set_async(path, b"a"))
            pending.append(zkc.sync_async(path))
            pending.append(zkc.set_async(path, b"b"))
        for p in pending:
            p.get(timeout=30)
        rounds += 64
    assert states == [], f"the connection was lost: {states}"
    version = zkc.exists(path).version
    assert version == 2 * rounds, (version, rounds)
    fresh = make_client()
    assert fresh.get(path)[0] == b"b"


def test_mixed_pipeline_matches_a_sequential_model(zkc, base):
    """500 requests of every common kind in flight at once on one session, answered as a
    sequential execution would answer them (the model)."""
    rng = random.Random(7)
    names = [f"{base}/n{i}" for i in range(6)]
    model = {}  # path -> (data, version)
    sent = []
    for i in range(500):
        p = rng.choice(names)
        kind = rng.choice(["create", "set", "get", "exists", "delete", "sync", "children", "multi"])
        data = f"v{i}".encode()
        if kind == "create":
            sent.append((kind, p, zkc.create_async(p, data)))
            expected = NodeExistsError if p in model else p
            if p not in model:
                model[p] = (data, 0)
        elif kind == "set":
            sent.append((kind, p, zkc.set_async(p, data)))
            if p in model:
                model[p] = (data, model[p][1] + 1)
                expected = model[p][1]
            else:
                expected = NoNodeError
        elif kind == "get":
            sent.append((kind, p, zkc.get_async(p)))
            expected = model[p] if p in model else NoNodeError
        elif kind == "exists":
            sent.append((kind, p, zkc.exists_async(p)))
            expected = model[p][1] if p in model else None
        elif kind == "delete":
            sent.append((kind, p, zkc.delete_async(p)))
            expected = True if model.pop(p, None) is not None else NoNodeError
        elif kind == "sync":
            sent.append((kind, p, zkc.sync_async(base)))
            expected = base
        elif kind == "children":
            sent.append((kind, p, zkc.get_children_async(base)))
            expected = sorted(n.rsplit("/", 1)[1] for n in model)
        else:
            tx = zkc.transaction()
            tx.create(p + "-m", data)
            tx.delete(p + "-m")
            sent.append((kind, p, tx.commit_async()))
            expected = [p + "-m", True]
        sent[-1] = sent[-1] + (expected,)
    for i, (kind, p, pending, expected) in enumerate(sent):
        try:
            got = pending.get(timeout=30)
        except (NoNodeError, NodeExistsError, NotEmptyError) as e:
            got = type(e)
        if kind == "get" and isinstance(got, tuple):
            got = (got[0], got[1].version)
        elif kind == "set" and not isinstance(got, type):
            got = got.version
        elif kind == "exists":
            got = got.version if got is not None else None
        elif kind == "children":
            got = sorted(got)
        assert got == expected, f"request {i} ({kind} {p}): {got!r}, expected {expected!r}"
    assert zkc.state == KazooState.CONNECTED


def _raw_connect(target, timeout_ms=10000):
    s = socket.create_connection((target.host, target.port), timeout=10)
    body = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
    return s, struct.pack(">i", len(body)) + body


def _frame(xid, op, body=b""):
    payload = struct.pack(">ii", xid, op) + body
    return struct.pack(">i", len(payload)) + payload


def _string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _read_frames(s, until_closed=True, limit=50):
    """Reply frames (xid, err) until the server closes (or `limit` frames)."""
    out = []
    buf = b""
    s.settimeout(10)
    while len(out) < limit:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        buf += b
        while len(buf) >= 4:
            (n,) = struct.unpack(">i", buf[:4])
            if len(buf) < 4 + n:
                break
            frame, buf = buf[4 : 4 + n], buf[4 + n :]
            out.append(frame)
    return out


def test_requests_sent_with_the_connect_request_are_answered(target):
    """Requests sent right after the ConnectRequest, before its answer, used to close the
    connection silently; ZooKeeper queues them until the session exists."""
    s, connect = _raw_connect(target)
    with s:
        exists = _frame(1, 3, _string("/") + b"\0")
        close = _frame(2, -11)
        s.sendall(connect + exists + close)
        frames = _read_frames(s)
    assert len(frames) == 3, frames
    _proto, timeout, session = struct.unpack(">iiq", frames[0][:16])
    assert session != 0 and timeout > 0
    replies = [struct.unpack(">iqi", f[:16]) for f in frames[1:]]
    assert [(xid, err) for xid, _, err in replies] == [(1, 0), (2, 0)]


def test_close_session_answer_arrives_with_requests_pipelined_after_it(target):
    """The answer to closeSession used to be lost when anything was pipelined after it."""
    s, connect = _raw_connect(target)
    with s:
        s.sendall(connect)
        first = _read_frames(s, limit=1)
        assert len(first) == 1
        close = _frame(5, -11)
        exists = _frame(6, 3, _string("/") + b"\0")
        s.sendall(close + exists + exists)
        frames = _read_frames(s)
    xids = [struct.unpack(">iqi", f[:16])[0] for f in frames]
    assert xids[:1] == [5], f"no closeSession answer: {xids}"
    assert all(x != 6 or i > 0 for i, x in enumerate(xids))


def test_a_reused_xid_is_answered_every_time(target, base):
    """A duplicate xid on one connection used to stall it forever."""
    s, connect = _raw_connect(target)
    with s:
        s.sendall(connect)
        assert len(_read_frames(s, limit=1)) == 1
        create = lambda name: _frame(  # noqa: E731
            9,
            1,
            _string(f"{base}/{name}") + struct.pack(">i", 0) + struct.pack(">i", 1)
            + struct.pack(">i", 31) + _string("world") + _string("anyone") + struct.pack(">i", 0),
        )
        s.sendall(create("x") + create("y") + _frame(10, 11))
        frames = _read_frames(s, limit=3)
    replies = [struct.unpack(">iqi", f[:16]) for f in frames]
    # ZooKeeper answers a ping with the ping xid, -2, whatever the request carried.
    assert [(xid, err) for xid, _, err in replies] == [(9, 0), (9, 0), (-2, 0)], replies
