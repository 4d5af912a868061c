"""python3-etcd3 (Debian, 0.12) against a three-node cluster serving etcd's v3 API.

Run with Debian's Python, which has the etcd3 module:
  /usr/bin/python3 tests/etcd/etcd3_client_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)

Every scenario is first proven against real etcd. Scenarios run in order on one
cluster, each in its own key prefix, through clients of single nodes (the
library talks to one endpoint): mostly followers, so writes and linearizable
reads through a follower are exercised throughout. No leases. Prints
PASS/FAIL/SKIP per scenario; exits 1 if any fails.

etcd3 0.12 accepts but ignores `limit`, `revision` and `count_only` in its get
helpers, so those requests are sent through the library's own KV stub.
"""

import os
import queue
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import Scenarios  # noqa: E402

try:
    import etcd3
    import etcd3.etcdrpc as rpc
    import grpc
    from etcd3.events import DeleteEvent, PutEvent
except ImportError as e:
    print(f"{e}: run this test with Debian's /usr/bin/python3 (python3-etcd3)", file=sys.stderr)
    sys.exit(2)

PORT_BLOCK = 13500  # this test's ports: 13500-13999
scenario = Scenarios()

MAX_REQUEST_BYTES = 1536 * 1024  # etcd's default --max-request-bytes, which Meridian mirrors
CLIENT_TIMEOUT_S = 10  # every call and every watch creation has a deadline


def expect(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: expected {wanted!r}, got {actual!r}")


def event_tuple(e):
    kind = "PUT" if isinstance(e, PutEvent) else "DELETE" if isinstance(e, DeleteEvent) else "?"
    return (kind, e.key.decode(), e.value.decode(), e.mod_revision, e.version, e.create_revision)


def rpc_error(fn, code, details):
    """Calls fn, which must fail with a gRPC status `code` and `details`."""
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() != code or e.details() != details:
            raise AssertionError(f"expected {code.name} {details!r}, got {e.code().name} "
                                 f"{e.details()!r}") from e
        return
    raise AssertionError(f"expected {code.name} {details!r}, but the call succeeded")


class Context:
    def __init__(self, cluster):
        self.cluster = cluster
        self.clients = {m.endpoint: etcd3.client("127.0.0.1", m.client_port,
                                                  timeout=CLIENT_TIMEOUT_S)
                        for m in cluster.members}
        leader = cluster.wait_leader()
        self.leader = self.clients[leader.endpoint]
        self.followers = [self.clients[m.endpoint] for m in cluster.followers()]
        self.f1, self.f2 = self.followers
        self.tx = self.f1.transactions  # compare and op builders

    def close(self):
        # etcd3's watch thread re-opens its stream forever and dies with
        # "Channel closed" once the channel is closed: expected here, not news.
        default_hook = threading.excepthook

        def quiet_watch_threads(args):
            if not (args.thread and args.thread.name.startswith("etcd3_watch_") and
                    args.exc_type is ValueError):
                default_hook(args)

        threading.excepthook = quiet_watch_threads
        for c in self.clients.values():
            c.close()

    def range(self, client, key, **fields):
        """A raw RangeRequest through the library's stub."""
        return client.kvstub.Range(rpc.RangeRequest(key=key.encode(), **fields), CLIENT_TIMEOUT_S)

    def revision(self, client=None):
        return self.range(client or self.f1, "/no-such-key").header.revision


class Events:
    """A watch's events (iterator form) pumped by a thread, taken with deadlines."""

    def __init__(self, watch):
        self.iterator, self.cancel = watch
        self.q = queue.Queue()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        try:
            for e in self.iterator:
                self.q.put(e)
        except Exception as e:  # noqa: BLE001 - handed to the test
            self.q.put(e)
        self.q.put(StopIteration)

    def take(self, n, timeout=10):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            try:
                e = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{len(got)} of {n} events within {timeout} s: "
                                     f"{[event_tuple(x) for x in got]}")
            if e is StopIteration or isinstance(e, Exception):
                raise AssertionError(f"watch ended after {[event_tuple(x) for x in got]}: {e!r}")
            got.append(e)
        return got

    def close(self):
        self.cancel()
        self.thread.join(5)
        if self.thread.is_alive():
            raise AssertionError("the watch iterator did not end after cancel()")


# ---------------------------------------------------------------- KV


