#!/usr/bin/env python3
"""Ten rounds of kill -9 and restart across the validators while transfers flow: no
committed block is lost, every node ends on the same chain with the same state roots, and
no validator ever signed two different votes (no equivocation evidence anywhere)."""
import signal
import subprocess
import sys

from framework import TestFailure, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def evidence(node):
    for line in node.get_text("/metrics").splitlines():
        if line.startswith("iolm_evidence_total "):
            return int(float(line.split()[1]))
    raise TestFailure("node%d has no iolm_evidence_total metric" % node.index)


def test_restarts(net):
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    load = subprocess.Popen([net.load, "--testnet", net.dir, "--rate", "100", "--seconds", "120",
                             "--accounts", "8"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for rnd in range(10):
            victim = net.nodes[rnd % len(net.nodes)]
            before = victim.height()
            victim.stop(sig=signal.SIGKILL)
            others = [n for n in net.nodes if n is not victim]
            h = max(n.height() for n in others)
            net.wait("round %d: progress without node%d" % (rnd, victim.index),
                     lambda: max(n.height() for n in others) >= h + 1, 60)
            victim.start()
            net.wait("round %d: node%d back" % (rnd, victim.index),
                     lambda: victim.height() >= 0, 30)
            assert_that(victim.height() >= before,
                  "round %d: node%d lost committed blocks (%d < %d)" %
                  (rnd, victim.index, victim.height(), before))
            net.wait("round %d: node%d caught up" % (rnd, victim.index),
                     lambda: victim.height() >= max(n.height() for n in others) - 1, 60)
    finally:
        load.kill()
        load.wait()

    top = max(n.height() for n in net.nodes)
    net.wait("every node past height %d" % (top + 1),
             lambda: all(n.height() >= top + 1 for n in net.nodes), 60)
    for h in (1, top // 2, top):
        blocks = [n.get("/block/%d" % h) for n in net.nodes]
        ids = {b["id"] for b in blocks}
        roots = {b["header"]["state_root"] for b in blocks}
        assert_that(len(ids) == 1 and len(roots) == 1, "nodes disagree at height %d" % h)
    assert_that(all(evidence(n) == 0 for n in net.nodes), "a validator double-signed")
    txs = sum(net.nodes[0].get("/block/%d" % h)["tx_count"] for h in range(1, top + 1))
    assert_that(txs > 8, "only %d transactions committed: the transfers did not flow" % txs)


if __name__ == "__main__":
    sys.exit(run(test_restarts))
