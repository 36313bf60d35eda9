"""kazoo (unmodified, from PyPI) against the target under test (COMPAT_TARGET).

Every test asserts concrete values: data, Stat fields, event types and paths, error classes.
"""

import threading
import time

import pytest
from kazoo.exceptions import (
    BadVersionError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.party import Party, ShallowParty
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_digest_acl,
    make_digest_acl_credential,
)

import kzext
import rawzk
import zk


class Events:
    """Collects watcher callbacks; wait_for blocks until n events have arrived."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append((event.type, event.path))
            self.cond.notify_all()

    def wait_for(self, n, timeout=10.0):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.events) < n:
                left = deadline - time.time()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.events)


def settle(client):
    """Round trip on this connection, so notifications sent before it have been read."""
    client.sync("/")
    time.sleep(0.2)


# ---------------------------------------------------------------- CRUD


def test_crud(zkc, base):
    p = base + "/node"
    assert zkc.create(p, b"hello") == p
    data, stat = zkc.get(p)
    assert data == b"hello"
    assert stat.version == 0 and stat.dataLength == 5

    with pytest.raises(NodeExistsError):
        zkc.create(p, b"again")
    with pytest.raises(NoNodeError):
        zkc.create(base + "/missing/child", b"")
    with pytest.raises(NoNodeError):
        zkc.get(base + "/nope")
    assert zkc.exists(base + "/nope") is None

    stat = zkc.set(p, b"world")
    assert stat.version == 1 and stat.dataLength == 5
    with pytest.raises(BadVersionError):
        zkc.set(p, b"x", version=0)
    stat = zkc.set(p, b"", version=1)
    assert stat.version == 2 and stat.dataLength == 0
    assert zkc.get(p)[0] == b""

    zkc.create(p + "/c", b"")
    with pytest.raises(NotEmptyError):
        zkc.delete(p)
    with pytest.raises(BadVersionError):
        zkc.delete(p + "/c", version=5)
    zkc.delete(p + "/c", version=0)
    zkc.delete(p)
    assert zkc.exists(p) is None
    with pytest.raises(NoNodeError):
        zkc.delete(p)
    with pytest.raises(NoNodeError):
        zkc.set(p, b"x")

    # Large value (just under 1 MiB's default limit is not needed; 100 KiB round-trips).
    big = bytes(range(256)) * 400
    zkc.create(p, big)
    assert zkc.get(p)[0] == big

    # ensure_path / makepath and children listing
    zkc.create(base + "/x/y/z", b"deep", makepath=True)
    assert zkc.get(base + "/x/y/z")[0] == b"deep"
    assert sorted(zkc.get_children(base)) == ["node", "x"]
    children, stat = zkc.get_children(base, include_data=True)
    assert sorted(children) == ["node", "x"] and stat.numChildren == 2


def test_root_and_zookeeper_nodes(zkc):
    assert "zookeeper" in zkc.get_children("/")
    assert sorted(zkc.get_children("/zookeeper")) == ["config", "quota"]
    _, stat = zkc.get("/")
    assert stat.numChildren >= 1 and stat.ephemeralOwner == 0


# ---------------------------------------------------------------- Stat


def test_stat_fields(zkc, base, make_client):
    p = base + "/s"
    before_ms = int(time.time() * 1000)
    path, st = zkc.create(p, b"abc", include_data=True)
    after_ms = int(time.time() * 1000)
    assert path == p
    assert st.czxid == st.mzxid == st.pzxid and st.czxid > 0
    assert st.ctime == st.mtime
    assert before_ms - 5000 <= st.ctime <= after_ms + 5000
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert st.ephemeralOwner == 0
    assert st.dataLength == 3 and st.numChildren == 0
    assert zkc.exists(p) == st
    assert zkc.get(p)[1] == st

    # setData: version and mzxid/mtime move, the rest stays.
    st2 = zkc.set(p, b"abcdef")
    assert st2.version == 1 and st2.dataLength == 6
    assert st2.mzxid > st.mzxid and st2.czxid == st.czxid and st2.pzxid == st.pzxid
    assert st2.mtime >= st.mtime and st2.ctime == st.ctime
    assert (st2.cversion, st2.aversion) == (0, 0)

    # A child: parent's cversion, numChildren and pzxid move; version and mzxid do not.
    _, cst = zkc.create(p + "/c1", b"", include_data=True)
    pst = zkc.exists(p)
    assert pst.cversion == 1 and pst.numChildren == 1
    assert pst.pzxid == cst.czxid
    assert pst.version == 1 and pst.mzxid == st2.mzxid
    zkc.delete(p + "/c1")
    pst2 = zkc.exists(p)
    assert pst2.cversion == 2 and pst2.numChildren == 0 and pst2.pzxid > pst.pzxid

    # setACL: aversion.
    st3 = zkc.set_acls(p, READ_ACL_UNSAFE + [ACL(Permissions.ALL, Id("world", "anyone"))])
    assert st3.aversion == 1 and st3.version == 1 and st3.mzxid == st2.mzxid
    assert zkc.exists(p).aversion == 1

    # Ephemeral: ephemeralOwner is the creating session.
    other = make_client()
    _, est = other.create(p + "/eph", b"e", ephemeral=True, include_data=True)
    assert est.ephemeralOwner == other.client_id[0] != 0
    assert zkc.exists(p + "/eph").ephemeralOwner == other.client_id[0]


# ---------------------------------------------------------------- one-shot watches


def test_data_watch_one_shot(zkc, base, make_client):
    p = base + "/w"
    zkc.create(p, b"0")
    ev = Events()
    zkc.get(p, watch=ev)
    writer = make_client()
    writer.set(p, b"1")
    writer.set(p, b"2")  # the watch is gone after the first event
    assert ev.wait_for(1) == [(EventType.CHANGED, p)]
    settle(zkc)
    assert ev.events == [(EventType.CHANGED, p)]

    # exists watch on a missing node fires CREATED; get watch fires DELETED.
    q = base + "/later"
    ev2 = Events()
    assert zkc.exists(q, watch=ev2) is None
    writer.create(q, b"")
    assert ev2.wait_for(1) == [(EventType.CREATED, q)]
    ev3 = Events()
    zkc.get(q, watch=ev3)
    writer.delete(q)
    assert ev3.wait_for(1) == [(EventType.DELETED, q)]
    settle(zkc)
    assert ev2.events == [(EventType.CREATED, q)] and ev3.events == [(EventType.DELETED, q)]


def test_child_watch_one_shot(zkc, base, make_client):
    ev = Events()
    assert zkc.get_children(base, watch=ev) == []
    writer = make_client()
    writer.create(base + "/a", b"")
    writer.create(base + "/b", b"")
    assert ev.wait_for(1) == [(EventType.CHILD, base)]
    settle(zkc)
    assert ev.events == [(EventType.CHILD, base)]

    # setData on a child does not fire a child watch; deleting the parent fires DELETED.
    ev2 = Events()
    zkc.get_children(base + "/a", watch=ev2)
    writer.set(base + "/a", b"data")
    writer.delete(base + "/a")
    assert ev2.wait_for(1) == [(EventType.DELETED, base + "/a")]
    settle(zkc)
    assert ev2.events == [(EventType.DELETED, base + "/a")]


def test_exists_watch_on_existing_node_fires_changed_and_deleted(zkc, base, make_client):
    p = base + "/e"
    zkc.create(p, b"")
    writer = make_client()
    ev = Events()
    assert zkc.exists(p, watch=ev) is not None
    writer.set(p, b"x")
    assert ev.wait_for(1) == [(EventType.CHANGED, p)]
    ev2 = Events()
    zkc.exists(p, watch=ev2)
    writer.delete(p)
    assert ev2.wait_for(1) == [(EventType.DELETED, p)]


# ---------------------------------------------------------------- persistent watches


def _raw(target):
    return rawzk.RawClient(target.host, target.port)


def test_persistent_watch(zkc, base, target):
    p = base + "/pw"
    zkc.create(p, b"")
    raw = _raw(target)
    try:
        assert raw.add_watch(p, rawzk.ADD_WATCH_PERSISTENT) == 0
        zkc.set(p, b"1")
        zkc.set(p, b"2")  # still armed: persistent
        zkc.create(p + "/c", b"")
        zkc.set(p + "/c", b"x")  # a child's data: not watched (not recursive)
        zkc.create(p + "/c/g", b"")  # a grandchild: not watched
        zkc.delete(p + "/c/g")
        zkc.delete(p + "/c")
        zkc.sync(p)
        got = [raw.next_event() for _ in range(4)] + raw.drain_events()
        assert got == [
            ("CHANGED", p),
            ("CHANGED", p),
            ("CHILD", p),
            ("CHILD", p),
        ]
        zkc.delete(p)
        assert raw.next_event() == ("DELETED", p)
        # Still armed after DELETED: re-creating fires CREATED.
        zkc.create(p, b"")
        assert raw.next_event() == ("CREATED", p)
        # removeWatches removes it: no more events.
        assert raw.remove_watches(p) == 0
        zkc.set(p, b"after")
        assert [e for e in raw.drain_events() if e[0] != "PERSISTENT_WATCH_REMOVED"] == []
    finally:
        raw.close()


def test_persistent_recursive_watch(zkc, base, target):
    r = base + "/rw"
    zkc.create(r, b"")
    raw = _raw(target)
    try:
        assert raw.add_watch(r, rawzk.ADD_WATCH_PERSISTENT_RECURSIVE) == 0
        zkc.create(r + "/a", b"")
        zkc.set(r + "/a", b"1")
        zkc.create(r + "/a/b", b"")
        zkc.set(r, b"top")
        zkc.delete(r + "/a/b")
        zkc.create(base + "/outside", b"")  # a sibling of the watched node: not reported
        zkc.sync(r)
        got = [raw.next_event() for _ in range(5)] + raw.drain_events()
        # No CHILD events on recursive watches: only node events for the whole subtree.
        assert got == [
            ("CREATED", r + "/a"),
            ("CHANGED", r + "/a"),
            ("CREATED", r + "/a/b"),
            ("CHANGED", r),
            ("DELETED", r + "/a/b"),
        ]
    finally:
        raw.close()


def test_kazoo_add_watch(zkc, base):
    if not hasattr(zkc, "add_watch"):
        pytest.skip("this kazoo has no add_watch; persistent watches are tested with rawzk")
    from kazoo.protocol.states import AddWatchMode  # pragma: no cover

    ev = Events()
    zkc.add_watch(base, ev, AddWatchMode.PERSISTENT_RECURSIVE)
    zkc.create(base + "/k", b"")
    zkc.set(base + "/k", b"x")
    assert ev.wait_for(2) == [(EventType.CREATED, base + "/k"), (EventType.CHANGED, base + "/k")]


# ---------------------------------------------------------------- ephemerals and sessions


def test_ephemeral_removed_when_session_closes(zkc, base, make_client):
    owner = make_client()
    e = base + "/eph"
    owner.create(e, b"mine", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        owner.create(e + "/child", b"")
    with pytest.raises(NoChildrenForEphemeralsError):
        zkc.create(e + "/child", b"")
    assert zkc.exists(e).ephemeralOwner == owner.client_id[0]

    data_ev, child_ev = Events(), Events()
    zkc.get(e, watch=data_ev)
    zkc.get_children(base, watch=child_ev)
    owner.stop()  # closeSession
    assert data_ev.wait_for(1) == [(EventType.DELETED, e)]
    assert child_ev.wait_for(1) == [(EventType.CHILD, base)]
    assert zkc.exists(e) is None
    assert zkc.get_children(base) == []


def test_session_expiry_by_closing_same_session(zkc, base, make_client, target):
    """kazoo's own testing trick: a second connection with the same session id and password
    closes the session, so the first client's session expires."""
    victim = make_client()
    e = base + "/victim"
    victim.create(e, b"", ephemeral=True)
    states = []
    victim.add_listener(lambda s: states.append(s))
    ev = Events()
    zkc.exists(e, watch=ev)

    sid, pwd = victim.client_id
    from kazoo.client import KazooClient

    twin = KazooClient(hosts=target.connect_string, client_id=(sid, pwd))
    twin.start(timeout=15)
    assert twin.client_id[0] == sid
    twin.stop()
    twin.close()

    assert ev.wait_for(1) == [(EventType.DELETED, e)]
    assert zkc.exists(e) is None
    deadline = time.time() + 15
    while KazooState.LOST not in states and time.time() < deadline:
        time.sleep(0.1)
    assert KazooState.LOST in states


