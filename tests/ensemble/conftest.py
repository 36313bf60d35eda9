"""pytest fixtures for the ensemble tests.

* ``ensemble``: a factory ``ensemble(n=3, **kw)`` returning a started ``Ensemble``; every
  ensemble is closed (processes SIGKILLed, directory removed) when the test ends, pass or fail.
  When a test fails, the tail of each server's log is printed.
* ``client``: a factory ``client(hosts, **kw)`` for started kazoo clients, closed after the test.
* ``target``, ``make_client``, ``zkc``, ``base``: the fixtures of tests/compat, with ``target``
  a 3-server ensemble (``ensemble.CompatTarget``) instead of a standalone server, so that
  ``test_compat_kazoo.py`` runs tests/compat's kazoo tests unmodified against the ensemble
  (``COMPAT_TARGET=quorum-ensemble``; ``ENSEMBLE_COMPAT_HOSTS=follower|leader|all`` chooses
  where the clients connect, default one follower).
"""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT = os.path.join(HERE, "..", "compat")
sys.path.insert(0, HERE)
sys.path.insert(0, COMPAT)

import ensemble as ens_mod  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

# tests/compat/conftest.py under another module name (both files are called conftest), so its
# fixtures can be reused here; ``target`` is then redefined below.
_spec = importlib.util.spec_from_file_location("compat_conftest", os.path.join(COMPAT, "conftest.py"))
_compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_compat)
make_client = _compat.make_client
zkc = _compat.zkc
base = _compat.base


@pytest.fixture(scope="session")
def target():
    kind = os.environ.get("COMPAT_TARGET", "quorum-ensemble")
    if kind != "quorum-ensemble":
        pytest.skip(f"COMPAT_TARGET={kind}: tests/ensemble runs the compat tests only against "
                    "quorum-ensemble")
    t = ens_mod.CompatTarget()
    print(f"\ncompat target: {t}", flush=True)
    try:
        yield t
    finally:
        t.stop()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def ensemble(request):
    made = []

    def make(n=3, **kw):
        e = ens_mod.Ensemble(n, **kw)
        made.append(e)
        e.start_all()
        return e

    yield make
    rep = getattr(request.node, "rep_call", None)
    for e in made:
        if rep is not None and rep.failed:
            print(f"\n{e}\n{e.logs_tail(30)}")
        e.close()


FAST_RETRY = dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.3, max_jitter=0.1)


@pytest.fixture
def client():
    made = []

    def make(hosts, fast_retry=True, **kw):
        kw.setdefault("timeout", 4.0)
        if fast_retry:
            kw.setdefault("connection_retry", dict(FAST_RETRY))
        c = KazooClient(hosts=hosts, **kw)
        c.start(timeout=15)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:
            pass