@scenario()
def put_get_delete(c):
    r1 = c.f1.put("/p/a", "1").header.revision
    value, meta = c.f2.get("/p/a")  # linearizable, through the other follower
    expect(value, b"1", "get through follower 2")
    expect((meta.key, meta.create_revision, meta.mod_revision, meta.version, meta.lease_id),
           (b"/p/a", r1, r1, 1, 0), "metadata")
    expect(meta.response_header.revision, r1, "header revision of the get")
    resp = c.f1.put("/p/a", "2", prev_kv=True)
    r2 = resp.header.revision
    expect((resp.prev_kv.key, resp.prev_kv.value, resp.prev_kv.mod_revision), (b"/p/a", b"1", r1),
           "put prev_kv")
    value, meta = c.leader.get("/p/a")
    expect((value, meta.create_revision, meta.mod_revision, meta.version), (b"2", r1, r2, 2),
           "after the overwrite")
    expect(c.f2.get("/p/absent"), (None, None), "an absent key")
    binary = bytes(range(256))
    c.f2.put(b"/p/bin\x00\xff", binary)
    expect(c.f1.get(b"/p/bin\x00\xff")[0], binary, "binary key and value")
    expect(c.f1.get("/p/a", serializable=True)[0] in (b"1", b"2"), True, "serializable get")
    expect(c.f2.delete("/p/a"), True, "delete of a present key")
    expect(c.f2.delete("/p/a"), False, "delete of an absent key")
    expect(c.f1.get("/p/a"), (None, None), "deleted")
    c.f1.put("/p/b", "bee")
    resp = c.f1.delete("/p/b", prev_kv=True, return_response=True)
    expect((resp.deleted, [(kv.key, kv.value) for kv in resp.prev_kvs]), (1, [(b"/p/b", b"bee")]),
           "delete prev_kv")
    expect(c.f2.put_if_not_exists("/p/n", "x"), True, "put_if_not_exists on an absent key")
    expect(c.f1.put_if_not_exists("/p/n", "y"), False, "put_if_not_exists on a present key")
    expect(c.f1.replace("/p/n", "x", "z"), True, "replace with the right old value")
    expect(c.f2.replace("/p/n", "x", "w"), False, "replace with a wrong old value")
    expect(c.f2.get("/p/n")[0], b"z", "after replace")


@scenario()
def get_prefix_range_all(c):
    for k in ["/gp/a", "/gp/b", "/gp/b1", "/gp/c", "/gpz"]:
        c.f1.put(k, "v" + k[-1])
    got = [(m.key.decode(), v.decode()) for v, m in c.f2.get_prefix("/gp/")]
    expect(got, [("/gp/a", "va"), ("/gp/b", "vb"), ("/gp/b1", "v1"), ("/gp/c", "vc")],
           "get_prefix")
    got = [(m.key.decode(), v) for v, m in c.f1.get_prefix("/gp/b", keys_only=True)]
    expect(got, [("/gp/b", b""), ("/gp/b1", b"")], "get_prefix keys_only")
    got = [m.key.decode() for _, m in c.f2.get_range("/gp/b", "/gp/c")]
    expect(got, ["/gp/b", "/gp/b1"], "get_range [/gp/b, /gp/c)")
    expect(list(c.f2.get_range("/gp/b", "/gp/b")), [], "empty range")
    every = [m.key for _, m in c.leader.get_all()]
    if every != sorted(every):
        raise AssertionError("get_all is not in key order")
    mine = [k.decode() for k in every if k.startswith(b"/gp")]
    expect(mine, ["/gp/a", "/gp/b", "/gp/b1", "/gp/c", "/gpz"], "get_all holds every key")
    rev = c.revision()
    for _, m in c.f1.get_prefix("/gp/"):
        expect(m.response_header.revision, rev, "header revision of get_prefix")


@scenario()
def get_sorted(c):
    # Written in this order (create revisions ascend): key, value, number of puts.
    for key, value, puts in [("/s/c", "x", 1), ("/s/a", "z", 3), ("/s/d", "w", 2),
                             ("/s/b", "y", 1)]:
        for i in range(puts):
            c.f1.put(key, value if i == puts - 1 else f"{value}{i}")
    c.f2.put("/s/c", "x")  # /s/c: version 2, the latest modification

    def keys(order, target):
        return [m.key.decode()[3:] for _, m in
                c.f2.get_prefix("/s/", sort_order=order, sort_target=target)]

    expect(keys(None, "key"), list("abcd"), "no sort order: by key")
    expect(keys("descend", "key"), list("dcba"), "key descend")
    expect(keys("ascend", "value"), list("dcba"), "value ascend")
    expect(keys("descend", "value"), list("abcd"), "value descend")
    expect(keys("ascend", "create"), list("cadb"), "create ascend")
    expect(keys("descend", "create"), list("bdac"), "create descend")
    expect(keys("descend", "mod"), list("cbda"), "mod descend")
    expect(keys("ascend", "mod"), list("adbc"), "mod ascend")
    v = keys("descend", "version")
    expect((v[0], v[-1]), ("a", "b"), "version descend: a (3) first, b (1) last")
    got = [m.key.decode()[3:] for _, m in
           c.f1.get_range("/s/b", "/s/d", sort_order="descend", sort_target="key")]
    expect(got, list("cb"), "get_range sorted descending")