def test_session_expiry_by_timeout(zkc, base, target):
    """A client cut off the network (its traffic blackholed by a proxy) expires after its
    negotiated timeout: its ephemeral goes and watchers on other sessions are told."""
    from kazoo.client import KazooClient

    with zk.Proxy(target.host, target.port) as proxy:
        victim = KazooClient(hosts=proxy.connect_string, timeout=2.0, connection_retry=None)
        victim.start(timeout=15)
        try:
            e = base + "/timeout"
            victim.create(e, b"", ephemeral=True)
            ev = Events()
            zkc.exists(e, watch=ev)
            t0 = time.time()
            proxy.blackhole()
            assert ev.wait_for(1, timeout=20) == [(EventType.DELETED, e)]
            waited = time.time() - t0
            assert zkc.exists(e) is None
            # Negotiated timeout is 2 s; the server may take up to about a tick more.
            assert 1.0 <= waited <= 12.0, waited
        finally:
            proxy.heal()
            victim.stop()
            victim.close()


# ---------------------------------------------------------------- sequential nodes


def test_sequential_nodes(zkc, base):
    zkc.create(base + "/plain", b"")  # parent cversion 1
    a = zkc.create(base + "/job-", b"", sequence=True)
    b = zkc.create(base + "/job-", b"", sequence=True)
    assert a == base + "/job-0000000001"
    assert b == base + "/job-0000000002"
    assert zkc.exists(base).cversion == 3
    zkc.delete(a)
    # ZooKeeper 3.8: a delete bumps the parent's cversion (Stat shows 4) but the next
    # sequential name counts creates only: 3, not 4.
    assert zkc.exists(base).cversion == 4
    c = zkc.create(base + "/job-", b"", sequence=True, ephemeral=True)
    assert c == base + "/job-0000000003"
    assert zkc.exists(base).cversion == 5
    assert zkc.exists(c).ephemeralOwner == zkc.client_id[0]
    # A name ending in '/' gives a bare number.
    d = zkc.create(base + "/", b"", sequence=True)
    assert d == base + "/0000000004"
    assert sorted(zkc.get_children(base)) == [
        "0000000004",
        "job-0000000002",
        "job-0000000003",
        "plain",
    ]


