"""The AdminServer (ZooKeeper 3.5+'s HTTP admin endpoint, ``/commands/<name>``) of the target
under test, enabled on a free port: for each command Quorum answers, the top-level JSON keys
must be ZooKeeper 3.8's, the aliases must name the same command, and unknown commands, other
paths and other methods must be answered as ZooKeeper answers them.

The expected key sets were recorded from Apache ZooKeeper 3.8 (Debian's package) and are checked
against it too (COMPAT_TARGET=zookeeper), so the record cannot drift from the real thing.
Differences that follow from Quorum not being a Java program are listed in EXCEPTIONS with why.
"""

import json
import urllib.error
import urllib.request

import pytest

import zk

# Top-level keys of each command's answer (besides "command" and "error"), standalone server.
ZK_KEYS = {
    "ruok": set(),
    "is_read_only": {"read_only"},
    "watch_summary": {"num_connections", "num_paths", "num_total_watches"},
    "voting_view": {"current_config"},
    "leader": set(),  # standalone: only an error, "server is not initialized"
    "connections": {"connections", "secure_connections"},
    "server_stats": {"version", "read_only", "server_stats", "client_response", "node_count"},
    "stats": {
        "version", "read_only", "server_stats", "client_response", "node_count",
        "connections", "secure_connections",
    },
    "configuration": {
        "client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns",
        "min_session_timeout", "max_session_timeout", "server_id", "client_port_listen_backlog",
    },
    "environment": {
        "zookeeper.version", "host.name", "os.name", "os.arch", "os.version", "user.name",
        "user.home", "user.dir",
        "java.version", "java.vendor", "java.home", "java.class.path", "java.library.path",
        "java.io.tmpdir", "java.compiler", "os.memory.free", "os.memory.max", "os.memory.total",
    },
    # ZooKeeper's monitor has ~480 keys; these are the ones both servers report. ZooKeeper's
    # others are figures of its Java request processors and JVM (see EXCEPTIONS).
    "monitor": {
        "version", "server_state", "ephemerals_count", "num_alive_connections", "avg_latency",
        "max_latency", "min_latency", "outstanding_requests", "znode_count", "global_sessions",
        "local_sessions", "packets_sent", "packets_received", "watch_count",
        "approximate_data_size", "open_file_descriptor_count", "max_file_descriptor_count",
        "uptime",
    },
}

# Keys one side has and the other has not, per command: (only ZooKeeper, only Quorum, why).
EXCEPTIONS = {
    "environment": (
        {k for k in ZK_KEYS["environment"] if k.startswith("java.") or k.startswith("os.memory.")},
        set(),
        "facts of the Java runtime (os.memory.* is the JVM heap); Quorum is not a Java program",
    ),
    "monitor": (
        None,  # any number of further ZooKeeper keys: its Java processors' queues and timings
        {
            "last_zxid", "current_epoch", "digest", "elections", "outbound_bytes",
            "requests_in_flight", "sync_diff", "sync_trunc", "sync_snap", "sync_log_reads",
            "sync_log_reads_refused",
        },
        "ZooKeeper also reports its Java request processors' and the JVM's figures; Quorum "
        "reports its own mntr extras (zxid, digest, syncs) as its four-letter word does",
    ),
}

# Aliases, as ZooKeeper 3.8 accepts them.
ALIASES = {
    "conf": "configuration", "config": "configuration", "cons": "connections",
    "env": "environment", "envi": "environment", "isro": "is_read_only", "lead": "leader",
    "mntr": "monitor", "srvr": "server_stats", "stat": "stats", "wchs": "watch_summary",
}


@pytest.fixture(scope="module")
def admin():
    port = zk.free_port()
    cfg = {
        "admin.enableServer": "true",
        "admin.serverAddress": "127.0.0.1",
        "admin.serverPort": port,
    }
    srv = zk.start_target(zk.target_from_env(), extra_cfg=cfg)
    srv.admin_url = f"http://127.0.0.1:{port}"
    try:
        yield srv
    finally:
        srv.stop()


def request(admin, path, method="GET"):
    """(status, body bytes) of one request."""
    req = urllib.request.Request(admin.admin_url + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def command(admin, name):
    status, body = request(admin, f"/commands/{name}")
    assert status == 200, (name, status, body)
    return json.loads(body)


@pytest.mark.parametrize("name", sorted(ZK_KEYS))
def test_top_level_keys_are_zookeepers(admin, name):
    answer = command(admin, name)
    assert answer["command"] == name
    keys = set(answer) - {"command", "error"}
    want = ZK_KEYS[name]
    only_zk, only_quorum, why = EXCEPTIONS.get(name, (set(), set(), ""))
    if admin.kind == "zookeeper":
        missing = want - keys
        extra = keys - want
        if only_zk is None:
            extra = set()
        assert not missing and not extra, f"{name}: missing {missing}, extra {extra}"
        assert not keys & only_quorum, f"{name}: {keys & only_quorum} ({why})"
    else:
        expected = (want - (only_zk or set())) | only_quorum
        assert keys == expected, (
            f"{name}: missing {expected - keys}, extra {keys - expected} ({why})"
        )
    if name == "leader":
        assert answer["error"] == "server is not initialized"
    else:
        assert answer["error"] is None, answer


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_name_the_command(admin, alias):
    assert command(admin, alias)["command"] == ALIASES[alias]


def test_values_tools_read(admin, make_client):
    assert command(admin, "is_read_only")["read_only"] is False
    stats = command(admin, "srvr")
    assert stats["server_stats"]["server_state"] == "standalone"
    assert stats["version"].startswith("3.8.")
    assert command(admin, "conf")["client_port"] == admin.port
    before = command(admin, "mntr")["znode_count"]
    c = make_client(hosts=admin.connect_string)
    c.create("/admin-compat", b"x")
    assert command(admin, "mntr")["znode_count"] == before + 1
    cons = command(admin, "cons")["connections"]
    assert len(cons) >= 1 and "session_id" in cons[0] and "remote_socket_address" in cons[0]
    c.get("/admin-compat", watch=lambda e: None)
    assert command(admin, "wchs")["num_total_watches"] >= 1


def test_unknown_command_other_paths_and_methods(admin):
    status, body = request(admin, "/commands/nosuch")
    assert status == 200
    assert json.loads(body) == {"command": "nosuch", "error": "Unknown command: nosuch"}
    status, body = request(admin, "/commands/RUOK")
    assert json.loads(body)["error"] == "Unknown command: RUOK"
    status, body = request(admin, "/commands")
    assert status == 200
    for name in ZK_KEYS:
        assert f'<a href="/commands/{name}">{name}</a>' in body.decode()
    assert request(admin, "/nosuch")[0] == 404
    assert request(admin, "/commands/ruok", method="POST")[0] == 405
    assert request(admin, "/commands/ruok", method="DELETE")[0] == 405
    status, body = request(admin, "/commands/ruok", method="HEAD")
    assert status == 200 and body == b""
    assert json.loads(request(admin, "/commands/ruok?x=1")[1])["error"] is None
