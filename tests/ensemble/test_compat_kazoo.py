"""tests/compat's kazoo tests, unmodified, against a 3-server Quorum ensemble.

The test functions are imported from tests/compat/test_kazoo.py; their fixtures (``target``,
``make_client``, ``zkc``, ``base``) come from tests/ensemble/conftest.py, where ``target`` is an
ensemble: by default every client connects to the same follower, so every write is forwarded to
the leader and committed by a quorum, and reads are served by the follower
(ENSEMBLE_COMPAT_HOSTS=leader|all changes that).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

from test_kazoo import *  # noqa: E402,F401,F403

import pytest  # noqa: E402
import test_kazoo as _compat  # noqa: E402


def test_session_expiry_by_timeout(zkc, base, target):
    _compat.test_session_expiry_by_timeout(zkc, base, target)


test_session_expiry_by_timeout.__doc__ = _compat.test_session_expiry_by_timeout.__doc__
