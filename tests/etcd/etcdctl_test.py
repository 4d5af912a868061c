"""etcdctl (etcd-client 3.4) against a three-node cluster serving etcd's v3 API.

Run: python3 tests/etcd/etcdctl_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)

Every scenario is first proven against real etcd: a check that fails there is a
wrong check. Scenarios run in order on one cluster, each in its own key prefix;
some talk to all three endpoints, others to a single follower (writes and
linearizable reads through a follower must work). Prints PASS/FAIL/SKIP per
scenario; exits 1 if any fails.
"""

import base64
import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import ETCDCTL_BINARY, Scenarios, etcdctl, etcdctl_env  # noqa: E402

PORT_BLOCK = 13000  # this test's ports: 13000-13499
scenario = Scenarios()

# etcd's defaults, which Meridian mirrors: --max-request-bytes 1.5 MiB and
# --max-txn-ops 128.
MAX_REQUEST_BYTES = 1536 * 1024
MAX_TXN_OPS = 128


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


def expect(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: expected {wanted!r}, got {actual!r}")


class Context:
    """What every scenario gets: the cluster and etcdctl helpers. ep=None means
    all three endpoints; otherwise one host:port."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.refresh_roles()

    def refresh_roles(self):
        leader = self.cluster.wait_leader()
        self.all = self.cluster.endpoints()
        self.leader = leader.endpoint
        self.followers = [m.endpoint for m in self.cluster.followers()]
        self.follower = self.followers[0]

    def run(self, *args, ep=None, stdin=None):
        return etcdctl([ep] if ep else self.all, *args, stdin=stdin)

    def ok(self, *args, ep=None, stdin=None):
        r = self.run(*args, ep=ep, stdin=stdin)
        if r.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} (on {ep or 'all'}) exited "
                                 f"{r.returncode}: {r.stderr.strip()[-600:]}")
        return r.stdout

    def lines(self, *args, ep=None, stdin=None):
        return self.ok(*args, ep=ep, stdin=stdin).splitlines()

    def json(self, *args, ep=None, stdin=None):
        out = self.ok(*args, "-w", "json", ep=ep, stdin=stdin)
        try:
            return json.loads(out)
        except ValueError as e:
            raise AssertionError(f"etcdctl {' '.join(args)} -w json printed no JSON: "
                                 f"{out!r}") from e

    def fails(self, *args, message, code=None, ep=None, stdin=None):
        """Runs a command that must fail with `message` on stderr. etcdctl prints
        "Error: <server message>"; its gRPC client also logs the status code of a
        failed unary call, which is checked when `code` is given."""
        r = self.run(*args, ep=ep, stdin=stdin)
        if r.returncode == 0:
            raise AssertionError(f"etcdctl {' '.join(args)[:200]} succeeded, expected {message!r};"
                                 f" printed {r.stdout[:200]!r}")
        if message not in r.stderr:
            raise AssertionError(f"etcdctl {' '.join(args)[:200]}: expected {message!r} on stderr,"
                                 f" got {r.stderr.strip()[-600:]!r}")
        if code and f"code = {code} desc" not in r.stderr:
            raise AssertionError(f"etcdctl {' '.join(args)[:200]}: expected gRPC code {code}, "
                                 f"got {r.stderr.strip()[-600:]!r}")
        return r

    def put(self, key, value, ep=None):
        """Puts and returns the revision of the write."""
        return self.json("put", key, value, ep=ep)["header"]["revision"]

    def get_kvs(self, *args, ep=None):
        """get -w json: list of (key, value, create, mod, version) with defaults
        for the fields Go's JSON leaves out when zero."""
        j = self.json("get", *args, ep=ep)
        return [(unb64(kv["key"]), unb64(kv.get("value", "")), kv.get("create_revision", 0),
                 kv.get("mod_revision", 0), kv.get("version", 0)) for kv in j.get("kvs", [])]

    def revision(self, ep=None):
        return self.json("get", "/no-such-key", ep=ep)["header"]["revision"]


class Watch:
    """`etcdctl watch ...` as a subprocess (started here, stopped by its PID), its
    output lines collected by a reader thread. Subclasses run other long-lived
    etcdctl commands the same way."""

    command = ["watch"]

    def __init__(self, endpoints, *args):
        cmd = [ETCDCTL_BINARY, f"--endpoints={','.join(endpoints)}", "--dial-timeout=3s",
               *self.command] + list(args)
        self.args = args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=etcdctl_env())
        self.out = queue.Queue()
        self.err = []
        self.seen = []
        self.readers = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.readers:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.out.put(line.rstrip("\n"))
        self.out.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def line(self, timeout=10):
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"watch {' '.join(self.args)} printed nothing more for "
                                 f"{timeout} s; so far {self.seen[-12:]}; stderr {self.err[-5:]}")
        if line is None:
            self.out.put(None)
            raise AssertionError(f"watch {' '.join(self.args)} ended (exit "
                                 f"{self.proc.poll()}); so far {self.seen[-12:]}; "
                                 f"stderr {self.err[-5:]}")
        self.seen.append(line)
        return line

    def lines(self, n, timeout=10):
        return [self.line(timeout) for _ in range(n)]

    def expect_lines(self, wanted, what):
        expect(self.lines(len(wanted)), wanted, what)

    def events(self, n, timeout=10):
        """With -w json: the next n events, flattened across responses."""
        events = []
        while len(events) < n:
            events.extend(json.loads(self.line(timeout)).get("Events") or [])
        if len(events) != n:
            raise AssertionError(f"expected {n} events, got {len(events)}: {events}")
        return events

    def sync(self, ep_ctx, key):
        """Returns once the watch (which must cover `key`) is established: puts
        `key` until the watch prints the put, and skips everything before it."""
        for attempt in range(1, 11):
            value = f"sync-{attempt}"
            ep_ctx.put(key, value)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    line = self.out.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if line is None:
                    self.out.put(None)
                    raise AssertionError(f"watch ended before it was established: {self.err}")
                if line == value or f'"{b64(value)}"' in line:
                    return value
        raise AssertionError(f"watch on {key} never reported a put of it")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in self.readers:
            t.join(5)

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"watch {' '.join(self.args)} still running after {timeout} s")


# ---------------------------------------------------------------- put and get


