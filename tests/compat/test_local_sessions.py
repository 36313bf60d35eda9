"""Local sessions (``localSessionsEnabled=true``) on a 3-server ensemble of the target, through
kazoo clients pinned to one follower each (found with ``srvr``'s Mode), so that which server a
session is local to is deterministic.

Both keys are zoo.cfg keys for ZooKeeper 3.8 too (QuorumPeerConfig reads ``localSessionsEnabled``
and ``localSessionsUpgradingEnabled``). ``localSessionsUpgradingEnabled`` defaults to false: the
first ensemble sets it to true, the second leaves it unset and gets the no-upgrading behaviour.

What Apache ZooKeeper 3.8 (Debian package) does, and what these tests hold the target to:

* A session opened on a follower is local to it (the leader does not know it). Its reads and
  persistent writes -- create, setData, delete, multi of those -- work and are seen by clients
  of the other servers after a sync. None of them upgrades the session: after any number of
  them it is still local (it cannot move to another server, below).
* An ephemeral create (plain, or inside a multi) from a local session first upgrades it to a
  global session, keeping its id; the node's ephemeralOwner is that id, every server shows the
  node, and closing the session removes it everywhere.
* Moving a session, its first connection cut without closeSession:
  - still local: another server (follower or leader) answers the reconnect (ConnectRequest
    with the session's id and password) with a ConnectResponse of timeout 0, session id 0 and
    a zero password, i.e. session expired, and closes the connection. kazoo (2.11) logs
    "Session has expired", drops the id and, within the same ``start()``, opens a new session
    there: ``start()`` returns, the client is CONNECTED, with a different session id. The
    session is not harmed by that: it can still be resumed on its own server.
  - upgraded (global): another server accepts it with the same id; its ephemeral node stays
    and goes away when the moved session is closed.
  - a local session resumes on the server it was made on (same id) after its connection drops.
* ``localSessionsUpgradingEnabled`` false (the default): an ephemeral create (sequential or
  not) from a local session fails with EphemeralOnLocalSession (-120). A multi with an
  ephemeral create fails too, but its result for that op is SessionExpired (-112): the leader
  rejects an ephemeral create of a session that is not global (checkGlobalSession), and for a
  multi that result, not the follower's -120, reaches the client. As for any failed multi, the
  ops before it get 0 (kazoo: RolledBackError), those after it RuntimeInconsistency (-2).
  Nothing is created; the session stays usable and local (it still cannot move); persistent
  writes work.
"""

import socket
import struct
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    EphemeralOnLocalSessionError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
)
from kazoo.protocol.states import KazooState

import zk
import multi_server
from multi_server import Member, wait_serving

# The longest session the test servers allow (20 ticks): a session whose connection was cut
# stays alive long enough for the reconnects below.
SESSION_TIMEOUT_S = 10.0
# For the test that waits out a session timeout.
SHORT_TIMEOUT_S = 4.0
CONVERGE_S = 20.0


def wait_until(what, predicate, timeout=CONVERGE_S):
    return multi_server.wait_until(what, predicate, timeout, interval=0.1)


def raw_reconnect(host, port, session_id, passwd, timeout_ms=int(SESSION_TIMEOUT_S * 1000)):
    """Send a ConnectRequest resuming (session_id, passwd); return the ConnectResponse's
    (timeout, session_id, passwd) and whether the server then closed the connection. The socket
    is closed without closeSession, so a resumed session stays alive."""
    body = struct.pack(">iqiqi", 0, 0, timeout_ms, session_id, len(passwd)) + passwd + b"\0"
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        (n,) = struct.unpack(">i", zk._recv_exact(s, 4))
        resp = zk._recv_exact(s, n)
        _proto, neg_timeout, sid, plen = struct.unpack(">iiqi", resp[:20])
        rpasswd = resp[20:20 + plen]
        s.settimeout(2)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
    return neg_timeout, sid, rpasswd, closed


def drop_connections(proxy):
    """Cut every connection through the proxy (the client sees its socket close, the server a
    closed connection, no closeSession); new connections through it still work."""
    with proxy._lock:
        socks, proxy._socks = proxy._socks, []
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


