#!/usr/bin/env python3
"""Differential test: the same seeded random operation sequence against Apache ZooKeeper 3.8 and
a second target, started side by side on loopback; every result is compared.

    python3 tests/compat/differential.py --ops 5000 --seed 1 --other quorum

Each target gets 5 kazoo sessions (slots 0..4; slots 0-1 authenticated as digest alice, slot 2 as
bob, 3-4 anonymous). Operation i is generated once, run on the reference (ZooKeeper) and then on
the other target by the same slot, and the two results are compared: the error class (NoNode,
NodeExists, BadVersion, NotEmpty, NoChildrenForEphemerals, NoAuth, InvalidACL, ...), data, sorted
child lists, created paths (sequential names included), ACLs, multi per-op results, and Stat
fields except the time and zxid valued ones (czxid, mzxid, pzxid, ctime, mtime). ephemeralOwner is
compared as the slot and generation of the owning session (or 0), not as a raw session id.
Watch notifications (one-shot data, exists and child watches set by the read ops) are recorded per
slot and compared at checkpoints, after each slot has synced. kazoo's NONE events at session close
are timing-dependent and left out (the watches a client still holds follow from the replies and
notifications, which are compared).

Operations: create (persistent, ephemeral, sequential, ephemeral-sequential, container), delete
and setData with and without version, exists, getData, getChildren, getChildren2, multi
(create/delete/setData/check, failures included), getACL, setACL (with and without version), sync,
and closing a session and opening a new one (its ephemerals go, watchers are told).

Containers: ZooKeeper removes an empty container in the background (every minute by default), so
its timing is not comparable. The generator keeps containers out of that race: only names
starting with "k" are containers, and their children are never deleted or ephemeral.

With --pipeline N, each session sends up to N ops back to back before waiting for their answers
(kazoo's async API, as real clients pipeline), one session at a time so the answers stay
comparable. --other quorum-ensemble runs the other side on a 3-server Quorum ensemble, every
client on one follower; ops that touch /zookeeper/config are left out of that run (counted as
skipped), since an ensemble shows its membership there and the standalone reference shows
nothing (test_dynamic_config.py compares that node against a ZooKeeper ensemble).

Exit status 0 when there is no difference, 1 otherwise; a summary is printed either way.
--other zookeeper-corrupt:MODE runs the second ZooKeeper behind a proxy that corrupts one reply
(MODE = version | errcode | event | children), to show the comparison has teeth.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zk  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from kazoo.protocol.states import Callback, EventType, ZnodeStat  # noqa: E402
from kazoo.security import (  # noqa: E402
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_digest_acl,
)

import kzext  # noqa: E402

SLOTS = 5
AUTH = {0: ("alice", "pw-a"), 1: ("alice", "pw-a"), 2: ("bob", "pw-b")}
NAMES = ["a", "b", "c", "e", "k"]
OP_TIMEOUT = 10.0

ACL_CHOICES = {
    "open": OPEN_ACL_UNSAFE,
    "read": READ_ACL_UNSAFE,
    "creator": CREATOR_ALL_ACL,
    "alice+read": [
        make_digest_acl("alice", "pw-a", all=True),
        ACL(Permissions.READ, Id("world", "anyone")),
    ],
    "create-only": [ACL(Permissions.READ | Permissions.CREATE, Id("world", "anyone"))],
}
ACL_WEIGHTS = [("open", 80), ("read", 5), ("creator", 5), ("alice+read", 5), ("create-only", 5)]


# ------------------------------------------------------------------------------ targets


def start_server(kind: str):
    """A standalone server of `kind`, or a 3-server Quorum ensemble whose clients all connect
    to one follower (every write forwarded to the leader, every read served by the follower)."""
    if kind == "quorum-ensemble":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ensemble"))
        import ensemble  # noqa: E402

        return ensemble.CompatTarget(hosts="follower")
    return zk.start_target(kind)


class Target:
    """One server (ZooKeeper or the other kind) with SLOTS kazoo sessions and per-slot watch
    event logs."""

    def __init__(self, name: str, kind: str, corrupt: str | None = None, corrupt_at: int = 40):
        self.name = name
        self.server = start_server(kind)
        self.proxy = None
        self.corrupter = None
        hosts = self.server.connect_string
        if corrupt:
            self.corrupter = Corrupter(corrupt, corrupt_at)
            self.proxy = zk.Proxy(
                self.server.host,
                self.server.port,
                reply_filter=self.corrupter.reply,
                request_filter=self.corrupter.request,
            )
            hosts = self.proxy.connect_string
        self.hosts = hosts
        self.clients: list[KazooClient | None] = [None] * SLOTS
        self.gen = [0] * SLOTS
        self.labels: dict[int, str] = {}
        self.events: list[list] = [[] for _ in range(SLOTS)]
        self.watchers = [self._watcher(i) for i in range(SLOTS)]
        for i in range(SLOTS):
            self.open(i)

    def _watcher(self, slot):
        def fn(event):
            # kazoo fires NONE at every watcher still registered when a session is closed
            # (_reset_watchers), from its connection thread after the close reply, racing with
            # stop() shutting the callback handler down: whether those events are recorded
            # depends on how fast the server answers closeSession, not on what it does. They
            # are left out: which watches a client holds at close follows from the replies and
            # notifications, which are compared already.
            if event.type != EventType.NONE:
                self.events[slot].append((event.type, event.path))

        return fn

    def open(self, slot):
        auth = AUTH.get(slot)
        c = KazooClient(
            hosts=self.hosts,
            timeout=10.0,
            auth_data=[("digest", f"{auth[0]}:{auth[1]}")] if auth else None,
        )
        c.start(timeout=30)
        self.clients[slot] = c
        self.labels[c.client_id[0]] = f"slot{slot}.{self.gen[slot]}"

    def reopen(self, slot):
        self.flush(slot)
        c = self.clients[slot]
        try:
            c.stop()
            c.close()
        except Exception:
            pass
        self.gen[slot] += 1
        self.open(slot)

    def flush(self, slot):
        """Make sure every notification sent to this slot before now has been handled."""
        c = self.clients[slot]
        try:
            c.sync_async("/").get(timeout=OP_TIMEOUT)
        except Exception:
            return
        done = threading.Event()
        c.handler.dispatch_callback(Callback("watch", done.set, ()))
        done.wait(OP_TIMEOUT)

    def owner(self, sid):
        if sid == 0:
            return 0
        return self.labels.get(sid, "unknown-session")

    def close(self):
        for c in self.clients:
            if c is None:
                continue
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        if self.proxy:
            self.proxy.close()
        self.server.stop()


class Corrupter:
    """Proxy filters that break exactly one reply, for the teeth test."""

    def __init__(self, mode, at):
        self.mode = mode
        self.at = at
        self.count = 0
        self.done = False
        self.lock = threading.Lock()

    def request(self, frame, st):
        if not st.get("req_connected"):
            st["req_connected"] = True
            return frame
        if len(frame) >= 8:
            xid, op = struct.unpack(">ii", frame[:8])
            st.setdefault("ops", {})[xid] = op
        return frame

    def _hit(self):
        with self.lock:
            if self.done:
                return False
            self.count += 1
            if self.count >= self.at:
                self.done = True
                return True
            return False

    def reply(self, frame, st):
        if not st.get("rep_connected"):
            st["rep_connected"] = True
            return frame
        xid, _zxid, err = struct.unpack(">iqi", frame[:16])
        op = st.get("ops", {}).pop(xid, None)
        if self.mode == "version" and op == 4 and err == 0:  # getData: Stat.version + 1
            (dlen,) = struct.unpack(">i", frame[16:20])
            off = 20 + max(dlen, 0) + 32
            if self._hit():
                (v,) = struct.unpack(">i", frame[off : off + 4])
                return frame[:off] + struct.pack(">i", v + 1) + frame[off + 4 :]
        elif self.mode == "errcode" and err == -101 and xid > 0:  # NoNode -> NodeExists
            if self._hit():
                return frame[:12] + struct.pack(">i", -110) + frame[16:]
        elif self.mode == "event" and xid == -1:  # drop one watch notification
            if self._hit():
                return None
        elif self.mode == "children" and op in (8, 12) and err == 0:  # drop the last child
            (n,) = struct.unpack(">i", frame[16:20])
            if n > 1 and self._hit():
                off = 20
                ends = []
                for _ in range(n):
                    (ln,) = struct.unpack(">i", frame[off : off + 4])
                    off += 4 + ln
                    ends.append(off)
                return frame[:16] + struct.pack(">i", n - 1) + frame[20 : ends[-2]] + frame[off:]
        return frame


# ------------------------------------------------------------------------------ generator


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.known: list[str] = []
        self.known_set: set[str] = set()
        self.held: list[dict] = []

    def pushback(self, op):
        """Hands `op` out again at the next call (a batch ended before it)."""
        self.held.append(op)

    def learn(self, path):
        if isinstance(path, str) and path.startswith("/") and path not in self.known_set:
            self.known_set.add(path)
            self.known.append(path)

    def random_path(self):
        r = self.rng
        if self.known and r.random() < 0.55:
            p = r.choice(self.known)
            if r.random() < 0.3:  # a child of a known node
                p = p + "/" + r.choice(NAMES)
            return p
        x = r.random()
        if x < 0.02:
            return "/"
        if x < 0.04:
            return r.choice(["/zookeeper", "/zookeeper/quota", "/zookeeper/config"])
        depth = r.choice([1, 1, 2, 2, 2, 3])
        return "/" + "/".join(r.choice(NAMES) for _ in range(depth))

    @staticmethod
    def is_container_name(path):
        return path.rsplit("/", 1)[-1].startswith("k")

    @staticmethod
    def parent(path):
        return path.rsplit("/", 1)[0] or "/"

    def under_container(self, path):
        return path != "/" and self.parent(path) != "/" and self.is_container_name(self.parent(path))

    def data(self):
        r = self.rng
        n = r.choice([0, 0, 1, 3, 8, 16])
        return bytes(r.getrandbits(8) for _ in range(n))

    def version(self):
        r = self.rng
        return -1 if r.random() < 0.5 else r.choice([0, 0, 1, 1, 2, 3])

    def acl(self):
        names = [n for n, _ in ACL_WEIGHTS]
        weights = [w for _, w in ACL_WEIGHTS]
        return self.rng.choices(names, weights)[0]

    def create_op(self):
        r = self.rng
        path = self.random_path()
        if path in ("/",):
            path = "/a"
        if self.is_container_name(path):
            mode = "container"
        else:
            mode = r.choices(
                ["persistent", "ephemeral", "sequential", "ephemeral_sequential"], [50, 20, 20, 10]
            )[0]
            if self.under_container(path) and "ephemeral" in mode:
                mode = "persistent"
        return {"op": "create", "path": path, "mode": mode, "data": self.data(), "acl": self.acl()}

    def deletable(self, path):
        return not self.under_container(path)

    def next(self):
        if self.held:
            return self.held.pop()
        r = self.rng
        slot = r.randrange(SLOTS)
        kind = r.choices(
            [
                "create", "delete", "set", "exists", "get", "children", "children2",
                "multi", "get_acl", "set_acl", "sync", "reconnect",
            ],
            [26, 12, 12, 8, 9, 7, 6, 8, 4, 3, 3, 0.6],
        )[0]
        op: dict = {"slot": slot}
        if kind == "create":
            op.update(self.create_op())
        elif kind == "delete":
            path = self.random_path()
            if not self.deletable(path):
                op.update({"op": "get", "path": path, "watch": False})
                return op
            op.update({"op": "delete", "path": path, "version": self.version()})
        elif kind == "set":
            op.update({"op": "set", "path": self.random_path(), "data": self.data(),
                       "version": self.version()})
        elif kind in ("exists", "get", "children", "children2"):
            op.update({"op": kind, "path": self.random_path(), "watch": r.random() < 0.6})
        elif kind == "multi":
            subs = []
            for _ in range(r.randint(1, 4)):
                t = r.choice(["create", "delete", "set", "check"])
                if t == "create":
                    c = self.create_op()
                    if c["mode"] == "container":  # no container in multi via kazoo
                        c["mode"] = "persistent"
                        c["path"] = self.parent(c["path"]) + "/a" if c["path"].count("/") > 1 else "/a"
                    subs.append(c)
                elif t == "delete":
                    p = self.random_path()
                    if self.deletable(p):
                        subs.append({"op": "delete", "path": p, "version": self.version()})
                elif t == "set":
                    subs.append({"op": "set", "path": self.random_path(), "data": self.data(),
                                 "version": self.version()})
                else:
                    subs.append({"op": "check", "path": self.random_path(),
                                 "version": r.choice([0, 0, 1, 2])})
            op.update({"op": "multi", "subs": subs})
        elif kind == "get_acl":
            op.update({"op": "get_acl", "path": self.random_path()})
        elif kind == "set_acl":
            op.update({"op": "set_acl", "path": self.random_path(), "acl": self.acl(),
                       "version": self.version()})
        elif kind == "sync":
            op.update({"op": "sync", "path": self.random_path()})
        else:
            op.update({"op": "reconnect"})
        return op


def touches_config(op):
    """Whether an op (or one of a multi's) names /zookeeper/config."""
    if op.get("op") == "multi":
        return any(touches_config(sub) for sub in op["subs"])
    return op.get("path") == "/zookeeper/config"


def describe(op):
    d = {k: v for k, v in op.items() if k not in ("subs",)}
    if "data" in d:
        d["data"] = d["data"].hex()
    if op.get("op") == "multi":
        d["subs"] = [describe(s) for s in op["subs"]]
    return d


# ------------------------------------------------------------------------------ execution


def norm_stat(t: Target, st):
    if st is None:
        return None
    return (
        "stat",
        st.version,
        st.cversion,
        st.aversion,
        t.owner(st.ephemeralOwner),
        st.dataLength,
        st.numChildren,
    )


def norm_acls(acls):
    return [(a.perms, a.id.scheme, a.id.id) for a in acls]


def norm_value(t, v):
    if isinstance(v, ZnodeStat):
        return norm_stat(t, v)
    if isinstance(v, BaseException):
        return ("error", type(v).__name__)
    return v


def run_op(t: Target, op):
    """Run one op on a target; returns a normalized, comparable result."""
    return start_op(t, op)()


def start_op(t: Target, op):
    """Send one op to a target without waiting (kazoo's async API: many requests in flight on
    one session); returns a function that waits for its answer and normalizes it."""
    slot = op["slot"]
    c = t.clients[slot]
    if op["op"] == "reconnect":
        t.reopen(slot)
        return lambda: ("reopened",)
    try:
        pending, norm = _send(t, c, op)
    except Exception as e:  # client-side validation, or a synchronous call that failed
        failed = ("error", type(e).__name__)
        return lambda: failed

    def finish():
        try:
            return norm(pending.get(timeout=OP_TIMEOUT) if pending is not None else None)
        except c.handler.timeout_exception:
            return ("error", "Timeout")
        except Exception as e:  # kazoo errors, connection loss
            return ("error", type(e).__name__)

    return finish


def _send(t: Target, c, op):
    """Sends one op: (kazoo async result or None, its normalizer)."""
    kind = op["op"]
    w = t.watchers[op["slot"]] if op.get("watch") else None
    if kind == "create":
        acl = ACL_CHOICES[op["acl"]]
        if op["mode"] == "container":
            # kazoo has no async createContainer: sent and waited for here, in its turn.
            path, st = kzext.create_container(c, op["path"], op["data"], acl, OP_TIMEOUT)
            done = ("ok", path, norm_stat(t, st))
            return None, lambda _: done
        pending = c.create_async(
            op["path"],
            op["data"],
            acl=acl,
            ephemeral="ephemeral" in op["mode"],
            sequence="sequential" in op["mode"],
            include_data=True,
        )
        return pending, lambda r: ("ok", r[0], norm_stat(t, r[1]))
    if kind == "delete":
        return c.delete_async(op["path"], op["version"]), lambda r: ("ok", r)
    if kind == "set":
        pending = c.set_async(op["path"], op["data"], op["version"])
        return pending, lambda st: ("ok", norm_stat(t, st))
    if kind == "exists":
        return c.exists_async(op["path"], w), lambda st: ("ok", norm_stat(t, st))
    if kind == "get":
        return c.get_async(op["path"], w), lambda r: ("ok", r[0], norm_stat(t, r[1]))
    if kind == "children":
        return c.get_children_async(op["path"], w), lambda kids: ("ok", sorted(kids))
    if kind == "children2":
        pending = c.get_children_async(op["path"], w, include_data=True)
        return pending, lambda r: ("ok", sorted(r[0]), norm_stat(t, r[1]))
    if kind == "get_acl":
        pending = c.get_acls_async(op["path"])
        return pending, lambda r: ("ok", norm_acls(r[0]), norm_stat(t, r[1]))
    if kind == "set_acl":
        pending = c.set_acls_async(op["path"], ACL_CHOICES[op["acl"]], op["version"])
        return pending, lambda st: ("ok", norm_stat(t, st))
    if kind == "sync":
        return c.sync_async(op["path"]), lambda r: ("ok", r)
    if kind == "multi":
        tx = c.transaction()
        for s in op["subs"]:
            if s["op"] == "create":
                tx.create(
                    s["path"],
                    s["data"],
                    acl=ACL_CHOICES[s["acl"]],
                    ephemeral="ephemeral" in s["mode"],
                    sequence="sequential" in s["mode"],
                )
            elif s["op"] == "delete":
                tx.delete(s["path"], s["version"])
            elif s["op"] == "set":
                tx.set_data(s["path"], s["data"], s["version"])
            else:
                tx.check(s["path"], s["version"])
        pending = tx.commit_async()
        return pending, lambda results: ("ok", [norm_value(t, r) for r in results])
    raise ValueError(kind)


def run_batch(t: Target, ops):
    """Sends every op of a batch (one slot) before waiting for any answer; the answers, in
    order."""
    finishers = [start_op(t, op) for op in ops]
    return [finish() for finish in finishers]


def result_paths(op, res):
    """Paths a successful result names (created nodes), for the generator."""
    if op["op"] == "create" and res[0] == "ok":
        return [res[1]]
    if op["op"] == "multi" and res[0] == "ok":
        return [r for r in res[1] if isinstance(r, str) and r.startswith("/")]
    return []


# ------------------------------------------------------------------------------ main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--other",
        default=os.environ.get("COMPAT_TARGET", "zookeeper"),
        help="zookeeper | quorum | quorum-ensemble | zookeeper-corrupt:MODE (default: "
        "$COMPAT_TARGET or zookeeper)",
    )
    ap.add_argument("--corrupt-at", type=int, default=40, help="which matching reply to corrupt")
    ap.add_argument("--checkpoint", type=int, default=500, help="compare watch events every N ops")
    ap.add_argument(
        "--pipeline",
        type=int,
        default=1,
        help="send up to N ops of one session before waiting for their answers (kazoo's async "
        "API); 1 waits for each answer",
    )
    ap.add_argument("--show", type=int, default=20, help="differences to print in full")
    args = ap.parse_args(argv)

    other_kind, corrupt = args.other, None
    if other_kind.startswith("zookeeper-corrupt"):
        other_kind, _, corrupt = other_kind.partition(":")
        other_kind, corrupt = "zookeeper", corrupt or "version"
    if other_kind not in zk.KINDS and other_kind != "quorum-ensemble":
        ap.error(
            "--other must be zookeeper, quorum, quorum-ensemble or zookeeper-corrupt:MODE, "
            f"not {args.other}"
        )

    t0 = time.time()
    ref = other = None
    try:
        try:
            ref = Target("zookeeper", "zookeeper")
            other = Target(args.other, other_kind, corrupt, args.corrupt_at)
        except Exception as e:
            print(f"differential: could not start the targets: {e}")
            print(f"differential: 0 ops, target failed to start (FAIL)")
            return 2
        return run(args, ref, other, t0)
    finally:
        for t in (other, ref):
            if t is not None:
                t.close()


