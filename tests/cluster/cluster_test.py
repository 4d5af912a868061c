"""Integration tests of a Meridian cluster made of real processes on loopback.

Run: python3 tests/cluster/cluster_test.py [-k name]  (MERIDIAN_BINARY=path/to/meridian)
Measurements (failover times) are printed, never asserted against a clock
beyond generous deadlines for progress.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, Node, free_port, http, node_env, wait_until  # noqa: E402


class ClusterCase(unittest.TestCase):
    size = 3
    extra = []

    def setUp(self):
        self.cluster = Cluster(self.size, extra=self.extra)
        self.cluster.start()

    def tearDown(self):
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self)
        self.cluster.cleanup(keep_logs_on_failure=failed)

    def put_retrying(self, key, value, timeout=20, nodes=None):
        """PUT through any running node until one acknowledges; returns (node, attempts)."""
        nodes = nodes or self.cluster.nodes
        attempts = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in nodes:
                if not n.running():
                    continue
                attempts += 1
                code, body = n.put(key, value, timeout=5)
                if code == 200:
                    return n, attempts
            time.sleep(0.02)
        raise AssertionError(f"no node acknowledged {key} within {timeout} s")


class ElectionAndReplication(ClusterCase):
    def test_one_leader_and_writes_through_any_node_apply_everywhere(self):
        leader = self.cluster.wait_leader()
        terms = {n.group()["term"] for n in self.cluster.nodes}
        self.assertEqual(len(terms), 1, "all members agree on the term")
        for n in self.cluster.nodes:
            code, body = n.put(f"from-{n.id}", f"value-{n.id}")
            self.assertEqual(code, 200, body)
        for n in self.cluster.nodes:
            for k in self.cluster.nodes:
                wait_until(lambda: n.get(f"from-{k.id}", serializable=True) == (200, f"value-{k.id}"),
                           10, what=f"from-{k.id} applied on node {n.id}")
        # A linearizable read through a follower.
        follower = next(n for n in self.cluster.nodes if n is not leader)
        self.assertEqual(follower.get("from-1"), (200, "value-1"))
        self.assertEqual(follower.get("absent")[0], 404)

    def test_metrics_health_ready_and_status(self):
        self.cluster.wait_leader()
        n = self.cluster.node(1)
        wait_until(lambda: http("GET", n.admin + "/ready")[0] == 200, 10, what="ready")
        self.assertEqual(http("GET", n.admin + "/health")[0], 200)
        metrics = n.metrics()
        for family in ["meridian_raft_term", "meridian_raft_commit_index",
                       "meridian_raft_applied_index", "meridian_raft_leader_changes_total",
                       "meridian_raft_proposals_committed_total",
                       "meridian_raft_proposals_failed_total", "meridian_raft_apply_lag",
                       "meridian_storage_fsync_seconds_bucket", "meridian_node_journal_bytes",
                       "meridian_peer_bytes_sent_total", "meridian_peer_messages_received_total",
                       "meridian_peer_reconnects_total", "meridian_peer_queue_bytes",
                       "meridian_process_resident_memory_bytes"]:
            self.assertIn(family, metrics, f"/metrics lacks {family}")
        st = n.status()
        self.assertEqual(st["node"], 1)
        self.assertEqual(sorted(st["groups"][0]["members"]["voters"]), [1, 2, 3])


class KillLeader(ClusterCase):
    def test_failover_after_kill_9(self):
        rounds = int(os.environ.get("MERIDIAN_FAILOVER_ROUNDS", "10"))
        times = []
        for r in range(rounds):
            leader = self.cluster.wait_leader(timeout=30)
            self.put_retrying(f"before-{r}", "x")
            others = [n for n in self.cluster.nodes if n is not leader]
            t0 = time.monotonic()
            leader.kill()
            node, _ = self.put_retrying(f"after-{r}", "y", timeout=30, nodes=others)
            times.append(time.monotonic() - t0)
            new_leader = self.cluster.wait_leader(among=others)
            self.assertIsNot(new_leader, leader)
            leader.start()  # back, with its data; catches up
            wait_until(lambda: leader.get(f"after-{r}", serializable=True) == (200, "y"), 20,
                       what=f"node {leader.id} caught up after restart")
        times.sort()
        print(f"\nFAILOVER kill -9 leader -> first acknowledged write: rounds={rounds} "
              f"median={statistics.median(times) * 1000:.0f} ms "
              f"min={times[0] * 1000:.0f} ms max={times[-1] * 1000:.0f} ms "
              f"all={[round(t * 1000) for t in times]}", flush=True)


class SnapshotCatchUp(ClusterCase):
    extra = ["--snapshot-entries", "50", "--snapshot-catchup-entries", "10"]

    def test_restarted_node_catches_up_by_snapshot(self):
        leader = self.cluster.wait_leader()
        lagging = next(n for n in self.cluster.nodes if n is not leader)
        self.assertEqual(lagging.terminate(), 0)
        running = [n for n in self.cluster.nodes if n.running()]
        for i in range(300):
            self.put_retrying(f"k{i % 20}", f"v{i}", nodes=running)
        lg = leader.group()
        self.assertGreater(lg["first_index"], 100, "the leader compacted its log")
        lagging.start()
        wait_until(lambda: (lagging.group() or {}).get("applied", 0) >= lg["commit"], 30,
                   what="the restarted node to catch up")
        self.assertGreaterEqual(lagging.group()["snapshots_received"], 1)
        for i in range(280, 300):
            self.assertEqual(lagging.get(f"k{i % 20}", serializable=True), (200, f"v{i}"))

    def test_an_image_of_many_chunks_streams_to_the_restarted_node(self):
        # About 24 MiB of values: the image goes as some 24 chunks of 1 MiB,
        # written to a file on the receiver and restored from it in batches.
        leader = self.cluster.wait_leader()
        lagging = next(n for n in self.cluster.nodes if n is not leader)
        self.assertEqual(lagging.terminate(), 0)
        running = [n for n in self.cluster.nodes if n.running()]
        value = lambda i: f"{i:06d}" + "x" * (64 * 1024 - 6)  # noqa: E731
        for i in range(384):
            self.put_retrying(f"big{i}", value(i), nodes=running)
        lg = leader.group()
        self.assertGreater(lg["first_index"], 100, "the leader compacted its log")
        lagging.start()
        wait_until(lambda: (lagging.group() or {}).get("applied", 0) >= lg["commit"], 60,
                   what="the restarted node to catch up")
        self.assertGreaterEqual(lagging.group()["snapshots_received"], 1)
        for i in range(0, 384, 37):
            self.assertEqual(lagging.get(f"big{i}", serializable=True), (200, value(i)))
        self.assertIn("installed snapshot", lagging.log_text())


class GracefulLeaderStop(ClusterCase):
    def test_sigterm_moves_leadership_first(self):
        leader = self.cluster.wait_leader()
        term_before = leader.group()["term"]
        stop = threading.Event()
        failures = []  # writes that failed even after one retry
        acked = []

        def writer():
            i = 0
            while not stop.is_set() and i < 100000:
                i += 1
                ok = False
                for attempt in range(2):  # the write and one retry
                    for n in self.cluster.nodes:
                        if n is leader and attempt == 1:
                            continue
                        if not n.running():
                            continue
                        code, _ = n.put(f"w{i}", str(i), timeout=5)
                        if code == 200:
                            ok = True
                            break
                    if ok:
                        break
                (acked if ok else failures).append(i)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        self.assertEqual(leader.terminate(), 0, "a graceful stop exits 0")
        stop_time = time.monotonic() - t0
        time.sleep(1.0)
        stop.set()
        t.join(30)
        others = [n for n in self.cluster.nodes if n is not leader]
        new_leader = self.cluster.wait_leader(among=others)
        self.assertEqual(new_leader.group()["term"], term_before + 1,
                         "leadership moved by transfer (one election at term + 1)")
        self.assertIn("leadership moved", leader.log_text())
        print(f"\nGRACEFUL STOP: leader stopped in {stop_time * 1000:.0f} ms, "
              f"{len(acked)} writes acknowledged, {len(failures)} failed after a retry", flush=True)
        self.assertEqual(failures, [])
        self.assertGreater(len(acked), 10)


class ForeignCluster(ClusterCase):
    def test_node_of_another_cluster_is_refused(self):
        self.cluster.wait_leader()
        stranger = Node(self.cluster, 4, free_port(), free_port())
        stranger.token = "some-other-cluster"
        members = self.cluster.initial_cluster() + f",4=127.0.0.1:{stranger.peer_port}"
        stranger.extra = []
        args = stranger.args()
        args[args.index("--initial-cluster") + 1] = members
        log = open(stranger.log_path, "ab")
        stranger.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         env=node_env())
        log.close()
        try:
            wait_until(lambda: "cluster id" in stranger.log_text(), 20,
                       what="the stranger to log its refusal")
            wait_until(lambda: any("cluster id" in n.log_text() for n in self.cluster.nodes), 20,
                       what="a member to log the refusal")
            refused = sum(int(float(line.split()[-1])) for n in self.cluster.nodes
                          for line in n.metrics().splitlines()
                          if line.startswith("meridian_peer_handshakes_refused_total"))
            self.assertGreater(refused, 0)
            g = stranger.group()
            self.assertTrue(g is None or not g.get("leader"), "the stranger never sees a leader")
            # The cluster is unaffected.
            self.put_retrying("still", "fine")
            self.assertEqual(self.cluster.leader().get("still"), (200, "fine"))
        finally:
            stranger.kill()


def make_certs(directory, name, ca=None):
    """A CA (when `ca` is None) or a node certificate signed by `ca`, with the
    openssl command; returns (cert, key) paths. SAN 127.0.0.1 for peer checks."""
    key = os.path.join(directory, f"{name}.key")
    cert = os.path.join(directory, f"{name}.crt")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "genrsa", "-out", key, "2048")
    if ca is None:
        run("openssl", "req", "-x509", "-new", "-key", key, "-days", "2", "-subj",
            f"/CN={name}", "-out", cert)
    else:
        csr = os.path.join(directory, f"{name}.csr")
        ext = os.path.join(directory, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
        run("openssl", "req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
    return cert, key


class MutualTls(unittest.TestCase):
    def test_tls_cluster_works_and_a_peer_from_another_ca_is_refused(self):
        self.cluster = Cluster(3)
        certs = os.path.join(self.cluster.root, "certs")
        os.makedirs(certs)
        ca = make_certs(certs, "ca")
        for n in self.cluster.nodes:
            cert, key = make_certs(certs, f"node{n.id}", ca)
            n.extra = ["--peer-cert-file", cert, "--peer-key-file", key,
                       "--peer-trusted-ca-file", ca[0]]
        ok = False
        try:
            self.cluster.start()
            self.cluster.wait_leader()
            code, body = self.cluster.node(1).put("tls", "yes")
            self.assertEqual(code, 200, body)
            # Node 3 restarted with a certificate from another CA: refused by the others.
            n3 = self.cluster.node(3)
            self.assertEqual(n3.terminate(), 0)
            other_ca = make_certs(certs, "other-ca")
            cert, key = make_certs(certs, "intruder", other_ca)
            n3.extra = ["--peer-cert-file", cert, "--peer-key-file", key,
                        "--peer-trusted-ca-file", other_ca[0]]
            n3.start()
            wait_until(lambda: all("TLS handshake failed" in n.log_text()
                                   for n in self.cluster.nodes), 20,
                       what="the members and the intruder to log the TLS refusal")
            time.sleep(1)
            g = n3.group()
            self.assertTrue(g is None or g.get("applied", 0) < self.cluster.node(1).group()["commit"]
                            or not g.get("leader"), "the intruder does not join")
            code, body = self.cluster.node(1).put("still", "works")
            self.assertEqual(code, 200, body)
            ok = True
        finally:
            self.cluster.cleanup(keep_logs_on_failure=not ok)


if __name__ == "__main__":
    unittest.main(verbosity=2)
