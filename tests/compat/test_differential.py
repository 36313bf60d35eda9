"""The differential test proves itself: ZooKeeper against ZooKeeper gives no difference, and a
second ZooKeeper behind a proxy that corrupts exactly one reply (a Stat version, an error code,
a dropped watch notification, a missing child) is caught and reported."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def differential(*args, timeout=300):
    r = subprocess.run(
        [sys.executable, os.path.join(HERE, "differential.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return r.returncode, r.stdout + r.stderr


def test_zookeeper_against_zookeeper_has_no_difference():
    rc, out = differential("--ops", "1000", "--seed", "11", "--other", "zookeeper")
    assert rc == 0, out
    assert "differential: 1000 ops, 0 differences (PASS)" in out
    # Errors are part of the comparison: the sequence produced plenty of them.
    for err in ("NoNodeError=", "NodeExistsError=", "BadVersionError=", "NotEmptyError=",
                "NoAuthError=", "multi:RolledBackError="):
        assert err in out, out


@pytest.mark.parametrize(
    "mode, args, expect",
    [
        ("version", ["--ops", "400", "--seed", "2", "--corrupt-at", "5"], "('stat', 1,"),
        ("errcode", ["--ops", "400", "--seed", "2", "--corrupt-at", "5"], "NodeExistsError"),
        ("event", ["--ops", "400", "--seed", "2", "--corrupt-at", "5"], "watch events of slot"),
        ("children", ["--ops", "1500", "--seed", "2", "--corrupt-at", "1"], "'op': 'children"),
    ],
)
def test_one_corrupted_reply_is_reported(mode, args, expect):
    rc, out = differential(*args, "--other", f"zookeeper-corrupt:{mode}")
    assert rc == 1, out
    diff_lines = [line for line in out.splitlines() if line.strip().startswith("DIFFERENCE")]
    assert len(diff_lines) == 1, out
    assert expect in diff_lines[0], out
    assert "1 differences (FAIL)" in out