@scenario()
def range_revision_limit_count(c):
    r1 = c.f1.put("/rv/k", "v1").header.revision
    r2 = c.f1.put("/rv/k", "v2").header.revision
    c.f1.put("/rv/l", "l")
    c.f2.delete("/rv/k")
    now = c.revision()
    resp = c.range(c.f2, "/rv/k", revision=r1)
    expect([(kv.value, kv.mod_revision, kv.version) for kv in resp.kvs], [(b"v1", r1, 1)], "at r1")
    expect(resp.header.revision, now, "a historical read's header has the current revision")
    resp = c.range(c.f1, "/rv/k", revision=r2)
    expect([(kv.value, kv.create_revision, kv.version) for kv in resp.kvs], [(b"v2", r1, 2)],
           "at r2")
    expect(len(c.range(c.f1, "/rv/k").kvs), 0, "deleted now")
    resp = c.range(c.f2, "/rv/", range_end=b"/rv0", limit=1)
    expect(([kv.key for kv in resp.kvs], resp.more, resp.count), ([b"/rv/l"], False, 1),
           "limit 1 of 1")
    for i in range(5):
        c.f1.put(f"/rv/m{i}", str(i))
    resp = c.range(c.f2, "/rv/m", range_end=b"/rv/n", limit=2)
    expect(([kv.key for kv in resp.kvs], resp.more, resp.count), ([b"/rv/m0", b"/rv/m1"], True, 5),
           "limit 2 of 5")
    resp = c.range(c.f1, "/rv/m", range_end=b"/rv/n", count_only=True)
    expect((len(resp.kvs), resp.count), (0, 5), "count_only")
    # A serializable read is served from the node's own store, which may not have
    # applied the latest writes yet: wait for it to catch up.
    etcd_cluster.harness.wait_until(
        lambda: len(c.range(c.leader, "/rv/m", range_end=b"/rv/n", serializable=True).kvs) == 5,
        10, what="the leader's serializable read to show 5 keys")
    resp = c.range(c.leader, "/rv/m", range_end=b"/rv/n", keys_only=True, serializable=True)
    expect([(kv.key, kv.value) for kv in resp.kvs], [(f"/rv/m{i}".encode(), b"") for i in range(5)],
           "keys_only serializable on the leader")


@scenario()
def range_revision_filters(c):
    revs = [c.f1.put(f"/rf/{i}", "v").header.revision for i in range(4)]
    c.f2.put("/rf/0", "again")  # /rf/0: created at revs[0], modified last
    end = b"/rf0"

    def keys(**filters):
        return [kv.key.decode() for kv in c.range(c.f2, "/rf/", range_end=end, **filters).kvs]

    expect(keys(min_mod_revision=revs[2]), ["/rf/0", "/rf/2", "/rf/3"], "min_mod_revision")
    expect(keys(max_mod_revision=revs[1]), ["/rf/1"], "max_mod_revision")
    expect(keys(min_create_revision=revs[1], max_create_revision=revs[2]), ["/rf/1", "/rf/2"],
           "create revision window")
    expect(keys(max_create_revision=revs[0]), ["/rf/0"], "max_create_revision")


@scenario()
def binary_keys_sort_as_unsigned_bytes(c):
    keys = [b"/bk/\x00", b"/bk/\x01a", b"/bk/\x7f", b"/bk/\x80", b"/bk/\xc3\xa9", b"/bk/\xff",
            b"/bk/\xff\xff"]
    for i, k in enumerate(reversed(keys)):
        c.f1.put(k, bytes([i]))
    expect([m.key for _, m in c.f2.get_prefix(b"/bk/")], keys, "byte order (unsigned)")
    expect([m.key for _, m in c.f2.get_range(b"/bk/\x7f", b"/bk/\xff")],
           [b"/bk/\x7f", b"/bk/\x80", b"/bk/\xc3\xa9"], "range [\\x7f, \\xff)")
    expect([m.key for _, m in c.f1.get_prefix(b"/bk/", sort_order="descend")], keys[::-1],
           "descending byte order")
    # The prefix b"/bk/\xff" ends at b"/bk0" (etcd3 0.12's delete_prefix cannot
    # compute that: it overflows the last byte).
    resp = c.f1.kvstub.DeleteRange(rpc.DeleteRangeRequest(key=b"/bk/\xff", range_end=b"/bk0"),
                                   CLIENT_TIMEOUT_S)
    expect(resp.deleted, 2, "delete of the b'/bk/\\xff' prefix")
    expect([m.key for _, m in c.f2.get_prefix(b"/bk/")], keys[:-2], "after the delete")