class Ensemble(multi_server.Ensemble):
    """Three members; ``start`` also notes which is the leader and which follow."""

    def __init__(self, extra):
        kind = zk.target_from_env()
        ports = {i: {"client": zk.free_port(), "peer": zk.free_port(),
                     "election": zk.free_port()} for i in (1, 2, 3)}
        super().__init__({i: Member(kind, i, ports, False, extra_cfg=extra) for i in (1, 2, 3)})
        self.proxies = []

    def start(self):
        super().start()
        modes = {i: m.mode() for i, m in self.members.items()}
        self.leader = next(i for i, mode in modes.items() if mode == "leader")
        self.followers = sorted(i for i, mode in modes.items() if mode == "follower")
        assert len(self.followers) == 2, modes

    def close_extra(self):
        for p in self.proxies:
            p.close()

    def addr(self, i):
        return self.members[i].server.host, self.members[i].server.port

    def hosts(self, i):
        return self.members[i].server.connect_string

    def proxy(self, i):
        p = zk.Proxy(*self.addr(i))
        self.proxies.append(p)
        return p

    def client(self, hosts, client_id=None, timeout=SESSION_TIMEOUT_S):
        """A started kazoo client; ``states`` records its state changes."""
        c = KazooClient(hosts=hosts, timeout=timeout, client_id=client_id,
                        connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5})
        c.states = []
        c.add_listener(c.states.append)
        c.start(timeout=30)
        self.clients.append(c)
        return c

    def on(self, i, **kw):
        return self.client(self.hosts(i), **kw)

    def others(self, i):
        """Clients on the other two servers."""
        return [self.on(j) for j in self.members if j != i]

    def seen_everywhere(self, path):
        """The node's (data, stat) on every server after a sync, asserted equal."""
        seen = []
        for i in self.members:
            c = self.on(i)
            c.sync(path)
            seen.append(c.get(path))
            self.close(c)
        assert all(x == seen[0] for x in seen), seen
        return seen[0]

    def gone_everywhere(self, path):
        for i in self.members:
            c = self.on(i)
            c.sync("/")
            assert c.exists(path) is None, (i, path)
            self.close(c)

def fresh():
    return "/ls-" + uuid.uuid4().hex[:12]


def assert_moves_as_expired(ens, session, to):
    """``session`` (id, password) is not accepted by server ``to``: the raw reconnect is
    answered as expired, and kazoo ends up CONNECTED with a new session there."""
    sid, passwd = session
    neg_timeout, new_sid, new_passwd, closed = raw_reconnect(*ens.addr(to), sid, passwd)
    assert (neg_timeout, new_sid, new_passwd) == (0, 0, b"\0" * 16), (neg_timeout, new_sid)
    assert closed
    moved = ens.on(to, client_id=session)
    assert moved.state == KazooState.CONNECTED
    assert moved.client_id[0] not in (0, sid), (hex(moved.client_id[0]), hex(sid))
    ens.close(moved)


def assert_resumes(ens, session, on, **kw):
    """``session`` is accepted by server ``on`` with its own id (kazoo client)."""
    c = ens.on(on, client_id=session, **kw)
    assert c.client_id[0] == session[0], (hex(c.client_id[0]), hex(session[0]))
    assert c.states == [KazooState.CONNECTED]
    c.exists("/")
    return c


def cut_off(ens, follower, **kw):
    """A client on ``follower`` through a proxy, and the proxy (close it to cut the client off
    without closing its session)."""
    p = ens.proxy(follower)
    return ens.client(p.connect_string, **kw), p


# --- localSessionsEnabled=true, localSessionsUpgradingEnabled=true ----------------------------


