"""Dynamic reconfiguration (the ``reconfig`` request, opcode 16) through kazoo on a 3-server
ensemble of the target, with the client address on every ``server.N`` line.

What Apache ZooKeeper 3.8 (Debian package) does, and what these tests hold the target to:

* Errors: with ``reconfigEnabled`` off (the default) every reconfig, authenticated or not, fails
  with ReconfigDisabled (-123), checked before the ACL. With it on, a session without the
  ``super`` digest identity gets NoAuth (-102) (a wrong super password too: digest auth itself
  succeeds, the identity just is not super); unparsable members give BadArguments (-8); a
  ``from_config`` that is not the current configuration's version gives BadVersion (-103).
  BadArguments too for a membership with a single voter left (``leaving`` all others, or
  ``new_members`` of one; standaloneEnabled is on by default) and for a joining server line
  without a client address (``;host:port``). Nothing changes on any error.
* A reconfig that changes nothing (all three arguments empty, ``leaving`` an id that is not a
  member, ``joining`` a member's own line) succeeds and still commits a new version.
* /zookeeper/config with ``reconfigEnabled=true``: one ``server.N=host:peer:election:role;
  host:client`` line per member in ascending id order (``:participant`` written out even when
  zoo.cfg left the role off, the ``;client`` part kept), then ``version=<hex>``, no final
  newline. On a fresh ensemble the version is the first leader's epoch as a zxid
  (``100000000``), not 0 as without ``reconfigEnabled`` (Quorum shows 0 until the first
  reconfig; both are accepted); after a reconfig it is the zxid of the
  reconfig transaction. Stat: mzxid == version, czxid = ctime = pzxid = 0, version = aversion =
  -1, cversion 0, dataLength = len(data).
* The reconfig answer is exactly the new /zookeeper/config data and Stat; every server shows the
  same text after sync; a watch set on /zookeeper/config fires NodeDataChanged.
* Adding a non-running observer, or a non-running participant to three live voters (new quorum
  3 of 4), succeeds at once. A removed follower keeps running and keeps serving reads (``srvr``
  still says follower) and shows the new configuration; adding it back with its line makes it a
  voter again. ``new_members`` replaces the whole membership; a follower turned into an
  observer restarts as one (its client sessions were seen disconnected, not asserted) and then
  answers ``srvr`` as observer and serves reads.
* Removing the leader: the leader steps down, one of the remaining voters is elected, and the
  configuration without the old leader is committed; the request's session (on a follower)
  gets either the answer or ConnectionLoss, both seen. The old leader runs on as a follower
  and can be added back.
"""

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    NoAuthError,
    ReconfigDisabledError,
)
from kazoo.protocol.states import EventType

import zk
import multi_server
from multi_server import Member, super_digest, wait_serving

CONFIG = "/zookeeper/config"
PASSWORD = "reconfig-compat"
SUPER_AUTH = [("digest", f"super:{PASSWORD}")]
CONVERGE_S = 30.0


def new_ports():
    return {"client": zk.free_port(), "peer": zk.free_port(), "election": zk.free_port()}


def server_line(i, p, role="participant"):
    return (f"server.{i}=127.0.0.1:{p['peer']}:{p['election']}:{role};"
            f"127.0.0.1:{p['client']}")


def parse(text):
    """([server lines], version) of a /zookeeper/config text."""
    assert not text.endswith("\n"), repr(text)
    lines = text.split("\n")
    assert lines[-1].startswith("version="), text
    return lines[:-1], int(lines[-1][len("version="):], 16)


def wait_until(what, predicate, timeout=CONVERGE_S):
    return multi_server.wait_until(what, predicate, timeout, interval=0.2)