@scenario()
def empty_value(c):
    t = c.tx
    r = c.f1.put("/ev/k", "").header.revision
    value, meta = c.f2.get("/ev/k")
    expect((value, meta.version, meta.mod_revision), (b"", 1, r), "an empty value exists")
    # With a linearizable get: a txn of no ops would be a serializable read.
    ok, _ = c.f2.transaction(compare=[t.value("/ev/k") == ""], success=[t.get("/ev/k")],
                             failure=[t.get("/ev/k")])
    expect(ok, True, "value == '' on a key with an empty value")
    expect(c.f1.delete("/ev/k"), True, "delete of a key with an empty value")


@scenario()
def large_range(c):
    t = c.tx
    n = 300
    for first in range(0, n, 100):  # three txns of 100 puts
        ok, _ = c.f1.transaction(compare=[], failure=[], success=[
            t.put(f"/lr/{i:04d}", f"v{i}") for i in range(first, first + 100)])
        expect(ok, True, "txn of 100 puts")
    got = [m.key.decode() for _, m in c.f2.get_prefix("/lr/")]
    expect(got, [f"/lr/{i:04d}" for i in range(n)], f"{n} keys in order")
    resp = c.range(c.f2, "/lr/", range_end=b"/lr0", limit=250,
                   sort_order=rpc.RangeRequest.DESCEND, sort_target=rpc.RangeRequest.KEY)
    expect((len(resp.kvs), resp.more, resp.count, resp.kvs[0].key, resp.kvs[-1].key),
           (250, True, n, b"/lr/0299", b"/lr/0050"), "limit 250 of 300, descending")
    expect(c.f2.delete_prefix("/lr/").deleted, n, "delete_prefix of 300 keys")


@scenario()
def delete_prefix(c):
    for k in ["/dp/a", "/dp/b", "/dp/c/d", "/dpz"]:
        c.f1.put(k, "x")
    before = c.revision()
    resp = c.f2.delete_prefix("/dp/")
    expect((resp.deleted, resp.header.revision), (3, before + 1),
           "delete_prefix: three keys in one revision")
    expect(list(c.f1.get_prefix("/dp/")), [], "prefix empty")
    expect(c.f1.get("/dpz")[0], b"x", "the key beside the prefix stays")
    resp = c.f2.delete_prefix("/dp/")
    expect((resp.deleted, resp.header.revision), (0, before + 1), "deleting nothing")


# ---------------------------------------------------------------- transactions


@scenario()
def transaction_compares(c):
    t = c.tx
    r1 = c.f1.put("/tx/a", "5").header.revision
    r2 = c.f1.put("/tx/a", "5").header.revision  # version 2
    cases = [
        ("value ==", t.value("/tx/a") == "5", True),
        ("value !=", t.value("/tx/a") != "5", False),
        ("value <", t.value("/tx/a") < "6", True),
        ("value >", t.value("/tx/a") > "6", False),
        ("version ==", t.version("/tx/a") == 2, True),
        ("version >", t.version("/tx/a") > 2, False),
        ("version <", t.version("/tx/a") < 3, True),
        ("version !=", t.version("/tx/a") != 2, False),
        ("create ==", t.create("/tx/a") == r1, True),
        ("create >", t.create("/tx/a") > r1, False),
        ("create <", t.create("/tx/a") < r1 + 1, True),
        ("mod ==", t.mod("/tx/a") == r2, True),
        ("mod !=", t.mod("/tx/a") != r2, False),
        ("mod >", t.mod("/tx/a") > r1, True),
        ("mod <", t.mod("/tx/a") < r2, False),
        ("absent: version == 0", t.version("/tx/none") == 0, True),
        ("absent: create == 0", t.create("/tx/none") == 0, True),
        ("absent: mod > 0", t.mod("/tx/none") > 0, False),
        # etcd: a value compare on a missing key is false, whatever the operator.
        ("absent: value !=", t.value("/tx/none") != "x", False),
        ("absent: value ==", t.value("/tx/none") == "", False),
    ]
    for i, (what, cmp, wanted) in enumerate(cases):
        client = c.followers[i % 2]
        ok, responses = client.transaction(compare=[cmp], success=[t.put("/tx/res", f"s{i}")],
                                           failure=[t.put("/tx/res", f"f{i}")])
        expect(ok, wanted, f"compare {what}")
        expect(len(responses), 1, f"{what}: one response")
        expect(c.leader.get("/tx/res")[0], f"{'s' if wanted else 'f'}{i}".encode(),
               f"{what}: the right branch ran")
    # Several compares: all must hold.
    ok, _ = c.f2.transaction(compare=[t.value("/tx/a") == "5", t.version("/tx/a") == 1],
                             success=[t.put("/tx/res", "both")], failure=[])
    expect(ok, False, "one false compare of two")
    expect(c.f1.get("/tx/res")[0], b"f19", "no failure ops: nothing written")