@scenario()
def fresh_cluster_revision(c):
    # etcd's store starts at revision 1 and its first write is revision 2. Only
    # true while nothing was written: this scenario is first, and the harness's
    # readiness probe only reads.
    j = c.json("get", "--from-key", "")
    expect((j["header"]["revision"], j.get("kvs"), j.get("count", 0)), (1, None, 0),
           "a new cluster: revision 1, no keys")
    expect(c.put("/fresh", "first", ep=c.follower), 2, "revision of the first write")


@scenario()
def compaction_at_zero_on_new_store(c):
    # Nothing was compacted yet, so etcd accepts a compaction at revision 0 (a
    # no-op) once; it is then the compacted revision, and asking again fails.
    # Must run before any other compaction.
    r = c.put("/cz/k", "v")
    expect(c.lines("compaction", "0"), ["compacted revision 0"], "compaction 0 on a new store")
    c.fails("compaction", "0", code="OutOfRange",
            message="Error: etcdserver: mvcc: required revision has been compacted")
    expect(c.lines("get", "/cz/k", f"--rev={r}", "--print-value-only"), ["v"],
           "compacting at 0 removes nothing")


@scenario()
def put_get_through_follower(c):
    expect(c.lines("put", "/pg/a", "1", ep=c.follower), ["OK"], "put through a follower")
    # A linearizable read through the other follower sees the write at once.
    expect(c.lines("get", "/pg/a", ep=c.followers[1]), ["/pg/a", "1"], "get through follower 2")
    for ep in c.all:
        expect(c.lines("get", "/pg/a", ep=ep), ["/pg/a", "1"], f"linearizable get on {ep}")
    # --prev-kv: OK, then the previous key and value.
    expect(c.lines("put", "--prev-kv", "/pg/a", "2", ep=c.follower), ["OK", "/pg/a", "1"],
           "put --prev-kv")
    expect(c.lines("get", "/pg/a"), ["/pg/a", "2"], "get after overwrite")
    expect(c.lines("get", "/pg/absent"), [], "get of an absent key prints nothing")
    expect(c.lines("put", "--prev-kv", "/pg/new", "n"), ["OK"], "put --prev-kv of a new key")
    # Values with spaces and UTF-8, and a key with a slash-free name.
    c.ok("put", "pg-plain", "hello wörld  two")
    expect(c.lines("get", "pg-plain", "--print-value-only", ep=c.follower),
           ["hello wörld  two"], "UTF-8 value")
    # A serializable read on each node converges to the value.
    for ep in c.all:
        etcd_cluster.harness.wait_until(
            lambda: c.lines("get", "/pg/a", "--consistency=s", ep=ep) == ["/pg/a", "2"], 5,
            what=f"serializable read on {ep}")


@scenario()
def get_json_header_and_kvs(c):
    r1 = c.put("/gj/k", "v1", ep=c.follower)
    r2 = c.put("/gj/k", "v2")
    if not r2 > r1 > 0:
        raise AssertionError(f"revisions of two puts: {r1}, {r2}")
    j = c.json("get", "/gj/k", ep=c.follower)
    h = j["header"]
    expect(h["revision"], r2, "header.revision of a get after the last write")
    for field in ("cluster_id", "member_id", "raft_term"):
        if not h.get(field):
            raise AssertionError(f"header.{field} missing or zero: {h}")
    expect(j.get("count"), 1, "count")
    expect(j.get("more", False), False, "more")
    expect(len(j["kvs"]), 1, "one kv")
    kv = j["kvs"][0]
    expect(unb64(kv["key"]), "/gj/k", "kvs[0].key")
    expect(unb64(kv["value"]), "v2", "kvs[0].value")
    expect(kv["create_revision"], r1, "create_revision")
    expect(kv["mod_revision"], r2, "mod_revision")
    expect(kv["version"], 2, "version")
    expect(kv.get("lease", 0), 0, "lease")
    # Each endpoint names itself: three distinct members of one cluster, one term.
    headers = [c.json("get", "/gj/k", ep=ep)["header"] for ep in c.all]
    expect(len({x["member_id"] for x in headers}), 3, "distinct member_id per endpoint")
    expect(len({x["cluster_id"] for x in headers}), 1, "one cluster_id")
    expect(len({x["raft_term"] for x in headers}), 1, "one raft_term")
    expect({x["revision"] for x in headers}, {r2}, "linearizable revision on every node")
    # put -w json: header only, and prev_kv when asked.
    p = c.json("put", "--prev-kv", "/gj/k", "v3")
    expect(unb64(p["prev_kv"]["value"]), "v2", "put --prev-kv -w json prev_kv.value")
    expect(p["prev_kv"]["mod_revision"], r2, "prev_kv.mod_revision")
    expect(p["header"]["revision"], r2 + 1, "put -w json header.revision")


@scenario()
def get_prefix_range_from_key(c):
    for k in ["/r/a", "/r/b", "/r/b1", "/r/c", "/r/d", "/rz"]:
        c.ok("put", k, "v" + k[-1])
    keys = lambda lines: lines[0::2]  # noqa: E731 - key lines of simple output
    expect(keys(c.lines("get", "--prefix", "/r/")), ["/r/a", "/r/b", "/r/b1", "/r/c", "/r/d"],
           "get --prefix /r/")
    expect(keys(c.lines("get", "/r/b", "/r/d", ep=c.follower)), ["/r/b", "/r/b1", "/r/c"],
           "get [/r/b, /r/d)")
    expect(c.lines("get", "/r/b", "/r/b"), [], "empty range [/r/b, /r/b)")
    expect(keys(c.lines("get", "--from-key", "/r/c", "--limit", "2")), ["/r/c", "/r/d"],
           "get --from-key /r/c --limit 2")
    got = [kv[0] for kv in c.get_kvs("--from-key", "/r/d")]
    if got[:2] != ["/r/d", "/rz"] or got != sorted(got):
        raise AssertionError(f"get --from-key /r/d: {got[:5]}...")
    expect(c.lines("get", "--prefix", "/r/b"), ["/r/b", "vb", "/r/b1", "v1"], "values of a prefix")


