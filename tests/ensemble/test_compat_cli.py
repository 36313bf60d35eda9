"""tests/compat's command-line client tests (the C client's cli_mt, zkCli.sh), unmodified,
against a 3-server Quorum ensemble (the ``target`` fixture of tests/ensemble/conftest.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

from test_cli import *  # noqa: E402,F401,F403