class Ensemble(multi_server.Ensemble):
    """Three members with the super digest, client addresses on the server lines."""

    def __init__(self, reconfig_enabled):
        kind = zk.target_from_env()
        self.ports = {i: new_ports() for i in (1, 2, 3)}
        extra = {"reconfigEnabled": "true"} if reconfig_enabled else {}
        super().__init__({
            i: Member(kind, i, self.ports, True, extra_cfg=extra,
                      super_digest=super_digest(PASSWORD))
            for i in (1, 2, 3)
        })

    def client(self, i, auth=SUPER_AUTH):
        c = KazooClient(hosts=self.members[i].server.connect_string, timeout=10.0,
                        auth_data=auth)
        c.start(timeout=30)
        self.clients.append(c)
        return c

    def line(self, i, role="participant"):
        return server_line(i, self.ports[i], role)

    def expected(self, roles, extra=()):
        """The server lines for {id: role}, plus extra lines, in ascending id order."""
        lines = [(i, self.line(i, role)) for i, role in roles.items()]
        lines += [(int(x.split("=", 1)[0][len("server."):]), x) for x in extra]
        return [x for _, x in sorted(lines)]

    def mode(self, i):
        return self.members[i].mode()

    def leader(self):
        return wait_until("a leader", lambda: next(
            (i for i in self.members if self.mode(i) == "leader"), None))

    def config_on(self, i):
        """/zookeeper/config as server i shows it after a sync."""
        c = self.client(i, auth=None)
        try:
            c.sync(CONFIG)
            data, stat = c.get(CONFIG)
        finally:
            self.close(c)
        return data.decode(), stat

    def wait_same_config_everywhere(self, text, ids=(1, 2, 3)):
        for i in ids:
            wait_until(f"server {i} to show {text!r}", lambda: self.config_on(i)[0] == text)

def assert_config_stat(data, stat, version):
    assert stat.mzxid == version, (stat, version)
    assert (stat.czxid, stat.ctime, stat.pzxid) == (0, 0, 0), stat
    assert (stat.version, stat.aversion, stat.cversion) == (-1, -1, 0), stat
    assert (stat.data_length, stat.numChildren, stat.ephemeralOwner) == (len(data), 0, 0), stat


# --- reconfigEnabled off ------------------------------------------------------------------------


class TestReconfigDisabled:
    @pytest.fixture(scope="class")
    def ens(self):
        e = Ensemble(reconfig_enabled=False)
        try:
            e.start()
            yield e
        finally:
            e.stop()

    @pytest.mark.parametrize("auth", [None, SUPER_AUTH], ids=["anonymous", "super"])
    def test_reconfig_is_disabled_by_default(self, ens, auth):
        c = ens.client(1, auth=auth)
        before, _ = c.get(CONFIG)
        observer = server_line(100, new_ports(), "observer")
        with pytest.raises(ReconfigDisabledError) as err:
            c.reconfig(joining=observer, leaving=None, new_members=None)
        assert type(err.value) is ReconfigDisabledError and err.value.code == -123
        with pytest.raises(ReconfigDisabledError):
            c.reconfig(joining=None, leaving="3", new_members=None)
        assert c.get(CONFIG)[0] == before
        lines, version = parse(before.decode())
        assert version == 0 and lines == ens.expected({1: "participant", 2: "participant",
                                                       3: "participant"})


# --- reconfigEnabled=true, with the super user ----------------------------------------------------


ALL_VOTERS = {1: "participant", 2: "participant", 3: "participant"}