@scenario()
def get_at_revision(c):
    r1 = c.put("/rev/k", "v1")
    r2 = c.put("/rev/k", "v2", ep=c.follower)
    c.ok("put", "/rev/other", "o")
    r3 = c.json("del", "/rev/k")["header"]["revision"]
    r4 = c.put("/rev/k", "v3")
    expect(c.lines("get", "/rev/k", f"--rev={r1}"), ["/rev/k", "v1"], "get --rev r1")
    expect(c.lines("get", "/rev/k", f"--rev={r2}", ep=c.follower), ["/rev/k", "v2"],
           "get --rev r2 through a follower")
    expect(c.lines("get", "/rev/k", f"--rev={r3}"), [], "get --rev at the delete")
    expect(c.lines("get", "/rev/k"), ["/rev/k", "v3"], "get latest")
    expect(c.get_kvs("/rev/k", f"--rev={r1}"), [("/rev/k", "v1", r1, r1, 1)], "kv at r1")
    expect(c.get_kvs("/rev/k", f"--rev={r2}"), [("/rev/k", "v2", r1, r2, 2)], "kv at r2")
    expect(c.get_kvs("/rev/k"), [("/rev/k", "v3", r4, r4, 1)], "kv recreated at r4")
    expect([kv[0] for kv in c.get_kvs("--prefix", "/rev/", f"--rev={r2}")], ["/rev/k"],
           "prefix at r2 (before /rev/other)")
    # A read at an old revision reports the current revision in its header.
    now = c.revision()
    expect(c.json("get", "/rev/k", f"--rev={r1}")["header"]["revision"], now,
           "header.revision of a historical read")


@scenario()
def get_sort_and_limit(c):
    # key: (value, number of puts); written in this order, so create revisions
    # ascend with the list.
    data = [("/s/c", "x", 1), ("/s/a", "z", 3), ("/s/d", "w", 2), ("/s/b", "y", 1)]
    for key, value, puts in data:
        for i in range(puts):
            c.ok("put", key, value if i == puts - 1 else f"{value}{i}")
    c.ok("put", "/s/c", "x")  # /s/c: version 2, now the latest modification
    keys = lambda *a: c.lines("get", "--prefix", "/s/", "--keys-only", *a)[0::2]  # noqa: E731
    expect(keys(), ["/s/a", "/s/b", "/s/c", "/s/d"], "default: by key ascending")
    expect(keys("--sort-by=KEY", "--order=DESCEND"), ["/s/d", "/s/c", "/s/b", "/s/a"],
           "KEY DESCEND")
    expect(keys("--sort-by=VALUE", "--order=ASCEND"), ["/s/d", "/s/c", "/s/b", "/s/a"],
           "VALUE ASCEND")
    expect(keys("--sort-by=CREATE", "--order=ASCEND"), ["/s/c", "/s/a", "/s/d", "/s/b"],
           "CREATE ASCEND")
    expect(keys("--sort-by=CREATE", "--order=DESCEND"), ["/s/b", "/s/d", "/s/a", "/s/c"],
           "CREATE DESCEND")
    expect(keys("--sort-by=MODIFY", "--order=DESCEND"), ["/s/c", "/s/b", "/s/d", "/s/a"],
           "MODIFY DESCEND")
    expect(keys("--sort-by=VERSION", "--order=DESCEND")[0], "/s/a", "VERSION DESCEND first")
    expect(keys("--sort-by=VERSION", "--order=ASCEND")[-1], "/s/a", "VERSION ASCEND last")
    expect(keys("--sort-by=MODIFY"), ["/s/a", "/s/d", "/s/b", "/s/c"],
           "--sort-by alone sorts ascending")
    expect(keys("--order=DESCEND"), ["/s/d", "/s/c", "/s/b", "/s/a"], "--order alone: by key")
    expect(keys("--limit", "2"), ["/s/a", "/s/b"], "--limit 2")
    expect(keys("--limit", "2", "--sort-by=VALUE", "--order=DESCEND"), ["/s/a", "/s/b"],
           "--limit 2 by VALUE DESCEND")
    j = c.json("get", "--prefix", "/s/", "--limit", "3", ep=c.follower)
    expect(len(j["kvs"]), 3, "kvs under --limit 3")
    expect(j.get("more", False), True, "more under --limit 3 of 4")
    expect(j.get("count"), 4, "count is the total, not the limit")
    j = c.json("get", "--prefix", "/s/", "--limit", "4")
    expect(j.get("more", False), False, "more when the limit is exactly the count")


@scenario()
def get_output_flags(c):
    c.ok("put", "/of/a", "va")
    c.ok("put", "/of/b", "vb")
    expect(c.lines("get", "--prefix", "/of/", "--keys-only"), ["/of/a", "", "/of/b", ""],
           "--keys-only prints a key and an empty line")
    expect(c.lines("get", "--prefix", "/of/", "--print-value-only", ep=c.follower), ["va", "vb"],
           "--print-value-only")
    j = c.json("get", "--prefix", "/of/", "--keys-only")
    expect([unb64(kv["key"]) for kv in j["kvs"]], ["/of/a", "/of/b"], "keys-only json keys")
    if any("value" in kv for kv in j["kvs"]):
        raise AssertionError(f"--keys-only returned values: {j['kvs']}")
    expect(j.get("count"), 2, "count with --keys-only")
    help_text = c.run("get", "--help").stdout + c.run("get", "--help").stderr
    if "--count-only" in help_text:  # etcdctl 3.5+
        j = c.json("get", "--prefix", "/of/", "--count-only")
        expect((j.get("count"), j.get("kvs")), (2, None), "--count-only")
    else:  # etcdctl 3.4 has no --count-only; a count_only request is what --limit 1 shows
        j = c.json("get", "--prefix", "/of/", "--limit", "1")
        expect((j.get("count"), len(j["kvs"])), (2, 1), "count beyond the limit")
    expect(c.lines("get", "/of/a", "-w", "fields")[:1], ['"ClusterID" : ' + str(
        c.json("get", "/of/a")["header"]["cluster_id"])], "-w fields starts with the ClusterID")


