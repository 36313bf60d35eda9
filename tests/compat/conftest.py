"""pytest fixtures: one server of the target under test (COMPAT_TARGET=zookeeper|quorum) per test
session, kazoo clients that are closed after each test, and a fresh base path per test."""

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import zk  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402


@pytest.fixture(scope="session")
def target():
    kind = zk.target_from_env()
    srv = zk.start_target(kind)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_client(target):
    clients = []

    def make(hosts=None, **kw):
        kw.setdefault("timeout", 10.0)
        c = KazooClient(hosts=hosts or target.connect_string, **kw)
        c.start(timeout=15)
        clients.append(c)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


@pytest.fixture
def zkc(make_client):
    return make_client()


@pytest.fixture
def base(zkc):
    """A fresh persistent node for the test; everything the test makes lives below it."""
    path = "/t-" + uuid.uuid4().hex[:12]
    zkc.create(path, b"")
    yield path
    try:
        zkc.delete(path, recursive=True)
    except Exception:
        pass
