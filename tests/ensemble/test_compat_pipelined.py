"""tests/compat's pipelined tests (many requests of mixed kinds in flight on one session),
unmodified, against a 3-server Quorum ensemble with the clients on a follower: every write is
forwarded to the leader while reads and syncs are answered in order behind it. Then every
server of the ensemble must still be alive and serving.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

from test_pipelined import *  # noqa: E402,F401,F403


def test_every_server_survived_the_pipelines(target):
    ens = target.ensemble
    assert sorted(ens.running_ids()) == sorted(ens.servers), ens.logs_tail(30)
    modes = sorted(ens.mode(sid) or "down" for sid in ens.servers)
    assert modes == ["follower", "follower", "leader"], modes
