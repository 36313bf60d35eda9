"""The command-line clients shipped by Debian, scripted against the target under test:

* ``cli_mt`` from ``zookeeper-bin`` (the ZooKeeper C client library's shell), one command per
  process in batch mode (``-c``); its output goes to stderr.
* ``zkCli.sh`` from ``zookeeper`` (the Java client), a whole script fed on stdin.
"""

import os
import re
import shutil
import subprocess
import uuid

import pytest

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def cli_mt(target, command, timeout=20):
    r = subprocess.run(
        [CLI_MT, "-h", target.connect_string, "-c", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r
    return r.stdout + r.stderr


def rc_of(out, path):
    m = re.search(re.escape(path) + r": rc = (-?\d+)", out)
    assert m, out
    return int(m.group(1))


@pytest.mark.skipif(not os.path.exists(CLI_MT), reason="zookeeper-bin not installed")
def test_cli_mt_create_get_set_ls_delete(target):
    p = "/cli-" + uuid.uuid4().hex[:8]

    out = cli_mt(target, f"create {p}")
    assert f"[{p}]: rc = 0" in out and f"name = {p}" in out

    out = cli_mt(target, f"create {p}")
    assert f"[{p}]: rc = -110" in out  # ZNODEEXISTS

    out = cli_mt(target, f"set {p} hello world")
    assert rc_of(out, p) == 0
    assert "version=1" in out

    out = cli_mt(target, f"get {p}")
    assert rc_of(out, p) == 0
    assert "value_len = 11" in out and "hello world" in out
    assert "version=1\taversion=0" in out and "ephemeralOwner = 0" in out

    out = cli_mt(target, f"create +s {p}/q")
    assert f"name = {p}/q0000000000" in out
    out = cli_mt(target, f"create +e {p}/e")  # gone when this cli_mt's session closes
    assert f"name = {p}/e" in out
    out = cli_mt(target, f"create {p}/plain")
    assert f"name = {p}/plain" in out

    out = cli_mt(target, f"ls {p}")
    assert rc_of(out, p) == 0
    listed = sorted(re.findall(r"^\t(\S+)$", out, re.M))
    assert listed == ["plain", "q0000000000"]

    out = cli_mt(target, f"ls2 {p}")
    assert rc_of(out, p) == 0
    assert sorted(re.findall(r"^\t(\w+)$", out, re.M)) == ["plain", "q0000000000"]
    assert "version=1" in out

    out = cli_mt(target, f"delete {p}")
    assert rc_of(out, p) == -111  # ZNOTEMPTY
    for child in ("q0000000000", "plain"):
        out = cli_mt(target, f"delete {p}/{child}")
        assert rc_of(out, f"{p}/{child}") == 0
    out = cli_mt(target, f"delete {p}")
    assert rc_of(out, p) == 0

    out = cli_mt(target, f"get {p}")
    assert rc_of(out, p) == -101  # ZNONODE
    out = cli_mt(target, f"set {p} x")
    assert rc_of(out, p) == -101


@pytest.mark.skipif(not os.path.exists(ZKCLI) or not shutil.which("java"), reason="no zkCli.sh")
def test_zkcli_script(target):
    p = "/zkcli-" + uuid.uuid4().hex[:8]
    script = "\n".join(
        [
            f"create {p} first",
            f"get {p}",
            f"set {p} second",
            f"get -s {p}",
            f"create {p}/child c",
            f"create -s {p}/seq- s",
            f"create -e {p}/eph e",
            f"ls {p}",
            f"ls -s {p}",
            f"delete {p}",
            f"delete {p}/eph",
            f"set -v 7 {p} third",
            f"deleteall {p}",
            f"ls {p}",
            f"get {p}",
            "quit",
            "",
        ]
    )
    r = subprocess.run(
        [ZKCLI, "-server", target.connect_string],
        input=script,
        capture_output=True,
        text=True,
        timeout=90,
    )
    out = r.stdout + r.stderr
    assert f"Created {p}\n" in out, out
    lines = r.stdout.splitlines()
    assert "first" in lines and "second" in lines
    assert "dataVersion = 1" in lines
    assert "dataLength = 6" in lines
    assert "aclVersion = 0" in lines and "ephemeralOwner = 0x0" in lines
    assert f"Created {p}/child" in out
    assert f"Created {p}/seq-0000000001" in out
    assert f"Created {p}/eph" in out
    assert "[child, eph, seq-0000000001]" in lines
    assert "numChildren = 3" in lines
    assert f"Node not empty: {p}" in out
    assert "version No is not valid" in out or "BadVersion" in out
    assert f"Node does not exist: {p}" in out
    # deleteall removed the subtree: the final ls and get both fail.
    assert out.count(f"Node does not exist: {p}") >= 2
