"""Start and stop the servers the compatibility tests run against.

Two kinds of target, both standalone on a free loopback port with a fresh temporary dataDir and
the same zoo.cfg-style configuration (fsync on):

* ``ZooKeeperServer``: Apache ZooKeeper 3.8 from the Debian ``zookeeper`` package, started as
  ``java -cp /usr/share/java/zookeeper.jar ... QuorumPeerMain zoo.cfg`` (the jar's manifest
  names its dependencies in /usr/share/java).
* ``QuorumServer``: the Quorum binary (``QUORUM_BIN``, default ``target/ci/quorum`` then
  ``target/release/quorum`` from the repository root) run as ``quorum server --config zoo.cfg``.

``start_target(kind)`` picks one by name (``zookeeper`` or ``quorum``); ``target_from_env()`` reads
``COMPAT_TARGET`` (default ``zookeeper``). Every server exposes ``connect_string`` (host:port),
``host`` and ``port``, and is a context manager that stops the process (and removes its dataDir)
on exit.

``Proxy`` is a small TCP forwarder used by tests that need to cut a client off the network (real
session expiry) or to corrupt replies (the differential test's teeth).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_LOGGER_JAR = "/usr/share/java/slf4j-simple.jar"  # a logger binding, when installed
# The servlet API, which ZooKeeper's AdminServer (Jetty) needs and the jar's manifest does not
# name; Debian installs it with Jetty (libservlet-api-java).
ZK_SERVLET_JAR = "/usr/share/java/servlet-api.jar"
# Netty jars the TLS server (NettyServerCnxnFactory) and the Netty client need that the jar's
# manifest does not name.
NETTY_EXTRA_JARS = ["/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar"]
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

# Tick of the test servers: sessions may be negotiated between 2 and 20 ticks (1 s .. 10 s).
TICK_MS = 500


# Every port free_port has handed out in this process. A port is free only until its server
# binds it, and an ensemble's ports are all chosen before any server starts (an election port
# is never bound at all), so the kernel may offer the same port twice: two servers then clash
# ("Address already in use") or a reconfig is refused as an address clash.
_HANDED_OUT = set()


def free_port() -> int:
    """A port nobody listens on now, never handed out before in this process."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole answer ('' if the server closed at once)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def zk_handshake(host: str, port: int, timeout: float = 2.0) -> bool:
    """A raw ConnectRequest/ConnectResponse exchange, then closeSession: True if the server
    speaks the client protocol. Used when a server does not (yet) answer ``ruok``."""
    import struct

    body = struct.pack(">iqiqi", 0, 0, 4000, 0, 16) + b"\0" * 16 + b"\0"
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        hdr = _recv_exact(s, 4)
        (n,) = struct.unpack(">i", hdr)
        resp = _recv_exact(s, n)
        _proto, neg_timeout, session_id = struct.unpack(">iiq", resp[:16])
        if neg_timeout <= 0 or session_id == 0:
            return False
        close = struct.pack(">ii", 1, -11)
        s.sendall(struct.pack(">i", len(close)) + close)
        try:
            _recv_exact(s, 4)
        except OSError:
            pass
    return True


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise ConnectionError("closed")
        buf += b
    return buf


