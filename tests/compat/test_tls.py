"""Client TLS on ``secureClientPort``, with real clients, against the target under test.

The server gets the same zoo.cfg keys and the same key stores for ZooKeeper 3.8 and for Quorum:
JKS stores made by keytool (crates/server/tests/tls-fixtures, see its README), the plain
``clientPort`` beside the secure one, ``ssl.clientAuth`` left at its default (need), and the
``serverCnxnFactory`` ZooKeeper needs for TLS (Quorum needs nothing). Clients:

* kazoo with ``use_ssl=True`` and a client certificate signed by the trusted CA does
  create/get/set/delete; one with a self-signed certificate, or none, is refused;
* zkCli.sh with the Netty TLS client settings (``CLIENT_JVMFLAGS``), when installed.
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import uuid

import pytest
from kazoo.client import KazooClient

import zk

FIXTURES = os.path.join(zk.REPO_ROOT, "crates", "server", "tests", "tls-fixtures")
PASSWORD = "quorum-test"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.fixture(scope="module")
def tls_target():
    secure_port = zk.free_port()
    cfg = {
        "secureClientPort": secure_port,
        "secureClientPortAddress": "127.0.0.1",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": fixture("server.jks"),
        "ssl.keyStore.password": PASSWORD,
        "ssl.trustStore.location": fixture("truststore.jks"),
        "ssl.trustStore.password": PASSWORD,
    }
    srv = zk.start_target(zk.target_from_env(), extra_cfg=cfg)
    srv.secure_port = secure_port
    try:
        yield srv
    finally:
        srv.stop()


def tls_client(srv, cert="client", timeout=10.0, **kw):
    kw.setdefault("use_ssl", True)
    kw.setdefault("ca", fixture("ca.pem"))
    if cert:
        kw.setdefault("certfile", fixture(f"{cert}.crt"))
        kw.setdefault("keyfile", fixture(f"{cert}.key"))
    return KazooClient(hosts=f"127.0.0.1:{srv.secure_port}", timeout=timeout, **kw)


def test_kazoo_over_tls_creates_gets_sets_deletes(tls_target):
    c = tls_client(tls_target)
    c.start(timeout=15)
    try:
        p = "/tls-" + uuid.uuid4().hex[:8]
        c.create(p, b"over tls")
        data, stat = c.get(p)
        assert data == b"over tls" and stat.version == 0
        c.set(p, b"changed")
        data, stat = c.get(p)
        assert data == b"changed" and stat.version == 1
        # The plain port serves the same tree at the same time.
        plain = KazooClient(hosts=tls_target.connect_string, timeout=10.0)
        plain.start(timeout=15)
        try:
            assert plain.get(p)[0] == b"changed"
        finally:
            plain.stop()
            plain.close()
        c.delete(p)
        assert c.exists(p) is None
    finally:
        c.stop()
        c.close()


@pytest.mark.parametrize("cert", ["stranger", None])
def test_a_client_the_trust_store_does_not_know_is_refused(tls_target, cert):
    c = tls_client(tls_target, cert=cert, timeout=4.0)
    try:
        with pytest.raises(Exception):
            c.start(timeout=6)
    finally:
        c.stop()
        c.close()


def test_the_secure_port_speaks_only_tls(tls_target):
    """A ConnectRequest in the clear on the secure port gets no session."""
    try:
        session = zk.zk_handshake("127.0.0.1", tls_target.secure_port, timeout=3.0)
    except Exception:  # closed, timed out, or answered with a TLS alert
        session = False
    assert not session
    # And the server still serves TLS clients afterwards.
    context = ssl.create_default_context(cafile=fixture("ca.pem"))
    context.load_cert_chain(fixture("client.crt"), fixture("client.key"))
    with socket.create_connection(("127.0.0.1", tls_target.secure_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.skipif(not os.path.exists(ZKCLI) or not shutil.which("java"), reason="no zkCli.sh")
def test_zkcli_with_the_netty_tls_client(tls_target):
    with tempfile.TemporaryDirectory() as tmp:
        # ZooKeeper's PEM key store: the private key and the certificate in one file.
        client_pem = os.path.join(tmp, "client.pem")
        with open(client_pem, "w") as out:
            for name in ("client.key", "client.crt"):
                with open(fixture(name)) as f:
                    out.write(f.read())
        # zkEnv.sh sets a class path without the Netty codec; java takes the last -cp given.
        class_path = ":".join(
            [zk.ZK_JAR, "/etc/zookeeper/conf"] + [j for j in zk.NETTY_EXTRA_JARS if os.path.exists(j)]
        )
        flags = [
            f"-cp {class_path}",
            "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
            "-Dzookeeper.client.secure=true",
            f"-Dzookeeper.ssl.keyStore.location={client_pem}",
            "-Dzookeeper.ssl.keyStore.type=PEM",
            f"-Dzookeeper.ssl.trustStore.location={fixture('truststore.jks')}",
            f"-Dzookeeper.ssl.trustStore.password={PASSWORD}",
        ]
        p = "/zkcli-tls-" + uuid.uuid4().hex[:8]
        script = f"create {p} secret\nget {p}\ndelete {p}\nquit\n"
        r = subprocess.run(
            [ZKCLI, "-server", f"127.0.0.1:{tls_target.secure_port}"],
            input=script,
            capture_output=True,
            text=True,
            timeout=90,
            env={**os.environ, "CLIENT_JVMFLAGS": " ".join(flags)},
        )
    out = r.stdout + r.stderr
    assert f"Created {p}" in out, out
    assert "secret" in r.stdout.splitlines(), out


def tls_four_letter(srv, word):
    context = ssl.create_default_context(cafile=fixture("ca.pem"))
    context.load_cert_chain(fixture("client.crt"), fixture("client.key"))
    with socket.create_connection(("127.0.0.1", srv.secure_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except (ssl.SSLError, OSError):
                    break
                if not b:
                    break
                chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def test_four_letter_words_over_tls(tls_target):
    """ZooKeeper's Netty server answers four-letter words sent over TLS on the secure port."""
    assert tls_four_letter(tls_target, "ruok") == "imok"
    assert "Mode: standalone" in tls_four_letter(tls_target, "srvr")
