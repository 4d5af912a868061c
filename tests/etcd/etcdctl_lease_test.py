"""etcdctl (etcd-client 3.4) lease commands against a three-node cluster serving
etcd's v3 API: grant, put --lease, keep-alive, timetolive, list, revoke, and
expiry across a leader change.

Run: python3 tests/etcd/etcdctl_lease_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)

As etcdctl_test.py (whose helpers it uses): every check is proven against real
etcd first; PASS/FAIL/SKIP per scenario; exit 1 if any fails.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import Scenarios  # noqa: E402
from etcdctl_test import Context, Watch, expect, unb64  # noqa: E402

PORT_BLOCK = 14000  # this test's ports: 14000-14249
PORT_BLOCK_SIZE = 250
scenario = Scenarios()

# Both systems run with a 1 s election timeout (etcd's default; Meridian's 10
# ticks of 100 ms), so the smallest TTL a grant gets is 2 s (1.5 s rounded up).
ELECTION_TIMEOUT = 1.0
MIN_TTL = 2


class KeepAlive(Watch):
    """`etcdctl lease keep-alive ID` running until stopped (killed by its PID)."""

    command = ["lease", "keep-alive"]


def grant(c, ttl, ep=None):
    """Grants a lease; returns its id (an int) and the TTL etcdctl printed."""
    out = c.lines("lease", "grant", str(ttl), ep=ep)
    expect(len(out), 1, f"lease grant prints one line: {out}")
    words = out[0].split()
    if words[0] != "lease" or words[2:4] != ["granted", "with"]:
        raise AssertionError(f"lease grant printed {out[0]!r}")
    return int(words[1], 16), out[0]


def key_lease(c, key, ep=None):
    kvs = c.json("get", key, ep=ep).get("kvs", [])
    return kvs[0].get("lease", 0) if kvs else None


def wait_gone(c, key, timeout, ep=None):
    """Seconds until `key` is gone, polled every 50 ms; fails after `timeout`."""
    t0 = time.monotonic()
    while key_lease(c, key, ep=ep) is not None:
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{key} still there {timeout} s on")
        time.sleep(0.05)
    return time.monotonic() - t0


@scenario()
def grant_put_timetolive_list_revoke(c):
    lease, line = grant(c, 60)
    expect(line, f"lease {lease:016x} granted with TTL(60s)", "grant's output")
    hexid = format(lease, "x")
    c.ok("put", "/l/b", "1", f"--lease={hexid}")
    c.ok("put", "/l/a", "2", f"--lease={hexid}", ep=c.follower)
    c.ok("put", "/l/c", "not leased")
    expect(key_lease(c, "/l/a"), lease, "the key carries the lease")
    out = c.lines("lease", "timetolive", hexid, "--keys", ep=c.follower)
    prefix = f"lease {lease:016x} granted with TTL(60s), remaining("
    if not out[0].startswith(prefix):
        raise AssertionError(f"timetolive printed {out}")
    remaining = int(out[0][len(prefix):].split("s)")[0])
    if not 55 <= remaining <= 60:
        raise AssertionError(f"remaining {remaining} s of a 60 s lease just granted")
    keys = out[0].split("attached keys([")[1].rstrip("])").split()
    expect(sorted(keys), ["/l/a", "/l/b"], "the attached keys")
    listed = c.lines("lease", "list")
    if f"{lease:016x}" not in listed[1:] or not listed[0].startswith("found "):
        raise AssertionError(f"lease list printed {listed}")
    rev = c.revision()
    expect(c.lines("lease", "revoke", hexid, ep=c.follower), [f"lease {lease:016x} revoked"],
           "revoke's output")
    expect(c.revision(), rev + 1, "the revoke deleted both keys in one revision")
    expect(key_lease(c, "/l/a"), None, "/l/a went with its lease")
    expect(key_lease(c, "/l/b"), None, "/l/b went with its lease")
    expect(key_lease(c, "/l/c"), 0, "the key without a lease stays")
    expect(c.lines("lease", "timetolive", hexid), [f"lease {lease:016x} already expired"],
           "timetolive of a revoked lease")
    if f"{lease:016x}" in c.lines("lease", "list")[1:]:
        raise AssertionError("a revoked lease is still listed")
    c.fails("lease", "revoke", hexid, message="etcdserver: requested lease not found")
    c.fails("put", "/l/d", "v", f"--lease={hexid}", code="NotFound",
            message="Error: etcdserver: requested lease not found")
    expect(key_lease(c, "/l/d"), None, "nothing was written")


@scenario()
def grant_limits_and_ids(c):
    lease, line = grant(c, 1)
    expect(line, f"lease {lease:016x} granted with TTL({MIN_TTL}s)", "a TTL below the minimum")
    c.fails("lease", "grant", "9000000001", message="etcdserver: too large lease TTL")
    ids = {grant(c, 30, ep=ep)[0] for ep in c.all for _ in range(3)}
    expect(len(ids), 9, "ids granted through every member are distinct")
    if any(i <= 0 for i in ids):
        raise AssertionError(f"ids must be positive: {ids}")


@scenario()
def keep_alive_once_and_unknown_lease(c):
    lease, _ = grant(c, 10)
    hexid = format(lease, "x")
    expect(c.lines("lease", "keep-alive", "--once", hexid, ep=c.follower),
           [f"lease {lease:016x} keepalived with TTL(10)"], "keep-alive --once")
    c.fails("lease", "keep-alive", "--once", "12345", message="requested lease not found")
    out = c.lines("lease", "keep-alive", "12345")
    expect(out, [f"lease {0x12345:016x} expired or revoked."], "keep-alive of an unknown lease")
    expect(c.lines("lease", "timetolive", "12345"), [f"lease {0x12345:016x} already expired"],
           "timetolive of an unknown lease")


@scenario()
def keep_alive_holds_then_expiry_deletes(c):
    ttl = 3
    lease, _ = grant(c, ttl)
    hexid = format(lease, "x")
    c.ok("put", "/ka/k", "v", f"--lease={hexid}")
    ka = KeepAlive([c.follower], hexid)
    try:
        ka.expect_lines([f"lease {lease:016x} keepalived with TTL({ttl})"], "the first keep-alive")
        time.sleep(2 * ttl)
        expect(key_lease(c, "/ka/k"), lease, f"the key after {2 * ttl} s of keep-alives")
    finally:
        ka.stop()
    stopped = time.monotonic()
    # The last keep-alive came at most ttl/3 before the stop (etcdctl renews
    # every third of the TTL); nothing may expire before the TTL after it.
    time.sleep(ttl * 2 / 3 - 0.3)
    expect(key_lease(c, "/ka/k"), lease, "the key before its TTL ran out")
    wait_gone(c, "/ka/k", ttl + ELECTION_TIMEOUT + 1.0 - (time.monotonic() - stopped))
    expect(c.lines("lease", "timetolive", hexid), [f"lease {lease:016x} already expired"],
           "the expired lease")


@scenario()
def expiry_across_a_leader_change(c):
    # Keep-alives stop when the leader is killed: the lease must outlive its TTL
    # from the last keep-alive, and end within TTL + one election timeout (and
    # the time to find the new leader and commit the revoke), with no keep-alive
    # after the kill.
    ttl = 4
    lease, _ = grant(c, ttl)
    hexid = format(lease, "x")
    c.ok("put", "/kl/k", "v", f"--lease={hexid}")
    ka = KeepAlive([c.follower], hexid)
    try:
        ka.expect_lines([f"lease {lease:016x} keepalived with TTL({ttl})"], "the first keep-alive")
        time.sleep(1.5)
        old = c.cluster.wait_leader()
        ka.stop()
        killed = time.monotonic()
        c.cluster.kill(old)
    finally:
        ka.stop()
    survivor = next(m for m in c.cluster.members if m.running()).endpoint
    time.sleep(ttl * 2 / 3 - 0.3)
    expect(key_lease(c, "/kl/k", ep=survivor), lease, "the key before its TTL ran out")
    wait_gone(c, "/kl/k", 3 * ttl, ep=survivor)
    after = time.monotonic() - killed
    # Meridian's members all track expiry, so the new leader ends the lease on
    # time; etcd's new leader gives every lease a full TTL plus an election
    # timeout from when it takes over (its lessor's Promote).
    limit = ttl + ELECTION_TIMEOUT + 1.5
    if c.cluster.kind == "etcd":
        limit += 2 * ELECTION_TIMEOUT + 1.0
    if after > limit:
        raise AssertionError(f"the key outlived the kill by {after:.1f} s (limit {limit:.1f} s)")
    print(f"     the key went {after:.2f} s after the leader was killed (TTL {ttl} s)", flush=True)
    c.cluster.restart(old)
    c.refresh_roles()


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(sys.argv, "etcdctl_lease_test.py", scenario, PORT_BLOCK,
                                        Context, block_size=PORT_BLOCK_SIZE))