@scenario()
def transaction_branches(c):
    t = c.tx
    c.f1.put("/tb/a", "1")
    c.f1.put("/tb/gone", "g")
    rev = c.revision()
    ok, responses = c.f2.transaction(
        compare=[t.value("/tb/a") == "1"],
        success=[t.put("/tb/a", "2", prev_kv=True), t.get("/tb/a"), t.delete("/tb/gone"),
                 t.get("/tb/", "/tb0")],
        failure=[t.put("/tb/failed", "yes")])
    expect(ok, True, "succeeded")
    expect(len(responses), 4, "one response per op")
    expect(responses[0].response_put.header.revision, rev + 1, "put's revision")
    expect(responses[0].response_put.prev_kv.value, b"1", "put prev_kv in a txn")
    expect([(v, m.key, m.mod_revision) for v, m in responses[1]], [(b"2", b"/tb/a", rev + 1)],
           "a get after a put in one txn sees the put")
    expect(responses[2].response_delete_range.deleted, 1, "delete in the txn")
    expect([m.key for _, m in responses[3]], [b"/tb/a"], "range in the txn sees the delete")
    expect(c.revision(c.f1), rev + 1, "one txn is one revision")
    ok, responses = c.f1.transaction(compare=[t.value("/tb/a") == "1"],
                                     success=[t.put("/tb/a", "3")],
                                     failure=[t.put("/tb/failed", "yes"), t.get("/tb/a")])
    expect(ok, False, "failed")
    expect([v for v, _ in responses[1]], [b"2"], "failure branch get")
    expect(c.f2.get("/tb/failed")[0], b"yes", "failure branch put")
    # A nested txn (etcd 3.3+) as an op.
    ok, responses = c.f2.transaction(
        compare=[],
        success=[t.txn(compare=[t.value("/tb/a") == "2"], success=[t.put("/tb/nested", "in")],
                       failure=[t.put("/tb/nested", "out")])],
        failure=[])
    expect((ok, responses[0].response_txn.succeeded), (True, True), "nested txn")
    expect(c.f1.get("/tb/nested")[0], b"in", "nested success branch")
    # A compare over a range of keys: every key in it must match. (Each txn
    # carries a linearizable get: etcd serves a txn whose ops are all
    # serializable ranges, which includes a txn with no ops at all, as a
    # serializable read from the local node, so it might not see the put just
    # made through the other follower.)
    c.f1.put("/tb/r/1", "same")
    c.f1.put("/tb/r/2", "same")
    ok, _ = c.f1.transaction(compare=[t.value("/tb/r/", "/tb/r0") == "same"],
                             success=[t.get("/tb/r/1")], failure=[t.get("/tb/r/1")])
    expect(ok, True, "range compare, all equal")
    c.f2.put("/tb/r/3", "other")
    ok, _ = c.f1.transaction(compare=[t.value("/tb/r/", "/tb/r0") == "same"],
                             success=[t.get("/tb/r/1")], failure=[t.get("/tb/r/1")])
    expect(ok, False, "range compare, one differs")


# ---------------------------------------------------------------- watch


@scenario()
def watch_iterator(c):
    ev = Events(c.f1.watch("/wi/k"))
    try:
        c.f2.put("/wi/other", "not watched")
        r1 = c.f2.put("/wi/k", "a").header.revision
        r2 = c.leader.put("/wi/k", "b").header.revision
        r3 = c.f2.delete("/wi/k", return_response=True).header.revision
        got = [event_tuple(e) for e in ev.take(3)]
    finally:
        ev.close()
    expect(got, [("PUT", "/wi/k", "a", r1, 1, r1), ("PUT", "/wi/k", "b", r2, 2, r1),
                 ("DELETE", "/wi/k", "", r3, 0, 0)], "events of watch(/wi/k)")


