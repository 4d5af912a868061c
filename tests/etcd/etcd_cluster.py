"""A three-node cluster that speaks etcd's v3 API on loopback: Meridian or real etcd.

The real-client tests (etcdctl_test.py, etcd3_client_test.py) run the same
scenarios against either kind, so a check is first proven correct against etcd
itself and then used to judge Meridian:

  kind "meridian": `meridian start` processes (the binary in $MERIDIAN_BINARY),
                   managed through tests/cluster/harness.py, with --listen-client;
  kind "etcd":     /usr/bin/etcd (Debian etcd-server 3.4), or $ETCD_BINARY.

Every node has its own data dir and log under one temporary directory; every
port comes from the caller's block in 13000-14999. Only the PIDs started here
are ever signalled, and they are stopped at exit (atexit, and SIGTERM/SIGHUP
turned into a normal exit) even when a test crashes.
"""

import atexit
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import harness  # noqa: E402

ETCD_BINARY = os.environ.get("ETCD_BINARY", "/usr/bin/etcd")
ETCDCTL_BINARY = os.environ.get("ETCDCTL_BINARY", "/usr/bin/etcdctl")
KINDS = ("meridian", "etcd")

# The tests' port range: 13000-14999. A cluster takes a slot of SLOT_PORTS
# ports inside the caller's block; the slot is picked at random and checked
# free, so two runs of one test do not collide.
#
# The range lies below Linux's ephemeral range (32768-60999), so the kernel
# never hands one of these ports to a connect() or a bind(0) between the check
# and the node binding it (a client connecting to a node not yet listening could
# otherwise be given that very port and end up connected to itself). It is
# also apart from the cluster harness's own test ports (20000-32767). Only odd
# ports are used, a leftover of when the range was inside the ephemeral one.
PORT_RANGE_MIN = 13000
PORT_RANGE_MAX = 14999
SLOT_PORTS = 9  # 3 nodes x (client, peer, admin)
SLOT_WIDTH = 2 * SLOT_PORTS  # every other port

_live_clusters = []


def _stop_all_at_exit():
    for c in list(_live_clusters):
        c.cleanup()


def _exit_on_signal(signum, _frame):
    # SystemExit unwinds the test's try/finally and then runs atexit.
    raise SystemExit(128 + signum)


atexit.register(_stop_all_at_exit)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, None):
        signal.signal(_sig, _exit_on_signal)


def allocate_ports(block_base, block_size):
    """SLOT_PORTS free odd ports in [block_base, block_base + block_size)."""
    assert PORT_RANGE_MIN <= block_base
    assert block_base + block_size - 1 <= PORT_RANGE_MAX
    slots = block_size // SLOT_WIDTH
    order = list(range(slots))
    random.Random(os.getpid() ^ time.monotonic_ns()).shuffle(order)
    for slot in order:
        first = block_base + slot * SLOT_WIDTH
        ports = [p for p in range(first, first + SLOT_WIDTH) if p % 2 == 1]
        if all(harness.port_listenable(p) for p in ports):
            return ports
    raise RuntimeError(f"no free slot of {SLOT_PORTS} ports in {block_base}+{block_size}")


