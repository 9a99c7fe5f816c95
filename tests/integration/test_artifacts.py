#!/usr/bin/env python3
"""Artifacts between real nodes: an artifact added to one node's store is fetched by
another over the encrypted P2P link (POST /artifact/fetch), chunk by chunk with every
chunk verified, and comes out byte for byte the same. The node serving it is limited to
1 MiB/s (art_global_kib_s in node.conf), so the 3 MiB fetch takes at least 2 s, and
the fetching node keeps at most 4 requests in flight (art_window), which it fills; its
GET /peers then shows the server's window (4) and measured rate. Then
the fetching node is killed (-9) half way through an 8 MiB artifact and started again:
it resumes the fetch by itself, and the server sends at most 4 MiB more than the
artifact (the requests that were in flight)."""
import os
import random
import signal
import subprocess
import sys
import time

from framework import TestFailure, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def same_in_store(net, node, art, src):
    """`iolmd art get` of art from node's store gives back file src, byte for byte."""
    dest = os.path.join(net.dir, "got-" + art[:16])
    out = subprocess.run([net.iolmd, "art", "get", "-d", node.dir, art, dest],
                         capture_output=True, text=True, timeout=60)
    assert_that(out.returncode == 0, "art get: " + out.stderr)
    with open(src, "rb") as a, open(os.path.join(dest, os.path.basename(src)), "rb") as b:
        assert_that(a.read() == b.read(), "%s from node%d differs" % (art, node.index))