# ---------------------------------------------------------------- containers


def test_container_node_removed_after_last_child(zkc, base):
    c = base + "/cont"
    path, st = kzext.create_container(zkc, c)
    assert path == c and st.ephemeralOwner == 0 and st.version == 0
    zkc.create(c + "/child", b"")
    zkc.delete(c + "/child")
    deadline = time.time() + 20
    while zkc.exists(c) is not None and time.time() < deadline:
        time.sleep(0.2)
    assert zkc.exists(c) is None
    # An ephemeral cannot have children, a container can: creating one under a missing
    # container is NoNode.
    with pytest.raises(NoNodeError):
        zkc.create(c + "/child", b"")


# ---------------------------------------------------------------- transactions


def test_transaction_success(zkc, base):
    zkc.create(base + "/old", b"o")
    t = zkc.transaction()
    t.create(base + "/new", b"n")
    t.set_data(base + "/old", b"o2", version=0)
    t.check(base + "/old", 1)
    t.create(base + "/seq-", b"", sequence=True)
    t.delete(base + "/new")
    results = t.commit()
    assert results[0] == base + "/new"
    assert results[1].version == 1 and results[1].dataLength == 2
    assert results[2] is True
    assert results[3] == base + "/seq-0000000002"
    assert results[4] is True
    assert zkc.get(base + "/old")[0] == b"o2"
    assert zkc.exists(base + "/new") is None
    assert sorted(zkc.get_children(base)) == ["old", "seq-0000000002"]


