#!/usr/bin/env python3
"""Hostile input to a running network: garbage, truncated, oversized and replayed P2P
frames, and malformed HTTP and JSON to the RPC. Every node keeps running and committing,
and says in its log what it refused."""
import os
import socket
import struct
import sys
import time

from framework import TestFailure, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def send_raw(port, data, read=False, wait=0.3):
    """Connect, send data, optionally read what comes back, close."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        if read:
            s.settimeout(2)
            try:
                got = s.recv(4096)
            except OSError:
                pass
        try:
            s.sendall(data)
        except OSError:
            pass  # the node may close first: that is the point
        time.sleep(wait)
    return got


def test_hostile(net):
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    n0 = net.nodes[0]
    p2p = net.base  # node0's P2P port

    # P2P: random garbage, a length prefix past every cap, a truncated Hello
    send_raw(p2p, os.urandom(4096))
    send_raw(p2p, struct.pack(">I", 0xFFFFFFFF) + b"x" * 64)
    send_raw(p2p, struct.pack(">I", 500) + b"\x08\x01\x12")
    # replay: hand the node its own Hello back, then garbage where the Auth frame goes
    hello = send_raw(p2p, b"", read=True, wait=0)
    if hello:
        send_raw(p2p, hello + struct.pack(">I", 80) + os.urandom(80))
    # a zero-length frame and a flood of tiny ones
    send_raw(p2p, struct.pack(">I", 0) * 1000)

    # RPC: not HTTP, a huge header, a long URI, bad methods, bad ids, bad bodies
    rpc = n0.rpc_port
    send_raw(rpc, b"GARBAGE\r\n\r\n")
    send_raw(rpc, b"GET /status HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n")
    send_raw(rpc, b"GET /" + b"b" * 20000 + b" HTTP/1.1\r\n\r\n")
    send_raw(rpc, b"POST /tx HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nshort")
    for path in ["/block/-1", "/block/zz", "/tx/123", "/account/iolm1bad", "/../../etc/passwd",
                 "/block/99999999999999999999999"]:
        try:
            n0.get(path)
        except Exception:  # noqa: BLE001 - an HTTP error is the expected answer
            pass
    status, body = n0.post("/tx", b"{\"not\": \"a tx\"}", token=n0.cookie())
    assert_that(status == 400, "JSON body as tx: %s" % status)
    status, body = n0.post("/tx", b"0a" * 200000, token=n0.cookie())
    assert_that(status == 413, "oversized body: %s" % status)

    # every node still runs and commits
    h = n0.height()
    net.wait("progress after the abuse", lambda: all(n.height() >= h + 2 for n in net.nodes), 30)
    for n in net.nodes:
        assert_that(n.proc.poll() is None, "node%d died" % n.index)
    with open(n0.log_path, errors="replace") as f:
        log = f.read()
    assert_that("misbehaved" in log,
          "node0's log does not mention the refused P2P input")


if __name__ == "__main__":
    sys.exit(run(test_hostile))