@scenario()
def watch_prefix_iterator(c):
    ev = Events(c.f2.watch_prefix("/wp/"))
    try:
        r1 = c.f1.put("/wp/a", "1").header.revision
        c.f1.put("/wpz", "outside")
        r2 = c.f2.put("/wp/b", "2").header.revision
        t = c.tx
        r3 = c.leader.transaction(compare=[], success=[t.put("/wp/c", "3"), t.put("/wp/a", "4")],
                                  failure=[])[1][0].response_put.header.revision
        r4 = c.f1.delete_prefix("/wp/").header.revision
        got = [event_tuple(e) for e in ev.take(7)]
    finally:
        ev.close()
    expect(got, [("PUT", "/wp/a", "1", r1, 1, r1),
                 ("PUT", "/wp/b", "2", r2, 1, r2),
                 ("PUT", "/wp/c", "3", r3, 1, r3),
                 ("PUT", "/wp/a", "4", r3, 2, r1),
                 ("DELETE", "/wp/a", "", r4, 0, 0),
                 ("DELETE", "/wp/b", "", r4, 0, 0),
                 ("DELETE", "/wp/c", "", r4, 0, 0)], "events of watch_prefix(/wp/)")


@scenario()
def watch_callbacks(c):
    key_q, prefix_q = queue.Queue(), queue.Queue()
    key_id = c.f1.add_watch_callback("/wc/k", key_q.put)
    prefix_id = c.f1.add_watch_prefix_callback("/wc/", prefix_q.put)
    try:
        r1 = c.f2.put("/wc/k", "1").header.revision
        r2 = c.f2.put("/wc/j", "2").header.revision

        def take(q, n):
            events = []
            deadline = time.monotonic() + 10
            while len(events) < n:
                try:
                    resp = q.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"callback got {len(events)} of {n} events")
                if isinstance(resp, Exception):
                    raise AssertionError(f"callback got an error: {resp!r}")
                for e in resp.events:
                    if resp.header.revision < e.mod_revision:
                        raise AssertionError(f"response revision {resp.header.revision} < "
                                             f"event {e.mod_revision}")
                events += resp.events
            return [event_tuple(e) for e in events]

        expect(take(key_q, 1), [("PUT", "/wc/k", "1", r1, 1, r1)], "key callback")
        expect(take(prefix_q, 2), [("PUT", "/wc/k", "1", r1, 1, r1),
                                   ("PUT", "/wc/j", "2", r2, 1, r2)], "prefix callback")
        c.f1.cancel_watch(key_id)
        r3 = c.f2.put("/wc/k", "3").header.revision
        expect(take(prefix_q, 1), [("PUT", "/wc/k", "3", r3, 2, r1)], "prefix callback goes on")
        if not key_q.empty():
            raise AssertionError(f"a cancelled watch called back: {key_q.get().events}")
    finally:
        c.f1.cancel_watch(key_id)
        c.f1.cancel_watch(prefix_id)


@scenario()
def watch_start_revision_prev_kv(c):
    r1 = c.f1.put("/ws/k", "a").header.revision
    r2 = c.f1.put("/ws/k", "b").header.revision
    r3 = c.f2.delete("/ws/k", return_response=True).header.revision
    ev = Events(c.leader.watch("/ws/k", start_revision=r1, prev_kv=True))
    try:
        history = ev.take(3)
        r4 = c.f2.put("/ws/k", "c").header.revision
        live = ev.take(1)
    finally:
        ev.close()
    got = [event_tuple(e) + (e.prev_value.decode(), e.prev_mod_revision) for e in history + live]
    expect(got, [("PUT", "/ws/k", "a", r1, 1, r1, "", 0),
                 ("PUT", "/ws/k", "b", r2, 2, r1, "a", r1),
                 ("DELETE", "/ws/k", "", r3, 0, 0, "b", r2),
                 ("PUT", "/ws/k", "c", r4, 1, r4, "", 0)], "history then live, with prev_kv")
    # Starting in the middle of the history.
    ev = Events(c.f2.watch_prefix("/ws/", start_revision=r3))
    try:
        expect([event_tuple(e)[0] for e in ev.take(2)], ["DELETE", "PUT"], "from r3")
    finally:
        ev.close()


@scenario()
def watch_once(c):
    rev = c.f1.put("/wo/k", "once").header.revision
    e = c.f2.watch_once("/wo/k", timeout=10, start_revision=rev)
    expect(event_tuple(e), ("PUT", "/wo/k", "once", rev, 1, rev), "watch_once")
    try:
        c.f2.watch_once("/wo/quiet", timeout=0.5)
    except etcd3.exceptions.WatchTimedOut:
        pass
    else:
        raise AssertionError("watch_once on a quiet key returned an event")