def test_transaction_all_or_nothing(zkc, base):
    zkc.create(base + "/a", b"a")
    before = zkc.exists(base)
    t = zkc.transaction()
    t.create(base + "/b", b"b")
    t.set_data(base + "/a", b"changed")
    t.check(base + "/a", 7)  # fails: version is 0 (1 after the set inside the txn)
    t.delete(base + "/a")
    results = t.commit()
    assert [type(r) for r in results] == [
        RolledBackError,
        RolledBackError,
        BadVersionError,
        RuntimeInconsistency,
    ]
    assert zkc.exists(base + "/b") is None
    assert zkc.get(base + "/a")[0] == b"a"
    after = zkc.exists(base)
    assert after.cversion == before.cversion and after.numChildren == 1

    t = zkc.transaction()
    t.create(base + "/a", b"dup")
    t.create(base + "/c", b"")
    results = t.commit()
    assert [type(r) for r in results] == [NodeExistsError, RuntimeInconsistency]

    t = zkc.transaction()
    t.create(base + "/c", b"")
    t.delete(base + "/missing")
    results = t.commit()
    assert [type(r) for r in results] == [RolledBackError, NoNodeError]
    assert zkc.exists(base + "/c") is None


# ---------------------------------------------------------------- ACLs


def test_acl_digest_world_noauth(zkc, base, make_client):
    alice = make_client(auth_data=[("digest", "alice:secret")])
    mallory = make_client(auth_data=[("digest", "mallory:other")])
    anon = make_client()

    p = base + "/private"
    alice.create(p, b"hidden", acl=CREATOR_ALL_ACL)
    acls, st = alice.get_acls(p)
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("alice", "secret")))]
    assert st.aversion == 0
    assert alice.get(p)[0] == b"hidden"
    for c in (anon, mallory):
        with pytest.raises(NoAuthError):
            c.get(p)
        with pytest.raises(NoAuthError):
            c.set(p, b"x")
        with pytest.raises(NoAuthError):
            c.create(p + "/child", b"")
        with pytest.raises(NoAuthError):
            c.set_acls(p, OPEN_ACL_UNSAFE)
    # getACL needs READ or ADMIN (ZooKeeper 3.8); exists needs nothing.
    with pytest.raises(NoAuthError):
        anon.get_acls(p)
    assert anon.exists(p) is not None

    # CREATOR_ALL without any authenticated identity is an invalid ACL.
    with pytest.raises(InvalidACLError):
        anon.create(base + "/bad", b"", acl=CREATOR_ALL_ACL)

    # An explicit digest ACL grants exactly what it says.
    q = base + "/readonly-for-mallory"
    alice.create(
        q,
        b"q",
        acl=[
            make_digest_acl("alice", "secret", all=True),
            make_digest_acl("mallory", "other", read=True),
        ],
    )
    assert mallory.get(q)[0] == b"q"
    with pytest.raises(NoAuthError):
        mallory.set(q, b"no")
    with pytest.raises(NoAuthError):
        anon.get(q)

    # world:anyone READ only.
    r = base + "/world-read"
    zkc.create(r, b"r", acl=READ_ACL_UNSAFE)
    assert anon.get(r)[0] == b"r"
    with pytest.raises(NoAuthError):
        anon.set(r, b"w")
    with pytest.raises(NoAuthError):
        anon.create(r + "/c", b"")


