#!/usr/bin/env python3
"""Artifacts between real nodes: an artifact added to one node's store is fetched by
another over the encrypted P2P link (POST /artifact/fetch), chunk by chunk with every
chunk verified, and comes out byte for byte the same. The node serving it is limited to
1 MiB/s (art_global_kib_s in node.conf), so the 3 MiB fetch takes at least 2 s."""
import os
import random
import subprocess
import sys
import time

from framework import TestFailure, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def test_artifacts(net):
    conf = os.path.join(net.nodes[0].dir, "node.conf")
    with open(conf, "a") as f:
        f.write("art_global_kib_s = 1024\n")
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    src = os.path.join(net.dir, "model.bin")
    rnd = random.Random(11)
    with open(src, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024 + 4321)))
    out = subprocess.run([net.iolmd, "art", "add", "-d", net.nodes[0].dir, src, "--kind",
                          "model"], capture_output=True, text=True, timeout=60)
    assert_that(out.returncode == 0, "art add: " + out.stderr)
    aid = out.stdout.strip()

    n2 = net.nodes[2]
    t0 = time.monotonic()
    status, body = n2.post("/artifact/fetch/" + aid, b"", token=n2.cookie())
    assert_that(status == 200, "fetch request: %s %s" % (status, body))
    status, body = n2.post("/artifact/fetch/" + aid, b"", token=None)
    assert_that(status == 401, "fetch without the cookie: %s" % status)

    def done():
        try:
            p = n2.get("/artifact/" + aid)
        except Exception:  # noqa: BLE001 - not known yet
            return False
        assert_that(p.get("state") != "failed", "fetch failed: %s" % p)
        return p.get("state") == "done"
    net.wait("node2 fetching the artifact", done, 60)
    secs = time.monotonic() - t0
    assert_that(secs >= 2.0, "3 MiB from a node serving 1 MiB/s came in %.2f s" % secs)
    p = n2.get("/artifact/" + aid)
    assert_that(p["chunks_done"] == p["chunks_total"] and p["bytes_done"] == p["bytes_total"]
                and p["in_flight"] == 0 and p["verifying"] == 0,
                "progress at the end: %s" % p)

    # the transfer in each side's /metrics: node0 served the bytes, node2 received them
    size = os.path.getsize(src)

    def metric(node, name):
        for line in node.get_text("/metrics").splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        raise TestFailure("no %s in /metrics" % name)
    served = 'iolm_artifact_transfer_bytes_total{direction="served"}'
    received = 'iolm_artifact_transfer_bytes_total{direction="received"}'
    assert_that(metric(net.nodes[0], served) >= size, "node0 served %d" % metric(net.nodes[0], served))
    assert_that(metric(n2, received) == size, "node2 received %d" % metric(n2, received))
    assert_that(metric(n2, 'iolm_artifact_transfer_events_total{event="corrupt"}') == 0,
                "corrupt blocks at node2")

    dest = os.path.join(net.dir, "got")
    out = subprocess.run([net.iolmd, "art", "get", "-d", n2.dir, aid, dest],
                         capture_output=True, text=True, timeout=60)
    assert_that(out.returncode == 0, "art get: " + out.stderr)
    with open(src, "rb") as a, open(os.path.join(dest, "model.bin"), "rb") as b:
        assert_that(a.read() == b.read(), "the fetched artifact differs")


if __name__ == "__main__":
    sys.exit(run(test_artifacts))