def test_artifacts(net):
    conf = os.path.join(net.nodes[0].dir, "node.conf")
    with open(conf, "a") as f:
        f.write("art_global_kib_s = 1024\n")
    with open(os.path.join(net.nodes[2].dir, "node.conf"), "a") as f:
        f.write("art_window = 4\n")
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

    def progress(art):
        try:
            p = n2.get("/artifact/" + art)
        except Exception:  # noqa: BLE001 - not known yet, or the node is starting
            return None
        assert_that(p.get("state") != "failed", "fetch failed: %s" % p)
        return p

    in_flight = []

    def done(art=aid):
        p = progress(art)
        if p is not None:
            in_flight.append(p.get("in_flight", 0))
        return p is not None and p.get("state") == "done"
    net.wait("node2 fetching the artifact", done, 60)
    assert_that(max(in_flight) == 4, "requests in flight with art_window = 4: %s" %
                sorted(set(in_flight)))
    secs = time.monotonic() - t0
    assert_that(secs >= 2.0, "3 MiB from a node serving 1 MiB/s came in %.2f s" % secs)
    p = n2.get("/artifact/" + aid)
    assert_that(p["chunks_done"] == p["chunks_total"] and p["bytes_done"] == p["bytes_total"]
                and p["in_flight"] == 0 and p["verifying"] == 0,
                "progress at the end: %s" % p)
    # GET /artifact/{id}/content: the file's bytes, with the cookie only
    status, content = n2.get_bytes("/artifact/%s/content" % aid, token=n2.cookie())
    with open(src, "rb") as f:
        want = f.read()
    assert_that(status == 200 and content == want,
                "content of the fetched artifact: status %d, %d bytes of %d" %
                (status, len(content), len(want)))
    status, _ = n2.get_bytes("/artifact/%s/content" % aid)
    assert_that(status == 401, "content without the cookie: %d" % status)
    status, _ = n2.get_bytes("/artifact/%s/contents" % aid, token=n2.cookie())
    assert_that(status == 404, "an unknown suffix: %d" % status)
    status, body = n2.get_bytes("/artifact/1e20%s/content" % ("ab" * 32), token=n2.cookie())
    assert_that(status == 404, "content of an artifact not held: %d %s" % (status, body))
    status, _ = n2.get_bytes("/artifact/%s0/content" % aid, token=n2.cookie())
    assert_that(status == 400, "content with a 69-digit id: %d" % status)
    status, _ = n2.get_bytes("/artifact/%s0" % aid)
    assert_that(status == 400, "progress with a 69-digit id: %d" % status)
    # GET /artifact/{id}/manifest: the encoded manifest, naming the file
    status, man = n2.get_bytes("/artifact/%s/manifest" % aid)
    assert_that(status == 200 and 0 < len(man) < 4096 and b"model.bin" in man,
                "manifest of the fetched artifact: %d, %d bytes" % (status, len(man)))
    folder = os.path.join(net.dir, "two-files")
    os.makedirs(folder)
    for name in ("a.txt", "b.txt"):
        with open(os.path.join(folder, name), "w") as f:
            f.write(name * 100)
    out = subprocess.run([net.iolmd, "art", "add", "-d", net.nodes[0].dir, folder],
                         capture_output=True, text=True, timeout=60)
    assert_that(out.returncode == 0, "art add of a folder: " + out.stderr)
    n0 = net.nodes[0]
    status, body = n0.get_bytes("/artifact/%s/content" % out.stdout.strip(),
                                token=n0.cookie())
    assert_that(status == 400 and b"IOLM_EART_FILES" in body,
                "content of a two-file artifact: %d %s" % (status, body))
    # one file of it, named, as GET /artifact/{id}/files lists them
    two = out.stdout.strip()
    fl = n0.get("/artifact/%s/files" % two)
    assert_that(fl["kind"] == "dataset" and fl["parent"] is None and fl["size"] == 1000 and
                [(f["path"], f["size"]) for f in fl["files"]] == [("a.txt", 500),
                                                                   ("b.txt", 500)],
                "files of the two-file artifact: %s" % fl)
    for name in ("a.txt", "b.txt"):
        status, body = n0.get_bytes("/artifact/%s/content?file=%s" % (two, name),
                                    token=n0.cookie())
        assert_that(status == 200 and body == (name * 100).encode(),
                    "%s of the two-file artifact: %d %r" % (name, status, body[:40]))
    status, _ = n0.get_bytes("/artifact/%s/content?file=c.txt" % two, token=n0.cookie())
    assert_that(status == 404, "a file the artifact lacks: %d" % status)
    status, body = n0.get_bytes("/artifact/%s/content?name=a.txt" % two, token=n0.cookie())
    assert_that(status == 400 and b"IOLM_ERPC_BADQUERY" in body, "?name=: %d" % status)
    status, body = n2.get_bytes("/artifact/%s/content?file=model.bin" % aid,
                                token=n2.cookie())
    assert_that(status == 200 and body == want, "?file= on a one-file artifact: %d" % status)

    # GET /peers: node2's view of node0 as an artifact source, its window capped at 4
    key0 = net.nodes[0].get("/status")["node_key"]
    src0 = [q for q in n2.get("/peers")["peers"] if q["key"] == key0]
    assert_that(len(src0) == 1 and "artifacts" in src0[0], "node0 in node2's /peers: %s" % src0)
    ai = src0[0]["artifacts"]
    assert_that(ai["window"] == 4 and ai["in_flight"] == 0 and ai["rate_bytes_per_s"] > 0,
                "node0's artifact window and rate at node2: %s" % ai)

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

    same_in_store(net, n2, aid, src)

    # kill -9 half way through a fetch; the restarted node resumes it by itself
    big = os.path.join(net.dir, "ckpt.bin")
    with open(big, "wb") as f:
        f.write(rnd.randbytes(8 * 1024 * 1024))
    out = subprocess.run([net.iolmd, "art", "add", "-d", net.nodes[0].dir, big],
                         capture_output=True, text=True, timeout=60)
    assert_that(out.returncode == 0, "art add: " + out.stderr)
    bid = out.stdout.strip()
    served0 = metric(net.nodes[0], served)
    status, body = n2.post("/artifact/fetch/" + bid, b"", token=n2.cookie())
    assert_that(status == 200, "fetch request: %s %s" % (status, body))

    def half():
        p = progress(bid)
        return p is not None and p["bytes_total"] and 2 * p["bytes_done"] >= p["bytes_total"]
    net.wait("node2 half way", half, 60)
    n2.stop(sig=signal.SIGKILL)
    n2.start()
    net.wait("node2 resuming by itself and done", lambda: done(bid), 60)
    big_size = os.path.getsize(big)
    extra = metric(net.nodes[0], served) - served0 - big_size
    print("kill -9 at half way: node0 sent %d bytes beyond the artifact's %d" %
          (extra, big_size), flush=True)
    assert_that(0 <= extra <= 4 * 1024 * 1024, "resume re-fetched %d bytes" % extra)
    with open(n2.log_path) as f:
        assert_that("resuming the fetch of " + bid in f.read(), "no resume in node2's log")
    same_in_store(net, n2, bid, big)


if __name__ == "__main__":
    sys.exit(run(test_artifacts))