@scenario()
def put_ignore_value_and_lease(c):
    r1 = c.put("/iv/k", "keep")
    expect(c.lines("put", "--ignore-value", "/iv/k", ep=c.follower), ["OK"], "put --ignore-value")
    expect(c.get_kvs("/iv/k"), [("/iv/k", "keep", r1, r1 + 1, 2)],
           "--ignore-value keeps the value, bumps version and mod_revision")
    expect(c.lines("put", "--ignore-lease", "/iv/k", "changed"), ["OK"], "put --ignore-lease")
    expect(c.get_kvs("/iv/k"), [("/iv/k", "changed", r1, r1 + 2, 3)], "--ignore-lease")
    for flag in ("--ignore-value", "--ignore-lease"):
        args = ["put", flag, "/iv/absent"] + ([] if flag == "--ignore-value" else ["v"])
        c.fails(*args, code="InvalidArgument", message="Error: etcdserver: key not found")
    expect(c.revision(), r1 + 2, "refused puts wrote nothing")


@scenario()
def empty_value(c):
    # An empty value is a value: the key exists (unlike a deleted one).
    r = c.put("/ev/k", "", ep=c.follower)
    expect(c.lines("get", "/ev/k"), ["/ev/k", ""], "get of an empty value")
    j = c.json("get", "/ev/k")
    expect((j.get("count"), len(j["kvs"]), j["kvs"][0].get("value", ""), j["kvs"][0]["version"],
            j["kvs"][0]["mod_revision"]), (1, 1, "", 1, r), "empty value as JSON")
    expect(c.lines("txn", stdin='value("/ev/k") = ""\n\nput /ev/r yes\n\nput /ev/r no\n\n'),
           ["SUCCESS", "", "OK"], "value compare with an empty value")
    expect(c.lines("txn", stdin='value("/ev/none") = ""\n\nput /ev/r yes\n\nput /ev/r no\n\n'),
           ["FAILURE", "", "OK"], "value compare on an absent key fails")
    expect(c.lines("del", "--prev-kv", "/ev/k"), ["1", "/ev/k", ""], "delete of an empty value")


# ---------------------------------------------------------------- delete


@scenario()
def delete(c):
    for k in ["/d/a", "/d/b", "/d/c", "/d/x/1", "/d/x/2", "/d/x/3"]:
        c.ok("put", k, "v-" + k)
    expect(c.lines("del", "/d/a", ep=c.follower), ["1"], "del one key through a follower")
    expect(c.lines("del", "/d/a"), ["0"], "del of an absent key")
    expect(c.lines("get", "/d/a"), [], "deleted key is gone")
    expect(c.lines("del", "--prev-kv", "/d/b"), ["1", "/d/b", "v-/d/b"], "del --prev-kv")
    expect(c.lines("del", "--prefix", "/d/x/", ep=c.follower), ["3"], "del --prefix")
    expect(c.lines("get", "--prefix", "/d/x/"), [], "prefix gone")
    for k in ["/d/r/1", "/d/r/2", "/d/r/3"]:
        c.ok("put", k, "r")
    expect(c.lines("del", "--prev-kv", "/d/r/1", "/d/r/3"), ["2", "/d/r/1", "r", "/d/r/2", "r"],
           "del [/d/r/1, /d/r/3) --prev-kv")
    expect(c.lines("get", "--prefix", "/d/r/", "--keys-only"), ["/d/r/3", ""], "what remains")
    before = c.revision()
    j = c.json("del", "--prefix", "/d/")
    expect(j.get("deleted"), 2, "deleted count in json (/d/c and /d/r/3)")
    expect(j["header"]["revision"], before + 1, "a delete of many keys is one revision")
    j = c.json("del", "/d/none")
    expect(j.get("deleted", 0), 0, "deleted count of nothing")
    expect(j["header"]["revision"], before + 1, "deleting nothing does not bump the revision")
    # --from-key: every key from there on ("~" sorts after every other key here).
    c.ok("put", "~fk/a", "1")
    c.ok("put", "~fk/b", "2")
    expect(c.lines("del", "--from-key", "--prev-kv", "~fk/", ep=c.follower),
           ["2", "~fk/a", "1", "~fk/b", "2"], "del --from-key")


# ---------------------------------------------------------------- transactions


@scenario()
def txn_success_branch(c):
    c.ok("put", "/t/a", "11")
    c.ok("put", "/t/a", "11")  # version 2
    c.ok("put", "/t/c", "3")
    script = ('value("/t/a") = "11"\n'
              'version("/t/a") = "2"\n'
              'mod("/t/a") > "0"\n'
              'create("/t/none") = "0"\n'
              '\n'
              'put /t/out yes\n'
              'get /t/a\n'
              'del /t/c\n'
              '\n'
              'put /t/out no\n'
              '\n')
    expect(c.lines("txn", stdin=script, ep=c.follower),
           ["SUCCESS", "", "OK", "", "/t/a", "11", "", "1"], "txn output (success)")
    expect(c.lines("get", "/t/out", "--print-value-only"), ["yes"], "success branch applied")
    expect(c.lines("get", "/t/c"), [], "success branch deleted /t/c")


@scenario()
def txn_failure_branch(c):
    c.ok("put", "/tf/a", "5")
    script = ('value("/tf/a") = "5"\n'
              'value("/tf/a") != "5"\n'
              '\n'
              'put /tf/out yes\n'
              '\n'
              'put /tf/out no\n'
              'get /tf/out\n'
              '\n')
    expect(c.lines("txn", stdin=script), ["FAILURE", "", "OK", "", "/tf/out", "no"],
           "txn output (failure): one false compare fails it all")
    # Compare operators on each target; the txn through a follower, as JSON.
    a = c.get_kvs("/tf/a")[0]
    script = (f'mod("/tf/a") < "{a[3] + 1}"\n'
              f'create("/tf/a") = "{a[2]}"\n'
              'version("/tf/a") > "0"\n'
              'value("/tf/a") > "4"\n'
              'value("/tf/a") < "6"\n'
              '\n'
              'put /tf/out ops\n'
              '\n'
              '\n')
    j = c.json("txn", stdin=script, ep=c.follower)
    expect(j.get("succeeded", False), True, "txn with <, =, > compares succeeded")
    expect(len(j["responses"]), 1, "one response")
    if "ResponsePut" not in j["responses"][0]["Response"]:
        raise AssertionError(f"expected a put response: {j['responses']}")
    expect(j["header"]["revision"], c.revision(), "txn header revision")
    # An empty txn: no compares, so the success branch runs.
    expect(c.lines("txn", stdin="\nput /tf/e e\n\n\n"), ["SUCCESS", "", "OK"], "compare-less txn")
    # A failing txn with no failure ops changes nothing and keeps the revision.
    before = c.revision()
    j = c.json("txn", stdin='value("/tf/e") = "zz"\n\nput /tf/e no\n\n\n')
    expect((j.get("succeeded", False), j["header"]["revision"]), (False, before),
           "failed read-only txn")
    expect(c.lines("get", "/tf/e", "--print-value-only"), ["e"], "unchanged")