def etcdctl_env():
    """etcdctl's environment: API v3, and none of the caller's ETCDCTL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    return env


def etcdctl(endpoints, *args, stdin=None, timeout=20, command_timeout="5s"):
    """Runs etcdctl; returns CompletedProcess (text). endpoints: list of host:port."""
    cmd = [ETCDCTL_BINARY, f"--endpoints={','.join(endpoints)}",
           "--dial-timeout=3s", f"--command-timeout={command_timeout}"] + list(args)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=etcdctl_env())


def _wait(predicate, timeout, what):
    return harness.wait_until(predicate, timeout, interval=0.1, what=what)


class Member:
    """One node of either kind. name is "n1".."n3"; endpoint is its client host:port."""

    def __init__(self, cluster, index, client_port):
        self.cluster = cluster
        self.index = index  # 1-based
        self.name = f"n{index}"
        self.client_port = client_port

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.client_port}"

    def answers(self):
        """A linearizable read through this node succeeds: it is up and has a leader."""
        try:
            r = etcdctl([self.endpoint], "get", "etcd-cluster-probe", timeout=10,
                        command_timeout="2s")
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class EtcdMember(Member):
    def __init__(self, cluster, index, client_port, peer_port):
        super().__init__(cluster, index, client_port)
        self.peer_port = peer_port
        self.data_dir = os.path.join(cluster.root, f"{self.name}.etcd")
        self.log_path = os.path.join(cluster.root, f"{self.name}.log")
        self.proc = None
        # A member added to the running cluster: MemberAdd's initial cluster.
        self.join_initial_cluster = None

    @property
    def peer_url(self):
        return f"http://127.0.0.1:{self.peer_port}"

    def args(self):
        client_url = f"http://{self.endpoint}"
        return [
            ETCD_BINARY, "--name", self.name, "--data-dir", self.data_dir,
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.join_initial_cluster or self.cluster.initial_cluster(),
            "--initial-cluster-token", self.cluster.token,
            "--initial-cluster-state", "existing" if self.join_initial_cluster else "new",
        ] + list(self.cluster.server_args)

    def start(self):
        assert not self.running()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                         env=env)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


class MeridianMember(Member):
    """A harness.Node (tests/cluster) plus the etcd client port."""

    def __init__(self, cluster, index, client_port, node):
        super().__init__(cluster, index, client_port)
        self.node = node
        self.node.extra = ["--listen-client", self.endpoint] + list(cluster.server_args)
        self.log_path = node.log_path

    def start(self):
        self.node.start()  # returns once the admin endpoint answers

    def running(self):
        return self.node.running()

    def kill(self):
        self.node.kill()

    def stop(self):
        try:
            self.node.terminate(timeout=15)
        except AssertionError:
            self.node.kill()


class _MeridianNodes(harness.Cluster):
    """harness.Cluster with ports from our block (its own __init__ picks from the
    harness's own test ports, 20000-32767, so it is not called)."""

    def __init__(self, root, token, peer_ports, admin_ports):
        self.root = root
        self.token = token
        self.extra = []
        self.nodes = [harness.Node(self, i + 1, peer_ports[i], admin_ports[i])
                      for i in range(len(peer_ports))]


class EtcdApiCluster:
    """Three nodes of `kind` serving etcd's API. Use as a context manager, or call
    start() and cleanup() (also done at exit)."""

    size = 3

    def __init__(self, kind, block_base, block_size=500, token=None, server_args=()):
        """server_args: flags both systems take alike (e.g. --quota-backend-bytes),
        given to every member."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        self.server_args = tuple(server_args)
        self.root = tempfile.mkdtemp(prefix=f"etcd-api-{kind}-")
        self.token = token or f"etcd-api-{os.getpid()}"
        # Each kind keeps to its half of the block, so a run against etcd and one
        # against Meridian never race for a slot.
        half = block_size // 2
        self._ports_base = block_base + (half if kind == "etcd" else 0)
        self._ports_size = half
        ports = allocate_ports(self._ports_base, half)
        client = ports[0:3]
        peer = ports[3:6]
        admin = ports[6:9]
        if kind == "etcd":
            self.members = [EtcdMember(self, i + 1, client[i], peer[i]) for i in range(3)]
            self._nodes = None
        else:
            self._nodes = _MeridianNodes(self.root, self.token, peer, admin)
            self.members = [MeridianMember(self, i + 1, client[i], self._nodes.nodes[i])
                            for i in range(3)]
        self._cleaned = False
        _live_clusters.append(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.cleanup(keep_logs=exc_type is not None)

    # ---- membership

    def initial_cluster(self):
        """etcd's --initial-cluster (Meridian's comes from harness.Cluster)."""
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def endpoints(self, members=None):
        return [m.endpoint for m in (members or self.members)]

    def member(self, index):
        return self.members[index - 1]

    def running_members(self):
        return [m for m in self.members if m.running()]

    # ---- life cycle

    def start(self, timeout=30):
        for m in self.members:
            m.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30, members=None):
        """Every (given) node answers a linearizable read, and there is one leader."""
        members = members or self.running_members()
        deadline = time.monotonic() + timeout
        for m in members:
            left = max(1.0, deadline - time.monotonic())
            if self.kind == "meridian":
                _wait(lambda: harness.http("GET", m.node.admin + "/ready")[0] == 200, left,
                      f"{m.name} /ready")
                left = max(1.0, deadline - time.monotonic())
            _wait(lambda: not m.running() or m.answers(), left,
                  f"{m.name} to answer on {m.endpoint}")
            if not m.running():
                raise AssertionError(f"{m.name} exited while starting:\n{m.log_tail()}")
        self.wait_leader(max(1.0, deadline - time.monotonic()))

    def kill(self, member):
        """kill -9 one node."""
        member.kill()

    def restart(self, member, timeout=30):
        """Starts a stopped (or killed) node again on its data dir; waits until it answers."""
        assert not member.running()
        member.start()
        self.wait_ready(timeout, members=[member])

    def stop(self):
        for m in self.members:
            m.stop()

    def cleanup(self, keep_logs=False):
        if self._cleaned:
            return
        self._cleaned = True
        # The tails worth reading are from before the shutdown.
        tails = [(m.name, m.log_tail(12)) for m in self.members] if keep_logs else []
        try:
            self.stop()
        finally:
            for m in self.members:
                m.kill()
            if keep_logs:
                print(f"logs kept in {self.root}")
                for name, tail in tails:
                    print(f"--- {name} log, last lines before the stop:\n{tail}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)
            if self in _live_clusters:
                _live_clusters.remove(self)

    # ---- membership changes, through etcdctl, alike on both kinds

    def member_id(self, member):
        """The member's id in the cluster (Meridian's is its node id)."""
        if self.kind == "meridian":
            return member.node.id
        r = etcdctl(self.endpoints(self.running_members()), "member", "list", "-w", "json")
        for m in json.loads(r.stdout)["members"]:
            if m.get("name") == member.name:
                return m["ID"]
        raise AssertionError(f"{member.name} is not in the member list: {r.stdout}")

    def add_member(self, learner=True, meridian_args=None):
        """`etcdctl member add` of one more member (or, given meridian_args,
        `meridian member add` with them), then starts it to join the running
        cluster (--initial-cluster-state existing, with the initial cluster
        MemberAdd printed for etcd; every member's address for Meridian).
        Returns the new Member, started but maybe still catching up, and its id."""
        index = len(self.members) + 1
        client, peer, admin = allocate_ports(self._ports_base, self._ports_size)[0:3]
        if meridian_args is not None:
            r = subprocess.run([harness.BINARY, "member", "add", "--endpoints",
                                ",".join(self.endpoints(self.running_members())),
                                f"--peer-urls=http://127.0.0.1:{peer}"] + list(meridian_args),
                               capture_output=True, text=True, timeout=30)
            added = re.search(r"^member (\d+) added", r.stdout, re.M)
            if r.returncode != 0 or not added:
                raise AssertionError(f"meridian member add exited {r.returncode}: "
                                     f"{r.stdout.strip()} {r.stderr.strip()}")
            return self._start_joining(index, client, peer, admin, int(added.group(1)), None)
        args = ["member", "add", f"n{index}", f"--peer-urls=http://127.0.0.1:{peer}"]
        # etcd refuses changes ("unhealthy cluster") until its members have
        # been connected for a few seconds; a member that joined a moment ago
        # may know no leader yet ("no leader").
        deadline = time.monotonic() + 20
        while True:
            r = etcdctl(self.endpoints(self.running_members()), *args,
                        *(["--learner"] if learner else []))
            transient = "unhealthy cluster" in r.stderr or "no leader" in r.stderr
            if r.returncode == 0 or not transient or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if r.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} failed: {r.stderr.strip()}")
        added = re.search(r"Member\s+([0-9a-f]+) added to cluster", r.stdout)
        initial = re.search(r'ETCD_INITIAL_CLUSTER="([^"]*)"', r.stdout)
        if not added or not initial:
            raise AssertionError(f"etcdctl member add printed {r.stdout!r}")
        return self._start_joining(index, client, peer, admin, int(added.group(1), 16),
                                   initial.group(1))

    def _start_joining(self, index, client, peer, admin, member_id, initial_cluster):
        if self.kind == "etcd":
            member = EtcdMember(self, index, client, peer)
            member.join_initial_cluster = initial_cluster
        else:
            node = harness.Node(self._nodes, member_id, peer, admin)
            self._nodes.nodes.append(node)
            member = MeridianMember(self, index, client, node)
            node.extra += ["--initial-cluster-state", "existing"]
        self.members.append(member)
        member.start()
        return member, member_id

    def promote(self, member_id, endpoints, timeout=30):
        """`etcdctl member promote` through `endpoints` (not the learner's: etcd's
        learners serve no such request), retried while the learner is not yet in
        sync."""
        deadline = time.monotonic() + timeout
        while True:
            r = etcdctl(endpoints, "member", "promote", format(member_id, "x"))
            if r.returncode == 0:
                return r.stdout
            if "in sync with leader" not in r.stderr or time.monotonic() > deadline:
                raise AssertionError(f"member promote failed: {r.stderr.strip()}")
            time.sleep(0.2)

    def remove_member(self, member, timeout=20):
        """`etcdctl member remove`; the removed member's process then exits by
        itself (both kinds), which this waits for."""
        member_id = self.member_id(member)
        others = [m for m in self.running_members() if m is not member]
        deadline = time.monotonic() + 20
        while True:  # "unhealthy cluster": etcd's members were reconnected lately
            r = etcdctl(self.endpoints(others), "member", "remove", format(member_id, "x"))
            if "unhealthy cluster" not in r.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if r.returncode != 0:
            raise AssertionError(f"member remove failed: {r.stderr.strip()}")
        _wait(lambda: not member.running(), timeout, f"removed {member.name} to exit")
        return r.stdout

    # ---- leadership

    def leader(self):
        """The member that leads, or None when the running members do not agree on one."""
        if self.kind == "meridian":
            node = self._nodes.leader()
            if node is None:
                return None
            return next(m for m in self.members if m.node is node)
        running = self.running_members()
        try:
            r = etcdctl(self.endpoints(running), "endpoint", "status", "-w", "json", timeout=10,
                        command_timeout="2s")
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        statuses = json.loads(r.stdout)
        leaders = {s["Status"]["leader"] for s in statuses}
        if len(statuses) != len(running) or len(leaders) != 1:
            return None
        leader_id = leaders.pop()
        for s in statuses:
            if s["Status"]["header"]["member_id"] == leader_id:
                return next(m for m in running if m.endpoint == s["Endpoint"])
        return None

    def wait_leader(self, timeout=20):
        return _wait(self.leader, timeout, "one leader all running members agree on")

    def followers(self):
        lead = self.wait_leader()
        return [m for m in self.running_members() if m is not lead]


# Features of etcd's API that Meridian does not serve yet: scenarios that need
# one are reported SKIP against Meridian (never against etcd). To run them
# anyway, list the feature in $ETCD_TESTS_MERIDIAN_HAS (comma-separated).
MERIDIAN_LACKS = {}
# Meridian's own features, beyond etcd: scenarios that need one are reported
# SKIP against etcd.
ETCD_LACKS = {
    "auto-promote": "promoting caught-up learners by itself (--auto-promote-learners, "
                    "meridian member add --auto-promote)",
}


class Scenarios:
    """Registry of scenario functions, in definition order: @scenarios(), or
    @scenarios(needs=("some-feature",)) for one that needs features of MERIDIAN_LACKS."""

    def __init__(self):
        self.items = []

    def __call__(self, needs=()):
        assert all(n in MERIDIAN_LACKS or n in ETCD_LACKS for n in needs)

        def register(fn):
            self.items.append((fn.__name__, fn, needs))
            return fn

        return register


def parse_args(argv, prog, scenarios):
    """(kind, selected scenarios) from `prog [meridian|etcd] [scenario...]`."""
    kind = argv[1] if len(argv) > 1 else "meridian"
    names = [n for n, _, _ in scenarios.items]
    wanted = argv[2:]
    if kind not in KINDS or any(w not in names for w in wanted):
        print(f"usage: {prog} [meridian|etcd] [scenario...]\nscenarios: {' '.join(names)}",
              file=sys.stderr)
        sys.exit(2)
    if kind == "meridian" and not os.path.exists(harness.BINARY):
        print(f"MERIDIAN_BINARY={harness.BINARY} does not exist", file=sys.stderr)
        sys.exit(2)
    selected = [s for s in scenarios.items if not wanted or s[0] in wanted]
    return kind, selected


def _skip_reason(kind, needs):
    if kind != "meridian":
        beyond = [ETCD_LACKS[n] for n in needs if n in ETCD_LACKS]
        return f"Meridian's own feature, beyond etcd: {' and '.join(beyond)}" if beyond else None
    has = {f.strip() for f in os.environ.get("ETCD_TESTS_MERIDIAN_HAS", "").split(",")}
    missing = [MERIDIAN_LACKS[n] for n in needs if n in MERIDIAN_LACKS and n not in has]
    if not missing:
        return None
    return (f"needs {' and '.join(missing)}, which Meridian does not serve yet "
            f"(ETCD_TESTS_MERIDIAN_HAS={','.join(needs)} runs it anyway)")


def run_scenarios(argv, prog, scenarios, block_base, make_context, block_size=500,
                  server_args=()):
    """Starts one cluster, runs every selected scenario against it (in order),
    prints PASS/FAIL/SKIP per scenario; returns the exit code (1 on any failure)."""
    kind, selected = parse_args(argv, prog, scenarios)
    started = time.monotonic()
    failed = []
    cluster = EtcdApiCluster(kind, block_base, block_size=block_size, server_args=server_args)
    ctx = None
    try:
        cluster.start()
        print(f"{kind} cluster ready in {time.monotonic() - started:.1f} s: "
              f"{' '.join(cluster.endpoints())}, leader {cluster.wait_leader().name}", flush=True)
        ctx = make_context(cluster)
        for name, fn, needs in selected:
            reason = _skip_reason(kind, needs)
            if reason:
                print(f"SKIP {name}: {reason}", flush=True)
                continue
            t0 = time.monotonic()
            try:
                fn(ctx)
            except Exception as e:  # noqa: BLE001 - any error fails the scenario
                failed.append(name)
                detail = traceback.format_exc(limit=-3) if not isinstance(e, AssertionError) else ""
                frames = traceback.extract_tb(e.__traceback__)
                where = next((f for f in reversed(frames) if f.name == name), frames[-1])
                print(f"FAIL {name} ({time.monotonic() - t0:.1f} s) at line {where.lineno}: {e}\n"
                      f"{detail}", flush=True)
                down = [m.name for m in cluster.members if not m.running()]
                if down:
                    print(f"     nodes not running after {name}: {down}", flush=True)
            else:
                print(f"PASS {name} ({time.monotonic() - t0:.1f} s)", flush=True)
    except Exception:  # noqa: BLE001 - the cluster itself did not come up
        failed.append("cluster")
        print(f"FAIL cluster start:\n{traceback.format_exc()}", flush=True)
    finally:
        if ctx is not None and hasattr(ctx, "close"):
            ctx.close()
        cluster.cleanup(keep_logs=bool(failed))
    total = time.monotonic() - started
    print(f"{len(failed)} failed: {' '.join(failed)}" if failed else "all passed",
          f"({total:.1f} s)")
    return 1 if failed else 0
