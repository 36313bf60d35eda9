"""Four-letter words: monitoring tools parse these lines, so the target must print ZooKeeper
3.8's shapes. The expectations below were read off Apache ZooKeeper 3.8 (the same module passes
against it with COMPAT_TARGET=zookeeper)."""

import re

import zk

# Official 3.8 releases print "built on MM/DD/YYYY HH:MM GMT" (Quorum does); Debian's build of
# 3.8.0 prints an ISO date in UTC instead. Both are accepted.
VERSION_LINE = re.compile(
    r"^Zookeeper version: 3\.8\.\S+, built on "
    r"(\d\d/\d\d/\d{4} \d\d:\d\d GMT|\d{4}-\d\d-\d\d \d\d:\d\d UTC)$"
)

# The mntr keys tools rely on (ZooKeeper 3.8 prints these and many more).
MNTR_KEYS = {
    "zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
    "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
    "zk_outstanding_requests", "zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
    "zk_approximate_data_size", "zk_open_file_descriptor_count",
}


def word(target, w):
    return zk.four_letter(target.host, target.port, w)


def test_ruok_and_isro(target):
    assert word(target, "ruok") == "imok"
    assert word(target, "isro") == "rw"


def test_srvr_lines(target, zkc, base):
    text = word(target, "srvr")
    lines = text.strip("\n").split("\n")
    assert VERSION_LINE.match(lines[0]), lines[0]
    keys = [l.split(":")[0] for l in lines[1:]]
    assert keys == ["Latency min/avg/max", "Received", "Sent", "Connections", "Outstanding",
                    "Zxid", "Mode", "Node count"], keys
    fields = dict(l.split(": ", 1) for l in lines[1:])
    assert fields["Mode"] == "standalone"
    assert re.fullmatch(r"0x[0-9a-f]+", fields["Zxid"]), fields["Zxid"]
    assert int(fields["Node count"]) >= 6  # /, /zookeeper (+2), the base node, counted as ZK does
    assert re.fullmatch(r"\d+/[\d.]+/\d+", fields["Latency min/avg/max"])
    assert int(fields["Connections"]) >= 1


def test_stat_lists_clients(target, zkc):
    text = word(target, "stat")
    assert VERSION_LINE.match(text.split("\n")[0])
    assert "\nClients:\n" in text
    assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+", text, re.M), text
    assert "\nMode: standalone\n" in text


def test_mntr_has_the_keys_tools_read(target, zkc):
    pairs = dict(l.split("\t", 1) for l in word(target, "mntr").strip("\n").split("\n"))
    missing = MNTR_KEYS - pairs.keys()
    assert not missing, missing
    assert pairs["zk_server_state"] == "standalone"
    assert int(pairs["zk_znode_count"]) >= 5


def test_conf_and_wchs(target, zkc, base):
    conf = dict(l.split("=", 1) for l in word(target, "conf").strip("\n").split("\n") if "=" in l)
    assert conf["clientPort"] == str(target.port)
    assert conf["tickTime"] == str(zk.TICK_MS)
    zkc.get(base, watch=lambda e: None)
    wchs = word(target, "wchs")
    assert re.match(r"^\d+ connections watching \d+ paths\nTotal watches:\d+\n$", wchs), wchs