@scenario()
def txn_ops_with_flags(c):
    for k, v in [("/to/a", "1"), ("/to/b", "2"), ("/to/c", "3")]:
        c.ok("put", k, v)
    script = ("\nget --prefix /to/\ndel --prefix /to/b\nput /to/z 26\n"
              "get --prefix /to/ --keys-only\n\n\n")
    expect(c.lines("txn", stdin=script, ep=c.follower),
           ["SUCCESS", "", "/to/a", "1", "/to/b", "2", "/to/c", "3", "", "1", "", "OK", "",
            "/to/a", "", "/to/c", "", "/to/z", ""], "txn with get --prefix and del --prefix")
    # One branch may not write a key twice, nor put into a range it deletes...
    for ops in ("del /to/a\nput /to/a x", "del --prefix /to/\nput /to/q x"):
        c.fails("txn", stdin=f"\n{ops}\n\n\n", code="InvalidArgument",
                message="Error: etcdserver: duplicate key given in txn request")
    # ...but the two branches may each write it, and a read then a write is fine.
    expect(c.lines("txn", stdin="\nput /to/q x\n\ndel /to/q\n\n"), ["SUCCESS", "", "OK"],
           "one key in both branches")
    expect(c.lines("txn", stdin="\nget /to/a\nput /to/a y\n\n\n"),
           ["SUCCESS", "", "/to/a", "1", "", "OK"], "get then put of one key: the get sees the old")


# ---------------------------------------------------------------- watch


@scenario()
def watch_prefix_live(c):
    w = Watch([c.follower], "--prefix", "/w1/")
    try:
        w.sync(c, "/w1/sync")
        c.ok("put", "/w1/a", "1", ep=c.follower)
        c.ok("put", "/w1x", "outside the prefix")
        c.ok("put", "/w1/b", "2", ep=c.leader)
        c.ok("put", "/w1/a", "3")
        c.ok("del", "/w1/a")
        c.ok("del", "--prefix", "/w1/")  # deletes /w1/b and /w1/sync: two events
        c.ok("txn", stdin="\nput /w1/t1 x\nput /w1/t2 y\n\n\n")
        w.expect_lines(["PUT", "/w1/a", "1",
                        "PUT", "/w1/b", "2",
                        "PUT", "/w1/a", "3",
                        "DELETE", "/w1/a", "",
                        "DELETE", "/w1/b", "",
                        "DELETE", "/w1/sync", "",
                        "PUT", "/w1/t1", "x",
                        "PUT", "/w1/t2", "y"], "watch --prefix /w1/ output")
    finally:
        w.stop()


@scenario()
def watch_from_revision_with_prev_kv(c):
    start = c.put("/w2/a", "1")
    c.ok("put", "/w2/a", "2")
    c.ok("del", "/w2/a", ep=c.follower)
    # Started after those writes, from their first revision: history, then live.
    w = Watch(c.all, "--prefix", "/w2/", f"--rev={start}", "--prev-kv", "-w", "json")
    try:
        ev = w.events(3)
        c.ok("put", "/w2/b", "3", ep=c.follower)
        c.ok("put", "/w2/b", "4")
        ev += w.events(2)
    finally:
        w.stop()
    kinds = [e.get("type", 0) for e in ev]  # 0 PUT, 1 DELETE (omitted when 0)
    expect(kinds, [0, 0, 1, 0, 0], "event types")
    keys = [unb64(e["kv"]["key"]) for e in ev]
    expect(keys, ["/w2/a", "/w2/a", "/w2/a", "/w2/b", "/w2/b"], "event keys")
    values = [unb64(e["kv"].get("value", "")) for e in ev]
    expect(values, ["1", "2", "", "3", "4"], "event values")
    mods = [e["kv"]["mod_revision"] for e in ev]
    expect(mods[:3], [start, start + 1, start + 2], "mod revisions of the history")
    if not mods[2] < mods[3] < mods[4]:
        raise AssertionError(f"mod revisions not increasing: {mods}")
    expect([e["kv"].get("version", 0) for e in ev], [1, 2, 0, 1, 2], "versions (0 on delete)")
    expect([e["kv"].get("create_revision", 0) for e in ev],
           [start, start, 0, mods[3], mods[3]], "create revisions")
    prev = [unb64(e["prev_kv"]["value"]) if "prev_kv" in e else None for e in ev]
    expect(prev, [None, "1", "2", None, "3"], "prev_kv values")
    expect(ev[2]["prev_kv"]["mod_revision"], start + 1, "prev_kv of the delete")


@scenario()
def watch_single_key_simple_prev_kv(c):
    c.ok("put", "/w3/k", "old")
    w = Watch([c.followers[1]], "/w3/k", "--prev-kv")
    try:
        synced = w.sync(c, "/w3/k")
        c.ok("put", "/w3/k2", "other key")  # not watched
        c.ok("put", "/w3/k", "new", ep=c.follower)
        c.ok("del", "/w3/k")
        w.expect_lines(["PUT", "/w3/k", synced, "/w3/k", "new",
                        "DELETE", "/w3/k", "new", "/w3/k", ""], "watch /w3/k --prev-kv")
    finally:
        w.stop()


