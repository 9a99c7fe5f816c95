#!/usr/bin/env python3
"""Four iolmd validators on loopback: they agree on one chain, take transactions through
RPC and gossip, refuse bad ones with the rule that failed, survive kill -9 of a validator,
catch a restarted one up by block sync (restarted with history_index = off: it drops its
account history and keeps the same chain), and shut down cleanly on SIGTERM; a node whose
history was off refuses to start with it on."""
import os
import signal
import subprocess
import sys
import time
import urllib.error

from framework import TestFailure, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def test_network(net):
    net.start_all()
    n0, n3 = net.nodes[0], net.nodes[3]
    net.wait("all four nodes at height 3", lambda: all(n.height() >= 3 for n in net.nodes), 60)
    assert_that(all(n.status()["peers"] == 3 for n in net.nodes), "every node has 3 peers")

    # a load of signed transfers from the testnet faucet
    out = subprocess.run([net.load, "--testnet", net.dir, "--rate", "300", "--seconds", "4",
                          "--accounts", "16"], capture_output=True, text=True, timeout=120)
    assert_that(out.returncode == 0, "iolm-load failed: " + out.stderr)
    assert_that("(0 refused)" in out.stdout, "load was refused: " + out.stdout[-400:])

    def committed(node):
        for line in node.get_text("/metrics").splitlines():
            if line.startswith("iolm_committed_txs_total "):
                return int(float(line.split()[1]))
        return 0
    net.wait("the load committed on every node", lambda: all(committed(n) > 1000 for n in net.nodes), 30)

    # one chain: the same block at the same height everywhere
    h = min(n.height() for n in net.nodes)
    ids = {n.get("/block/%d" % h)["id"] for n in net.nodes}
    assert_that(len(ids) == 1, "nodes disagree at height %d: %s" % (h, ids))

    # bad input gets a clear error
    status, body = n0.post("/tx", b"zz", token=n0.cookie())
    assert_that(status == 400 and "error" in body, "garbage tx: %s %s" % (status, body))
    status, body = n0.post("/tx", b"0a00", token=None)
    assert_that(status == 401, "tx without cookie: %s" % status)

    # kill -9 a validator: the other three (3/4 of the power) keep committing
    n3.stop(sig=signal.SIGKILL)
    h = n0.height()
    net.wait("progress without node3", lambda: n0.height() >= h + 3, 30)

    # restart it without account history: it catches up by block sync and rejoins
    conf = os.path.join(n3.dir, "node.conf")
    with open(conf, "a") as f:
        f.write("history_index = off\n")
    n3.start()
    net.wait("node3 catching up", lambda: n3.height() >= n0.height() - 1 and n3.height() > h + 2, 60)
    h = n3.height()
    a, b = n0.get("/block/%d" % h)["id"], n3.get("/block/%d" % h)["id"]
    assert_that(a == b, "node3 synced a different block at %d" % h)
    net.wait("node3 committing new blocks", lambda: n3.height() >= h + 2, 30)
    addr = n0.get("/validators")["validators"][0]["address"]
    assert_that(n3.status()["history_index"] is False and n0.status()["history_index"] is True,
                "history_index in /status")
    assert_that(n0.get("/history/" + addr)["entries"], "node0 keeps history")
    try:
        n3.get("/history/" + addr)
        raise TestFailure("node3 answered /history with history_index = off")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert_that(e.code == 404 and "IOLM_ELEDGER_NOHISTORY" in body, "node3 /history: %s" % body)

    # clean shutdown
    for n in net.nodes:
        rc = n.stop(sig=signal.SIGTERM)
        assert_that(rc == 0, "node%d exited with %s after SIGTERM" % (n.index, rc))

    # node3's history cannot come back on: it would miss the blocks run without it
    with open(conf, "a") as f:
        f.write("history_index = on\n")
    n3.start()
    rc = n3.proc.wait(30)
    n3.proc = None
    with open(n3.log_path) as f:
        log = f.read()
    assert_that(rc != 0 and "cannot be switched on" in log,
                "node3 started with history back on: exit %s" % rc)


if __name__ == "__main__":
    sys.exit(run(test_network))
