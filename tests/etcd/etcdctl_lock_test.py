"""etcdctl (etcd-client 3.4) locks and elections against a three-node cluster
serving etcd's v3 API.

`etcdctl lock` and `etcdctl elect` run etcd's client-side recipes
(clientv3/concurrency) over the KV, Lease and Watch services: a key per
session lease under the lock's or election's prefix, put in a transaction that
compares its create revision, the oldest key (sort by create revision) holding
the lock, waiters watching the next older key from a revision until it is
deleted, and sessions kept alive by keep-alive streams. So these scenarios test
those services' semantics together, with processes that come and go.

Run: python3 tests/etcd/etcdctl_lock_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)
     MERIDIAN_LONG_TESTS=1 runs the long variants (more acquisitions; an
     election leader killed with SIGKILL is waited out for its whole session
     TTL instead of having its lease revoked).

As etcdctl_test.py (whose helpers it uses): every check is proven against real
etcd first; PASS/FAIL/SKIP per scenario; exit 1 if any fails.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import ETCDCTL_BINARY, Scenarios, etcdctl_env  # noqa: E402
from etcdctl_test import Context, Watch, expect  # noqa: E402

PORT_BLOCK = 14500  # this test's ports: 14500-14999
scenario = Scenarios()

LONG = os.environ.get("MERIDIAN_LONG_TESTS") == "1"
CONTENDERS = 5
# Acquisitions wanted in all, and the time allowed for them.
ACQUISITIONS = 200 if LONG else 40
ACQUIRE_SECONDS = 150 if LONG else 20
# etcdctl lock's session TTL (its --ttl, default 10 s): what a holder that
# dies without unlocking keeps the lock for.
LOCK_TTL = 10
# etcdctl elect's session TTL: 60 s (concurrency's default; elect has no flag).
ELECT_TTL = 60
# What each holder does while it holds the lock: append its enter mark, stay a
# moment, append its exit mark. A short line appended with O_APPEND is one
# write, so marks of concurrent holders would interleave, never mix.
CRITICAL_SECTION = ('echo "enter $LOCKER_ID $ETCD_LOCK_REV $ETCD_LOCK_KEY" >> "$LOCK_LOG"; '
                    'sleep 0.03; echo "exit $LOCKER_ID" >> "$LOCK_LOG"')


class Contenders:
    """CONTENDERS threads, each running `etcdctl lock NAME -- sh -c ...` again and
    again until told to stop, against every endpoint. A run that fails (its
    endpoint was killed) is counted and retried; one stuck past `run_timeout`
    gets SIGINT (etcdctl then deletes its key) and, if it lingers, SIGKILL."""

    def __init__(self, endpoints, name, log_path, run_timeout=60):
        self.endpoints = endpoints
        self.name = name
        self.log_path = log_path
        self.run_timeout = run_timeout
        self.stopping = threading.Event()
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(CONTENDERS)]
        for t in self.threads:
            t.start()

    def _loop(self, i):
        env = etcdctl_env()
        env["LOCKER_ID"] = str(i)
        env["LOCK_LOG"] = self.log_path
        cmd = [ETCDCTL_BINARY, f"--endpoints={','.join(self.endpoints)}", "--dial-timeout=3s",
               "lock", f"--ttl={LOCK_TTL}", self.name, "--", "sh", "-c", CRITICAL_SECTION]
        while not self.stopping.is_set():
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, env=env)
            try:
                _, err = proc.communicate(timeout=self.run_timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)
                try:
                    _, err = proc.communicate(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, err = proc.communicate()
            if proc.returncode != 0:
                with self.lock:
                    self.failures.append((i, proc.returncode, err.strip()[-300:]))
                time.sleep(0.2)

    def stop(self, timeout=60):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)
        if any(t.is_alive() for t in self.threads):
            raise AssertionError("a lock contender did not finish")


def read_marks(path):
    """The holders in the order they held the lock, as (id, lock revision, key);
    fails on any overlap: every enter must be followed by its own exit before
    the next enter."""
    with open(path) as f:
        lines = [line.split() for line in f.read().splitlines()]
    held = []
    for n, words in enumerate(lines):
        if n % 2 == 0:
            if words[0] != "enter":
                raise AssertionError(f"line {n + 1}: {words} where an enter was due")
            held.append((words[1], int(words[2]), words[3]))
        elif words != ["exit", held[-1][0]]:
            raise AssertionError(f"line {n + 1}: {words} while {held[-1][0]} held the lock: "
                                 f"two holders at once")
    if len(lines) % 2:
        raise AssertionError(f"the last holder never left: {lines[-1]}")
    return held


def check_holders(held, name, wanted):
    """At least `wanted` acquisitions, every key of the lock's prefix, and the
    revision etcdctl hands the command (ETCD_LOCK_REV, the header of the
    acquisition) strictly increasing: a fencing token."""
    if len(held) < wanted:
        raise AssertionError(f"only {len(held)} acquisitions (wanted {wanted})")
    for i, (_, rev, key) in enumerate(held):
        if not key.startswith(f"{name}/"):
            raise AssertionError(f"holder {i} had key {key}")
        if i and rev <= held[i - 1][1]:
            raise AssertionError(f"lock revision {rev} of holder {i} after {held[i - 1][1]}")
    ids = {h[0] for h in held}
    if len(ids) < 2:
        raise AssertionError(f"one contender took every turn: {ids}")


def count_enters(path):
    with open(path) as f:
        return sum(1 for line in f if line.startswith("enter"))


def wait_count(path, wanted, seconds):
    """Waits until `wanted` holders have entered, or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and count_enters(path) < wanted:
        time.sleep(0.1)


