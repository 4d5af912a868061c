"""etcdctl (etcd-client 3.4) changing a running cluster's membership: `member
add --learner`, a new member started with --initial-cluster-state existing
that catches up, `member promote` (refused until the learner is in sync, then
done), `member update` of its peer URL with the member restarted on it,
`member remove` of an original member (which then exits by itself), and the
refusals etcd gives: promoting a voter, removing an unknown member, adding a
peer URL in use, malformed URLs, adding a voter while a member is down. Writes acknowledged before and during the
changes are read back from every remaining member.

Run: python3 tests/etcd/etcdctl_member_test.py [meridian|etcd] [scenario...]
     (default meridian, with MERIDIAN_BINARY=path/to/meridian)

As etcdctl_test.py (whose helpers it uses): every check is proven against real
etcd first; PASS/FAIL/SKIP per scenario; exit 1 if any fails. Ports 16000-16499.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_cluster  # noqa: E402
from etcd_cluster import Scenarios, etcdctl  # noqa: E402
from etcdctl_test import Context, expect  # noqa: E402

PORT_BLOCK = 16000  # this test's ports: 16000-16499
PORT_BLOCK_SIZE = 500
etcd_cluster.PORT_RANGE_MAX = max(etcd_cluster.PORT_RANGE_MAX, PORT_BLOCK + PORT_BLOCK_SIZE - 1)
scenario = Scenarios()


def members(eps):
    r = etcdctl(eps, "member", "list", "-w", "json")
    if r.returncode != 0:
        raise AssertionError(f"member list failed: {r.stderr.strip()}")
    return {m["ID"]: m for m in json.loads(r.stdout)["members"]}


def fails_settled(c, *args, message, code=None, ep=None):
    """c.fails, retried while etcd refuses every change ("unhealthy cluster")
    because its members have not been connected for long enough yet."""
    deadline = time.monotonic() + 20
    while True:
        r = c.run(*args, ep=ep)
        if "unhealthy cluster" not in r.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return c.fails(*args, message=message, code=code, ep=ep)


def wait_members(eps, predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        listed = members(eps)
        if predicate(listed):
            return listed
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: member list is {listed}")
        time.sleep(0.2)


@scenario()
def bad_urls_are_refused(c):
    for url in ("127.0.0.1:1234", "ftp://127.0.0.1:1234", "http://"):
        r = c.run("member", "add", "bad", f"--peer-urls={url}")
        if r.returncode == 0:
            raise AssertionError(f"member add with peer URL {url!r} succeeded")
    expect(len(members(c.all)), 3, "nothing added")


@scenario()
def voter_changes_refused_while_a_member_is_down(c):
    """etcd's strict reconfiguration check: with one of three members down, a
    fourth voter would leave 2 of 4 up, no quorum: refused on every member
    ("unhealthy cluster"), and nothing changes."""
    cl = c.cluster
    down = cl.member(3) if cl.member(3).endpoint != c.leader else cl.member(2)
    cl.kill(down)
    try:
        time.sleep(2.5)  # longer than an election timeout: the leader sees it gone
        port = etcd_cluster.allocate_ports(cl._ports_base, cl._ports_size)[0]
        for m in cl.running_members():
            c.fails("member", "add", "n9", f"--peer-urls=http://127.0.0.1:{port}",
                    message="unhealthy cluster", code="Unavailable", ep=m.endpoint)
        up = [m.endpoint for m in cl.running_members()]
        expect(len(members(up)), 3, "nothing added")
    finally:
        cl.restart(down)
    cl.wait_ready()


@scenario()
def grow_promote_update_remove(c):
    cl = c.cluster
    old = list(cl.members)
    c.put("/m/before", "1")
    new, new_id = cl.add_member(learner=True)
    listed = members(c.all)
    expect(len(listed), 4, f"members after the add: {listed}")
    expect(bool(listed[new_id].get("isLearner")), True, "the new member is a learner")
    # It catches up and publishes its name and client URL.
    wait_members(c.all, lambda ms: ms[new_id].get("name"), "the learner started")
    c.fails("member", "promote", format(cl.member_id(old[0]), "x"),
            message="can only promote a learner member", code="FailedPrecondition")
    cl.promote(new_id, c.all)
    listed = members(c.all)
    expect(bool(listed[new_id].get("isLearner")), False, "promoted")
    # The newcomer has what was written before it joined, and takes writes.
    expect(c.lines("get", "/m/before", "--print-value-only", ep=new.endpoint), ["1"],
           "read through the new member")
    c.ok("put", "/m/through-new", "2", ep=new.endpoint)

    # Refusals, with etcd's messages and codes.
    fails_settled(c, "member", "remove", "abcdef12", message="member not found", code="NotFound")
    taken = f"http://127.0.0.1:{old[1].peer_port if cl.kind == 'etcd' else old[1].node.peer_port}"
    fails_settled(c, "member", "add", "dup", f"--peer-urls={taken}",
                  message="Peer URLs already exists", code="FailedPrecondition")
    fails_settled(c, "member", "update", format(new_id, "x"), f"--peer-urls={taken}",
                  message="Peer URLs already exists")
    expect(len(members(c.all)), 4, "refused changes changed nothing")

    # The new member moves to another peer port: update, then restart it there.
    port = etcd_cluster.allocate_ports(cl._ports_base, cl._ports_size)[0]
    c.ok("member", "update", format(new_id, "x"), f"--peer-urls=http://127.0.0.1:{port}")
    new.stop()
    if cl.kind == "etcd":
        new.peer_port = port
    else:
        new.node.peer_port = port
    new.start()
    listed = members(c.all)
    expect(listed[new_id]["peerURLs"], [f"http://127.0.0.1:{port}"], "the new peer URL")
    cl.wait_ready(members=[new])
    c.ok("put", "/m/after-move", "3", ep=new.endpoint)

    # Remove an original member: it exits by itself; the rest go on.
    gone = old[0]
    gone_id = cl.member_id(gone)
    cl.remove_member(gone)
    cl.wait_ready()  # the removed member may have led: the rest elect a leader
    rest = [m.endpoint for m in cl.running_members()]
    listed = members(rest)
    expect(sorted(listed), sorted(cl.member_id(m) for m in cl.running_members()),
           "the members left")
    if gone_id in listed:
        raise AssertionError(f"removed member {gone_id:x} still listed")
    c.ok("put", "/m/after-remove", "4", ep=rest[0])
    for ep in rest:
        for key, value in (("/m/before", "1"), ("/m/through-new", "2"), ("/m/after-move", "3"),
                           ("/m/after-remove", "4")):
            expect(c.lines("get", key, "--print-value-only", ep=ep), [value], f"{key} on {ep}")
    c.fails("member", "remove", format(gone_id, "x"), message="member not found", ep=rest[0])




@scenario(needs=("auto-promote",))
def learner_promoted_once_caught_up(c):
    """With --auto-promote-learners, a learner becomes a voter by itself once it
    has caught up: no `member promote`. A cluster of its own, with the flag."""
    with etcd_cluster.EtcdApiCluster(c.cluster.kind, PORT_BLOCK, PORT_BLOCK_SIZE, token="auto",
                                     server_args=("--auto-promote-learners", "true")) as cl:
        eps = cl.endpoints()
        for i in range(50):
            etcdctl(eps, "put", f"/auto/{i}", "v")
        new, new_id = cl.add_member(learner=True)
        listed = wait_members(eps, lambda ms: not ms[new_id].get("isLearner"),
                              "the learner was promoted by itself")
        expect(len(listed), 4, "four members")
        cl.wait_ready(members=[new])
        expect(c.lines("get", "/auto/49", "--print-value-only", ep=new.endpoint), ["v"],
               "the promoted member has the data")


@scenario(needs=("auto-promote",))
def meridian_member_add_auto_promote(c):
    """`meridian member add --auto-promote` (Meridian's own option of MemberAdd):
    that learner is promoted by itself, in a cluster without the server-wide
    setting, while a learner added with etcdctl stays one."""
    cl = c.cluster
    eps = [m.endpoint for m in cl.running_members()]
    auto, auto_id = cl.add_member(meridian_args=["--auto-promote"])
    cl.wait_ready(members=[auto])
    plain, plain_id = cl.add_member(learner=True)
    wait_members(eps, lambda ms: not ms[auto_id].get("isLearner"), "promoted by itself")
    cl.wait_ready(members=[auto, plain])
    time.sleep(1.5)  # three checks of the leader's promoter: the plain one stays a learner
    expect(bool(members(eps)[plain_id].get("isLearner")), True, "the etcdctl learner")
    for m in (plain, auto):
        cl.remove_member(m)


if __name__ == "__main__":
    sys.exit(etcd_cluster.run_scenarios(sys.argv, "etcdctl_member_test.py", scenario, PORT_BLOCK,
                                        Context, block_size=PORT_BLOCK_SIZE))