@scenario()
def watch_range_and_future_revision(c):
    ranged = Watch([c.follower], "/wr/a", "/wr/c")  # [/wr/a, /wr/c)
    future = None
    try:
        ranged.sync(c, "/wr/a")
        now = c.revision()
        # From a revision not written yet: quiet until the store gets there.
        future = Watch(c.all, "--prefix", "/wr/", f"--rev={now + 3}", "-w", "json")
        c.ok("put", "/wr/a", "1")  # now + 1
        c.ok("put", "/wr/b", "2", ep=c.follower)  # now + 2
        c.ok("put", "/wr/c", "3")  # now + 3: outside the range
        c.ok("put", "/wr/b1", "4", ep=c.followers[1])  # now + 4
        ranged.expect_lines(["PUT", "/wr/a", "1", "PUT", "/wr/b", "2", "PUT", "/wr/b1", "4"],
                            "watch /wr/a /wr/c")
        ev = future.events(2)
        expect([(unb64(e["kv"]["key"]), e["kv"]["mod_revision"]) for e in ev],
               [("/wr/c", now + 3), ("/wr/b1", now + 4)], f"watch --rev={now + 3} (future)")
    finally:
        ranged.stop()
        if future:
            future.stop()


@scenario()
def watch_survives_node_restart(c):
    # etcdctl watch on one node; the node is killed, writes go on elsewhere, the
    # node comes back: the client reconnects and resumes after the last revision
    # it saw, so the events written meanwhile arrive once each, in order.
    node = next(m for m in c.cluster.members if m.endpoint == c.follower)
    others = [ep for ep in c.all if ep != node.endpoint]
    w = Watch([node.endpoint], "--prefix", "/wn/")
    try:
        w.sync(c, "/wn/sync")
        c.ok("put", "/wn/k", "before")
        w.expect_lines(["PUT", "/wn/k", "before"], "event before the kill")
        c.cluster.kill(node)
        for i in range(3):
            expect(etcdctl(others, "put", "/wn/k", f"down{i}").returncode, 0, "put while down")
        c.cluster.restart(node)
        expect(etcdctl(others, "put", "/wn/k", "after").returncode, 0, "put after restart")
        w.expect_lines(["PUT", "/wn/k", "down0", "PUT", "/wn/k", "down1", "PUT", "/wn/k", "down2",
                        "PUT", "/wn/k", "after"], "events across the restart")
    finally:
        w.stop()
        c.refresh_roles()


# ---------------------------------------------------------------- consistency through followers


@scenario()
def follower_writes_and_linearizable_reads(c):
    f1, f2 = c.followers[0], c.followers[1]
    for i in range(20):
        writer, reader = (f1, f2) if i % 2 == 0 else (f2, f1)
        rev = c.put("/lin/k", f"v{i}", ep=writer)
        j = c.json("get", "/lin/k", ep=reader)
        got = unb64(j["kvs"][0]["value"]) if j.get("kvs") else None
        expect(got, f"v{i}", f"read {i} on {reader} right after a write on {writer}")
        if j["header"]["revision"] < rev:
            raise AssertionError(f"read revision {j['header']['revision']} < write {rev}")
    txn = c.json("txn", stdin='value("/lin/k") = "v19"\n\nput /lin/k done\n\n\n', ep=f1)
    expect(txn.get("succeeded", False), True, "txn through a follower")
    expect(c.lines("get", "/lin/k", "--print-value-only", ep=f2), ["done"], "seen on f2")


# ---------------------------------------------------------------- errors


@scenario()
def error_messages(c):
    now = c.revision()
    c.fails("get", "/e/k", f"--rev={now + 1000}", code="OutOfRange",
            message="Error: etcdserver: mvcc: required revision is a future revision")
    c.fails("get", "/e/k", f"--rev={now + 1000}", ep=c.follower, code="OutOfRange",
            message="Error: etcdserver: mvcc: required revision is a future revision")
    for args in (("put", "", "v"), ("get", ""), ("del", "")):
        c.fails(*args, code="InvalidArgument", message="Error: etcdserver: key is not provided")
    big = "x" * (MAX_REQUEST_BYTES + 64 * 1024)  # from stdin: too long for argv
    c.fails("put", "/e/big", stdin=big, code="InvalidArgument",
            message="Error: etcdserver: request is too large")
    c.fails("put", "/e/big", stdin=big, ep=c.follower, code="InvalidArgument",
            message="Error: etcdserver: request is too large")
    expect(c.lines("get", "/e/big"), [], "the refused value was not stored")
    fits = "y" * (1000 * 1000)
    c.ok("put", "/e/fits", stdin=fits)
    expect(len(c.ok("get", "/e/fits", "--print-value-only", ep=c.follower)), len(fits) + 1,
           "a 1 MB value reads back whole")
    c.fails("txn", stdin="\nput /e/d 1\nput /e/d 2\n\n\n", code="InvalidArgument",
            message="Error: etcdserver: duplicate key given in txn request")
    ops = "".join(f"put /e/op{i} v\n" for i in range(MAX_TXN_OPS + 1))
    c.fails("txn", stdin=f"\n{ops}\n\n", code="InvalidArgument",
            message="Error: etcdserver: too many operations in txn request")
    ops = "".join(f"put /e/op{i} v\n" for i in range(MAX_TXN_OPS))
    expect(c.lines("txn", stdin=f"\n{ops}\n\n")[0], "SUCCESS", f"{MAX_TXN_OPS} ops are allowed")
    expect(c.revision(), now + 2, "failed requests wrote nothing (one put, one txn did)")


# ---------------------------------------------------------------- compaction


@scenario()
def compaction(c):
    r1 = c.put("/c/k", "v1")
    r2 = c.put("/c/k", "v2")
    r3 = c.put("/c/k", "v3", ep=c.follower)
    expect(c.lines("compaction", str(r2), ep=c.follower), [f"compacted revision {r2}"],
           "compaction output")
    for ep in (None, c.follower):
        c.fails("get", "/c/k", f"--rev={r1}", ep=ep, code="OutOfRange",
                message="Error: etcdserver: mvcc: required revision has been compacted")
    c.compacted_at = r2  # checked again after the full restart
    expect(c.lines("get", "/c/k", f"--rev={r2}"), ["/c/k", "v2"], "the compaction revision reads")
    expect(c.lines("get", "/c/k", f"--rev={r3}", ep=c.follower), ["/c/k", "v3"], "later reads")
    c.fails("compaction", str(r1), code="OutOfRange",
            message="Error: etcdserver: mvcc: required revision has been compacted")
    c.fails("compaction", str(c.revision() + 100), code="OutOfRange",
            message="Error: etcdserver: mvcc: required revision is a future revision")
    # A watch from a compacted revision is cancelled with the reason.
    w = Watch([c.follower], "/c/k", f"--rev={r1}")
    try:
        code = w.wait_exit(10)
        w.stop()
        err = "\n".join(w.err)
        if code == 0 or "required revision has been compacted" not in err:
            raise AssertionError(f"watch --rev={r1} after compaction: exit {code}, stderr {err!r}")
    finally:
        w.stop()
    # Physical compaction waits until the compaction is applied.
    r4 = c.put("/c/k", "v4")
    expect(c.lines("compaction", "--physical", str(r4)), [f"compacted revision {r4}"],
           "physical compaction")
    c.compacted_at = r4
    expect(c.lines("get", "/c/k", "--print-value-only"), ["v4"], "latest value after compaction")