def next_batch(gen, rng, pipeline, left):
    """The next ops to send back to back on one session: 1 to `pipeline` of them, all moved to
    the first op's slot (only one session is busy at a time, so every target answers the same
    way). A reconnect goes alone."""
    size = rng.randint(1, max(1, min(pipeline, left)))
    batch = []
    while len(batch) < size:
        op = gen.next()
        if op["op"] == "reconnect":
            if batch:
                gen.pushback(op)
                break
            return [op]
        if batch:
            op["slot"] = batch[0]["slot"]
        batch.append(op)
    return batch


def run(args, ref, other, t0):
    gen = Generator(args.seed)
    diffs = []
    op_counts = collections.Counter()
    outcome_counts = collections.Counter()
    events_compared = 0

    def compare_events(at):
        nonlocal events_compared
        for slot in range(SLOTS):
            ref.flush(slot)
            other.flush(slot)
            a, b = ref.events[slot], other.events[slot]
            if a != b:
                diffs.append({"at": at, "what": f"watch events of slot {slot}", "zookeeper": a,
                              args.other: b})
            events_compared += len(a)
            ref.events[slot] = []
            other.events[slot] = []

    batch_rng = random.Random(args.seed * 7919 + 1)
    i = 0
    skipped = 0
    while i < args.ops:
        batch = next_batch(gen, batch_rng, args.pipeline, args.ops - i)
        if args.other == "quorum-ensemble":
            kept = [op for op in batch if not touches_config(op)]
            skipped += len(batch) - len(kept)
            i += len(batch) - len(kept)
            batch = kept
            if not batch:
                continue
        if batch[0]["op"] == "reconnect":
            compare_events(i)
        a_results = run_batch(ref, batch)
        b_results = run_batch(other, batch)
        for op, a, b in zip(batch, a_results, b_results):
            op_counts[op["op"]] += 1
            outcome_counts[a[1] if a[0] == "error" else "ok"] += 1
            if op["op"] == "multi" and a[0] == "ok":
                for r in a[1]:
                    if isinstance(r, tuple) and r[0] == "error":
                        outcome_counts["multi:" + r[1]] += 1
            if a != b:
                diffs.append({"at": i, "op": describe(op), "zookeeper": a, args.other: b})
            for p in result_paths(op, a):
                gen.learn(p)
            if op["op"] == "create" and a[0] == "error" and op["path"] != "/":
                gen.learn(op["path"]) if a[1] == "NodeExistsError" else None
            i += 1
            if args.checkpoint and i % args.checkpoint == 0:
                compare_events(i)
    compare_events(args.ops)

    elapsed = time.time() - t0
    print(
        f"differential: zookeeper vs {args.other}, seed {args.seed}, {SLOTS} sessions per target, "
        f"up to {args.pipeline} requests in flight"
    )
    print("  ops by type: " + ", ".join(f"{k}={v}" for k, v in sorted(op_counts.items())))
    print("  outcomes:    " + ", ".join(f"{k}={v}" for k, v in sorted(outcome_counts.items())))
    print(f"  watch events compared: {events_compared}")
    if skipped:
        print(f"  skipped (they touch /zookeeper/config, membership of the ensemble): {skipped}")
    for d in diffs[: args.show]:
        print("  DIFFERENCE " + repr(d))
    if len(diffs) > args.show:
        print(f"  ... and {len(diffs) - args.show} more differences")
    print(
        f"differential: {args.ops} ops, {len(diffs)} differences "
        f"({'PASS' if not diffs else 'FAIL'}) in {elapsed:.1f}s"
    )
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