def no_keys_left(c, prefix, seconds):
    """The lock's keys all go once its contenders are done (each unlocked)."""
    deadline = time.monotonic() + seconds
    while True:
        keys = c.lines("get", "--prefix", prefix, "--keys-only")
        if not [k for k in keys if k]:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"keys left under {prefix}: {keys}")
        time.sleep(0.2)


@scenario()
def lock_mutual_exclusion(c):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "marks")
        open(path, "w").close()
        t0 = time.monotonic()
        contenders = Contenders(c.all, "/lk/m", path)
        try:
            wait_count(path, ACQUISITIONS, ACQUIRE_SECONDS)
        finally:
            contenders.stop()
        held = read_marks(path)
        check_holders(held, "/lk/m", ACQUISITIONS)
        if contenders.failures:
            raise AssertionError(f"etcdctl lock failed: {contenders.failures[:3]}")
        print(f"     {len(held)} acquisitions by {CONTENDERS} contenders in "
              f"{time.monotonic() - t0:.1f} s, none overlapping", flush=True)
    no_keys_left(c, "/lk/m/", 5)


@scenario()
def lock_mutual_exclusion_across_a_leader_kill(c):
    """The cluster's leader is killed while contenders take turns, and brought
    back: runs through the killed member fail and are retried, none overlaps."""
    wanted = ACQUISITIONS
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "marks")
        open(path, "w").close()
        contenders = Contenders(c.all, "/lk/k", path)
        try:
            wait_count(path, wanted // 4, ACQUIRE_SECONDS)
            old = c.cluster.wait_leader()
            c.cluster.kill(old)
            killed_at = count_enters(path)
            time.sleep(2)
            c.cluster.restart(old)
            c.refresh_roles()
            # A holder cut off from the cluster may leave its key for its whole
            # session TTL before the others go on.
            wait_count(path, killed_at + wanted // 2, ACQUIRE_SECONDS + 2 * LOCK_TTL)
        finally:
            contenders.stop()
        held = read_marks(path)
        check_holders(held, "/lk/k", killed_at + wanted // 2)
        print(f"     {len(held)} acquisitions, {killed_at} before the kill of {old.name}; "
              f"{len(contenders.failures)} etcdctl runs failed meanwhile; none overlapping",
              flush=True)


class Elect(Watch):
    """`etcdctl elect ...` running until signalled (by its PID)."""

    command = ["elect"]

    def signal(self, sig):
        self.proc.send_signal(sig)


def silent(procs, seconds):
    """None of `procs` prints anything for `seconds`."""
    time.sleep(seconds)
    for p in procs:
        if not p.out.empty():
            raise AssertionError(f"elect {' '.join(p.args)} printed {p.out.get()!r} "
                                 "while another candidate led")


@scenario()
def elect_one_leader_at_a_time(c):
    name = "/el/e"
    observer = Elect(c.all, "-l", name)
    candidates = []
    try:
        # Started one after another, so that they line up in this order.
        for i in range(3):
            candidates.append(Elect(c.all, name, f"proposal-{i}"))
            time.sleep(0.5)
        key0, value0 = candidates[0].lines(2)
        expect(value0, "proposal-0", "the first candidate's value")
        if not key0.startswith(f"{name}/"):
            raise AssertionError(f"leader key {key0}")
        observer.expect_lines([key0, "proposal-0"], "the observer sees the first leader")
        silent(candidates[1:] + [observer], 1.0)

        # SIGINT: etcdctl resigns (deletes its key) and exits; the next takes over.
        candidates[0].signal(signal.SIGINT)
        expect(candidates[0].wait_exit(), 0, "a leader's exit on SIGINT")
        key1, value1 = candidates[1].lines(2)
        expect(value1, "proposal-1", "the second candidate's value")
        observer.expect_lines([key1, "proposal-1"], "the observer sees the second leader")
        silent(candidates[2:] + [observer], 1.0)

        # SIGKILL: nothing resigns; the leader's key stays until its session's
        # lease ends (60 s, not settable in etcdctl elect). The long variant
        # waits for that; the short one ends the lease by revoking it.
        candidates[1].signal(signal.SIGKILL)
        killed = time.monotonic()
        if not LONG:
            c.ok("lease", "revoke", key1.rsplit("/", 1)[1])
        key2, value2 = candidates[2].lines(2, timeout=ELECT_TTL + 15 if LONG else 10)
        after = time.monotonic() - killed
        expect(value2, "proposal-2", "the third candidate's value")
        observer.expect_lines([key2, "proposal-2"], "the observer sees the third leader")
        # etcdctl renews its session every third of the TTL, so at the kill
        # the lease had at least two thirds of it left.
        if LONG and after < ELECT_TTL * 2 / 3 - 5:
            raise AssertionError(f"a new leader {after:.1f} s after the old one's SIGKILL, "
                                 f"before its {ELECT_TTL} s session could end")
        print(f"     the third candidate led {after:.1f} s after the second was killed",
              flush=True)
        expect(len({key0, key1, key2}), 3, "three distinct leader keys")

        candidates[2].signal(signal.SIGINT)
        expect(candidates[2].wait_exit(), 0, "the last leader's exit on SIGINT")
        observer.signal(signal.SIGINT)
        expect(observer.wait_exit(), 0, "the observer's exit on SIGINT")
    finally:
        for p in candidates + [observer]:
            p.stop()
    keys = [k for k in c.lines("get", "--prefix", f"{name}/", "--keys-only") if k]
    expect(keys, [], "no candidate key left")


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(sys.argv, "etcdctl_lock_test.py", scenario, PORT_BLOCK,
                                        Context))
