"""Test harness: real `meridian start` processes on 127.0.0.1.

Each Cluster gets its own temporary directory (data dirs, logs) and free ports,
so several test files can run at once. Every process started is stopped by its
PID when the test ends; every wait has a deadline.
"""

import json
import os
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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        # The etcd API port: any free one unless the test names it.
        client = [] if "--listen-client" in extra else ["--listen-client", "127.0.0.1:0"]
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