class TestLocalSessions:
    @pytest.fixture(scope="class")
    def ens(self):
        e = Ensemble({"localSessionsEnabled": "true", "localSessionsUpgradingEnabled": "true"})
        try:
            e.start()
            yield e
        finally:
            e.stop()

    def test_local_session_writes_are_seen_everywhere(self, ens):
        f = ens.followers[0]
        c = ens.on(f)
        base = fresh()
        assert c.create(base, b"v0") == base
        c.set(base, b"v1")
        assert c.get(base)[0] == b"v1"
        t = c.transaction()
        t.create(f"{base}/a", b"a")
        t.set_data(base, b"v2", version=1)
        t.create(f"{base}/b", b"b")
        t.check(f"{base}/a", 0)
        results = t.commit()
        assert results[0] == f"{base}/a" and results[2] == f"{base}/b", results
        assert results[1].version == 2 and results[3] is True, results
        c.delete(f"{base}/b")
        assert sorted(c.get_children(base)) == ["a"]
        data, stat = ens.seen_everywhere(base)
        assert data == b"v2" and stat.version == 2 and stat.numChildren == 1
        assert stat.ephemeralOwner == 0
        assert ens.seen_everywhere(f"{base}/a")[0] == b"a"
        for other in ens.others(f):
            other.sync(base)
            assert other.exists(f"{base}/b") is None
        c.delete(base, recursive=True)
        ens.gone_everywhere(base)

    def test_persistent_writes_keep_the_session_local(self, ens):
        f, g = ens.followers
        c, p = cut_off(ens, f)
        session = c.client_id
        base = fresh()
        c.create(base, b"")
        c.set(base, b"x")
        t = c.transaction()
        t.create(f"{base}/a", b"")
        t.set_data(base, b"y")
        t.commit()
        c.delete(f"{base}/a")
        c.create(f"{base}/seq-", b"", sequence=True)
        assert c.client_id == session
        p.close()  # the connection drops, the session stays
        assert_moves_as_expired(ens, session, g)
        assert_moves_as_expired(ens, session, ens.leader)
        # Still alive on its own server, and the same.
        back = assert_resumes(ens, session, f)
        assert back.get(base)[0] == b"y"
        ens.close(back)
        ens.close(c)
        ens.on(g).delete(base, recursive=True)

    def test_local_session_resumes_on_its_own_server(self, ens):
        f = ens.followers[0]
        p = ens.proxy(f)
        c = ens.client(p.connect_string)
        session = c.client_id
        base = fresh()
        c.create(base, b"1")
        drop_connections(p)
        wait_until("the client to reconnect",
                   lambda: c.states[-1] == KazooState.CONNECTED and len(c.states) >= 3)
        assert c.states == [KazooState.CONNECTED, KazooState.SUSPENDED, KazooState.CONNECTED]
        assert c.client_id == session
        c.set(base, b"2")
        assert ens.seen_everywhere(base)[0] == b"2"
        c.delete(base)

    def test_ephemeral_create_upgrades_the_session(self, ens):
        f = ens.followers[0]
        c = ens.on(f)
        sid = c.client_id[0]
        base = fresh()
        c.create(base, b"")
        c.create(f"{base}/e", b"eph", ephemeral=True)
        assert c.client_id[0] == sid  # upgraded in place, same id
        data, stat = ens.seen_everywhere(f"{base}/e")
        assert data == b"eph" and stat.ephemeralOwner == sid
        # Still a working session afterwards, persistent writes too.
        c.create(f"{base}/p", b"")
        c.create(f"{base}/e2-", b"", ephemeral=True, sequence=True)
        assert sorted(c.get_children(base))[:2] == ["e", "e2-0000000002"]
        ens.close(c)
        for i in ens.members:
            o = ens.on(i)
            o.sync(base)
            assert o.get_children(base) == ["p"], i
            ens.close(o)
        ens.on(f).delete(base, recursive=True)

    def test_ephemeral_create_in_multi_upgrades_the_session(self, ens):
        f = ens.followers[1]
        c = ens.on(f)
        sid = c.client_id[0]
        base = fresh()
        t = c.transaction()
        t.create(base, b"")
        t.create(f"{base}/e", b"", ephemeral=True)
        assert t.commit() == [base, f"{base}/e"]
        assert ens.seen_everywhere(f"{base}/e")[1].ephemeralOwner == sid
        ens.close(c)
        for i in ens.members:
            o = ens.on(i)
            o.sync(base)
            assert o.get_children(base) == [], i
            ens.close(o)
        ens.on(f).delete(base)

    def test_upgraded_session_moves_with_its_ephemeral(self, ens):
        f, g = ens.followers
        c, p = cut_off(ens, f, timeout=SHORT_TIMEOUT_S)
        session = c.client_id
        base = fresh()
        c.create(base, b"")
        c.create(f"{base}/e", b"", ephemeral=True)
        p.close()
        neg_timeout, sid, _, closed = raw_reconnect(*ens.addr(g), *session,
                                                    timeout_ms=int(SHORT_TIMEOUT_S * 1000))
        assert neg_timeout > 0 and sid == session[0] and not closed
        moved = assert_resumes(ens, session, g, timeout=SHORT_TIMEOUT_S)
        moved.sync(base)
        assert moved.exists(f"{base}/e").ephemeralOwner == session[0]
        # The old connection and its server do not end it: it outlives the session timeout.
        time.sleep(SHORT_TIMEOUT_S * 0.6)
        moved.exists("/")
        time.sleep(SHORT_TIMEOUT_S * 0.6)
        assert ens.seen_everywhere(f"{base}/e")[1].ephemeralOwner == session[0]
        moved.create(f"{base}/e2", b"", ephemeral=True)
        ens.close(moved)
        ens.close(c)
        for i in ens.members:
            o = ens.on(i)
            o.sync(base)
            assert o.get_children(base) == [], i
            ens.close(o)
        ens.on(g).delete(base)