@scenario()
def watch_same_history_on_every_node(c):
    """Two writers through the two followers at once; a watcher on every node
    sees one history: the same events in the same order, one per revision."""
    watchers = [Events(cl.watch_prefix("/wx/")) for cl in c.clients.values()]
    per_writer = 40
    errors = []

    def write(client, name):
        try:
            for i in range(per_writer):
                client.put(f"/wx/{name}", str(i))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    writers = [threading.Thread(target=write, args=(cl, n)) for cl, n in
               ((c.f1, "one"), (c.f2, "two"))]
    try:
        for t in writers:
            t.start()
        for t in writers:
            t.join(60)
        if errors:
            raise AssertionError(f"a writer failed: {errors[0]!r}")
        histories = [[event_tuple(e) for e in w.take(2 * per_writer)] for w in watchers]
    finally:
        for w in watchers:
            w.close()
    for h in histories[1:]:
        expect(h, histories[0], "the same events on every node")
    mods = [e[3] for e in histories[0]]
    expect(mods, list(range(mods[0], mods[0] + len(mods))), "one event per revision, no gaps")
    for name in ("one", "two"):
        expect([e[2] for e in histories[0] if e[1] == f"/wx/{name}"],
               [str(i) for i in range(per_writer)], f"writer {name}'s puts in order")


# ---------------------------------------------------------------- consistency through followers


@scenario()
def follower_writes_and_linearizable_reads(c):
    for i in range(20):
        writer, reader = (c.f1, c.f2) if i % 2 == 0 else (c.f2, c.f1)
        rev = writer.put("/lin/k", f"v{i}").header.revision
        value, meta = reader.get("/lin/k")
        expect(value, f"v{i}".encode(), f"read {i} right after a write through the other follower")
        if meta.response_header.revision < rev:
            raise AssertionError(f"read at {meta.response_header.revision} < write at {rev}")


# ---------------------------------------------------------------- errors and compaction