# ---------------------------------------------------------------- endpoints


@scenario()
def endpoint_health(c):
    # etcdctl 3.4's `endpoint health` is a linearizable Range of "health" on each
    # endpoint (no Maintenance call), so it runs against Meridian too.
    r = c.run("endpoint", "health")
    healthy = [line for line in r.stderr.splitlines()
               if "is healthy: successfully committed proposal" in line]
    if r.returncode != 0 or len(healthy) != 3:
        raise AssertionError(f"endpoint health: exit {r.returncode}, stderr {r.stderr!r}")
    for ep in c.all:
        if not any(line.startswith(f"{ep} is healthy") for line in healthy):
            raise AssertionError(f"{ep} not reported healthy: {healthy}")
    j = c.json("endpoint", "health")
    expect(sorted((x["endpoint"], x["health"]) for x in j), sorted((ep, True) for ep in c.all),
           "endpoint health -w json")


@scenario()
def endpoint_status(c):
    statuses = c.json("endpoint", "status")
    expect(sorted(s["Endpoint"] for s in statuses), sorted(c.all), "one status per endpoint")
    leaders = {s["Status"]["leader"] for s in statuses}
    members = {s["Status"]["header"]["member_id"]: s["Endpoint"] for s in statuses}
    expect(len(leaders), 1, "every member names the same leader")
    expect(members.get(next(iter(leaders))), c.leader, "the leader is the node the test found")
    expect(len({s["Status"]["header"]["cluster_id"] for s in statuses}), 1, "one cluster id")
    now = c.revision()
    for s in statuses:
        st = s["Status"]
        if not (st.get("raftTerm", 0) > 0 and st.get("raftIndex", 0) > 0 and
                st.get("dbSize", 0) > 0 and st.get("version")):
            raise AssertionError(f"incomplete status: {s}")
        if st["header"]["revision"] > now:
            raise AssertionError(f"status revision {st['header']['revision']} beyond {now}")
    table = c.lines("endpoint", "status", "-w", "table")
    expect(sum(" true " in line for line in table), 1, "one IS LEADER = true row in the table")


@scenario()
def endpoint_hashkv(c):
    # Members that applied the same writes hash them alike at every revision.
    last = 0
    for i in range(6):
        last = c.put(f"/h/{i % 2}", str(i))
    for ep in c.all:
        c.revision(ep=ep)  # a linearizable read: this member has applied `last`
    seen = {}
    for rev in (last - 3, last):
        hs = c.json("endpoint", "hashkv", "--rev", str(rev))
        expect(sorted(h["Endpoint"] for h in hs), sorted(c.all), "one hash per endpoint")
        hashes = {h["HashKV"]["hash"] for h in hs}
        expect(len(hashes), 1, f"every member's hash at revision {rev}")
        seen[rev] = hashes.pop()
    if seen[last - 3] == seen[last]:
        raise AssertionError(f"the same hash at revisions {last - 3} and {last}: {seen}")
    c.fails("endpoint", "hashkv", "--rev", str(last + 1000), ep=c.leader,
            message="required revision is a future revision")