class _Server:
    """Common parts: config file, temp dirs, process lifetime, readiness."""

    kind = "?"

    def __init__(self, extra_cfg: dict | None = None, start_timeout: float = 60.0):
        self.host = "127.0.0.1"
        self.port = 0
        self.extra_cfg = dict(extra_cfg or {})
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.tmp = tempfile.mkdtemp(prefix=f"compat-{self.kind}-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.cfg_path = os.path.join(self.tmp, "zoo.cfg")
        self.log_path = os.path.join(self.tmp, "server.log")
        self._log = None

    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.port}"

    def config(self) -> dict:
        cfg = {
            "tickTime": TICK_MS,
            "initLimit": 10,
            "syncLimit": 5,
            "dataDir": self.data_dir,
            "clientPort": self.port,
            "clientPortAddress": self.host,
            "maxClientCnxns": 0,
            "forceSync": "yes",
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
        }
        cfg.update(self.extra_cfg)
        return cfg

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "_Server":
        os.makedirs(self.data_dir, exist_ok=True)
        for attempt in range(3):
            self.port = free_port()
            with open(self.cfg_path, "w") as f:
                for k, v in self.config().items():
                    f.write(f"{k}={v}\n")
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                self.command(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.tmp,
                start_new_session=True,
            )
            if self._wait_ready():
                return self
            self._kill()
        raise RuntimeError(f"{self.kind} did not start; log:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        """Ready = a client session can be opened (and closed). ZooKeeper answers ``ruok`` before
        it serves sessions, so ``ruok`` alone is not enough; a server without four-letter words
        is still accepted once the handshake works."""
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if zk_handshake(self.host, self.port, timeout=2.0):
                    return True
            except (OSError, ValueError, Exception):
                pass
            time.sleep(0.1)
        return False

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def _kill(self, sig=signal.SIGTERM):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def stop(self):
        self._kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<{self.kind} {self.connect_string}>"


class ZooKeeperServer(_Server):
    kind = "zookeeper"

    def command(self) -> list[str]:
        if not os.path.exists(ZK_JAR):
            raise RuntimeError(f"{ZK_JAR} missing: run tests/compat/setup.sh")
        cp = [ZK_JAR]
        if os.path.exists(ZK_LOGGER_JAR):
            cp.append(ZK_LOGGER_JAR)
        if os.path.exists(ZK_SERVLET_JAR):
            cp.append(ZK_SERVLET_JAR)
        cp += [jar for jar in NETTY_EXTRA_JARS if os.path.exists(jar)]
        java = shutil.which("java") or "/usr/bin/java"
        return [
            java,
            "-Xmx512m",
            "-XX:+UseSerialGC",
            f"-Dzookeeper.admin.enableServer={self.config()['admin.enableServer']}",
            # Containers are checked every second (ZooKeeper's default is a minute).
            "-Dznode.container.checkIntervalMs=1000",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            ":".join(cp),
            MAIN_CLASS,
            self.cfg_path,
        ]


def quorum_bin() -> str:
    env = os.environ.get("QUORUM_BIN")
    if env:
        return env if os.path.isabs(env) else os.path.join(REPO_ROOT, env)
    for rel in ("target/ci/quorum", "target/release/quorum", "target/debug/quorum"):
        p = os.path.join(REPO_ROOT, rel)
        if os.path.exists(p):
            return p
    raise RuntimeError("no quorum binary: build it (cargo build --profile ci) or set QUORUM_BIN")


class QuorumServer(_Server):
    kind = "quorum"

    def command(self) -> list[str]:
        return [quorum_bin(), "server", "--config", self.cfg_path]


KINDS = {"zookeeper": ZooKeeperServer, "quorum": QuorumServer}


def target_from_env() -> str:
    kind = os.environ.get("COMPAT_TARGET", "zookeeper")
    if kind not in KINDS:
        raise RuntimeError(f"COMPAT_TARGET must be one of {sorted(KINDS)}, not {kind!r}")
    return kind


def start_target(kind: str, **kw) -> _Server:
    return KINDS[kind](**kw).start()


class Proxy:
    """A TCP forwarder from a local port to a server.

    It listens on ``listen_port`` when given (a port someone else wrote into a config), else on a
    free port. ``blackhole()`` stops forwarding in both directions without closing anything (the client and
    server see silence, as in a partition); ``heal()`` resumes. ``reply_filter``, if given, is
    called with each whole server->client frame (without its 4-byte length) of each connection
    and returns the frame to send (or None to drop it); ``request_filter`` likewise sees client
    frames. Frames are only parsed when a filter is set.
    """

    def __init__(self, target_host: str, target_port: int, reply_filter=None, request_filter=None,
                 listen_port: int = 0):
        self.target = (target_host, target_port)
        self.reply_filter = reply_filter
        self.request_filter = request_filter
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(64)
        self.host, self.port = self.lsock.getsockname()
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.port}"

    def blackhole(self):
        self._open.clear()

    def heal(self):
        self._open.set()

    def _accept_loop(self):
        while not self._closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks += [c, s]
            conn_state = {}
            threading.Thread(
                target=self._pump, args=(c, s, self.request_filter, conn_state, "req"), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(s, c, self.reply_filter, conn_state, "rep"), daemon=True
            ).start()

    def _pump(self, src, dst, frame_filter, conn_state, direction):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while not self._open.is_set():
                    if self._closed:
                        return
                    self._open.wait(0.1)
                if frame_filter is None:
                    dst.sendall(data)
                    continue
                buf += data
                out = []
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:4], "big", signed=True)
                    if len(buf) < 4 + n:
                        break
                    frame, buf = buf[4 : 4 + n], buf[4 + n :]
                    frame = frame_filter(frame, conn_state)
                    if frame is not None:
                        out.append(len(frame).to_bytes(4, "big") + frame)
                if out:
                    dst.sendall(b"".join(out))
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self._closed = True
        self._open.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._lock:
            for x in self._socks:
                try:
                    x.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    # Manual use: python3 tests/compat/zk.py [zookeeper|quorum] -- starts one, prints the connect
    # string, and stops it on Ctrl-C.
    import sys

    kind = sys.argv[1] if len(sys.argv) > 1 else target_from_env()
    with start_target(kind) as srv:
        print(srv.connect_string, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
