#!/usr/bin/env python3
"""The whole story through iolm-wallet (docs/wallet.md): keys in encrypted keystores, the
faucet funds a designer and a miner, the designer creates a task, the miner's work is
verified and accepted (a breakthrough), a model payment is split, and the wallet shows the
rewards of the miner, the designer and a validator. Every number the wallet prints equals
the node's state; a node that forges a balance is refused; the keystore refuses a wrong
passphrase and a tampered file; each failure has its exit code."""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.request

from framework import TestFailure, free_base_port, run
from test_mining import Env, corpus, mine, phase, wait_work, work_id_from_log

PASS = "correct horse battery staple"


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


class Wallet:
    def __init__(self, net, env):
        self.bin = os.path.join(os.path.dirname(os.path.dirname(net.iolmd)), "wallet",
                                "iolm-wallet")
        self.env = dict(os.environ, IOLM_WALLET_DIR=os.path.join(net.dir, "wallet"),
                        IOLM_GENESIS=os.path.join(env.n0.dir, "genesis.json"),
                        IOLM_NODE=env.rpc, IOLM_COOKIE=env.cookie,
                        IOLM_WALLET_PASSPHRASE=PASS)

    def run(self, *args, env=None, expect=0):
        out = subprocess.run([self.bin] + list(args), capture_output=True, text=True,
                             timeout=120, env=env or self.env)
        if expect is not None and out.returncode != expect:
            raise TestFailure("iolm-wallet %s: exit %d, wanted %d: %s%s" %
                              (" ".join(args), out.returncode, expect, out.stdout[-800:],
                               out.stderr[-800:]))
        return out

    def json(self, *args, **kw):
        return json.loads(self.run("--json", *args, **kw).stdout)


def forging_proxy(port, upstream, mode):
    """An RPC front that lies. About balances: `field` changes the plain balance only,
    `bytes` re-encodes the account record with another balance (so the plain field and
    the bytes agree, and only the proof can catch it). About tasks: `pool` changes a
    task's plain pool, `drop` leaves the last profit share out of a task's list (its
    count and sum adjusted), `credit` raises an account's plain profit share. About
    works: `bond` changes a work's plain bond."""
    class Lie(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            with urllib.request.urlopen("http://%s%s" % (upstream, self.path)) as r:
                body = r.read()
            a = json.loads(body)
            if self.path.startswith("/account/") and mode in ("field", "bytes"):
                a["balance"] = int(a["balance"]) + 1000000
                if mode == "bytes":
                    a["account_bytes"] = account_bytes(a["balance"], int(a["nonce"])).hex()
            elif self.path.startswith("/task/") and "/" not in self.path[6:] and mode == "pool":
                a["pool"] = int(a["pool"]) + 1
            elif self.path.endswith("/shares") and mode == "drop" and a["shares"]:
                gone = a["shares"].pop()
                a["count"] -= 1
                a["sum"] = int(a["sum"]) - int(gone["credit"])
            elif self.path.startswith("/shares/") and mode == "credit":
                a["credit"] = int(a["credit"]) + 1
            elif self.path.startswith("/work/") and mode == "bond":
                a["bond"] = int(a["bond"]) + 1
            body = json.dumps(a).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Lie)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def account_bytes(balance, nonce):
    """The Account record (proto/iolm.proto): fields 1 and 2, varints, zero omitted."""
    out = b""
    if balance:
        out += b"\x08" + varint(balance)
    if nonce:
        out += b"\x10" + varint(nonce)
    return out


def address_of_key(env, wallet, keyfile, name):
    return wallet.json("--name", name, "import", "--key-file", keyfile, "--fast-kdf")["address"]


