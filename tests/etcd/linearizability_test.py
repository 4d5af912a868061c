"""Linearizability of a 3-node etcd-API cluster while its leader is killed, or
while its membership changes (--nemesis membership: a fourth member added as a
learner, promoted, then the leader removed).

lin_client (tests/etcd/lin_client.cc) runs concurrent put / linearizable get /
compare-and-swap clients through the etcd v3 API for ~20 s, while a nemesis
thread kills -9 the current leader every ~5 s and restarts it ~2 s later. The
recorded history goes to the simulator's checker (src/sim/linearizability.h);
the test passes only if it is linearizable, at least two leaders were killed,
and enough operations completed that the check means something.

Run: python3 tests/etcd/linearizability_test.py [meridian|etcd] [--seconds S]
       [--plant-stale-reads] [--runs N] [--clients N] [--keys K]
       [--nemesis kill-leader|membership]
  (MERIDIAN_BINARY=path/to/meridian, LIN_CLIENT=path/to/lin_client)

--plant-stale-reads makes lin_client's gets serializable reads from a random
member (a planted bug): the run then succeeds when the checker finds a
violation, and the script reports how many of --runs runs did.

Exit codes: 0 pass; 1 fail; 77 the checker ran out of steps: unknown, neither
pass nor fail (ctest's SKIP_RETURN_CODE; lin_client itself exits 2 then).
Ports: 15000-15999 (leader kills), 16500-17499 (membership).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402

LIN_CLIENT = os.environ.get("LIN_CLIENT", "build/tests/lin_client")

# This test's port block. etcd_cluster checks blocks against its own tests'
# range (13000-14999), so the bound is widened to let this block through.
# The membership runs have a block of their own (16500-17499), so that they and
# the leader-kill runs can go at once.
PORT_BLOCK_BASE = 15000
MEMBERSHIP_PORT_BLOCK_BASE = 16500
PORT_BLOCK_SIZE = 1000
etcd_cluster.PORT_RANGE_MAX = max(etcd_cluster.PORT_RANGE_MAX,
                                  MEMBERSHIP_PORT_BLOCK_BASE + PORT_BLOCK_SIZE - 1)

KILL_EVERY_S = 5.0  # leader kills are this far apart (from the client's start)
RESTART_AFTER_S = 2.0  # a killed leader is restarted this long after its kill
KILLS_MIN = 2  # fewer leader kills and the run did not test failover enough
OK_OPS_MIN = 100  # fewer completed operations and a pass would mean little
LIN_CLIENT_TIMED_OUT = 2  # lin_client's exit code when the checker ran out of steps
EXIT_UNKNOWN = 77  # this script's code for that: ctest's SKIP_RETURN_CODE


class Nemesis(threading.Thread):
    """Kills the leader at KILL_EVERY_S, 2*KILL_EVERY_S, ... after start, restarting
    each RESTART_AFTER_S after its kill (and waiting until it answers again, so
    that two members are never down at once)."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop_event = threading.Event()
        self.events = []  # (seconds since start, text): the run's timeline
        self.kills = 0
        self.error = None

    def note(self, text):
        self.events.append((time.monotonic() - self.t0, text))

    def run(self):
        self.t0 = time.monotonic()
        try:
            n = 1
            while not self.stop_event.wait(max(0.0, self.t0 + n * KILL_EVERY_S - time.monotonic())):
                self.kill_leader_once()
                # The next multiple of KILL_EVERY_S still ahead (a slow restart skips one).
                n = max(n + 1, int((time.monotonic() - self.t0) // KILL_EVERY_S) + 1)
        except Exception:  # reported by the main thread
            self.error = traceback.format_exc()

    def leader(self):
        """The agreed leader or None. A status read can race a member's death or
        election (etcdctl's JSON then lacks fields), which only means "not yet"."""
        try:
            return self.cluster.leader()
        except (KeyError, ValueError, TypeError):
            return None

    def kill_leader_once(self):
        leader = etcd_cluster.harness.wait_until(self.leader, 10, interval=0.05,
                                                 what="a leader to kill")
        killed_at = time.monotonic()
        self.cluster.kill(leader)
        self.kills += 1
        self.note(f"kill -9 leader {leader.name}")
        new = None
        while time.monotonic() < killed_at + RESTART_AFTER_S and new is None:
            new = self.leader()
            if new is None:
                time.sleep(0.05)
        if new is not None:
            self.note(f"new leader {new.name} after {time.monotonic() - killed_at:.2f} s")
        else:
            self.note(f"no agreed leader within {RESTART_AFTER_S} s")
        time.sleep(max(0.0, killed_at + RESTART_AFTER_S - time.monotonic()))
        # As cluster.restart(), but with the tolerant leader() above.
        leader.start()
        etcd_cluster.harness.wait_until(lambda: not leader.running() or leader.answers(), 30,
                                        interval=0.1, what=f"{leader.name} to answer")
        if not leader.running():
            raise AssertionError(f"{leader.name} exited on restart:\n{leader.log_tail()}")
        etcd_cluster.harness.wait_until(self.leader, 30, interval=0.1, what="a leader")
        self.note(f"restarted {leader.name}; it answers again")


class MembershipNemesis(threading.Thread):
    """Changes the membership under the clients' load: ~3 s in, adds a fourth
    member as a learner (etcdctl member add, then started with
    --initial-cluster-state existing), promotes it as soon as it is in sync,
    then removes the member that leads at that moment (which then exits), and
    waits for the three left to agree on a leader."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop_event = threading.Event()
        self.events = []
        self.changes = 0  # add, promote, remove: 3 when all happened
        self.error = None

    def note(self, text):
        self.events.append((time.monotonic() - self.t0, text))

    def run(self):
        self.t0 = time.monotonic()
        try:
            if self.stop_event.wait(3.0):
                return
            voters = list(self.cluster.running_members())
            new, new_id = self.cluster.add_member(learner=True)
            self.changes += 1
            self.note(f"added learner {new.name} (id {new_id:x})")
            self.cluster.promote(new_id, self.cluster.endpoints(voters), timeout=60)
            self.changes += 1
            self.note(f"promoted {new.name}")
            leader = etcd_cluster.harness.wait_until(
                lambda: self.cluster.leader() if not self.stop_event.is_set() else None, 20,
                interval=0.05, what="a leader to remove")
            self.cluster.remove_member(leader)
            self.changes += 1
            self.note(f"removed {leader.name}, the leader; it exited")
            etcd_cluster.harness.wait_until(self.cluster.leader, 30, interval=0.1,
                                            what="a leader among the members left")
            self.note(f"leader now {self.cluster.leader().name}")
        except Exception:  # reported by the main thread
            self.error = traceback.format_exc()


def ok_ops(output):
    m = re.search(r"^ok_ops=(\d+)$", output, re.M)
    return int(m.group(1)) if m else 0


def run_once(kind, args, workdir):
    """One cluster, one lin_client run under the nemesis. Returns (code, summary),
    code as in the module docstring for an unplanted run; for a planted run, 0
    when the checker found the violation."""
    history = os.path.join(workdir, "history.txt")
    block = MEMBERSHIP_PORT_BLOCK_BASE if args.nemesis == "membership" else PORT_BLOCK_BASE
    with etcd_cluster.EtcdApiCluster(kind, block, PORT_BLOCK_SIZE) as cluster:
        seconds = args.seconds
        plant = args.plant_stale_reads
        cmd = [LIN_CLIENT, "--endpoints", ",".join(cluster.endpoints()),
               "--seconds", str(seconds), "--history-out", history,
               "--clients", str(args.clients), "--keys", str(args.keys)]
        if plant:
            cmd.append("--plant-stale-reads")
        nemesis = MembershipNemesis(cluster) if args.nemesis == "membership" else Nemesis(cluster)
        nemesis.start()
        started = time.monotonic()
        try:
            client = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
        finally:
            nemesis.stop_event.set()
            nemesis.join(60)
        elapsed = time.monotonic() - started
        for t, text in nemesis.events:
            print(f"  nemesis t={t:5.1f}s {text}")
        print(client.stdout, end="")
        if client.stderr:
            print(client.stderr[-4000:], end="", file=sys.stderr)
        print(f"  lin_client exit {client.returncode} after {elapsed:.1f} s; "
              f"history in {history}")
        if nemesis.error is not None:
            raise AssertionError(f"nemesis failed:\n{nemesis.error}")
        if args.nemesis == "membership":
            if nemesis.changes < 3:
                raise AssertionError(f"only {nemesis.changes} of 3 membership changes were made")
            faults = "a member added, promoted, and the leader removed"
        elif nemesis.kills < KILLS_MIN:
            raise AssertionError(f"only {nemesis.kills} leader kills (need {KILLS_MIN})")
        else:
            faults = f"{nemesis.kills} leader kills"
        count = ok_ops(client.stdout)
        if plant:
            found = client.returncode == 1
            return (0 if found else 1), ("violation found" if found else
                                         f"no violation found (lin_client exit {client.returncode})")
        if client.returncode == LIN_CLIENT_TIMED_OUT:
            return EXIT_UNKNOWN, "unknown: the checker ran out of steps"
        if client.returncode != 0:
            what = "not linearizable" if client.returncode == 1 else "error"
            raise AssertionError(f"lin_client exited {client.returncode}: {what}")
        if count <= OK_OPS_MIN:
            raise AssertionError(f"only {count} operations completed (need > {OK_OPS_MIN})")
        return 0, f"linearizable, {count} ok ops, {faults}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", nargs="?", default="meridian", choices=etcd_cluster.KINDS)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--plant-stale-reads", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8, help="lin_client's client threads")
    parser.add_argument("--keys", type=int, default=4, help="lin_client's keys")
    parser.add_argument("--nemesis", choices=("kill-leader", "membership"), default="kill-leader",
                        help="kill the leader every 5 s, or grow the cluster to 4 members, "
                             "promote the new one and remove the leader")
    args = parser.parse_args()
    if args.kind == "meridian" and not os.path.exists(etcd_cluster.harness.BINARY):
        print(f"MERIDIAN_BINARY={etcd_cluster.harness.BINARY} does not exist", file=sys.stderr)
        return 1
    if not os.path.exists(LIN_CLIENT):
        print(f"LIN_CLIENT={LIN_CLIENT} does not exist", file=sys.stderr)
        return 1
    results = []
    for i in range(args.runs):
        # One directory per run holds the history and (through tempfile's default
        # directory) the cluster's data and logs: kept on failure, removed on a
        # pass. Nesting the cluster there also keeps it away from anything that
        # sweeps /tmp/etcd-api-*: on the shared test machine something removed a
        # cluster's directory in the middle of a run, twice.
        workdir = tempfile.mkdtemp(prefix="lin-run-")
        tempfile.tempdir = workdir
        print(f"run {i + 1}/{args.runs} against {args.kind}"
              f"{' with planted stale reads' if args.plant_stale_reads else ''}")
        code, summary = run_once(args.kind, args, workdir)
        tempfile.tempdir = None
        results.append(code)
        if code == 0 and not args.plant_stale_reads:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"run {i + 1}: {summary}")
    if args.plant_stale_reads:
        found = results.count(0)
        print(f"planted stale reads: the checker found a violation in {found} of {args.runs} runs")
        return 0 if found > 0 else 1
    return max(results)


if __name__ == "__main__":
    sys.exit(main())