def test_acl_delete_uses_parent_acl_and_setacl_versions(zkc, base, make_client):
    anon = make_client()
    parent = base + "/nodelete"
    zkc.create(parent, b"", acl=[ACL(Permissions.READ | Permissions.CREATE, Id("world", "anyone"))])
    anon.create(parent + "/kid", b"")
    with pytest.raises(NoAuthError):
        anon.delete(parent + "/kid")  # parent lacks DELETE
    # A node whose own ACL is READ only can still be deleted if its parent allows DELETE.
    zkc.create(base + "/ro", b"", acl=READ_ACL_UNSAFE)
    anon.delete(base + "/ro")
    assert zkc.exists(base + "/ro") is None

    p = base + "/acl"
    zkc.create(p, b"")
    with pytest.raises(BadVersionError):
        zkc.set_acls(p, READ_ACL_UNSAFE, version=3)
    st = zkc.set_acls(p, READ_ACL_UNSAFE, version=0)
    assert st.aversion == 1
    assert zkc.get_acls(p)[0] == READ_ACL_UNSAFE
    with pytest.raises(NoAuthError):
        zkc.set_acls(p, OPEN_ACL_UNSAFE)  # no ADMIN any more


# ---------------------------------------------------------------- recipes


def test_lock(base, make_client):
    a, b = make_client(), make_client()
    la, lb = Lock(a, base + "/lock", "a"), Lock(b, base + "/lock", "b")
    assert la.acquire(timeout=5)
    assert not lb.acquire(blocking=False)
    assert la.contenders() == ["a"]
    got = threading.Event()

    def wait_b():
        if lb.acquire(timeout=15):
            got.set()

    t = threading.Thread(target=wait_b)
    t.start()
    time.sleep(0.5)
    assert not got.is_set()
    assert sorted(la.contenders()) == ["a", "b"]
    la.release()
    t.join(20)
    assert got.is_set()
    assert lb.contenders() == ["b"]
    lb.release()
    assert la.contenders() == []


