"""A replicated Quorum ensemble of real processes on loopback, for the ensemble tests.

``Ensemble(n)`` has the Rust launcher write the ensemble's folder: ``quorum dev --configure-only
--free-ports --describe FILE`` (the same code that launches ``quorum dev``, ``quorum chaos`` and
the Rust tests) writes, per server id 1..n, a directory with ``zoo.cfg``, ``data/myid`` and
``server.log``, a shared peer secret, and a JSON description of the ports and files. This module
writes no zoo.cfg of its own; it runs ``quorum server --config zoo.cfg`` (``QUORUM_BIN``, resolved
as in ``tests/compat/zk.py``) itself, in its own process group, because the tests kill, stop,
pause and restart single servers at will. Servers are addressed by their id (1..n), as in zoo.cfg.

With ``proxied=True`` the launcher routes every server's ``server.N`` entries for the *other*
servers through a port of their own (``--peers-via-proxies``), where this module runs a
``LinkProxy`` (one per ordered pair), so a test can cut the peer links of one server
(``isolate``/``reconnect``) while clients still reach it; its own entry stays the real port it
listens on. Peer connections are dialled by the larger id, so only the proxies ``(i, j)`` with
``i > j`` carry traffic; all of them exist so the topology does not depend on that rule.

The ensemble always cleans up: ``close()`` (also the context manager's exit, and an atexit hook
for anything left) SIGKILLs every server's process group, closes the proxies and removes the
directory, unless ``ENSEMBLE_KEEP=1`` asks to keep it (the path is printed).

Reuses ``tests/compat/zk.py`` (four-letter words, the raw session handshake, the binary lookup
and the TCP ``Proxy``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

import zk  # noqa: E402

TICK_MS = 200
INIT_LIMIT = 10
SYNC_LIMIT = 5
HOST = "127.0.0.1"

_live: "weakref.WeakSet[Ensemble]" = weakref.WeakSet()


@atexit.register
def _cleanup_all():
    for ens in list(_live):
        ens.close()


class LinkProxy(zk.Proxy):
    """``zk.Proxy`` plus ``reset()``: close the connections it carries (keeping the listener).

    A blackholed ``zk.Proxy`` holds the bytes it has already read and sends them on ``heal()``,
    even if their sender has died since; over a real network those bytes would be lost with the
    sender. ``reset()`` before ``heal()`` drops them.
    """

    def reset(self):
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            for op in (lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                try:
                    op()
                except OSError:
                    pass


class Server:
    def __init__(self, ens: "Ensemble", sid: int):
        self.ens = ens
        self.id = sid
        # Filled in from the launcher's description.
        self.dir = ""
        self.data_dir = ""
        self.cfg_path = ""
        self.log_path = ""
        self.client_port = 0
        self.peer_port = 0
        self.election_port = 0
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self._log = None

    @property
    def connect_string(self) -> str:
        return f"{HOST}:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def __repr__(self):
        state = "paused" if self.paused else ("running" if self.running else "down")
        return f"<server {self.id} {self.connect_string} {state}>"


class Ensemble:
    def __init__(
        self,
        n: int = 3,
        tick_ms: int = TICK_MS,
        snap_count: int | None = None,
        extra_cfg: dict | None = None,
        proxied: bool = False,
    ):
        self.n = n
        self.tick_ms = tick_ms
        self.snap_count = snap_count
        self.extra_cfg = dict(extra_cfg or {})
        self.proxied = proxied
        self.dir = tempfile.mkdtemp(prefix="quorum-ensemble-")
        self.servers = {i: Server(self, i) for i in range(1, n + 1)}
        self.proxies: dict[tuple[int, int], LinkProxy] = {}
        self._closed = False
        _live.add(self)
        try:
            self._configure()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ configuration

    @property
    def sync_limit_s(self) -> float:
        return SYNC_LIMIT * self.tick_ms / 1000.0

    def settings(self) -> dict:
        """The zoo.cfg settings beyond the launcher's defaults (tickTime, initLimit=10,
        syncLimit=5, dataDir, clientPort, clientPortAddress, 4lw, peer secret, server.N)."""
        cfg = {"maxClientCnxns": 0, "forceSync": "yes", "admin.enableServer": "false"}
        if self.snap_count is not None:
            cfg["snapCount"] = self.snap_count
        cfg.update(self.extra_cfg)
        return cfg

    def _configure(self):
        """Has ``quorum dev --configure-only`` write the folder, then reads its description."""
        desc_path = os.path.join(self.dir, "ensemble.json")
        cmd = [zk.quorum_bin(), "dev", "--servers", str(self.n), "--dir", self.dir,
               "--free-ports", "--tick-time", str(self.tick_ms),
               "--configure-only", "--describe", desc_path]
        for k, v in self.settings().items():
            cmd += ["--set", f"{k}={v}"]
        if self.proxied:
            cmd.append("--peers-via-proxies")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"quorum dev --configure-only failed:\n{done.stdout}{done.stderr}")
        with open(desc_path) as f:
            desc = json.load(f)
        for d in desc["servers"]:
            s = self.servers[d["id"]]
            s.client_port, s.peer_port, s.election_port = (
                d["client_port"], d["peer_port"], d["election_port"])
            s.dir, s.data_dir, s.cfg_path, s.log_path = d["dir"], d["data_dir"], d["config"], d["log"]
        for link in desc["links"]:
            self.proxies[(link["from"], link["to"])] = LinkProxy(
                HOST, link["target"], listen_port=link["port"])

    # ------------------------------------------------------------------ connect strings

    def connect_string(self, sid: int | None = None) -> str:
        """One server's host:port, or (without an id) all of them."""
        if sid is not None:
            return self.servers[sid].connect_string
        return ",".join(s.connect_string for s in self.servers.values())

    def connect_string_of(self, ids) -> str:
        return ",".join(self.servers[i].connect_string for i in ids)

    # ------------------------------------------------------------------ process control

    def start_all(self, timeout: float = 30.0) -> "Ensemble":
        for sid in self.servers:
            self.start(sid, wait=False)
        deadline = time.time() + timeout
        for sid in self.servers:
            self.wait_serving(sid, max(1.0, deadline - time.time()))
        self.wait_for_leader(max(1.0, deadline - time.time()))
        return self

    def start(self, sid: int, wait: bool = True, timeout: float = 30.0):
        s = self.servers[sid]
        if s.running:
            raise RuntimeError(f"server {sid} is already running")
        s._log = open(s.log_path, "ab")
        s._log.write(f"==== ensemble: start server {sid} at {time.time():.3f}\n".encode())
        s._log.flush()
        s.proc = subprocess.Popen(
            [zk.quorum_bin(), "server", "--config", s.cfg_path],
            stdout=s._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=s.dir,
            start_new_session=True,
        )
        s.paused = False
        if wait:
            self.wait_serving(sid, timeout)

    def wait_serving(self, sid: int, timeout: float = 30.0):
        """Until the server opens client sessions (it has joined an established leader)."""
        s = self.servers[sid]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not s.running:
                raise RuntimeError(f"server {sid} exited; log:\n{s.log_tail()}")
            try:
                if zk.zk_handshake(HOST, s.client_port, timeout=1.0):
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server {sid} not serving after {timeout}s; log:\n{s.log_tail()}")

    def _signal(self, sid: int, sig):
        s = self.servers[sid]
        if s.proc is None:
            return
        try:
            os.killpg(s.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self, sid: int, timeout: float = 10.0):
        s = self.servers[sid]
        if s.proc is None:
            return
        try:
            s.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(sid, signal.SIGKILL)
            s.proc.wait(timeout=10)
        s.proc = None
        s.paused = False
        if s._log:
            s._log.write(f"==== ensemble: server {sid} gone at {time.time():.3f}\n".encode())
            s._log.close()
            s._log = None

    def kill9(self, sid: int):
        self._signal(sid, signal.SIGKILL)
        self._reap(sid)

    def stop(self, sid: int):
        """SIGTERM (a paused server is continued first), SIGKILL after 10 s."""
        if self.servers[sid].paused:
            self.resume(sid)
        self._signal(sid, signal.SIGTERM)
        self._reap(sid)

    def restart(self, sid: int, wait: bool = True, timeout: float = 30.0):
        if self.servers[sid].running:
            self.stop(sid)
        self.start(sid, wait=wait, timeout=timeout)

    def pause(self, sid: int):
        self._signal(sid, signal.SIGSTOP)
        self.servers[sid].paused = True

    def resume(self, sid: int):
        self._signal(sid, signal.SIGCONT)
        self.servers[sid].paused = False

    def running_ids(self) -> list[int]:
        return [i for i, s in self.servers.items() if s.running and not s.paused]

    # ------------------------------------------------------------------ peer links (proxied)

    def isolate(self, sid: int):
        """Blackhole every peer link of server ``sid`` (both directions)."""
        assert self.proxied, "isolate() needs Ensemble(proxied=True)"
        for (i, j), p in self.proxies.items():
            if sid in (i, j):
                p.blackhole()

    def reconnect(self, sid: int):
        """Drop what the blackholed links hold (see ``LinkProxy.reset``) and heal them."""
        assert self.proxied
        for (i, j), p in self.proxies.items():
            if sid in (i, j):
                p.reset()
                p.heal()

    # ------------------------------------------------------------------ four-letter words

    def four_letter(self, sid: int, word: str, timeout: float = 2.0) -> str:
        return zk.four_letter(HOST, self.servers[sid].client_port, word, timeout=timeout)

    def srvr(self, sid: int) -> dict:
        out = {}
        for line in self.four_letter(sid, "srvr").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.strip()
        return out

    def mode(self, sid: int) -> str | None:
        """``leader``/``follower``/``standalone``/``looking``, or None when it does not answer."""
        try:
            return self.srvr(sid).get("Mode")
        except OSError:
            return None

    def mntr(self, sid: int) -> dict:
        out = {}
        for line in self.four_letter(sid, "mntr").splitlines():
            if "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            v = v.strip()
            if k in ("zk_digest", "zk_version", "zk_server_state"):
                out[k] = v
                continue
            try:
                out[k] = int(v, 0) if v.lower().startswith("0x") else int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
        return out

    def leader(self) -> int | None:
        """The id of the running server whose srvr says ``Mode: leader`` (None if none)."""
        leaders = [i for i in self.running_ids() if self.mode(i) == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def followers(self) -> list[int]:
        return [i for i in self.running_ids() if self.mode(i) == "follower"]

    def wait_for_leader(self, timeout: float = 20.0, exclude=()) -> int:
        """Until one running server leads and a quorum (itself included) is leader or
        follower and serving; returns the leader's id."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            modes = {i: self.mode(i) for i in self.running_ids()}
            last = modes
            leaders = [i for i, m in modes.items() if m == "leader" and i not in exclude]
            serving = [i for i, m in modes.items() if m in ("leader", "follower")]
            if len(leaders) == 1 and len(serving) > self.n // 2:
                return leaders[0]
            time.sleep(0.05)
        raise TimeoutError(f"no leader within {timeout}s (modes: {last})\n{self.logs_tail()}")

    def wait_converged(self, ids=None, timeout: float = 30.0) -> dict:
        """Until ``zk_digest`` and ``zk_last_zxid`` are equal on the given (default: running)
        servers; returns {id: mntr}."""
        deadline = time.time() + timeout
        last = {}
        while time.time() < deadline:
            try:
                last = {i: self.mntr(i) for i in (ids or self.running_ids())}
            except OSError:
                time.sleep(0.1)
                continue
            digests = {m.get("zk_digest") for m in last.values()}
            zxids = {m.get("zk_last_zxid") for m in last.values()}
            if len(digests) == 1 and len(zxids) == 1 and None not in digests:
                return last
            time.sleep(0.1)
        summary = {
            i: (m.get("zk_server_state"), m.get("zk_last_zxid"), m.get("zk_digest"))
            for i, m in last.items()
        }
        raise AssertionError(f"replicas did not converge within {timeout}s: {summary}")

    def logs_tail(self, n: int = 15) -> str:
        return "\n".join(
            f"--- server {i} log (last {n} lines):\n{s.log_tail(n)}" for i, s in self.servers.items()
        )

    # ------------------------------------------------------------------ lifetime

    def close(self):
        if self._closed:
            return
        self._closed = True
        for sid, s in self.servers.items():
            if s.proc is not None:
                self._signal(sid, signal.SIGKILL)
                try:
                    s.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                s.proc = None
            if s._log:
                s._log.close()
                s._log = None
        for p in self.proxies.values():
            p.close()
        if os.environ.get("ENSEMBLE_KEEP") == "1":
            print(f"ensemble: kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Ensemble {list(self.servers.values())}>"


class CompatTarget:
    """What tests/compat's fixtures expect of a target (``host``, ``port``, ``connect_string``,
    ``stop()``), backed by a running 3-server ensemble. ``hosts`` chooses where clients go:
    ``follower`` (default: one follower, so every write is forwarded to the leader and every
    client sees the same replica), ``leader``, or ``all`` (kazoo picks a server per client;
    then two clients may see different replicas unless they sync, as ZooKeeper allows)."""

    def __init__(self, hosts: str | None = None, n: int = 3):
        self.hosts = hosts or os.environ.get("ENSEMBLE_COMPAT_HOSTS", "follower")
        self.ensemble = Ensemble(n).start_all()
        leader = self.ensemble.wait_for_leader()
        if self.hosts == "leader":
            self.sid = leader
        else:
            self.sid = min(i for i in self.ensemble.servers if i != leader)
        self.host = HOST
        self.port = self.ensemble.servers[self.sid].client_port
        if self.hosts == "all":
            self.connect_string = self.ensemble.connect_string()
        else:
            self.connect_string = f"{HOST}:{self.port}"

    def stop(self):
        self.ensemble.close()

    def __repr__(self):
        return f"<quorum-ensemble {self.hosts} {self.connect_string}>"


if __name__ == "__main__":
    # Manual use: python3 tests/ensemble/ensemble.py [N] -- starts N servers (default 3), prints
    # the connect string and the leader, and stops them on Ctrl-C.
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with Ensemble(n) as ens:
        ens.start_all()
        print(f"connect string: {ens.connect_string()}", flush=True)
        print(f"leader: server {ens.leader()}; data and logs under {ens.dir}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