def test_wallet(net):
    env = Env(net)
    env.train = os.path.join(net.dir, "train.txt")
    env.eval = os.path.join(net.dir, "eval.txt")
    corpus(env.train, env.eval)
    # node1 lets one download of artifact content at a time go without the cookie
    with open(os.path.join(net.nodes[1].dir, "node.conf"), "a") as f:
        f.write("rpc_public_downloads = 1\n")
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    w = Wallet(net, env)
    n0 = env.n0

    # keys: the faucet imported, a designer made fresh, the miner's plain key imported
    faucet = address_of_key(env, w, env.faucet, "faucet")
    designer = w.json("--name", "designer", "new", "--fast-kdf")["address"]
    assert_that(w.run("--name", "designer", "address").stdout.strip() == designer,
                "address differs from new's")
    mdir = os.path.join(net.dir, "minerkey")
    env.iolmd("init", "-d", mdir, "--genesis", os.path.join(n0.dir, "genesis.json"))
    miner = address_of_key(env, w, os.path.join(mdir, "node.key"), "miner")
    phase("keys")

    # transfers, waited for; balances proved and equal to the node's
    for to, amount in ((designer, 5000000), (miner, 1000000)):
        r = w.json("--name", "faucet", "send", "--to", to, "--amount", str(amount), "--wait")
        assert_that(r["committed"] and len(r["tx_id"]) == 64, "send: %s" % r)
    for who in (faucet, designer, miner):
        b = w.json("balance", who)
        a = n0.get("/account/" + who)
        assert_that(b["verified"] and b["balance"] == int(a["balance"]) and
                    b["nonce"] == int(a["nonce"]) and b["height"] >= 1,
                    "balance of %s: wallet %s, node %s" % (who, b, a["balance"]))
        assert_that(b["signed_power"] * 3 > b["total_power"] * 2, "not +2/3: %s" % b)
    human = w.run("--name", "designer", "balance").stdout
    assert_that("5,000,000 units" in human and "(verified)" in human,
                "human balance:\n" + human)
    phase("funded")

    # the task, created by the designer through the wallet
    ds = ev = None
    for n in net.nodes:
        ds = env.iolmd("art", "add", "-d", n.dir, env.train)
        ev = env.iolmd("art", "add", "-d", n.dir, env.eval)
    t = w.json("--name", "designer", "task", "create", "--dataset", ds, "--eval", ev,
               "--pool", "1000000", "--layers", "1", "--embd", "16", "--heads", "2",
               "--seq-len", "32", "--init-seed", "3", "--lr", "0.01", "--warmup", "2",
               "--total-steps", "1000", "--batch", "8", "--segment-len", "10",
               "--samples", "2", "--designer-share-bps", "2000", "--breakthrough-bps", "1000",
               "--bond-min", "100", "--margin-start-ppm", "0", "--margin-end-ppm", "0",
               "--task-name", "wallet-it", "--wait")
    task = t["task_id"]
    shown = w.json("task", "show", task)
    node_task = n0.get("/task/" + task)
    assert_that(shown["pool"] == node_task["pool"] == 1000000 and shown["verified"] and
                shown["params"]["name"] == "wallet-it" and shown["shares"] == [] and
                shown["shares_complete"], "task show %s" % shown)
    listed = w.json("task", "list")
    assert_that(any(x["id"] == task for x in listed["tasks"]), "task list %s" % listed)
    phase("task created")

    # the miner trains; its work is verified and accepted: a breakthrough
    base = free_base_port(2)
    out = os.path.join(net.dir, "run")
    m = mine(env, os.path.join(mdir, "node.key"), task, out, base, "none")
    try:
        wid = work_id_from_log(net, out + ".log", proc=m)
        work = wait_work(net, n0, wid, ("accepted", "rejected", "slashed"))
        assert_that(work["status_name"] == "accepted" and work["was_best"],
                    "work %s" % work["status_name"])
        # the task's best model, from its miner, checked against the work's checkpoint id
        # (without the cookie the wallet cannot read the node's copy)
        model = os.path.join(net.dir, "model.bin")
        bare = dict(w.env)
        del bare["IOLM_COOKIE"]
        got = w.json("model", "get", "--task", task, "--out", model, env=bare)
        ckpt = os.path.join(out, "run-0001", "ckpt-%08d.bin" % got["steps"])
        with open(model, "rb") as f, open(ckpt, "rb") as g:
            served = f.read()
            assert_that(got["work_id"] == wid and got["verified"] and
                        got["source"] == "miner" and got["bytes"] == len(served) and
                        served == g.read(), "model get: %s" % got)
        # the miner's server answers a range (a download resuming) with 206
        req = urllib.request.Request("%s/ckpt/%s/%d" % (got["endpoint"], wid, got["steps"]),
                                     headers={"Range": "bytes=1000-"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert_that(r.status == 206 and r.read() == served[1000:] and
                        r.headers["Content-Range"] == "bytes 1000-%d/%d" %
                        (len(served) - 1, len(served)), "a range of the miner's checkpoint")
    finally:
        m.terminate()
        m.wait()
    # the validators kept the checkpoint they verified, pinned once it was the best model
    def kept(node):
        arts = node.get("/artifacts")["artifacts"]
        return any(a["id"] == got["checkpoint_id"] and a["kind"] == "checkpoint" and
                   a["pinned"] for a in arts)
    for n in net.nodes:
        net.wait("node%d keeping the best model's checkpoint" % n.index,
                 lambda n=n: kept(n), 30)
    # the miner gone: the model from the node (with the cookie), the same bytes
    os.remove(model)
    again = w.json("model", "get", "--task", task, "--out", model)
    with open(model, "rb") as f:
        assert_that(again["source"] == "node" and f.read() == served,
                    "model get through the node: %s" % again)
    # a given work's model (accepted): the same file; both or neither of --task and
    # --work is a usage error
    one = os.path.join(net.dir, "one.bin")
    byw = w.json("model", "get", "--work", wid, "--out", one)
    with open(one, "rb") as f:
        assert_that(byw["work_id"] == wid and byw["task"] == task and f.read() == served,
                    "model get --work: %s" % byw)
    os.remove(one)
    w.run("model", "get", "--work", wid, "--task", task, "--out", one, expect=2)
    w.run("model", "get", "--out", one, expect=2)
    e = w.run("model", "get", "--work", "ab" * 32, "--out", one, expect=None)
    assert_that(e.returncode != 0 and not os.path.exists(one),
                "model get of an unknown work: %d %s" % (e.returncode, e.stderr))
    # a download cut before: the piece left in model.bin.unverified.part is resumed; a
    # piece of other bytes makes a file that does not check out, fetched again whole
    for piece in (served[:len(served) // 2], b"\x5a" * 1000):
        os.remove(model)
        with open(model + ".unverified.part", "wb") as f:
            f.write(piece)
        again = w.json("model", "get", "--task", task, "--out", model)
        with open(model, "rb") as f:
            assert_that(again["source"] == "node" and f.read() == served and
                        not os.path.exists(model + ".unverified.part"),
                        "model get after a %d-byte piece: %s" % (len(piece), again))
    # ... and without the cookie nothing to fetch: no model, and no file; then a server
    # in the miner's place with one byte changed: refused (exit 7), and no file either
    os.remove(model)
    e = w.run("model", "get", "--task", task, "--out", model, env=bare, expect=1)
    assert_that("it wants the RPC cookie" in e.stderr, "model get with no source: %s" %
                e.stderr)
    assert_that(not os.path.exists(model), "model get left a file with the miner gone")
    # ... but node1 allows a download without it (rpc_public_downloads = 1): one at a
    # time, a second meanwhile answered 503 IOLM_ERPC_DOWNLOADS; and writes still want it
    n1 = net.nodes[1]
    pub = dict(bare, IOLM_NODE="127.0.0.1:%d" % n1.rpc_port)
    again = w.json("model", "get", "--task", task, "--out", model, env=pub)
    with open(model, "rb") as f:
        assert_that(again["source"] == "node" and f.read() == served,
                    "model get through node1 without the cookie: %s" % again)
    os.remove(model)
    # a 24 MiB file: a reader that reads nothing holds its download (the loopback
    # socket's buffers take a few MiB)
    big = os.path.join(net.dir, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(24 << 20))
    status, added = n1.post("/artifact/add", json.dumps({"path": big}).encode(),
                            token=n1.cookie(), timeout=60)
    assert_that(status == 200, "add on node1: %s %s" % (status, added))
    url = n1.url("/artifact/%s/content" % added["id"])
    with open(big, "rb") as f:
        want = hashlib.sha256(f.read()).digest()
    held = urllib.request.urlopen(url, timeout=30)
    try:
        status, body = n1.get_bytes("/artifact/%s/content" % added["id"])
        assert_that(status == 503 and json.loads(body)["error"]["name"] ==
                    "IOLM_ERPC_DOWNLOADS", "a second download without the cookie: %s %s" %
                    (status, body[:200]))
        metrics = n1.get_text("/metrics")
        assert_that("iolm_rpc_public_downloads 1\n" in metrics and
                    "iolm_rpc_public_downloads_refused_total 1\n" in metrics,
                    "node1's download metrics:\n" +
                    "\n".join(l for l in metrics.splitlines() if "public" in l))
        # with the cookie it is not counted
        status, body = n1.get_bytes("/artifact/%s/content" % added["id"], token=n1.cookie())
        assert_that(status == 200 and hashlib.sha256(body).digest() == want,
                    "a download with the cookie meanwhile: %s" % status)
        assert_that(hashlib.sha256(held.read()).digest() == want,
                    "the download without the cookie")
    finally:
        held.close()
    def slot_free():
        status, body = n1.get_bytes("/artifact/%s/content" % added["id"])
        return status == 200 and hashlib.sha256(body).digest() == want
    net.wait("node1's download slot free again", slot_free, 10)
    status, _ = n1.post("/artifact/unpin/" + added["id"], b"")
    assert_that(status == 401, "unpin without the cookie on node1: %s" % status)

    class Forged(http.server.BaseHTTPRequestHandler):
        big = False

        def do_GET(self):  # noqa: N802 - http.server's name
            body = bytearray(served)
            body[len(body) // 2] ^= 1
            if Forged.big:  # 3 MiB, for a client that takes at most 1
                body = bytes(3 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(bytes(body))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client cut it off

        def log_message(self, *args):
            pass
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", base), Forged)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    def leftovers():
        return [f for f in os.listdir(net.dir) if f.startswith("model.bin")]
    try:
        e = w.run("model", "get", "--task", task, "--out", model, env=bare, expect=7)
        assert_that("IOLM_EWALLET_MODEL" in e.stderr or "not the one its work" in e.stderr,
                    "forged model: %s" % e.stderr)
        assert_that(not leftovers(), "a forged model was kept: %s" % leftovers())
        # more than --max-mb: cut off as it streams in, nothing kept
        Forged.big = True
        e = w.run("model", "get", "--task", task, "--out", model, "--max-mb", "1", env=bare,
                  expect=1)
        assert_that("larger than --max-mb" in e.stderr, "3 MiB with --max-mb 1: %s" % e.stderr)
        assert_that(not leftovers(), "a cut-off model was kept: %s" % leftovers())
    finally:
        fake.shutdown()
        fake.server_close()
    phase("work accepted, its model fetched and checked")

    # a model payment, split by the shares
    before = {a: int(n0.get("/rewards/" + a)["revenue"]) for a in (designer, miner)}
    w.json("--name", "faucet", "model", "pay", "--task", task, "--amount", "10000", "--wait")
    net.wait("revenue distributed",
             lambda: int(n0.get("/rewards/" + designer)["revenue"]) > before[designer], 30)
    phase("model paid")

    # rewards: every number the wallet shows is the node's
    validator = n0.status()["node_key"]
    vaddr = n0.get("/validators")["validators"][0]["address"]
    for who in (miner, designer, vaddr):
        r = w.json("rewards", who)
        node = n0.get("/rewards/" + who)
        for k in ("breakthrough", "revenue", "validator", "bonds_returned", "slashed"):
            assert_that(r[k] == int(node[k]), "rewards %s of %s: wallet %s, node %s" %
                        (k, who, r[k], node[k]))
        assert_that(r["verified"], "rewards not verified")
        hist = n0.get("/history/%s?limit=1000" % who)
        assert_that(r["totals"] == hist["totals"], "history totals %s vs %s" %
                    (r["totals"], hist["totals"]))
        assert_that(len(r["history"]) == len(hist["entries"]), "history length")
        for s in r["shares"]:
            node_s = n0.get("/shares/%s/%s" % (s["task_id"], who))
            assert_that(s["credit"] == int(node_s["credit"]), "share credit")
    mr = w.json("rewards", miner)
    assert_that(mr["breakthrough"] == 80000 and mr["bonds_returned"] == 500 and
                mr["revenue"] > 0 and mr["shares"] and mr["shares"][0]["credit"] == 20,
                "miner rewards %s" % mr)
    dr = w.json("rewards", designer)
    assert_that(dr["breakthrough"] == 20000 and dr["revenue"] >= 2000, "designer %s" % dr)
    vr = w.json("rewards", vaddr)
    assert_that(vr["validator"] > 0, "validator rewards %s" % vr)
    human = w.run("rewards", miner).stdout
    assert_that("80,000" in human and "breakthrough payouts" in human, "human rewards:\n" + human)
    shown = w.json("task", "show", task)
    assert_that([(x["address"], x["credit"]) for x in shown["shares"]] == [(miner, 20)] and
                shown["shares_complete"] and shown["total_credit"] == 20,
                "task show shares %s" % shown)
    human = w.run("task", "show", task).stdout
    assert_that("wallet-it" in human and "(verified)" in human and
                "complete: they add up" in human and miner in human, "human task:\n" + human)
    ws = w.json("works", miner)
    works = ws["works"]
    assert_that(ws["verified"] and len(works) == 1 and works[0]["work_id"] == wid and
                works[0]["status"] == "accepted" and
                works[0]["eval_loss"] == int(work["commit"]["eval_loss"]), "works %s" % works)
    phase("rewards shown")

    # a lying node is refused, whether it lies in the plain field or in the bytes
    ports = free_base_port(6)
    for i, mode in enumerate(("field", "bytes")):
        srv = forging_proxy(ports + i, env.rpc, mode)
        try:
            e = dict(w.env, IOLM_NODE="127.0.0.1:%d" % (ports + i))
            out = w.run("balance", designer, env=e, expect=7)
            assert_that("verif" in out.stderr or "proof" in out.stderr,
                        "forged (%s) refused without a reason: %s" % (mode, out.stderr))
            # and a send through it is refused before anything is signed
            w.run("--name", "designer", "send", "--to", miner, "--amount", "1", env=e,
                  expect=7)
        finally:
            srv.shutdown()
    # a lying node's task, profit shares and share credit are refused too
    for i, (mode, args) in enumerate((("pool", ("task", "show", task)),
                                      ("drop", ("task", "show", task)),
                                      ("credit", ("rewards", miner)),
                                      ("bond", ("works", miner)))):
        srv = forging_proxy(ports + 2 + i, env.rpc, mode)
        try:
            e = dict(w.env, IOLM_NODE="127.0.0.1:%d" % (ports + 2 + i))
            out = w.run(*args, env=e, expect=7)
            assert_that(("left some out" if mode == "drop" else "differ") in out.stderr,
                        "forged %s refused without its reason: %s" % (mode, out.stderr))
        finally:
            srv.shutdown()
    phase("forged balances, tasks, shares and works refused")

    # the keystore and the other exit codes
    bad = dict(w.env, IOLM_WALLET_PASSPHRASE="wrong")
    w.run("--name", "designer", "send", "--to", miner, "--amount", "1", env=bad, expect=4)
    ks = os.path.join(w.env["IOLM_WALLET_DIR"], "designer.keystore")
    data = bytearray(open(ks, "rb").read())
    for pos in (5, len(data) // 2, len(data) - 3):
        tampered = os.path.join(net.dir, "tampered.keystore")
        d = bytearray(data)
        d[pos] ^= 0x01
        with open(tampered, "wb") as f:
            f.write(d)
        os.chmod(tampered, 0o600)
        w.run("--keystore", tampered, "send", "--to", miner, "--amount", "1", expect=8)
        os.unlink(tampered)
    w.run("--name", "designer", "send", "--to", miner, "--amount", "999999999999", expect=5)
    w.run("--name", "designer", "send", "--to", miner, "--amount", "1", "--fee", "0", expect=6)
    w.run("balance", designer, env=dict(w.env, IOLM_NODE="127.0.0.1:1"), expect=3)
    w.run("--name", "nobody", "send", "--to", miner, "--amount", "1", expect=8)
    w.run("frobnicate", expect=2)
    assert_that(validator, "status without node key")


if __name__ == "__main__":
    sys.exit(run(test_wallet))