def test_election(base, make_client):
    a, b = make_client(), make_client()
    leaders = []
    release_a = threading.Event()

    def lead(name, release):
        def fn():
            leaders.append(name)
            release.wait(20)

        return fn

    ea, eb = Election(a, base + "/election", "a"), Election(b, base + "/election", "b")
    ta = threading.Thread(target=ea.run, args=(lead("a", release_a),))
    ta.start()
    deadline = time.time() + 10
    while leaders != ["a"] and time.time() < deadline:
        time.sleep(0.05)
    assert leaders == ["a"]
    release_b = threading.Event()
    tb = threading.Thread(target=eb.run, args=(lead("b", release_b),))
    tb.start()
    time.sleep(0.5)
    assert leaders == ["a"]
    assert sorted(ea.contenders()) == ["a", "b"]
    release_a.set()
    ta.join(10)
    deadline = time.time() + 10
    while leaders != ["a", "b"] and time.time() < deadline:
        time.sleep(0.05)
    assert leaders == ["a", "b"]
    release_b.set()
    tb.join(10)
    assert ea.contenders() == []


def test_barrier(base, make_client):
    a, b = make_client(), make_client()
    bar = Barrier(a, base + "/barrier")
    bar.create()
    waiter = Barrier(b, base + "/barrier")
    assert waiter.wait(timeout=0.5) is False
    result = []
    t = threading.Thread(target=lambda: result.append(waiter.wait(timeout=15)))
    t.start()
    time.sleep(0.3)
    bar.remove()
    t.join(20)
    assert result == [True]
    assert a.exists(base + "/barrier") is None


def test_double_barrier(base, make_client):
    clients = [make_client() for _ in range(3)]
    entered = []
    barriers = [DoubleBarrier(c, base + "/dbar", 3) for c in clients]

    def go(i):
        barriers[i].enter()
        entered.append(i)
        barriers[i].leave()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    threads[0].start()
    threads[1].start()
    time.sleep(0.5)
    assert entered == []  # only 2 of 3 arrived
    threads[2].start()
    for t in threads:
        t.join(20)
    assert sorted(entered) == [0, 1, 2]
    assert clients[0].get_children(base + "/dbar") == []


def test_counter(base, make_client):
    clients = [make_client() for _ in range(3)]
    counters = [Counter(c, base + "/counter") for c in clients]

    def bump(c):
        for _ in range(20):
            c += 1

    threads = [threading.Thread(target=bump, args=(c,)) for c in counters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert counters[0].value == 60
    counters[1] -= 10
    assert counters[2].value == 50
    fc = Counter(clients[0], base + "/fcounter", default=0.5)
    fc += 2.25
    assert fc.value == 2.75


def test_queue(base, make_client):
    a, b = make_client(), make_client()
    qa, qb = Queue(a, base + "/queue"), Queue(b, base + "/queue")
    qa.put(b"one")
    qa.put(b"two")
    qa.put(b"urgent", priority=10)
    qa.put(b"top", priority=1)
    assert len(qb) == 4
    got = [qb.get() for _ in range(4)]
    # Lower priority numbers come first; equal priorities in FIFO order.
    assert got == [b"top", b"urgent", b"one", b"two"]
    assert qb.get() is None
    assert len(qa) == 0


def test_locking_queue(base, make_client):
    a, b = make_client(), make_client()
    qa, qb = LockingQueue(a, base + "/lq"), LockingQueue(b, base + "/lq")
    qa.put_all([b"x", b"y"])
    qa.put(b"first", priority=1)
    assert len(qb) == 3
    assert qb.get(timeout=5) == b"first"
    assert qb.holds_lock() is True
    assert qb.release() is True  # give it back unconsumed
    assert qa.get(timeout=5) == b"first"
    assert qa.consume() is True
    assert qb.get(timeout=5) == b"x"
    assert qb.consume() is True
    assert qa.get(timeout=5) == b"y"
    assert qa.consume() is True
    assert qb.get(timeout=0.5) is None
    assert len(qa) == 0


def test_party(base, make_client):
    clients = [make_client() for _ in range(3)]
    parties = [Party(c, base + "/party", f"member-{i}") for i, c in enumerate(clients)]
    for p in parties:
        p.join()
    assert len(parties[0]) == 3
    assert sorted(parties[0]) == ["member-0", "member-1", "member-2"]
    parties[1].leave()
    assert sorted(parties[2]) == ["member-0", "member-2"]
    clients[2].stop()  # a session that closes leaves the party (ephemeral members)
    deadline = time.time() + 10
    while len(parties[0]) != 1 and time.time() < deadline:
        time.sleep(0.1)
    assert list(parties[0]) == ["member-0"]
    sp = ShallowParty(clients[0], base + "/shallow", "s0")
    sp.join()
    assert list(sp) == ["s0"]
