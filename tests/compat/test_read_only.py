"""Read-only mode with kazoo's read-only client, on a 3-server ensemble of the target.

The ensemble starts whole and a node is written; then two servers stop. The survivor, cut off
from the quorum, turns read-only (ZooKeeper: ``-Dreadonlymode.enabled=true``; Quorum: the
zoo.cfg key ``readonlymode.enabled``; both need ``localSessionsEnabled=true``, without which
ZooKeeper 3.8 opens no session on a read-only server): ``isro`` says ``ro``, a ``KazooClient(read_only=True)``
connects and reads what was committed, and a write raises ``NotReadOnlyCallError``; a client that
does not accept read-only is refused; a read-only client whose session predates the split is told
it expired and reads through a new read-only session. Then the others start again: the survivor leaves read-only
mode and writes work again, from the read-only client (after it moved to a read-write session)
and from a new one.
"""

import os
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NotReadOnlyCallError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KeeperState

import multi_server
import zk

# A JVM server takes seconds to start; elections and the read-only grace (2 s) add to it.
START_TIMEOUT_S = 90.0
MODE_TIMEOUT_S = 60.0


class Member(multi_server.Member):
    """One server of the ensemble: fixed ports (written into every member's zoo.cfg) and a
    dataDir kept across stops, so a restarted member comes back with its data."""

    def __init__(self, kind: str, my_id: int, ports: dict):
        # ZooKeeper 3.8 opens a session on a read-only server only if it can be local, and
        # reads the mode from a system property only.
        cfg = {"readonlymode.enabled": "true", "localSessionsEnabled": "true"}
        super().__init__(kind, my_id, ports, inline_client=False, extra_cfg=cfg,
                         java_props={"readonlymode.enabled": "true"})

    @property
    def connect_string(self) -> str:
        return self.server.connect_string

    def stop(self):
        self.server._kill()

    def isro(self) -> str:
        try:
            return zk.four_letter(self.server.host, self.server.port, "isro").strip()
        except OSError:
            return ""


def wait_for(what, predicate, timeout=MODE_TIMEOUT_S, members=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {m.my_id}:\n{m.server.log_tail(20)}" for m in members)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def retry(op, timeout=MODE_TIMEOUT_S):
    """Runs `op` until it succeeds: the client may still be moving to a read-write server."""
    deadline = time.time() + timeout
    while True:
        try:
            return op()
        except (ConnectionLoss, SessionExpiredError, NotReadOnlyCallError, KazooTimeoutError):
            if time.time() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def ensemble():
    kind = zk.target_from_env()
    ports = {
        i: {"client": zk.free_port(), "peer": zk.free_port(), "election": zk.free_port()}
        for i in (1, 2, 3)
    }
    members = [Member(kind, i, ports) for i in (1, 2, 3)]
    try:
        yield members
    finally:
        for m in members:
            m.server.stop()


def test_read_only_client_reads_and_is_refused_writes_until_the_quorum_returns(ensemble):
    one, two, three = ensemble
    for m in ensemble:
        m.start()
    wait_for("the ensemble to serve", lambda: all(m.isro() == "rw" for m in ensemble),
             START_TIMEOUT_S, ensemble)
    hosts = ",".join(m.connect_string for m in ensemble)
    writer = KazooClient(hosts=hosts, timeout=10.0)
    writer.start(timeout=30)
    retry(lambda: writer.create("/ro", b"committed"))
    writer.stop()
    writer.close()
    # A read-only client with a session from before: that session (local to its server with
    # local sessions) is expired by the read-only server, and the client opens a read-only one.
    early = KazooClient(hosts=one.connect_string, read_only=True, timeout=10.0)
    early.start(timeout=30)

    two.stop()
    three.stop()
    wait_for("the survivor to turn read-only", lambda: one.isro() == "ro", members=ensemble)
    assert "Mode: read-only" in zk.four_letter(one.server.host, one.server.port, "srvr")
    try:
        assert retry(lambda: early.get("/ro"))[0] == b"committed"
        assert early.client_state == KeeperState.CONNECTED_RO
    finally:
        early.stop()
        early.close()

    # A client that does not accept a read-only server is refused.
    plain = KazooClient(hosts=one.connect_string, timeout=4.0)
    with pytest.raises(KazooTimeoutError):
        plain.start(timeout=4)
    plain.stop()
    plain.close()

    ro = KazooClient(hosts=one.connect_string, read_only=True, timeout=10.0)
    ro.start(timeout=30)
    try:
        assert ro.client_state == KeeperState.CONNECTED_RO
        data, stat = ro.get("/ro")
        assert data == b"committed"
        assert ro.exists("/ro", watch=lambda e: None) is not None
        assert "ro" in ro.get_children("/")
        with pytest.raises(NotReadOnlyCallError):
            ro.create("/ro/child", b"")
        with pytest.raises(NotReadOnlyCallError):
            ro.set("/ro", b"changed")
        with pytest.raises(NotReadOnlyCallError):
            ro.delete("/ro")
        assert ro.get("/ro")[0] == b"committed", "a refused write changed nothing"

        two.start()
        three.start()
        wait_for("the survivor to leave read-only mode", lambda: one.isro() == "rw",
                 START_TIMEOUT_S, ensemble)
        # The read-only session is not the ensemble's: the client is closed, finds the
        # read-write server, and (its session unknown there) gets a new one.
        retry(lambda: ro.set("/ro", b"written after"))
        assert ro.client_state == KeeperState.CONNECTED
    finally:
        ro.stop()
        ro.close()

    again = KazooClient(hosts=one.connect_string, timeout=10.0)
    again.start(timeout=30)
    try:
        assert retry(lambda: again.get("/ro"))[0] == b"written after"
        again.create("/ro/child", b"")
    except KazooException:
        raise
    finally:
        again.stop()
        again.close()