# --- localSessionsEnabled=true, localSessionsUpgradingEnabled unset (false) -------------------


class TestLocalSessionsWithoutUpgrading:
    @pytest.fixture(scope="class")
    def ens(self):
        # Left unset: ZooKeeper 3.8's default is false.
        e = Ensemble({"localSessionsEnabled": "true"})
        try:
            e.start()
            yield e
        finally:
            e.stop()

    def test_ephemeral_create_fails(self, ens):
        f, g = ens.followers
        c, p = cut_off(ens, f)
        session = c.client_id
        base = fresh()
        c.create(base, b"")
        for kw in ({}, {"sequence": True}):
            with pytest.raises(EphemeralOnLocalSessionError) as err:
                c.create(f"{base}/e", b"", ephemeral=True, **kw)
            assert type(err.value) is EphemeralOnLocalSessionError and err.value.code == -120
        assert c.client_id == session
        # The session works on, persistent writes too, and nothing ephemeral was made.
        c.create(f"{base}/p", b"")
        c.set(base, b"x")
        assert c.get_children(base) == ["p"]
        for i in ens.members:
            o = ens.on(i)
            o.sync(base)
            assert o.get_children(base) == ["p"], i
            ens.close(o)
        # And it is still local.
        p.close()
        assert_moves_as_expired(ens, session, g)
        ens.close(c)
        ens.on(f).delete(base, recursive=True)

    def test_ephemeral_create_in_multi_fails(self, ens):
        f = ens.followers[1]
        c = ens.on(f)
        base = fresh()
        c.create(base, b"")
        t = c.transaction()
        t.create(f"{base}/e", b"", ephemeral=True)
        results = t.commit()
        assert len(results) == 1 and type(results[0]) is SessionExpiredError, results
        t = c.transaction()
        t.create(f"{base}/p", b"")
        t.create(f"{base}/e", b"", ephemeral=True)
        t.set_data(base, b"y")
        results = t.commit()
        assert [type(r) for r in results] == [RolledBackError, SessionExpiredError,
                                              RuntimeInconsistency], results
        assert [r.code for r in results] == [0, -112, -2]
        assert c.get_children(base) == []
        assert c.get(base)[0] == b""
        with pytest.raises(NoNodeError):
            c.get(f"{base}/p")
        c.create(f"{base}/q", b"")
        assert ens.seen_everywhere(base)[1].numChildren == 1
        c.delete(base, recursive=True)
