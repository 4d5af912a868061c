"""etcdctl (etcd-client 3.4) against a three-node cluster with a small storage
quota (--quota-backend-bytes, the same flag on both systems): writes past it
raise NOSPACE; `alarm list`, refused puts, deletes and reads that go on, then
compaction, defrag and `alarm disarm` as etcd's documentation prescribes.

Run: python3 tests/etcd/etcdctl_alarm_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)

As etcdctl_test.py (whose helpers it uses): every check is proven against real
etcd first; PASS/FAIL/SKIP per scenario; exit 1 if any fails.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import Scenarios  # noqa: E402
from etcdctl_test import Context, expect  # noqa: E402

PORT_BLOCK = 14250  # this test's ports: 14250-14499
PORT_BLOCK_SIZE = 250
QUOTA_BYTES = 24 * 1024 * 1024
VALUE = "v" * (1024 * 1024)  # 1 MiB: under etcd's 1.5 MiB request limit
NOSPACE = "etcdserver: mvcc: database space exceeded"
scenario = Scenarios()


@scenario()
def nospace_then_compact_defrag_disarm(c):
    expect(c.lines("alarm", "list"), [], "no alarm at first")
    c.ok("put", "/q/small", "kept")
    # Fill until the quota refuses a put (the values overwrite a few keys, so
    # the history, not the live data, is what fills the store).
    refused = None
    for i in range(200):
        r = c.run("put", f"/q/big{i % 4}", stdin=VALUE)
        if r.returncode != 0:
            refused = r
            break
    if refused is None:
        raise AssertionError(f"200 puts of 1 MiB were all accepted under a {QUOTA_BYTES} B quota")
    if NOSPACE not in refused.stderr:
        raise AssertionError(f"the refused put said {refused.stderr.strip()[-300:]!r}")
    alarms = c.lines("alarm", "list")
    if not alarms or not all("alarm:NOSPACE" in a for a in alarms):
        raise AssertionError(f"alarm list printed {alarms}")
    # Every member refuses a put now; reads and deletes go on.
    for ep in c.all:
        c.fails("put", "/q/more", "x", ep=ep, message=NOSPACE)
    expect(c.lines("get", "/q/small", "--print-value-only", ep=c.follower), ["kept"],
           "reads go on")
    expect(c.lines("del", "/q/big", "--prefix"), ["4"], "deletes go on")
    statuses = c.json("endpoint", "status")
    if not all(s["Status"].get("errors") for s in statuses):
        raise AssertionError(f"endpoint status names no alarm: {statuses}")
    # etcd's way back: compact the history away, defragment, disarm.
    rev = c.revision()
    c.ok("compaction", "--physical", str(rev))
    c.ok("defrag")
    disarmed = c.lines("alarm", "disarm")
    if not disarmed or not all("alarm:NOSPACE" in a for a in disarmed):
        raise AssertionError(f"alarm disarm printed {disarmed}")
    expect(c.lines("alarm", "list"), [], "no alarm after the disarm")
    c.ok("put", "/q/after", "ok", ep=c.follower)
    expect(c.lines("get", "/q/after", "--print-value-only"), ["ok"], "writes go on")


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(
        sys.argv, "etcdctl_alarm_test.py", scenario, PORT_BLOCK, Context,
        block_size=PORT_BLOCK_SIZE, server_args=("--quota-backend-bytes", str(QUOTA_BYTES))))
