#!/usr/bin/env python3
"""The artifact store through a running node's RPC: POST /artifact/add of files the node
reads itself, GET /artifacts, pin, unpin and POST /artifact/gc, and GET
/artifact/{id}/content streamed. A 300 MiB file (above what the endpoint once built in
memory) comes back byte for byte; a client that leaves half way through costs nothing; a
collection that deletes the chunks of a reply in flight cuts it short (the client sees
fewer bytes than Content-Length, never wrong ones); a peer fetches an artifact added
this way; a node with art_keep_mb collects an artifact as soon as it is unpinned, and
warns when what is pinned alone exceeds the budget; and the node stops cleanly (exit 0,
under the sanitizers too) with a reply still in flight."""
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from framework import TestFailure, run

MiB = 1024 * 1024


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def write_random(path, size):
    """A file of size random bytes; its BLAKE2b digest."""
    h = hashlib.blake2b()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, 4 * MiB))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


def raw_get(node, path, token):
    """A socket that sent GET path with the cookie, and read nothing yet."""
    s = socket.create_connection(("127.0.0.1", node.rpc_port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" %
               (path, token)).encode())
    return s


def read_reply(s, limit=None):
    """(headers, body bytes read): to the end of the connection's data, or limit bytes."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        assert_that(d, "connection closed before the headers")
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    got = len(body)
    while limit is None or got < limit:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
    return head.decode(), got


def test_artifacts_rpc(net):
    with open(os.path.join(net.nodes[1].dir, "node.conf"), "a") as f:
        f.write("art_keep_mb = 1\n")
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    n0, n1 = net.nodes[0], net.nodes[1]
    tok = n0.cookie()

    def add(path, timeout=5, **kw):
        body = dict(kw, path=path)
        return n0.post("/artifact/add", json.dumps(body).encode(), token=tok,
                       timeout=timeout)

    # refused before anything is read
    status, _ = n0.post("/artifact/add", b'{"path": "/tmp"}')
    assert_that(status == 401, "add without the cookie: %s" % status)
    for body in (b"", b"[]", b"{", b'{"path": "relative/file"}', b'{"path": 7}',
                 b'{"path": "/tmp", "kind": "weights"}', b'{"path": "/tmp", "pin": 1}',
                 b'{"path": "/tmp", "path": "/etc"}'):
        status, err = n0.post("/artifact/add", body, token=tok)
        assert_that(status == 400 and err["error"]["name"] == "IOLM_ERPC_BADJSON",
                    "add with body %r: %s %s" % (body, status, err))
    status, err = add(os.path.join(net.dir, "no-such-file"))
    assert_that(status != 200 and "error" in err, "add of a missing file: %s %s" % (status, err))

    big = os.path.join(net.dir, "big.bin")
    big_size = 300 * MiB
    big_hash = write_random(big, big_size)
    mid = os.path.join(net.dir, "mid.bin")
    mid_size = 48 * MiB + 5
    write_random(mid, mid_size)
    small = os.path.join(net.dir, "small.bin")
    with open(small, "wb") as f:
        f.write(os.urandom(2 * MiB + 77))
    empty = os.path.join(net.dir, "empty.bin")
    open(empty, "wb").close()

    status, a = add(big, timeout=180, kind="model")
    assert_that(status == 200 and a["bytes"] == big_size and a["kind"] == "model" and
                a["pinned"] is True and a["new_chunks"] == a["chunks"] > 0,
                "add of 300 MiB: %s %s" % (status, a))
    big_id = a["id"]
    status, again = add(big, timeout=180, kind="model")
    assert_that(status == 200 and again["id"] == big_id and again["new_chunks"] == 0,
                "adding it again: %s %s" % (status, again))
    ids = {}
    for name, path in (("mid", mid), ("small", small), ("empty", empty)):
        status, a = add(path, timeout=60)
        assert_that(status == 200 and a["kind"] == "dataset", "add of %s: %s %s" %
                    (name, status, a))
        ids[name] = a["id"]
    # a parent: the artifact this one derives from, in its manifest
    status, a = add(mid, timeout=60, parent=ids["small"])
    assert_that(status == 200 and a["parent"] == ids["small"] and a["id"] != ids["mid"] and
                a["new_chunks"] == 0, "add with a parent: %s %s" % (status, a))
    fl = n0.get("/artifact/%s/files" % a["id"])
    assert_that(fl["parent"] == ids["small"] and fl["files"] == [{"path": "mid.bin",
                                                                  "size": mid_size}],
                "files of the child: %s" % fl)
    status, err = n0.post("/artifact/add", json.dumps({"path": mid, "parent": "xyz"}).encode(),
                          token=tok)
    assert_that(status == 400 and err["error"]["name"] == "IOLM_ERPC_BADJSON",
                "a malformed parent: %s %s" % (status, err))
    status, _ = n0.post("/artifact/unpin/" + a["id"], b"", token=tok)
    status, gc = n0.post("/artifact/gc", b"", token=tok)
    assert_that(status == 200 and gc["artifacts_removed"] == 1 and gc["chunks_freed"] == 0,
                "the child, unpinned and collected, takes no shared chunk: %s" % gc)

    # an add runs off the loop, one job at a time: held up by another process's gc
    # (this test, holding the store's lock file), it keeps the loop free and the next
    # add or gc waits its turn with 503 IOLM_EART_JOB
    again = os.path.join(net.dir, "again.bin")
    with open(again, "wb") as f:
        f.write(os.urandom(MiB))
    lockfd = os.open(os.path.join(n0.dir, "artifacts", "gc.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(lockfd, fcntl.LOCK_EX)
    held = {}
    t = threading.Thread(target=lambda: held.update(r=add(again, timeout=60)))
    t.start()
    try:
        time.sleep(0.5)
        assert_that(t.is_alive(), "the add did not wait for the store's lock")
        assert_that(n0.get("/status")["height"] >= 2, "GET /status during the add")
        for path in ("/artifact/gc", "/artifact/add"):
            status, err = n0.post(path, json.dumps({"path": again}).encode(), token=tok)
            assert_that(status == 503 and err["error"]["name"] == "IOLM_EART_JOB",
                        "%s while an add runs: %s %s" % (path, status, err))
    finally:
        fcntl.flock(lockfd, fcntl.LOCK_UN)
        os.close(lockfd)
        t.join(60)
    status, a = held["r"]
    assert_that(status == 200 and a["bytes"] == MiB, "the add that waited: %s %s" % (status, a))
    ids["again"] = a["id"]
    status, _ = n0.post("/artifact/unpin/" + a["id"], b"", token=tok)
    status, gc = n0.post("/artifact/gc?keep_mb=100000", b"", token=tok)
    assert_that(status == 200 and gc["artifacts_removed"] == 1 and gc["chunks_freed"] == 0
                and gc["chunks_pending"] == a["chunks"],
                "gc under a watermark above the store drops the unpinned artifact and frees "
                "no chunk: %s" % gc)
    status, gc = n0.post("/artifact/gc", b"", token=tok)
    assert_that(status == 200 and gc["artifacts_removed"] == 0 and
                gc["chunks_freed"] == a["chunks"] and gc["bytes_freed"] == MiB and
                gc["chunks_pending"] == 0, "gc down to 0 MiB: exactly its chunks: %s" % gc)
    del ids["again"]

    # POST /artifact/remove/{id}: one unpinned artifact and its own chunks, now; a pinned
    # one is refused (409), an unknown one is 404; iolmd art rm does the same offline
    gone = os.path.join(net.dir, "gone.bin")
    with open(gone, "wb") as f:
        f.write(os.urandom(MiB + 3))
    status, g = add(gone, timeout=60)
    assert_that(status == 200 and g["pinned"], "add of gone.bin: %s %s" % (status, g))
    status, err = n0.post("/artifact/remove/" + g["id"], b"", token=tok)
    assert_that(status == 409 and err["error"]["name"] == "IOLM_EART_PINNED",
                "removing a pinned artifact: %s %s" % (status, err))
    status, _ = n0.post("/artifact/remove/" + g["id"], b"")
    assert_that(status == 401, "remove without the cookie: %s" % status)
    cli = subprocess.run([net.iolmd, "art", "rm", "-d", n0.dir, g["id"]],
                         capture_output=True, text=True, timeout=60)
    assert_that(cli.returncode == 1 and "unpin it" in cli.stderr,
                "iolmd art rm of a pinned artifact: %s %s" % (cli.returncode, cli.stderr))
    status, _ = n0.post("/artifact/unpin/" + g["id"], b"", token=tok)
    status, rm = n0.post("/artifact/remove/" + g["id"], b"", token=tok, timeout=60)
    assert_that(status == 200 and rm["id"] == g["id"] and rm["artifacts_removed"] == 1 and
                rm["chunks_freed"] == g["chunks"] and rm["bytes_freed"] == MiB + 3,
                "remove: %s %s" % (status, rm))
    for path in ("/artifact/remove/" + g["id"], "/artifact/remove/1e20" + "ab" * 32):
        status, err = n0.post(path, b"", token=tok)
        assert_that(status == 404, "removing %s: %s %s" % (path, status, err))
    status, err = n0.post("/artifact/remove/1e20ab", b"", token=tok)
    assert_that(status == 400 and err["error"]["name"] == "IOLM_EART_ID",
                "removing a short id: %s %s" % (status, err))
    cli = subprocess.run([net.iolmd, "art", "rm", "-d", n0.dir, g["id"]],
                         capture_output=True, text=True, timeout=60)
    assert_that(cli.returncode == 1 and "not found" in cli.stderr,
                "iolmd art rm of a removed artifact: %s %s" % (cli.returncode, cli.stderr))

    # GET /artifacts
    lst = n0.get("/artifacts")
    byid = {e["id"]: e for e in lst["artifacts"]}
    assert_that(lst["total"] == len(lst["artifacts"]) == 4 and big_id in byid,
                "GET /artifacts: %s" % lst)
    e = byid[big_id]
    assert_that(e["size"] == big_size and e["files"] == 1 and e["pinned"] is True and
                e["kind"] == "model", "the 300 MiB entry: %s" % e)
    assert_that(lst["store"]["bytes"] >= big_size + mid_size and
                lst["store"]["unreferenced"] == 0, "store totals: %s" % lst["store"])

    # the 300 MiB content, streamed, while the node answers other calls
    s = raw_get(n0, "/artifact/%s/content" % big_id, tok)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, body = buf.split(b"\r\n\r\n", 1)
    assert_that(head.startswith(b"HTTP/1.1 200") and
                (b"Content-Length: %d" % big_size) in head, "content headers: %s" % head)
    h = hashlib.blake2b(body)
    got = len(body)
    polls = 0
    while got < big_size:
        d = s.recv(4 * MiB)
        assert_that(d, "content ended at %d of %d bytes" % (got, big_size))
        h.update(d)
        got += len(d)
        if got // (32 * MiB) > polls:
            polls += 1
            assert_that(n0.get("/status")["height"] >= 2, "GET /status during the content")
    s.close()
    assert_that(got == big_size and h.hexdigest() == big_hash,
                "300 MiB content: %d bytes, %s" % (got, "same" if h.hexdigest() == big_hash
                                                  else "different"))
    assert_that(polls >= 9, "only %d GET /status during the content" % polls)
    status, body = n0.get_bytes("/artifact/%s/content" % ids["empty"], token=tok)
    assert_that(status == 200 and body == b"", "the empty file: %d %r" % (status, body))
    status, body = n0.get_bytes("/artifact/%s/content" % ids["small"], token=tok)
    with open(small, "rb") as f:
        whole = f.read()
        assert_that(status == 200 and body == whole, "the small file: %d" % status)
    # a download resuming: Range: bytes=N- is answered 206 with the bytes from N, in the
    # middle of a chunk or at the last byte; past the end, 416
    for off in (1, 65536, 1000003, len(whole) - 1):
        req = urllib.request.Request(n0.url("/artifact/%s/content" % ids["small"]),
                                     headers={"Authorization": "Bearer " + tok,
                                              "Range": "bytes=%d-" % off})
        with urllib.request.urlopen(req, timeout=30) as r:
            got = r.read()
            assert_that(r.status == 206 and got == whole[off:] and
                        r.headers["Content-Range"] == "bytes %d-%d/%d" %
                        (off, len(whole) - 1, len(whole)),
                        "range from %d: %d, %d bytes, %s" % (off, r.status, len(got),
                                                             r.headers["Content-Range"]))
    req = urllib.request.Request(n0.url("/artifact/%s/content" % ids["small"]),
                                 headers={"Authorization": "Bearer " + tok,
                                          "Range": "bytes=%d-" % len(whole)})
    try:
        urllib.request.urlopen(req, timeout=30)
        assert_that(False, "a range past the end was answered")
    except urllib.error.HTTPError as e:
        assert_that(e.code == 416 and e.headers["Content-Range"] == "bytes */%d" % len(whole),
                    "a range past the end: %d %s" % (e.code, e.headers["Content-Range"]))

    # a client that leaves half way; one that stalls (kept open to the node's stop)
    s = raw_get(n0, "/artifact/%s/content" % ids["mid"], tok)
    head, got = read_reply(s, limit=8 * MiB)
    assert_that(head.startswith("HTTP/1.1 200") and got >= 8 * MiB, "half a reply: %s" % head)
    s.close()
    stalled = raw_get(n0, "/artifact/%s/content" % ids["mid"], tok)
    # a collection under a reply in flight: the reply is cut short, never wrong
    cut = raw_get(n0, "/artifact/%s/content" % big_id, tok)
    time.sleep(0.5)
    status, un = n0.post("/artifact/unpin/" + big_id, b"", token=tok)
    assert_that(status == 200 and un == {"id": big_id, "pinned": False}, "unpin: %s %s" %
                (status, un))
    status, un = n0.post("/artifact/unpin/" + big_id, b"")
    assert_that(status == 401, "unpin without the cookie: %d" % status)
    status, gc = n0.post("/artifact/gc?keep_mb=0", b"", token=tok, timeout=120)
    assert_that(status == 200 and gc["artifacts_removed"] == 1 and
                gc["bytes_freed"] >= big_size * 99 // 100 and gc["chunks_pending"] == 0,
                "gc: %s %s" % (status, gc))
    head, got = read_reply(cut)
    cut.close()
    print("a reply under gc: %d of %d bytes, then closed" % (got, big_size), flush=True)
    assert_that(head.startswith("HTTP/1.1 200") and got < big_size,
                "a reply under gc: %s, %d bytes" % (head, got))
    status, body = n0.get_bytes("/artifact/%s/content" % big_id, token=tok)
    assert_that(status == 404, "content after gc: %d %s" % (status, body))
    lst = n0.get("/artifacts")
    assert_that(lst["total"] == 3 and big_id not in [e["id"] for e in lst["artifacts"]],
                "GET /artifacts after gc: %s" % lst)
    for q in ("keep_mb=x", "keep_mb=-1", "other=1", "keep_mb=1&keep_mb=2"):
        status, err = n0.post("/artifact/gc?" + q, b"", token=tok)
        assert_that(status == 400 and err["error"]["name"] == "IOLM_ERPC_BADQUERY",
                    "gc?%s: %s %s" % (q, status, err))
    status, err = n0.post("/artifact/pin/1e20" + "ab" * 32, b"", token=tok)
    assert_that(status == 404, "pin of an unknown artifact: %s %s" % (status, err))
    status, err = n0.post("/artifact/pin/" + big_id[:-2], b"", token=tok)
    assert_that(status == 400, "pin of a short id: %s %s" % (status, err))
    status, p = n0.post("/artifact/pin/" + ids["small"], b"", token=tok)
    assert_that(status == 200 and p["pinned"] is True, "pin: %s %s" % (status, p))

    # a peer fetches an artifact added through the RPC
    status, body = n1.post("/artifact/fetch/" + ids["small"], b"", token=n1.cookie())
    assert_that(status == 200, "fetch at node1: %s %s" % (status, body))
    net.wait("node1 fetching the small artifact",
             lambda: n1.get("/artifact/" + ids["small"]).get("state") == "done", 60)
    status, body = n1.get_bytes("/artifact/%s/content" % ids["small"], token=n1.cookie())
    with open(small, "rb") as f:
        assert_that(status == 200 and body == f.read(), "node1's copy: %d" % status)

    # node1 keeps 1 MiB (art_keep_mb): an artifact it unpins goes at once; what is
    # pinned stays, with a warning
    status, body = n1.post("/artifact/fetch/" + ids["mid"], b"", token=n1.cookie())
    assert_that(status == 200, "fetch of mid at node1: %s %s" % (status, body))
    net.wait("node1 fetching the 48 MiB artifact",
             lambda: n1.get("/artifact/" + ids["mid"]).get("state") == "done", 60)
    time.sleep(1)
    lst = n1.get("/artifacts")
    assert_that(lst["total"] == 2, "node1 keeps pinned artifacts past its budget: %s" % lst)
    status, un = n1.post("/artifact/unpin/" + ids["small"], b"", token=n1.cookie())
    assert_that(status == 200, "unpin at node1: %s %s" % (status, un))

    def collected():
        lst = n1.get("/artifacts")
        return lst["total"] == 1 and lst["artifacts"][0]["id"] == ids["mid"]
    net.wait("node1's collector dropping the unpinned artifact", collected, 30)

    def logged():
        with open(n1.log_path) as f:
            log = f.read()
        return "above art_keep_mb = 1," in log and "gc: 1 artifacts dropped" in log
    net.wait("node1's log of the collection and of the pinned rest", logged, 30)

    metrics = n0.get_text("/metrics")
    assert_that('iolm_rpc_requests_total{endpoint="artifact_admin"}' in metrics and
                'iolm_rpc_requests_total{endpoint="artifacts"}' in metrics,
                "the artifact endpoints in /metrics")
    gauges = dict(line.split() for line in metrics.splitlines()
                  if line.startswith(("iolm_artifacts", "iolm_artifact_unreferenced")))
    lst = n0.get("/artifacts")
    pinned = sum(1 for e in lst["artifacts"] if e["pinned"])
    assert_that(gauges.get("iolm_artifacts") == str(lst["total"]) and
                gauges.get("iolm_artifacts_pinned") == str(pinned) and
                gauges.get("iolm_artifact_unreferenced_chunks") ==
                str(lst["store"]["unreferenced"]), "artifact gauges %s, store %s" %
                (gauges, lst))
    # stopping with a reply in flight and an add waiting for another process's gc: the
    # add gives up (IOLM_EART_STOPPED) rather than hold the node's exit
    lockfd = os.open(os.path.join(n0.dir, "artifacts", "gc.lock"), os.O_RDWR)
    fcntl.flock(lockfd, fcntl.LOCK_EX)
    late = {}

    def late_add():
        try:
            late["r"] = add(again, timeout=30)
        except Exception as e:  # noqa: BLE001 - the node may close before it answers
            late["r"] = e
    t = threading.Thread(target=late_add)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = n0.stop()
    took = time.monotonic() - t0
    stalled.close()
    fcntl.flock(lockfd, fcntl.LOCK_UN)
    os.close(lockfd)
    t.join(30)
    print("node0 stopped in %.2f s with an add waiting: %s" % (took, late.get("r")), flush=True)
    assert_that(rc == 0, "node0 stopped with a reply in flight: exit %s" % rc)
    assert_that(took < 5, "node0 took %.1f s to stop with an add waiting" % took)
    # (the answer, 503 IOLM_EART_STOPPED, goes out only if the loop still runs to send
    # it; mostly the client sees the connection close)
    r = late.get("r")
    assert_that(isinstance(r, tuple) and (r[0] == 0 or (
                r[0] == 503 and r[1]["error"]["name"] == "IOLM_EART_STOPPED")),
                "the add cut short by the stop: %s" % (r,))


if __name__ == "__main__":
    sys.exit(run(test_artifacts_rpc))
