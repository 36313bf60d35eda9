"""A replicated Quorum ensemble, as real processes, against issue 5's "Done means" list.

Each test starts its own ensemble (tests/ensemble/ensemble.py: tickTime 200 ms, initLimit 10,
syncLimit 5, so syncLimit x tickTime = 1 s) and talks to it with kazoo, unmodified. Servers are
named by their zoo.cfg id (1..3). Every test's docstring states the behaviour it checks.
"""

import threading
import os
import time

import pytest
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import EventType, KazooState

import ensemble as ens_mod
from wire_session import Session


def others(ens, *ids):
    return [i for i in ens.servers if i not in ids]


def read_tree(c, root):
    """{child name: data} under root, read after a sync on this client's server."""
    c.sync(root)
    return {name: c.get(f"{root}/{name}")[0] for name in c.get_children(root)}


def write_many(c, path_of, count, window=400):
    """count async setData/create writes with at most `window` outstanding; returns the time."""
    t0 = time.time()
    pending = []
    for k in range(count):
        pending.append(path_of(c, k))
        if len(pending) >= window:
            for p in pending[: window // 2]:
                p.get(timeout=30)
            pending = pending[window // 2 :]
    for p in pending:
        p.get(timeout=30)
    return time.time() - t0


# ---------------------------------------------------------------- a. writes, sync, FIFO


def test_writes_through_every_server_sync_read_and_fifo(ensemble, client):
    """A 3-server ensemble serves writes through every server (followers forward them to the
    leader); a read after sync on another server sees the write; FIFO client order holds: one
    client's pipelined async writes and reads complete in issue order and each read sees
    exactly the writes issued before it (read-your-writes through a follower too)."""
    ens = ensemble(3)
    leader = ens.leader()
    cs = {i: client(ens.connect_string(i)) for i in ens.servers}
    root = "/a"
    cs[leader].create(root)
    for i, c in cs.items():
        c.create(f"{root}/from-{i}", f"v{i}".encode())
        c.set(f"{root}/from-{i}", f"v{i}-2".encode())
    for i in cs:
        for j, c in cs.items():
            if j == i:
                continue
            c.sync(root)
            data, stat = c.get(f"{root}/from-{i}")
            assert (data, stat.version) == (f"v{i}-2".encode(), 1), (i, j)

    for i, c in cs.items():
        path = f"{root}/fifo-{i}"
        completed = []
        ops = []

        def issue(op, tag):
            idx = len(ops)
            ops.append((tag, op))
            op.rawlink(lambda _r, idx=idx: completed.append(idx))

        # created first: kazoo's create_async is completed through an extra callback hop,
        # so its completion callback can run after the next request's
        c.create(path, b"0")
        for k in range(1, 151):
            issue(c.set_async(path, str(k).encode()), ("set", k))
            issue(c.get_async(path), ("get", k))
            if k % 10 == 0:
                issue(c.get_children_async(root), ("children", k))
        results = [op.get(timeout=20) for _tag, op in ops]
        deadline = time.time() + 5
        while len(completed) < len(ops) and time.time() < deadline:
            time.sleep(0.01)
        assert completed == list(range(len(ops))), f"server {i}: completions out of order"
        for (kind, k), res in zip((t for t, _ in ops), results):
            if kind == "set":
                assert res.version == k, (i, kind, k, res)
            elif kind == "get":
                data, stat = res
                assert (data, stat.version) == (str(k).encode(), k), (i, kind, k)
            elif kind == "children":
                assert f"fifo-{i}" in res
    ens.wait_converged()


# ---------------------------------------------------------------- b. leader failover


class Writer(threading.Thread):
    """Writes in a loop through its own client (connect string: all servers), recording every
    write it issued and every one acknowledged, with the acknowledgement time. Even steps create
    w<k>-<n> (data "w<k>-<n>"), odd steps set w<k> to "w<k>-<n>"."""

    def __init__(self, k, c, root):
        super().__init__(daemon=True)
        self.k, self.c, self.root = k, c, root
        self.stop_flag = threading.Event()
        self.issued_creates, self.acked_creates = set(), set()
        self.issued_sets, self.acked_sets = [], []  # n values, in issue order
        self.ack_times = []
        self.failures = 0

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            value = f"w{self.k}-{n}"
            try:
                if n % 2 == 0:
                    path = f"{self.root}/{value}"
                    self.issued_creates.add(value)
                    self.c.create_async(path, value.encode()).get(timeout=5)
                    self.acked_creates.add(value)
                else:
                    self.issued_sets.append(n)
                    self.c.set_async(f"{self.root}/w{self.k}", value.encode()).get(timeout=5)
                    self.acked_sets.append(n)
                self.ack_times.append(time.monotonic())
            except (ConnectionLoss, SessionExpiredError, KazooTimeoutError, KazooException):
                # Outcome unknown: the write may or may not have been applied.
                self.failures += 1
                time.sleep(0.01)


def test_leader_sigkill_under_load_loses_no_acknowledged_write(ensemble, client):
    """Under a steady write load (3 clients), SIGKILL of the leader: a new leader is
    established and writes succeed again within 2 x syncLimit x tickTime (the measured gap is
    printed); after the old leader is restarted every acknowledged write is on every server,
    no server has a write nobody issued, and zk_digest and zk_last_zxid are equal once quiet."""
    ens = ensemble(3)
    old = ens.leader()
    root = "/b"
    admin = client(ens.connect_string())
    admin.create(root)
    writers = []
    for k in range(3):
        c = client(ens.connect_string())
        c.create(f"{root}/w{k}", b"init")
        writers.append(Writer(k, c, root))
    for w in writers:
        w.start()
    try:
        time.sleep(1.5)
        t_kill = time.monotonic()
        ens.kill9(old)
        new = ens.wait_for_leader(timeout=15)
        t_leader = time.monotonic()
        # keep the load on until writes flow again for a while
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            after = sum(1 for w in writers for t in w.ack_times if t > t_kill)
            if after >= 100 and time.monotonic() - t_leader > 1.0:
                break
            time.sleep(0.05)
        t_restart = time.monotonic()
        ens.start(old)
        time.sleep(1.0)
    finally:
        for w in writers:
            w.stop_flag.set()
        for w in writers:
            w.join(timeout=10)

    acks = sorted(t for w in writers for t in w.ack_times)
    before = [t for t in acks if t <= t_kill]
    window = [t for t in acks if t_kill - 1.0 <= t <= t_restart]
    gap, gap_start = max((b - a, a) for a, b in zip(window, window[1:]))
    bound = 2 * ens_mod.SYNC_LIMIT * ens.tick_ms / 1000
    print(
        f"\nfailover: leader {old} SIGKILLed, new leader {new} seen after "
        f"{t_leader - t_kill:.3f}s; longest gap between two acknowledged writes {gap:.3f}s "
        f"(from {gap_start - t_kill:+.3f}s to {gap_start + gap - t_kill:+.3f}s around the kill; "
        f"bound 2 x syncLimit x tickTime = {bound:.1f}s); {len(acks)} writes acknowledged, "
        f"{sum(w.failures for w in writers)} failed (outcome unknown), "
        f"{len(before)} before the kill"
    )
    assert new != old
    assert gap <= bound, f"writes stopped for {gap:.3f}s > {bound}s"

    ens.wait_serving(old)
    ens.wait_converged(timeout=30)
    trees = {}
    for i in ens.servers:
        c = client(ens.connect_string(i))
        trees[i] = read_tree(c, root)
    for i, tree in trees.items():
        assert tree == trees[new], f"server {i} differs from the leader"
        for w in writers:
            k = w.k
            # every acknowledged create is there with its data
            for value in w.acked_creates:
                assert tree.get(value) == value.encode(), (i, value)
            # the set node holds one of the issued values, no older than the last acknowledged
            cur = tree[f"w{k}"].decode()
            n = int(cur.split("-")[1])
            assert n in w.issued_sets, (i, cur)
            if w.acked_sets:
                assert n >= w.acked_sets[-1], (i, cur, w.acked_sets[-1])
        issued = {f"w{w.k}" for w in writers} | set().union(*(w.issued_creates for w in writers))
        stray = set(tree) - issued
        assert not stray, f"server {i} has writes nobody issued: {sorted(stray)[:5]}"
        for name, data in tree.items():
            if "-" in name:  # a created node holds its own name
                assert data == name.encode(), (i, name, data)
    final = ens.wait_converged(timeout=10)
    print("digests:", {i: (m["zk_digest"], hex(m["zk_last_zxid"])) for i, m in final.items()})


# ---------------------------------------------------------------- c, d. DIFF and SNAP


def _set_writes(root, nodes):
    return lambda c, k: c.set_async(f"{root}/n{k % nodes}", str(k).encode())


def _ten_nodes(ens, client, root):
    """Creates root and ten children through the leader and waits until every replica has
    them; returns the leader, a follower and the leader's client."""
    leader = ens.leader()
    f = others(ens, leader)[0]
    c = client(ens.connect_string(leader))
    c.create(root)
    for k in range(10):
        c.create(f"{root}/n{k}", b"")
    ens.wait_converged()
    return leader, f, c


def test_follower_restarted_after_12000_txns_catches_up_by_diff(ensemble, client):
    """A follower killed (SIGKILL) while 12,000 txns are committed, then restarted, catches up
    by DIFF: the leader's zk_sync_diff goes up (SNAP and TRUNC do not) and all replicas end
    with equal zk_digest and zk_last_zxid. The leader holds the payloads of its last 10,000
    transactions only, so the DIFF's first ones are read from its log: zk_sync_log_reads
    goes up and no read is refused."""
    ens = ensemble(3)
    leader, f, c = _ten_nodes(ens, client, "/c")
    lagging_zxid = ens.mntr(f)["zk_last_zxid"]
    ens.kill9(f)
    secs = write_many(c, _set_writes("/c", 10), 12_000)
    before = ens.mntr(leader)
    missed = before["zk_last_zxid"] - lagging_zxid
    print(f"\nDIFF: 12,000 writes in {secs:.2f}s; follower {f} missed {missed} txns")
    assert missed >= 12_000
    t0 = time.time()
    ens.start(f)
    final = ens.wait_converged(timeout=60)
    after = ens.mntr(leader)
    print(f"DIFF: follower caught up in {time.time() - t0:.2f}s; sync counts before/after "
          f"diff {before['zk_sync_diff']}/{after['zk_sync_diff']} "
          f"snap {before['zk_sync_snap']}/{after['zk_sync_snap']} "
          f"trunc {before['zk_sync_trunc']}/{after['zk_sync_trunc']} "
          f"log reads {before['zk_sync_log_reads']}/{after['zk_sync_log_reads']}")
    assert after["zk_sync_diff"] == before["zk_sync_diff"] + 1
    assert after["zk_sync_log_reads"] == before["zk_sync_log_reads"] + 1
    assert after["zk_sync_log_reads_refused"] == before["zk_sync_log_reads_refused"]
    assert after["zk_sync_snap"] == before["zk_sync_snap"]
    assert after["zk_sync_trunc"] == before["zk_sync_trunc"]
    assert final[f]["zk_server_state"] == "follower"
    cf = client(ens.connect_string(f))
    assert cf.get("/c/n9")[0] == b"11999"


def test_follower_behind_the_leaders_snapshot_catches_up_by_snap(ensemble, client):
    """With snapCount 200, a follower killed while 2,000 txns are committed (the leader
    snapshots past it and keeps only newer txns) catches up by SNAP when restarted:
    zk_sync_snap goes up on the leader and all replicas end with equal digests."""
    ens = ensemble(3, snap_count=200)
    leader, f, c = _ten_nodes(ens, client, "/d")
    ens.kill9(f)
    secs = write_many(c, _set_writes("/d", 10), 2_000)
    c.create("/d/last", b"x")
    before = ens.mntr(leader)
    t0 = time.time()
    ens.start(f)
    ens.wait_converged(timeout=60)
    after = ens.mntr(leader)
    print(f"\nSNAP: 2,000 writes in {secs:.2f}s; follower {f} caught up in "
          f"{time.time() - t0:.2f}s; snap {before['zk_sync_snap']}/{after['zk_sync_snap']} "
          f"diff {before['zk_sync_diff']}/{after['zk_sync_diff']}")
    assert after["zk_sync_snap"] == before["zk_sync_snap"] + 1
    assert after["zk_sync_diff"] == before["zk_sync_diff"]
    cf = client(ens.connect_string(f))
    assert cf.get("/d/last")[0] == b"x"
    assert cf.get("/d/n9")[0] == b"1999"


def _snapshots(ens, sid):
    """The snapshot files in server sid's data folder (whole ones: not the .tmp being written)."""
    found = []
    for _, _, files in os.walk(ens.servers[sid].data_dir):
        found += [f for f in files if f.startswith("snapshot.") and not f.endswith(".tmp")]
    return sorted(found)


def test_follower_behind_the_leaders_last_snapshot_catches_up_by_diff_from_the_log(ensemble, client):
    """The leader compacts its in-memory history one snapshot behind, and its log keeps the
    transactions of three snapshots: a follower killed before the leader's last snapshot and
    more than 10,000 transactions behind (the payloads the leader holds), then restarted,
    catches up by DIFF read from the log (zk_sync_log_reads goes up), not by SNAP."""
    ens = ensemble(3, snap_count=24_000)
    leader, f, c = _ten_nodes(ens, client, "/g")
    ens.kill9(f)
    snapshots = _snapshots(ens, leader)
    written = 0
    # Writes in steps of 500 until the leader has saved one snapshot more and the follower is
    # 10,500 behind. Snapshots come 24,000 transactions or more apart with snapCount 24,000
    # (replica/snapshot_policy.rs), so there is no second one.
    while _snapshots(ens, leader) == snapshots or written < 10_500:
        assert written < 30_000, "the leader took no snapshot"
        write_many(c, lambda c, k, base=written: c.set_async(f"/g/n{k % 10}", str(base + k).encode()), 500)
        written += 500
    before = ens.mntr(leader)
    ens.start(f)
    ens.wait_converged(timeout=60)
    after = ens.mntr(leader)
    print(f"\nbehind a snapshot: {written} writes, snapshots {snapshots} -> {_snapshots(ens, leader)}; "
          f"diff {before['zk_sync_diff']}/{after['zk_sync_diff']} "
          f"snap {before['zk_sync_snap']}/{after['zk_sync_snap']} "
          f"log reads {before['zk_sync_log_reads']}/{after['zk_sync_log_reads']}")
    assert after["zk_sync_diff"] == before["zk_sync_diff"] + 1
    assert after["zk_sync_snap"] == before["zk_sync_snap"]
    assert after["zk_sync_log_reads"] == before["zk_sync_log_reads"] + 1
    assert after["zk_sync_log_reads_refused"] == before["zk_sync_log_reads_refused"]
    cf = client(ens.connect_string(f))
    assert cf.get("/g/n9")[0] == str(written - 1).encode()


# ---------------------------------------------------------------- e. TRUNC


def test_former_leader_with_unacknowledged_suffix_is_truncated(ensemble, client):
    """A leader cut off from both followers (its peer links blackholed by proxies) logs writes
    it cannot commit, then is SIGKILLed; the other two elect a leader and commit new writes;
    the old leader, restarted, is truncated: the new leader's zk_sync_trunc goes up, digests
    end equal, and the uncommitted writes are absent on every server."""
    ens = ensemble(3, proxied=True)
    old = ens.leader()
    c_old = client(ens.connect_string(old), connection_retry=dict(max_tries=0))
    c_old.create("/e")
    c_old.create("/e/committed", b"1")
    ens.wait_converged()
    zxid_committed = ens.mntr(old)["zk_last_zxid"]
    ens.isolate(old)
    pending = [c_old.create_async(f"/e/uncommitted-{k}", b"lost") for k in range(5)]
    pending.append(c_old.set_async("/e/committed", b"lost"))
    time.sleep(0.3)  # the leader logs its own proposals; no follower can ack them
    assert not any(p.ready() and p.successful() for p in pending), "committed while isolated?"
    ens.kill9(old)
    ens.reconnect(old)
    new = ens.wait_for_leader(timeout=15)
    assert new != old
    c_new = client(ens.connect_string(new))
    c_new.create("/e/after", b"2")
    c_new.set("/e/committed", b"3")
    before = ens.mntr(new)
    ens.start(old)
    final = ens.wait_converged(timeout=30)
    after = ens.mntr(new)
    print(f"\nTRUNC: old leader {old} (last committed {hex(zxid_committed)}), new leader "
          f"{new}; trunc {before['zk_sync_trunc']}/{after['zk_sync_trunc']} "
          f"diff {before['zk_sync_diff']}/{after['zk_sync_diff']} "
          f"snap {before['zk_sync_snap']}/{after['zk_sync_snap']}; "
          f"final zxid {hex(final[new]['zk_last_zxid'])}")
    assert after["zk_sync_trunc"] == before["zk_sync_trunc"] + 1
    for i in ens.servers:
        c = client(ens.connect_string(i))
        tree = read_tree(c, "/e")
        assert tree == {"committed": b"3", "after": b"2"}, (i, tree)


# ---------------------------------------------------------------- f. sessions


class Events:
    """Watch callbacks, without kazoo's NONE events (connection state, not znode changes)."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        if event.type == EventType.NONE:
            return
        with self.cond:
            self.events.append((event.type, event.path))
            self.cond.notify_all()

    def wait_for(self, n, timeout=10.0):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.events) < n and time.time() < deadline:
                self.cond.wait(max(0.0, deadline - time.time()))
            return list(self.events)


@pytest.mark.parametrize("role", ["follower", "leader"])
def test_session_survives_its_server_dying(ensemble, client, role):
    """Clients (4 s sessions) connected to a server that is SIGKILLed (a follower, or the
    leader, so the ensemble also changes leader) reconnect to another server within their
    session timeout and keep their sessions and ephemeral nodes; a data watch is kept too and
    fires on a later change made by another client. kazoo (which reconnects by itself) shows
    the session and ephemeral; kazoo drops its watches on a lost connection, so the watch is
    held by a wire_session.Session, which resumes the session and sends SetWatches as the Java
    client does."""
    ens = ensemble(3)
    leader = ens.leader()
    victim = leader if role == "leader" else others(ens, leader)[0]
    rest = others(ens, victim)
    a = client(
        f"{ens.connect_string(victim)},{ens.connect_string_of(rest)}",
        randomize_hosts=False,
        timeout=4.0,
    )
    assert a._connection._socket.getpeername()[1] == ens.servers[victim].client_port
    sid = a.client_id[0]
    states = []
    a.add_listener(states.append)
    a.create("/f")
    a.create("/f/eph", b"mine", ephemeral=True)
    a.create("/f/watched", b"0")

    w = Session(timeout_ms=4000)
    w.connect("127.0.0.1", ens.servers[victim].client_port)
    assert w.create("/f/eph-w", b"w", ephemeral=True) == 0
    assert w.get_data("/f/watched", watch=True) == (0, b"0")

    t0 = time.time()
    ens.kill9(victim)
    servers = [("127.0.0.1", ens.servers[i].client_port) for i in rest]
    took = w.reconnect(servers, within=4.0)
    ens.wait_for_leader(timeout=4.0)
    # a server that took the session just before it noticed the leader was gone may close
    # the connection again: reconnect as a client library would, within the session timeout
    again = w.stay_connected(servers, until=time.time() + 0.5)
    a.sync("/f")  # kazoo has reconnected (it retries by itself) and its session works
    reconnected = time.time() - t0
    print(f"\nsession: server {victim} ({role}) killed; kazoo's session usable again after "
          f"{reconnected:.2f}s; the raw session resumed after {took:.2f}s (+{again} reconnects)")
    assert reconnected < 4.0, "not reconnected within the 4 s session timeout"
    assert KazooState.SUSPENDED in states and KazooState.LOST not in states, states
    assert a.client_id[0] == sid

    b = client(ens.connect_string(rest[-1]))
    b.sync("/f")
    data, stat = b.get("/f/eph")
    assert (data, stat.ephemeralOwner) == (b"mine", sid)
    assert b.get("/f/eph-w")[1].ephemeralOwner == w.session_id
    b.set("/f/watched", b"1")
    assert w.next_event(timeout=5) == ("CHANGED", "/f/watched")
    # the sessions keep working and keep their ephemerals after a while
    time.sleep(1.0)
    a.set("/f/watched", b"2")
    assert w.get_data("/f/watched") == (0, b"2")
    b.sync("/f")
    assert b.exists("/f/eph").ephemeralOwner == sid
    assert b.exists("/f/eph-w").ephemeralOwner == w.session_id
    assert KazooState.LOST not in states
    w.close()


def _abandoned_session(ens, sid, client, root, timeout=2.0):
    """A kazoo session on server `sid` through a LinkProxy; returns (client, proxy, session id)."""
    proxy = ens_mod.LinkProxy("127.0.0.1", ens.servers[sid].client_port)
    c = client(proxy.connect_string, timeout=timeout, connection_retry=dict(max_tries=0))
    c.create(f"{root}/eph", b"", ephemeral=True)
    return c, proxy, c.client_id[0]


def test_session_of_a_vanished_client_expires_once_across_leader_change(ensemble, client):
    """A session (2 s timeout) whose client is gone (its connection to a follower closed
    without closeSession) while the leader is SIGKILLed expires once: the new leader restarts
    its timer rather than expiring it at once, then expires it exactly once (one txn), and
    its ephemeral goes for everyone (another client's watch fires DELETED)."""
    ens = ensemble(3)
    leader = ens.leader()
    f1, f2 = others(ens, leader)
    b = client(ens.connect_string(f2))
    b.create("/g")
    gone, proxy, gone_sid = _abandoned_session(ens, f1, client, "/g")
    b.sync("/g")
    assert b.exists("/g/eph").ephemeralOwner == gone_sid
    proxy.blackhole()
    proxy.reset()  # the client is gone: its connection closes, it never comes back
    ens.kill9(leader)
    new = ens.wait_for_leader(timeout=15)
    t_new = time.time()
    z0 = ens.mntr(new)["zk_last_zxid"]
    # (kazoo drops watches on the connection loss every client sees during the election, so
    # the other client polls after sync)
    gone_at = None
    while time.time() - t_new < 15:
        b.sync("/g")
        if b.exists("/g/eph") is None:
            gone_at = time.time() - t_new
            break
        time.sleep(0.05)
    print(f"\nexpiry: ephemeral of the vanished session gone {gone_at}s after the new leader "
          f"({new}) was seen")
    assert gone_at is not None, "the vanished client's session never expired"
    assert gone_at >= 1.0, "expired at once by the new leader instead of after its timeout"
    time.sleep(2.5)  # more than the session timeout: a second expiry would show now
    quiet = ens.wait_converged()
    zxid, epoch = quiet[new]["zk_last_zxid"], quiet[new]["zk_current_epoch"]
    print(f"expiry: last zxid {zxid:#x}, epoch {epoch}, before the expiry {z0:#x}")
    # the new epoch's only txn is the expiry (its first zxid is epoch:1)
    assert zxid == (epoch << 32) + 1, "the expiry was not exactly one txn"
    for i in ens.running_ids():
        c = client(ens.connect_string(i))
        c.sync("/g")
        assert c.get_children("/g") == [], i
    proxy.close()


def test_session_of_a_silent_client_on_a_follower_expires(ensemble, client):
    """A client cut off the network (its traffic blackholed by a proxy, the TCP connection to
    the follower left open) expires after its 2 s session timeout, as it does on the leader
    and on a standalone server: its ephemeral goes and another client's watch fires."""
    ens = ensemble(3)
    leader = ens.leader()
    f1 = others(ens, leader)[0]
    b = client(ens.connect_string(leader))
    b.create("/h")
    gone, proxy, gone_sid = _abandoned_session(ens, f1, client, "/h")
    ev = Events()
    b.sync("/h")
    assert b.exists("/h/eph", watch=ev).ephemeralOwner == gone_sid
    t0 = time.time()
    proxy.blackhole()
    events = ev.wait_for(1, timeout=8)
    print(f"\nsilent client on follower {f1}: events after {time.time() - t0:.2f}s: {events}")
    try:
        assert events == [(EventType.DELETED, "/h/eph")]
    finally:
        proxy.reset()
        proxy.close()
