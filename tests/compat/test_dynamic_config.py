"""/zookeeper/config on a 3-server ensemble of the target, read with kazoo from every server.

Apache ZooKeeper 3.8 (read off the Debian package; see docs/membership.md) shows there, on every
server, one ``server.N=host:peerPort:electionPort:participant`` line per member, followed by
``;clientHost:clientPort`` only when the ``server.N`` line gave a client address (not when each
server sets ``clientPort`` in its own zoo.cfg), then ``version=0`` for a configuration read from
zoo.cfg (without ``reconfigEnabled``), with no final newline. Its Stat: czxid, mzxid, ctime 0,
version and aversion -1 (mtime is ZooKeeper's wall clock at start, Quorum's 0: not compared).
A watch set on it is accepted; ``conf`` ends with ``membership: `` and the same text.
"""

import ipaddress
import threading

import pytest
from kazoo.client import KazooClient

import zk
from multi_server import Member, wait_serving

CONFIG = "/zookeeper/config"


@pytest.fixture(params=[False, True], ids=["clientPort", "client-in-server-line"])
def ensemble(request):
    kind = zk.target_from_env()
    ports = {
        i: {"client": zk.free_port(), "peer": zk.free_port(), "election": zk.free_port()}
        for i in (1, 2, 3)
    }
    members = [Member(kind, i, ports, request.param) for i in (1, 2, 3)]
    try:
        for m in members:
            m.start()
        wait_serving(members)
        yield members
    finally:
        for m in members:
            m.server.stop()


def parse_config(text):
    """{id: (peer address, election port, role, client address or None)} and the version."""
    servers, version = {}, None
    lines = text.split("\n")
    for line in lines:
        key, value = line.split("=", 1)
        if key == "version":
            version = int(value, 16)
            continue
        assert key.startswith("server."), line
        address, _, client = value.partition(";")
        host, peer, election, role = address.split(":")
        if client:
            chost, cport = client.rsplit(":", 1)
            client = (ipaddress.ip_address(chost), int(cport))
        servers[int(key[len("server."):])] = (
            (ipaddress.ip_address(host), int(peer)), int(election), role, client or None)
    assert lines[-1].startswith("version="), "the version comes last"
    return servers, version


def expected_servers(member):
    local = ipaddress.ip_address("127.0.0.1")
    return {
        i: ((local, p["peer"]), p["election"], "participant",
            (local, p["client"]) if member.inline_client else None)
        for i, p in member.ports.items()
    }


def test_every_server_shows_the_membership_in_zookeeper_config(ensemble):
    texts = []
    for m in ensemble:
        c = KazooClient(hosts=m.server.connect_string, timeout=10.0)
        c.start(timeout=30)
        try:
            fired = threading.Event()
            data, stat = c.get(CONFIG, watch=lambda event: fired.set())
            assert c.exists(CONFIG, watch=lambda event: fired.set()) is not None
            assert c.get_children("/zookeeper") in (["config", "quota"], ["quota", "config"])
        finally:
            c.stop()
        text = data.decode()
        assert not text.endswith("\n"), repr(text)
        servers, version = parse_config(text)
        assert servers == expected_servers(m), text
        assert version == 0, text
        assert (stat.czxid, stat.mzxid, stat.ctime) == (0, 0, 0), stat
        assert (stat.version, stat.aversion, stat.cversion) == (-1, -1, 0), stat
        assert (stat.data_length, stat.numChildren) == (len(data), 0), stat
        assert not fired.is_set(), "nothing changed the configuration"
        conf = zk.four_letter(m.server.host, m.server.port, "conf")
        assert conf.endswith("membership: \n" + text), conf
        texts.append(text)
    assert texts[0] == texts[1] == texts[2], texts


def test_a_standalone_server_shows_no_membership(target, zkc):
    data, stat = zkc.get(CONFIG)
    assert data == b"", data
    assert (stat.mzxid, stat.version, stat.aversion) == (0, 0, -1), stat
    assert "membership" not in zk.four_letter(target.host, target.port, "conf")