@scenario()
def member_list(c):
    # Every member lists all three, each started (it has published its name and
    # client URLs; they publish as they start, so wait for it), none a learner.
    deadline = time.monotonic() + 10
    while True:
        rows = [line.split(", ") for line in c.lines("member", "list", ep=c.follower)]
        if all(r[1] == "started" for r in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    expect(len(rows), 3, f"members listed: {rows}")
    expect(sorted(r[4] for r in rows), sorted(f"http://{ep}" for ep in c.all), "client URLs")
    for r in rows:
        expect((r[1], r[5]), ("started", "false"), f"member {r}")
        if not r[2] or not r[3].startswith("http://127.0.0.1:"):
            raise AssertionError(f"member without a name or peer URL: {r}")
    ids = {format(m["ID"], "x") for m in c.json("member", "list")["members"]}
    expect(ids, {r[0] for r in rows}, "the same ids in JSON")
    expect({format(s["Status"]["header"]["member_id"], "x") for s in c.json("endpoint", "status")},
           ids, "member ids are the ones endpoint status reports")


@scenario()
def snapshot_save(c):
    c.put("/s/k", "v")
    path = os.path.join(c.cluster.root, "saved.snapshot")
    out = c.ok("snapshot", "save", path, ep=c.follower)
    if f"Snapshot saved at {path}" not in out:
        raise AssertionError(f"snapshot save printed {out!r}")
    size = os.path.getsize(path)
    # etcd's shape, which etcdctl checks: whole sectors, then a SHA-256.
    expect(size % 512, 32, f"the snapshot's size ({size}) modulo 512")
    data = open(path, "rb").read()
    expect(hashlib.sha256(data[:-32]).digest(), data[-32:], "the SHA-256 at the end")
    if c.cluster.kind == "meridian":
        # The store's snapshot format (docs/formats/kv.md), which `meridian
        # snapshot restore` reads: its magic, and the key put above inside.
        expect(data[:4], b"MKVS", "the snapshot's magic")
        if b"/s/k" not in data:
            raise AssertionError("the snapshot lacks the key put before it")


@scenario()
def snapshot_restore_into_a_new_cluster(c):
    # A snapshot of this cluster restored into every member of a new one (same
    # keys and revision), which then serves reads and writes. etcd restores
    # with `etcdctl snapshot restore` and the new member's flags; Meridian with
    # `meridian snapshot restore FILE --data-dir DIR`.
    c.put("/sr/a", "1")
    c.put("/sr/a", "2")
    path = os.path.join(c.cluster.root, "restore.snapshot")
    c.ok("snapshot", "save", path, ep=c.leader)
    want = c.json("get", "/sr/a")
    new = etcd_cluster.EtcdApiCluster(c.cluster.kind, PORT_BLOCK, token="restored")
    try:
        for m in new.members:
            if new.kind == "etcd":
                r = subprocess.run([ETCDCTL_BINARY, "snapshot", "restore", path, "--name", m.name,
                                    "--data-dir", m.data_dir, "--initial-cluster",
                                    new.initial_cluster(), "--initial-cluster-token", new.token,
                                    "--initial-advertise-peer-urls", m.peer_url],
                                   capture_output=True, text=True, env=etcdctl_env(), timeout=60)
            else:
                r = subprocess.run([etcd_cluster.harness.BINARY, "snapshot", "restore", path,
                                    "--data-dir", m.node.data_dir],
                                   capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError(f"restore for {m.name} exited {r.returncode}: {r.stderr[-600:]}")
        new.start()
        eps = new.endpoints()
        got = json.loads(etcdctl(eps, "get", "/sr/a", "-w", "json").stdout)
        expect(got["header"]["revision"], want["header"]["revision"], "the restored revision")
        expect(got["kvs"], want["kvs"], "the restored key")
        r = etcdctl(eps, "put", "/sr/b", "new")
        expect(r.returncode, 0, f"a write to the new cluster ({r.stderr[-300:]})")
        got = json.loads(etcdctl(eps, "get", "/sr/b", "-w", "json").stdout)
        expect(got["header"]["revision"], want["header"]["revision"] + 1, "the next revision")
    finally:
        new.cleanup()


@scenario()
def move_leader(c):
    def statuses():
        return {s["Endpoint"]: s["Status"] for s in c.json("endpoint", "status")}
    before = statuses()
    leader_id = before[c.leader]["leader"]
    target_ep = c.followers[0]
    target_id = before[target_ep]["header"]["member_id"]
    # Asked of a follower alone, it is refused: only the leader moves leadership.
    c.fails("move-leader", format(target_id, "x"), ep=target_ep, message="no leader endpoint given")
    out = c.lines("move-leader", format(target_id, "x"))
    expect(out, [f"Leadership transferred from {leader_id:x} to {target_id:x}"], "move-leader")
    c.refresh_roles()
    expect(c.leader, target_ep, "the new leader")
    expect({s["leader"] for s in statuses().values()}, {target_id}, "every member names it")


@scenario()
def defrag(c):
    # Online on Meridian (etcd blocks requests meanwhile); either way the data stays.
    for i in range(50):
        c.put(f"/d/{i % 5}", "x" * 100)
    kvs = c.get_kvs("/d/", "--prefix")
    out = c.lines("defrag")
    expect(sorted(out), sorted(f"Finished defragmenting etcd member[{ep}]" for ep in c.all),
           "defrag of every member")
    expect(c.get_kvs("/d/", "--prefix"), kvs, "the same keys after defrag")


# ---------------------------------------------------------------- failures


@scenario()
def kill_and_restart_nodes(c):
    cl = c.cluster
    victim = next(m for m in cl.members if m.endpoint == c.followers[1])
    member_id = c.json("get", "/k/x", ep=victim.endpoint)["header"]["member_id"]
    cl.kill(victim)
    # Writes and linearizable reads go on through the two survivors.
    for i in range(5):
        c.ok("put", "/k/while-down", f"v{i}", ep=c.followers[0])
    expect(c.lines("get", "/k/while-down", "--print-value-only", ep=c.leader), ["v4"],
           "read on the leader with one follower down")
    cl.restart(victim)
    expect(c.lines("get", "/k/while-down", "--print-value-only", ep=victim.endpoint), ["v4"],
           "the restarted follower caught up")
    expect(c.json("get", "/k/x", ep=victim.endpoint)["header"]["member_id"], member_id,
           "a restarted node keeps its member_id")
    # kill -9 the leader: the others elect a new one and serve writes.
    old = cl.wait_leader()
    cl.kill(old)
    survivor = next(m for m in cl.members if m.running())
    deadline = time.monotonic() + 20
    while True:
        r = c.run("put", "/k/after-leader", "ok", ep=survivor.endpoint)
        if r.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no write accepted 20 s after killing the leader: {r.stderr}")
        time.sleep(0.2)
    new = cl.wait_leader()
    if new is old:
        raise AssertionError("the killed node is still reported leader")
    cl.restart(old)
    expect(c.lines("get", "/k/after-leader", "--print-value-only", ep=old.endpoint), ["ok"],
           "the old leader, restarted, caught up")
    c.refresh_roles()
    expect(c.lines("get", "/k/while-down", "--print-value-only"), ["v4"], "all endpoints agree")


@scenario()
def full_cluster_restart(c):
    # Every node stopped (SIGTERM) and started again on its data dir: the same
    # revision, keys, history and compaction; then writes go on.
    rev = c.revision()
    before = c.json("get", "--from-key", "")["kvs"]
    r_hist = c.put("/fr/k", "old")
    c.ok("put", "/fr/k", "new")
    c.cluster.stop()
    c.cluster.start()
    c.refresh_roles()
    for ep in c.all:
        j = c.json("get", "--from-key", "", ep=ep)
        expect(j["header"]["revision"], rev + 2, f"revision on {ep} after the restart")
        expect([kv for kv in j["kvs"] if not unb64(kv["key"]).startswith("/fr/")], before,
               f"every key on {ep} after the restart")
    expect(c.lines("get", "/fr/k", f"--rev={r_hist}", "--print-value-only", ep=c.follower),
           ["old"], "history survives the restart")
    compacted = getattr(c, "compacted_at", None)
    if compacted:  # the compaction scenario ran
        c.fails("get", "/c/k", f"--rev={compacted - 1}", code="OutOfRange",
                message="Error: etcdserver: mvcc: required revision has been compacted")
    expect(c.put("/fr/k", "after", ep=c.follower), rev + 3, "a write after the restart")


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(sys.argv, "etcdctl_test.py", scenario, PORT_BLOCK, Context))
