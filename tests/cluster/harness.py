"""Test harness: real `meridian start` processes on 127.0.0.1.

Each Cluster gets its own temporary directory (data dirs, logs) and free ports,
so several test files can run at once. Every process started is stopped by its
PID when the test ends; every wait has a deadline.
"""

import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException

BINARY = os.environ.get("MERIDIAN_BINARY", "build/meridian")


def node_env():
    """The environment for a node: without the harness's own MERIDIAN_* variables,
    which `meridian start` would read as settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_")}


# Test ports come from below Linux's ephemeral range (32768-60999 by default).
# A port inside it, found free and released, can be handed by the kernel to
# anything before the node binds it: a listener on port 0 or a connect()'s
# source port (CI once saw a node's etcd API, listening on port 0, take the peer
# port picked for another node). Below that range only other test processes
# pick ports, and a lock file per port, held while this process lives, keeps
# two of them from picking the same one.
TEST_PORT_MIN = 20000
TEST_PORT_MAX = 32767
_PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "meridian-test-ports")
_held_port_locks = {}  # port -> open lock file, kept for the life of the process
_port_rng = random.Random(os.getpid() ^ time.monotonic_ns())


def port_listenable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the nodes do: connections of an earlier run in TIME_WAIT do not
        # keep a port from being listened on, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A port no other test process holds and nothing listens on; this process
    keeps it for its whole life, so no two calls return the same one."""
    os.makedirs(_PORT_LOCK_DIR, exist_ok=True)
    for _ in range(1000):
        port = _port_rng.randint(TEST_PORT_MIN, TEST_PORT_MAX)
        if port in _held_port_locks:
            continue
        lock = open(os.path.join(_PORT_LOCK_DIR, str(port)), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if not port_listenable(port):
            lock.close()
            continue
        _held_port_locks[port] = lock
        return port
    raise RuntimeError(f"no free test port in {TEST_PORT_MIN}-{TEST_PORT_MAX}")


def http(method, url, body=None, timeout=5.0):
    """(status, body text); status 0 when the endpoint cannot be reached."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout, OSError,
            HTTPException):
        # HTTPException: e.g. a client connected to itself on a port no server
        # holds yet (possible for ports in the ephemeral range) reads no status line.
        return 0, ""


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Node:
    def __init__(self, cluster, node_id, peer_port, admin_port):
        self.cluster = cluster
        self.id = node_id
        self.peer_port = peer_port
        self.admin_port = admin_port
        self.client_port = None  # picked on first start unless the test names one
        self.data_dir = os.path.join(cluster.root, f"node-{node_id}")
        self.log_path = os.path.join(cluster.root, f"node-{node_id}.log")
        self.proc = None
        self.extra = []
        self.token = cluster.token

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def args(self):
        extra = self.cluster.extra + self.extra
        # The etcd API port: a test port of its own unless the test names one
        # (not port 0, which the kernel takes from the ephemeral range).
        client = []
        if "--listen-client" not in extra:
            if self.client_port is None:
                self.client_port = free_port()
            client = ["--listen-client", f"127.0.0.1:{self.client_port}"]
        return [
            BINARY, "start",
            "--node-id", str(self.id),
            "--data-dir", self.data_dir,
            "--initial-cluster", self.cluster.initial_cluster(),
            "--cluster-token", self.token,
            "--listen-peer", f"127.0.0.1:{self.peer_port}",
            "--listen-admin", f"127.0.0.1:{self.admin_port}",
        ] + client + extra

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                     env=node_env())
        log.close()
        wait_until(lambda: self.running() and http("GET", self.admin + "/health")[0] != 0,
                   20, what=f"node {self.id} admin endpoint")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9: no hand-over, no flush beyond what was synced."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout=30):
        """SIGTERM: the graceful stop; returns the exit code."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"node {self.id} did not stop within {timeout} s of SIGTERM")

    def status(self):
        code, body = http("GET", self.admin + "/v1/status", timeout=2)
        return json.loads(body) if code == 200 else None

    def group(self, group=1):
        st = self.status()
        if not st:
            return None
        for g in st.get("groups", []):
            if g.get("group") == group:
                return g
        return None

    def put(self, key, value, group=1, timeout=10):
        return http("PUT", f"{self.admin}/v1/kv/{urllib.parse.quote(key, safe='')}?group={group}",
                    value, timeout)

    def get(self, key, group=1, serializable=False, timeout=10):
        q = f"?group={group}" + ("&serializable=1" if serializable else "")
        return http("GET", f"{self.admin}/v1/kv/{urllib.parse.quote(key, safe='')}{q}",
                    timeout=timeout)

    def metrics(self):
        code, body = http("GET", self.admin + "/metrics")
        return body if code == 200 else ""

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Cluster:
    def __init__(self, size=3, extra=None, token="integration"):
        self.root = tempfile.mkdtemp(prefix="meridian-it-")
        self.token = token
        self.extra = list(extra or [])
        self.nodes = [Node(self, i, free_port(), free_port()) for i in range(1, size + 1)]

    def initial_cluster(self):
        return ",".join(f"{n.id}=127.0.0.1:{n.peer_port}" for n in self.nodes)

    def node(self, node_id):
        return self.nodes[node_id - 1]

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def stop(self):
        for n in self.nodes:
            if n.running():
                try:
                    n.terminate(timeout=20)
                except AssertionError:
                    pass

    def cleanup(self, keep_logs_on_failure=False):
        self.stop()
        if keep_logs_on_failure:
            print(f"logs kept in {self.root}")
            for n in self.nodes:
                if os.path.exists(n.log_path):
                    print(f"--- node {n.id} log (last 40 lines)")
                    print("\n".join(n.log_text().splitlines()[-40:]))
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def leader(self, group=1, among=None):
        """The node every running node (of `among`) agrees leads, or None."""
        among = among or [n for n in self.nodes if n.running()]
        leaders = set()
        for n in among:
            g = n.group(group)
            if not g or not g.get("leader"):
                return None
            leaders.add(g["leader"])
        if len(leaders) != 1:
            return None
        lead = self.node(leaders.pop())
        g = lead.group(group) if lead.running() else None
        return lead if g and g.get("role") == "leader" else None

    def wait_leader(self, group=1, timeout=20, among=None):
        return wait_until(lambda: self.leader(group, among), timeout,
                          what=f"a leader of group {group}")