@scenario()
def error_statuses(c):
    now = c.revision()
    rpc_error(lambda: c.range(c.f1, "/e/k", revision=now + 1000), grpc.StatusCode.OUT_OF_RANGE,
              "etcdserver: mvcc: required revision is a future revision")
    rpc_error(lambda: c.f2.put("", "v"), grpc.StatusCode.INVALID_ARGUMENT,
              "etcdserver: key is not provided")
    big = b"x" * (MAX_REQUEST_BYTES + 64 * 1024)
    rpc_error(lambda: c.f1.put("/e/big", big), grpc.StatusCode.INVALID_ARGUMENT,
              "etcdserver: request is too large")
    rpc_error(lambda: c.leader.put("/e/big", big), grpc.StatusCode.INVALID_ARGUMENT,
              "etcdserver: request is too large")
    t = c.tx
    rpc_error(lambda: c.f2.transaction(compare=[], success=[t.put("/e/d", "1"), t.put("/e/d", "2")],
                                       failure=[]),
              grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
    rpc_error(lambda: c.f2.transaction(compare=[], success=[t.put(f"/e/{i}", "v")
                                                            for i in range(129)], failure=[]),
              grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: too many operations in txn request")
    expect(c.revision(), now, "failed requests wrote nothing")


@scenario()
def compaction(c):
    r1 = c.f1.put("/c/k", "1").header.revision
    r2 = c.f1.put("/c/k", "2").header.revision
    c.f2.compact(r2)
    rpc_error(lambda: c.range(c.f2, "/c/k", revision=r1), grpc.StatusCode.OUT_OF_RANGE,
              "etcdserver: mvcc: required revision has been compacted")
    expect([kv.value for kv in c.range(c.f1, "/c/k", revision=r2).kvs], [b"2"],
           "the compaction revision still reads")
    rpc_error(lambda: c.f1.compact(r1), grpc.StatusCode.OUT_OF_RANGE,
              "etcdserver: mvcc: required revision has been compacted")
    rpc_error(lambda: c.f1.compact(c.revision() + 100), grpc.StatusCode.OUT_OF_RANGE,
              "etcdserver: mvcc: required revision is a future revision")
    # A watch from a compacted revision fails with the compaction revision, either
    # when it is created or as its first response (the library allows both).
    try:
        ev = Events(c.f2.watch("/c/k", start_revision=r1))
    except etcd3.exceptions.RevisionCompactedError as e:
        expect(e.compacted_revision, r2, "compacted_revision on create")
    else:
        try:
            e = ev.q.get(timeout=10)
        except queue.Empty:
            raise AssertionError("watch from a compacted revision: no error in 10 s")
        finally:
            ev.cancel()
        if not isinstance(e, etcd3.exceptions.RevisionCompactedError):
            raise AssertionError(f"watch from a compacted revision gave {e!r}")
        expect(e.compacted_revision, r2, "compacted_revision")
    # The compaction revision itself can still be watched from.
    ev = Events(c.f1.watch("/c/k", start_revision=r2))
    try:
        expect([event_tuple(e)[2:4] for e in ev.take(1)], [("2", r2)], "watch from r2")
    finally:
        ev.close()
    c.f2.compact(c.f1.put("/c/k", "3").header.revision, physical=True)
    expect(c.f1.get("/c/k")[0], b"3", "latest value after a physical compaction")


# ---------------------------------------------------------------- leases


@scenario()
def leases(c):
    lease = c.f1.lease(30)
    if lease.id <= 0 or lease.ttl != 30:
        raise AssertionError(f"granted {lease.id} with TTL {lease.ttl}")
    c.f2.put("/ls/a", "1", lease=lease)
    c.leader.put("/ls/b", "2", lease=lease.id)
    expect(c.f1.get("/ls/a")[1].lease_id, lease.id, "the key's lease")
    info = c.f2.get_lease_info(lease.id)
    expect((info.ID, info.grantedTTL), (lease.id, 30), "lease info")
    if not 25 <= info.TTL <= 30:
        raise AssertionError(f"remaining TTL {info.TTL} of a 30 s lease just granted")
    expect(sorted(info.keys), [b"/ls/a", b"/ls/b"], "attached keys")
    refreshed = c.f2.refresh_lease(lease.id)
    expect([(r.ID, r.TTL) for r in refreshed], [(lease.id, 30)], "a keep-alive through a follower")
    rev = c.revision()
    c.f1.revoke_lease(lease.id)
    expect(c.revision(), rev + 1, "the keys went in one revision")
    expect(c.f2.get("/ls/a"), (None, None), "a revoked lease's key")
    expect(c.leader.get_lease_info(lease.id).TTL, -1, "a revoked lease's TTL")
    rpc_error(lambda: c.f2.revoke_lease(lease.id), grpc.StatusCode.NOT_FOUND,
              "etcdserver: requested lease not found")
    rpc_error(lambda: c.f1.put("/ls/c", "v", lease=lease.id), grpc.StatusCode.NOT_FOUND,
              "etcdserver: requested lease not found")
    expect([(r.ID, r.TTL) for r in c.f1.refresh_lease(lease.id)], [(lease.id, 0)],
           "a keep-alive of a lease that is gone")
    short = c.leader.lease(1)
    expect(short.ttl, 2, "a TTL below the minimum is raised to it")
    rpc_error(lambda: c.leader.lease(9000000001), grpc.StatusCode.OUT_OF_RANGE,
              "etcdserver: too large lease TTL")
    # The library turns FAILED_PRECONDITION into its own exception: the raw stub.
    rpc_error(lambda: c.leader.leasestub.LeaseGrant(rpc.LeaseGrantRequest(TTL=10, ID=short.id),
                                                    CLIENT_TIMEOUT_S),
              grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: lease already exists")


@scenario()
def status_and_members(c):
    # Members publish their client URLs through the log once they serve (etcd's
    # do too): until then a member is listed without them. Wait for all three.
    deadline = time.monotonic() + 10
    while not all(m.client_urls for m in c.f1.members):
        if time.monotonic() > deadline:
            raise AssertionError(f"members without client URLs 10 s on: {list(c.f1.members)}")
        time.sleep(0.05)
    # status() asks the Maintenance service, then the Cluster service for members.
    statuses = [cl.status() for cl in c.clients.values()]
    leader_urls = {tuple(s.leader.client_urls) for s in statuses if s.leader}
    expect(len(leader_urls), 1, "every member names one leader")
    leader_ep = next(iter(leader_urls))[0].replace("http://", "")
    expect(c.clients[leader_ep], c.leader, "the leader is the node the test found")
    for s in statuses:
        if not (s.version and s.db_size > 0 and s.raft_index > 0 and s.raft_term > 0):
            raise AssertionError(f"incomplete status: {vars(s)}")
    members = list(c.f1.members)
    expect(sorted(m.client_urls[0] for m in members),
           sorted(f"http://{ep}" for ep in c.clients), "members' client URLs")


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(sys.argv, "etcd3_client_test.py", scenario, PORT_BLOCK,
                                        Context))
