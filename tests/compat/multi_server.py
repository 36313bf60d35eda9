"""A 3-server (or larger) ensemble of the target with fixed ports, for the multi-server tests.

``Member(kind, my_id, ports, inline_client)`` is one server: ``ports`` maps every member's id to
its ``{"client", "peer", "election"}`` ports, all written as ``server.N`` lines into each member's
zoo.cfg. ``inline_client`` puts the client address on the ``server.N`` lines
(``;127.0.0.1:client``) instead of ``clientPort`` in zoo.cfg. ``extra_cfg`` adds zoo.cfg keys
(e.g. ``reconfigEnabled``); ``super_digest`` (``"super:<base64 sha1>"``, see
``super_digest()``) enables the ``super`` digest user: written as the zoo.cfg key
``DigestAuthenticationProvider.superDigest`` (Quorum reads it there) and, for ZooKeeper, also
passed as the Java system property ``zookeeper.DigestAuthenticationProvider.superDigest``.

``wait_serving(members)`` waits until every member answers ``srvr`` as leader or follower.
"""

import base64
import hashlib
import os
import time

import zk

START_TIMEOUT_S = 90.0


def super_digest(password, user="super"):
    """The ``user:base64(sha1(user:password))`` form of DigestAuthenticationProvider."""
    sha = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(sha).decode()}"


class Member:
    """One server: fixed ports, written into every member's zoo.cfg."""

    def __init__(self, kind, my_id, ports, inline_client, extra_cfg=None, super_digest=None,
                 java_props=None):
        """``java_props``: system properties ZooKeeper reads only as ``-D`` flags (Quorum reads
        the same keys from zoo.cfg, where ``extra_cfg`` puts them)."""
        cfg = dict(extra_cfg or {})
        if super_digest:
            cfg["DigestAuthenticationProvider.superDigest"] = super_digest
        self.kind = kind
        self.server = zk.KINDS[kind](extra_cfg=cfg)
        self.my_id = my_id
        self.ports = ports
        self.inline_client = inline_client
        self.super_digest = super_digest
        self.java_props = dict(java_props or {})
        self.server.port = ports[my_id]["client"]

    def server_line(self, i):
        """The value of this member's ``server.i`` line in zoo.cfg."""
        p = self.ports[i]
        client = f";127.0.0.1:{p['client']}" if self.inline_client else ""
        return f"127.0.0.1:{p['peer']}:{p['election']}{client}"

    def start(self):
        srv = self.server
        os.makedirs(srv.data_dir, exist_ok=True)
        with open(os.path.join(srv.data_dir, "myid"), "w") as f:
            f.write(f"{self.my_id}\n")
        cfg = srv.config()
        if self.inline_client:
            # The client address comes from this server's line instead.
            del cfg["clientPort"], cfg["clientPortAddress"]
        for i in self.ports:
            cfg[f"server.{i}"] = self.server_line(i)
        with open(srv.cfg_path, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k}={v}\n")
        command = srv.command()
        if self.kind == "zookeeper":
            props = dict(self.java_props)
            if self.super_digest:
                # ZooKeeper's documented way: a system property, before the main class.
                props["zookeeper.DigestAuthenticationProvider.superDigest"] = self.super_digest
            command[1:1] = [f"-D{k}={v}" for k, v in props.items()]
        srv._log = open(srv.log_path, "ab")
        srv.proc = zk.subprocess.Popen(
            command,
            stdout=srv._log,
            stderr=zk.subprocess.STDOUT,
            stdin=zk.subprocess.DEVNULL,
            cwd=srv.tmp,
            start_new_session=True,
        )

    def mode(self):
        try:
            text = zk.four_letter(self.server.host, self.server.port, "srvr")
        except OSError:
            return ""
        for line in text.split("\n"):
            if line.startswith("Mode: "):
                return line[len("Mode: "):].strip()
        return ""


def wait_serving(members, timeout=START_TIMEOUT_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(m.mode() in ("leader", "follower") for m in members):
            return
        time.sleep(0.3)
    logs = "\n".join(f"--- {m.my_id}:\n{m.server.log_tail(20)}" for m in members)
    raise AssertionError(f"the ensemble did not serve\n{logs}")


def wait_until(what, predicate, timeout, interval=0.1):
    """Retries ``predicate`` until it returns something true (returned) or ``timeout`` seconds
    pass (AssertionError naming ``what`` and the last result or exception)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Ensemble:
    """Members started together, and the kazoo clients a test opened on them: ``stop`` closes
    the clients, then ``close_extra`` (for subclasses' proxies), then the servers."""

    def __init__(self, members):
        self.members = members
        self.clients = []

    def start(self):
        for m in self.members.values():
            m.start()
        wait_serving(list(self.members.values()))

    def close_extra(self):
        pass

    def stop(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001 - a client that failed is still cleaned up
                pass
        self.close_extra()
        for m in self.members.values():
            m.server.stop()

    def close(self, c):
        c.stop()
        c.close()
        self.clients.remove(c)

    def logs(self):
        return "\n".join(f"--- server {i}:\n{m.server.log_tail(30)}"
                         for i, m in self.members.items())