class TestReconfig:
    """One ensemble for the class; every test leaves the membership as it found it (servers 1-3
    voting), though the configuration version and possibly the leader move on."""

    @pytest.fixture(scope="class")
    def ens(self):
        e = Ensemble(reconfig_enabled=True)
        try:
            e.start()
            yield e
        finally:
            e.stop()

    @pytest.fixture(scope="class")
    def admin(self, ens):
        """A super session on server 1."""
        return ens.client(1)

    def current(self, admin):
        admin.sync(CONFIG)
        data, stat = admin.get(CONFIG)
        lines, version = parse(data.decode())
        return data.decode(), lines, version, stat

    def follower_other_than_1(self, ens):
        """A voter that is neither the leader nor server 1 (whose session does the reconfigs):
        changing it neither moves leadership nor drops the admin session."""
        leader = ens.leader()
        return 3 if leader != 3 else 2

    def test_01_initial_configuration(self, ens, admin):
        texts = set()
        for i in (1, 2, 3):
            text, stat = ens.config_on(i)
            lines, version = parse(text)
            assert lines == ens.expected(ALL_VOTERS), text
            # With reconfigEnabled ZooKeeper stamps the configuration read from zoo.cfg with the
            # first leader's epoch as a zxid (counter 0: 0x100000000 on a fresh ensemble);
            # Quorum keeps version 0 until the first reconfig (see docs/membership.md). Either
            # way clients pass what they read as fromConfig.
            epoch_stamped = version >> 32 >= 1 and version & 0xFFFFFFFF == 0
            assert epoch_stamped or version == 0, hex(version)
            assert_config_stat(text.encode(), stat, version)
            texts.add(text)
        assert len(texts) == 1, texts

    @pytest.mark.parametrize("auth", [None, [("digest", "super:wrong-password")],
                                      [("digest", "someone:" + PASSWORD)]],
                             ids=["anonymous", "wrong-password", "not-super"])
    def test_02_reconfig_needs_super(self, ens, admin, auth):
        before = self.current(admin)[0]
        c = ens.client(1, auth=auth)
        with pytest.raises(NoAuthError) as err:
            c.reconfig(joining=server_line(100, new_ports(), "observer"), leaving=None,
                       new_members=None)
        assert err.value.code == -102
        with pytest.raises(NoAuthError):
            c.reconfig(joining=None, leaving="3", new_members=None)
        assert self.current(admin)[0] == before

    @pytest.mark.parametrize("kwargs", [
        {"joining": "some thing bad", "leaving": None, "new_members": None},
        {"joining": None, "leaving": None, "new_members": "some thing bad"},
        {"joining": "server.100=127.0.0.1:not-a-port:1:observer", "leaving": None,
         "new_members": None},
    ], ids=["joining", "new_members", "bad-port"])
    def test_03_bad_arguments(self, admin, kwargs):
        before = self.current(admin)[0]
        with pytest.raises(BadArgumentsError) as err:
            admin.reconfig(**kwargs)
        assert err.value.code == -8
        assert self.current(admin)[0] == before

    def test_03b_refused_memberships(self, ens, admin):
        before = self.current(admin)[0]
        refused = [
            # A single voter left (ZooKeeper 3.8, standaloneEnabled on by default).
            {"joining": None, "leaving": "2,3", "new_members": None},
            {"joining": None, "leaving": None, "new_members": ens.line(1)},
            # A joining server without a client address.
            {"joining": f"server.101=127.0.0.1:{zk.free_port()}:{zk.free_port()}:observer",
             "leaving": None, "new_members": None},
        ]
        for kwargs in refused:
            with pytest.raises(BadArgumentsError):
                admin.reconfig(**kwargs)
            assert self.current(admin)[0] == before, kwargs

    def test_03c_reconfigs_that_change_nothing_still_make_a_new_version(self, ens, admin):
        _, lines0, version, _ = self.current(admin)
        assert lines0 == ens.expected(ALL_VOTERS)
        for kwargs in [
            {"joining": None, "leaving": None, "new_members": None},
            {"joining": None, "leaving": "42", "new_members": None},  # not a member
            {"joining": ens.line(2), "leaving": None, "new_members": None},  # already there
        ]:
            data, stat = admin.reconfig(**kwargs)
            lines, v = parse(data.decode())
            assert lines == lines0, kwargs
            assert v > version, (kwargs, hex(version), hex(v))
            assert_config_stat(data, stat, v)
            version = v

    def test_04_add_and_remove_an_observer_that_is_not_running(self, ens, admin):
        _, _, v0, _ = self.current(admin)
        events = []
        fired = threading.Event()

        def watch(event):
            events.append(event)
            fired.set()

        admin.get(CONFIG, watch=watch)
        observer = server_line(100, new_ports(), "observer")
        data, stat = admin.reconfig(joining=observer, leaving=None, new_members=None)
        text = data.decode()
        lines, v1 = parse(text)
        assert lines == ens.expected(ALL_VOTERS, [observer]), text
        assert v1 > v0 and v1 >> 32 == v0 >> 32, (hex(v0), hex(v1))
        assert_config_stat(data, stat, v1)
        assert fired.wait(10), "the watch on /zookeeper/config did not fire"
        assert [(e.type, e.path) for e in events] == [(EventType.CHANGED, CONFIG)], events
        ens.wait_same_config_everywhere(text)
        assert self.current(admin)[3] == stat

        data, stat = admin.reconfig(joining=None, leaving="100", new_members=None)
        text = data.decode()
        lines, v2 = parse(text)
        assert lines == ens.expected(ALL_VOTERS), text
        assert v2 > v1, (hex(v1), hex(v2))
        assert_config_stat(data, stat, v2)
        ens.wait_same_config_everywhere(text)

    def test_05_from_config_must_be_the_current_version(self, ens, admin):
        text0, _, v0, _ = self.current(admin)
        observer = server_line(101, new_ports(), "observer")
        for stale in (v0 - 1, v0 + 1, 0):
            with pytest.raises(BadVersionError) as err:
                admin.reconfig(joining=observer, leaving=None, new_members=None,
                               from_config=stale)
            assert err.value.code == -103
        assert self.current(admin)[0] == text0
        data, _ = admin.reconfig(joining=observer, leaving=None, new_members=None,
                                 from_config=v0)
        lines, v1 = parse(data.decode())
        assert lines == ens.expected(ALL_VOTERS, [observer])
        with pytest.raises(BadVersionError):
            admin.reconfig(joining=None, leaving="101", new_members=None, from_config=v0)
        data, _ = admin.reconfig(joining=None, leaving="101", new_members=None, from_config=v1)
        assert parse(data.decode())[0] == ens.expected(ALL_VOTERS)

    def test_06_remove_a_participant_and_add_it_back(self, ens, admin):
        victim = self.follower_other_than_1(ens)
        rest = {i: "participant" for i in (1, 2, 3) if i != victim}
        _, _, v0, _ = self.current(admin)

        data, stat = admin.reconfig(joining=None, leaving=str(victim), new_members=None)
        text = data.decode()
        lines, v1 = parse(text)
        assert lines == ens.expected(rest), text
        assert v1 > v0
        assert_config_stat(data, stat, v1)
        ens.wait_same_config_everywhere(text, ids=sorted(rest))

        # The two remaining voters commit writes.
        admin.create("/reconfig-removed", b"written without the removed server")
        assert admin.get("/reconfig-removed")[0] == b"written without the removed server"

        # The removed server keeps running as a non-voting follower: it still serves reads,
        # including writes made after its removal, and shows the new configuration.
        assert ens.members[victim].server.proc.poll() is None, "the removed server exited"
        wait_until("the removed server to serve the new write", lambda: ens.mode(victim)
                   == "follower" and self_read(ens, victim, "/reconfig-removed"))
        ens.wait_same_config_everywhere(text, ids=[victim])

        # Back with its original line: a voter again, serving what is written next.
        data, stat = admin.reconfig(joining=ens.line(victim), leaving=None, new_members=None)
        text = data.decode()
        lines, v2 = parse(text)
        assert lines == ens.expected(ALL_VOTERS), text
        assert v2 > v1
        assert_config_stat(data, stat, v2)
        admin.create("/reconfig-readded", b"after the return")
        wait_until("the re-added server to serve the new write",
                   lambda: self_read(ens, victim, "/reconfig-readded") == b"after the return")
        ens.wait_same_config_everywhere(text)
        wait_serving(list(ens.members.values()))

    def test_07_new_members_turns_a_participant_into_an_observer_and_back(self, ens, admin):
        victim = self.follower_other_than_1(ens)
        roles = {i: ("observer" if i == victim else "participant") for i in (1, 2, 3)}
        _, _, v0, _ = self.current(admin)

        new = ",".join(ens.line(i, roles[i]) for i in (1, 2, 3))
        data, stat = admin.reconfig(joining=None, leaving=None, new_members=new)
        text = data.decode()
        lines, v1 = parse(text)
        assert lines == ens.expected(roles), text
        assert v1 > v0
        assert_config_stat(data, stat, v1)
        wait_until("the demoted server to run as an observer",
                   lambda: ens.mode(victim) == "observer")
        ens.wait_same_config_everywhere(text)
        admin.create("/reconfig-observed", b"seen by the observer")
        wait_until("the observer to serve the new write",
                   lambda: self_read(ens, victim, "/reconfig-observed") == b"seen by the observer")

        new = ",".join(ens.line(i) for i in (1, 2, 3))
        data, stat = admin.reconfig(joining=None, leaving=None, new_members=new)
        text = data.decode()
        lines, v2 = parse(text)
        assert lines == ens.expected(ALL_VOTERS), text
        assert v2 > v1
        ens.wait_same_config_everywhere(text)
        wait_serving(list(ens.members.values()))

    def test_08_add_and_remove_a_participant_that_is_not_running(self, ens, admin):
        # Three live voters out of four are a quorum of the new configuration.
        fourth = server_line(4, new_ports())
        data, stat = admin.reconfig(joining=fourth, leaving=None, new_members=None)
        text = data.decode()
        lines, v1 = parse(text)
        assert lines == ens.expected(ALL_VOTERS, [fourth]), text
        assert_config_stat(data, stat, v1)
        ens.wait_same_config_everywhere(text)
        admin.create("/reconfig-four", b"3 of 4")
        data, _ = admin.reconfig(joining=None, leaving="4", new_members=None)
        lines, v2 = parse(data.decode())
        assert lines == ens.expected(ALL_VOTERS) and v2 > v1
        ens.wait_same_config_everywhere(data.decode())

    def test_09_remove_the_leader_and_add_it_back(self, ens, admin):
        leader = ens.leader()
        rest = [i for i in (1, 2, 3) if i != leader]
        watcher = ens.client(rest[0])
        _, _, v0, _ = self.current(watcher)
        try:
            data, _ = watcher.reconfig(joining=None, leaving=str(leader), new_members=None)
            answered = parse(data.decode())[0]
        except ConnectionLoss:
            # The leader stepping down may cut the session before the answer arrives.
            answered = None
        expected = ens.expected({i: "participant" for i in rest})
        if answered is not None:
            assert answered == expected
        wait_until("a new leader among the remaining voters",
                   lambda: any(ens.mode(i) == "leader" for i in rest), timeout=60)

        def committed():
            lines, version = parse(ens.config_on(rest[0])[0])
            return lines == expected and version > v0

        wait_until("the configuration without the old leader", committed, timeout=60)
        for i in rest:
            wait_until(f"server {i} to show the configuration without the old leader",
                       lambda: parse(ens.config_on(i)[0])[0] == expected)
        # The old leader runs on, as a non-voting follower.
        assert ens.members[leader].server.proc.poll() is None
        wait_until("the old leader to follow", lambda: ens.mode(leader) == "follower",
                   timeout=60)

        def readd():
            c = ens.client(rest[0])
            try:
                data, _ = c.reconfig(joining=ens.line(leader), leaving=None, new_members=None)
            finally:
                ens.close(c)
            return parse(data.decode())[0] == ens.expected(ALL_VOTERS)

        wait_until("the old leader to be added back", readd, timeout=60)
        wait_serving(list(ens.members.values()))
        c = ens.client(rest[0])
        c.create("/reconfig-leader-back", b"")
        wait_until("the old leader to serve the new write",
                   lambda: self_read(ens, leader, "/reconfig-leader-back") == b"")


def self_read(ens, i, path):
    """The data of path as server i shows it after a sync (None if absent)."""
    c = ens.client(i, auth=None)
    try:
        c.sync(path)
        got = c.exists(path)
        return c.get(path)[0] if got is not None else None
    finally:
        ens.close(c)
