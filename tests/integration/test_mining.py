#!/usr/bin/env python3
"""Joint mining on a real network (docs/economics.md): the task's data sets are added to
one node only, which serves them slowly; the other validators fetch them over P2P when
the task is committed and wait for them to judge the first work; an honest miner's work
is verified by the validators, accepted and rewarded; a second miner extending it shares the profit
along the lineage; a model payment is split exactly as the economics say; a cheater —
one faked segment, or a better eval loss than it has — is rejected and slashed."""
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from framework import TestFailure, free_base_port, run


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def corpus(path_train, path_eval):
    """A deterministic text corpus (no data set download): sentences from a fixed
    vocabulary, so a tiny model learns something in a few dozen steps."""
    rnd = random.Random(7)
    words = ("the model learns to predict the next byte of text while miners train and "
             "validators verify each sampled segment of work on the chain").split()
    lines = []
    for _ in range(1500):
        lines.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(4, 12))) + ".\n")
    text = "".join(lines).encode()
    cut = len(text) * 9 // 10
    with open(path_train, "wb") as f:
        f.write(text[:cut])
    with open(path_eval, "wb") as f:
        f.write(text[cut:])


class Env:
    def __init__(self, net):
        self.net = net
        self.n0 = net.nodes[0]
        self.rpc = "127.0.0.1:%d" % self.n0.rpc_port
        self.cookie = os.path.join(self.n0.dir, "rpc.cookie")
        self.faucet = os.path.join(net.dir, "faucet.key")
        self.miner = os.path.join(os.path.dirname(net.iolmd), "iolm-miner")

    def iolmd(self, *args, timeout=120):
        out = subprocess.run([self.net.iolmd] + list(args), capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise TestFailure("iolmd %s failed: %s" % (" ".join(args[:2]), out.stderr[-500:]))
        return out.stdout.strip()

    def tx(self, key, *args):
        return self.iolmd("tx", *args, "--rpc", self.rpc, "--cookie", self.cookie, "--key", key,
                          "--wait").splitlines()[-1]

    def tx_refused(self, key, *args):
        """Submit a transaction the node must refuse at once; the node's answer."""
        out = subprocess.run([self.net.iolmd, "tx", *args, "--rpc", self.rpc, "--cookie",
                              self.cookie, "--key", key], capture_output=True, text=True,
                             timeout=60)
        if out.returncode == 0:
            raise TestFailure("iolmd tx %s was accepted: %s" % (args[0], out.stdout))
        return out.stderr

    def new_key(self, name):
        d = os.path.join(self.net.dir, name)
        genesis = os.path.join(self.n0.dir, "genesis.json")
        out = self.iolmd("init", "-d", d, "--genesis", genesis)
        pub = re.search(r"pubkey\): ([0-9a-f]{64})", out).group(1)
        addr = address_of(bytes.fromhex(pub))
        self.tx(self.faucet, "transfer", "--to", addr, "--amount", "10000000")
        return os.path.join(d, "node.key"), addr


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def address_of(pub):
    """iolm address of an x-only key: bech32m("iolm", BLAKE2b-160 personalized
    "iolm.addr") -- written out here so the test checks the rule independently."""
    h = hashlib.blake2b(pub, digest_size=20, person=b"iolm.addr").digest()
    acc, bits, data = 0, 0, []
    for b in h:
        acc, bits = acc << 8 | b, bits + 8
        while bits >= 5:
            bits -= 5
            data.append(acc >> bits & 31)
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in [ord(c) >> 5 for c in "iolm"] + [0] + [ord(c) & 31 for c in "iolm"] + data + [0] * 6:
        top = chk >> 25
        chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if top >> i & 1 else 0
    chk ^= 0x2bc830a3
    return "iolm1" + "".join(BECH32[d] for d in data + [(chk >> 5 * (5 - i)) & 31 for i in range(6)])


def create_task(env, ds, ev):
    """These tests' task over data sets ds and ev, created by a new designer: (task id,
    the designer's key file, its address)."""
    taskfile = os.path.join(env.net.dir, "task.conf")
    # Batches big enough that 60 more steps beat 20 whatever the task id (which seeds the
    # sampling): eval loss ~2.92 after 20 steps, 2.36-2.52 after 80 over five task ids.
    # With 2 x 16 bytes per step the loss sat on a plateau and the extension could lose.
    with open(taskfile, "w") as f:
        f.write("n_layer = 1\nn_embd = 16\nn_head = 2\nseq_len = 32\ninit_seed = 3\n"
                "lr = 0.01\nwarmup_steps = 2\ntotal_steps = 1000\nbatch_size = 8\n"
                "segment_len = 10\nsamples = 2\n")
    key, addr = env.new_key("designer")
    task = env.tx(key, "task-create", "--task-file", taskfile, "--dataset", ds, "--eval", ev,
                  "--pool", "1000000", "--designer-share-bps", "2000", "--breakthrough-bps",
                  "1000", "--bond-min", "100", "--name", "it", "--margin-start-ppm", "0",
                  "--margin-end-ppm", "0")
    return task, key, addr


def wait_work(net, node, wid, statuses, timeout=180):
    got = {}

    def done():
        try:
            w = node.get("/work/" + wid)
        except Exception:  # noqa: BLE001 - not committed yet
            return False
        got.update(w)
        return w["status_name"] in statuses
    net.wait("work %s in %s" % (wid[:12], statuses), done, timeout)
    return got


def mine(env, key, task, out, listen_port, parent, steps=20, extra=(), local_data=True):
    """An iolm-miner mine process; without local_data it takes the task's data sets from
    its node (GET /artifact/{id}/content) instead of --data and --eval."""
    log = open(out + ".log", "w")
    data = ["--data", env.train, "--eval", env.eval] if local_data else []
    p = subprocess.Popen([env.miner, "mine", "--node", env.rpc, "--cookie", env.cookie,
                          "--key", key, "--task", task] + data +
                         ["--steps", str(steps), "--listen", "127.0.0.1:%d" % listen_port,
                          "--out", out, "--parent", parent, "--bond", "500", "--device", "cpu",
                          "--threads", "1"] + list(extra), stdout=log, stderr=subprocess.STDOUT)
    return p


def work_id_from_log(net, path, timeout=180, proc=None):
    """The work id the miner writing path committed; a miner (proc) that exits before
    it says one fails the test at once, with its log's end."""
    box = {}

    def found():
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            return False
        m = re.search(r"work ([0-9a-f]{64})", text)
        if m:
            box["id"] = m.group(1)
        elif proc is not None and proc.poll() is not None:
            raise TestFailure("the miner exited (status %d) before committing a work:\n%s" %
                              (proc.returncode, text[-1500:]))
        return bool(m)
    net.wait("the miner's work id in %s" % path, found, timeout)
    return box["id"]


def rewards(node, addr):
    return node.get("/rewards/" + addr)


class Replay(http.server.BaseHTTPRequestHandler):
    """Serves an honest run's claim and checkpoints for any work id, optionally with one
    checkpoint corrupted: a cheater's endpoint."""
    run_dir = None
    corrupt_step = None

    def do_GET(self):  # noqa: N802 - http.server's name
        m = re.fullmatch(r"/claim/[0-9a-f]{64}", self.path)
        n = re.fullmatch(r"/ckpt/[0-9a-f]{64}/(\d+)", self.path)
        if m:
            path = os.path.join(self.run_dir, "claim.bin")
        elif n:
            path = os.path.join(self.run_dir, "ckpt-%08d.bin" % int(n.group(1)))
        else:
            self.send_error(404)
            return
        try:
            data = bytearray(open(path, "rb").read())
        except OSError:
            self.send_error(404)
            return
        if n and self.corrupt_step is not None and int(n.group(1)) == self.corrupt_step:
            data[len(data) // 2] ^= 0x40
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(bytes(data))

    def log_message(self, *args):
        pass


T0 = time.monotonic()


def phase(what):
    print("[%6.1fs] %s" % (time.monotonic() - T0, what), flush=True)


def slow_data_env(net):
    """The Env of these tests, its corpus written; node0 (which will hold the data sets)
    serves artifacts at 16 KiB/s, so the other validators are still fetching the data
    sets (about 90 KB each) when the first work is committed, and wait for them."""
    env = Env(net)
    env.train = os.path.join(net.dir, "train.txt")
    env.eval = os.path.join(net.dir, "eval.txt")
    corpus(env.train, env.eval)
    with open(os.path.join(env.n0.dir, "node.conf"), "a") as f:
        f.write("art_global_kib_s = 16\n")
    return env


def test_mining(net):
    env = slow_data_env(net)
    # node3 keeps no checkpoint of the works it verifies (the others do, by default)
    n3 = net.nodes[3]
    with open(os.path.join(n3.dir, "node.conf"), "a") as f:
        f.write("art_keep_checkpoints = off\n")
    # what a verification stopped by a crash leaves in a validator's scratch folder goes
    # at start (a checkpoint can be large), and so do the data sets' copies that earlier
    # versions extracted there (the verifier reads them from the store)
    stale = os.path.join(net.nodes[1].dir, "verify", "ab" * 32)
    cache = os.path.join(net.nodes[1].dir, "verify", "data", "1e20" + "cd" * 32)
    os.makedirs(stale)
    os.makedirs(cache)
    for path in (os.path.join(stale, "ckpt-00000010.bin"), os.path.join(cache, "train.txt")):
        with open(path, "wb") as f:
            f.write(bytes(4096))
    # the list of what a validator keeps had another name in earlier versions: taken over
    legacy = os.path.join(net.nodes[2].dir, "kept-checkpoints")
    with open(legacy, "w") as f:
        f.write("iolm-kept 1\n")
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    assert_that(os.listdir(os.path.dirname(stale)) == [],
                "node1's verify folder after start: %s" %
                os.listdir(os.path.dirname(stale)))
    assert_that(not os.path.exists(legacy) and
                os.path.exists(os.path.join(net.nodes[2].dir, "kept")),
                "node2's kept-checkpoints not renamed kept")

    phase("network up")
    # the data sets, in node0's artifact store only: the other validators fetch them over
    # P2P when the task naming them is committed
    ds = env.iolmd("art", "add", "-d", env.n0.dir, env.train)
    ev = env.iolmd("art", "add", "-d", env.n0.dir, env.eval)
    task, _, designer = create_task(env, ds, ev)
    d0 = rewards(env.n0, designer)

    phase("task created")
    # 1. an honest miner: verified, accepted, the first best; paid
    k1, a1 = env.new_key("miner1")
    base = free_base_port(4)
    # ... though not with an endpoint no validator would read: refused before training
    out0 = os.path.join(net.dir, "run0")
    m0 = mine(env, k1, task, out0, base, "none",
              extra=("--endpoint", "http://127.0.0.1:%d/claim" % base))
    try:
        rc = m0.wait(timeout=60)
    finally:
        m0.kill()
    with open(out0 + ".log") as f:
        said = f.read()
    assert_that(rc != 0 and "the endpoint must be http://HOST:PORT" in said and
                "committed" not in said, "a malformed --endpoint: exit %s, %s" %
                (rc, said[-600:]))
    out1 = os.path.join(net.dir, "run1")
    m1 = mine(env, k1, task, out1, base, "none", local_data=False)
    try:
        w1 = work_id_from_log(net, out1 + ".log", proc=m1)
        # its data sets came from the node, byte for byte
        for name, path in (("dataset", env.train), ("eval", env.eval)):
            with open(out1 + ".log") as f:
                got = re.search(r"%s set from the node: (\S+)" % name, f.read())
            assert_that(got is not None, "miner 1 took its %s set from the node" % name)
            with open(got.group(1), "rb") as a, open(path, "rb") as b:
                assert_that(a.read() == b.read(), "the %s set from the node differs" % name)
        w = wait_work(net, env.n0, w1, ("accepted", "rejected", "slashed"))
        assert_that(w["status_name"] == "accepted", "honest work %s" % w["status_name"])
        assert_that(w["was_best"], "first accepted work is not the best")
        r1 = rewards(env.n0, a1)
        assert_that(r1["breakthrough"] == 80000 and r1["bonds_returned"] == 500,
              "miner 1 rewards %s" % r1)
        assert_that(rewards(env.n0, designer)["breakthrough"] - d0["breakthrough"] == 20000,
              "designer share of the first breakthrough")
        # the other validators judged the work once they had the data sets (two of them
        # and node0 are a quorum); all three fetch them whole over P2P
        waited = [n.index for n in net.nodes[1:]
                  if "waiting for the task's data sets" in open(n.log_path).read()]
        assert_that(waited, "no validator waited for the data sets")

        def fetched(node):
            return all(node.get("/artifact/" + art).get("state") == "done" for art in (ds, ev))
        for n in net.nodes[1:]:
            net.wait("node%d fetching the data sets" % n.index, lambda n=n: fetched(n), 60)

        phase("first work accepted")
        # the validators keep the checkpoint they verified, pinned: it is the best model
        ckpt1 = w["commit"]["checkpoint_id"]

        def holds(node):
            return [a["pinned"] for a in node.get("/artifacts")["artifacts"]
                    if a["id"] == ckpt1 and a["kind"] == "checkpoint"]
        for n in net.nodes[:3]:
            net.wait("node%d keeping work 1's checkpoint" % n.index, lambda n=n: holds(n) == [True],
                     30)
        assert_that(holds(n3) == [], "node3 kept a checkpoint with art_keep_checkpoints off")
        # miner 1 stops serving: the next miner gets its checkpoint through node3, which
        # fetches it from its peers over P2P
        m1.terminate()
        m1.wait()
        phase("first checkpoint kept by the validators; its miner gone")
        # 2. a second miner extends it: a breakthrough along the lineage, shared
        k2, a2 = env.new_key("miner2")
        out2 = os.path.join(net.dir, "run2")
        # a piece an earlier try left, of other bytes: resumed, found wrong, fetched whole
        piece_dir = os.path.join(out2, "parent-" + w1, ckpt1)
        os.makedirs(piece_dir)
        with open(os.path.join(piece_dir, "ckpt-%08d.bin.part" % 20), "wb") as f:
            f.write(b"\x5a" * 1000)
        env.rpc, rpc0 = "127.0.0.1:%d" % n3.rpc_port, env.rpc
        env.cookie, cookie0 = os.path.join(n3.dir, "rpc.cookie"), env.cookie
        try:
            m2 = mine(env, k2, task, out2, base + 1, w1, steps=60)
        finally:
            env.rpc, env.cookie = rpc0, cookie0
        try:
            w2 = work_id_from_log(net, out2 + ".log", proc=m2)
            with open(out2 + ".log") as f:
                log2 = f.read()
            assert_that("the parent's checkpoint from the node" in log2 and
                        "through the node (resuming)" in log2 and
                        not os.path.exists(piece_dir),
                        "miner 2 did not take the parent's checkpoint through its node")
            assert_that(holds(n3) == [True], "node3 does not hold the fetched checkpoint")
            w = wait_work(net, env.n0, w2, ("accepted", "rejected", "slashed"))
            assert_that(w["status_name"] == "accepted", "extending work %s" % w["status_name"])
            first = env.n0.get("/work/" + w1)["commit"]["eval_loss"]
            assert_that(w["was_best"], "the extending work (eval loss %s) did not beat the first (%s)"
                  % (w["commit"]["eval_loss"], first))
            shares = env.n0.get("/task/%s/shares" % task)
            credit = {s["address"]: s["credit"] for s in shares["shares"]}
            assert_that(credit.get(a1) == 20 and credit.get(a2) == 60,
                  "shares along the lineage: %s" % credit)

            phase("second work accepted")
            # 3. a model payment, split exactly: 20% designer, the rest by shares
            before = {a: rewards(env.n0, a)["revenue"] for a in (designer, a1, a2)}
            payer_key, _ = env.new_key("payer")
            env.tx(payer_key, "model-pay", "--task", task, "--amount", "10001")
            net.wait("revenue distributed",
                     lambda: rewards(env.n0, designer)["revenue"] > before[designer], 30)
            got = {a: rewards(env.n0, a)["revenue"] - before[a] for a in (designer, a1, a2)}
            dshare = 10001 * 2000 // 10000
            s1 = (10001 - dshare) * 20 // 80
            s2 = (10001 - dshare) * 60 // 80
            rem = 10001 - dshare - s1 - s2
            assert_that(got == {designer: dshare + rem, a1: s1, a2: s2}, "revenue split %s" % got)
        finally:
            m2.terminate()
            m2.wait()

        phase("revenue split")
        # 4. cheaters, replaying miner 1's honest run from their own endpoint
        commit = env.n0.get("/work/" + w1)["commit"]
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", base + 2), Replay)
        Replay.run_dir = out1 if os.path.isdir(out1) and os.path.exists(
            os.path.join(out1, "claim.bin")) else next(
            os.path.join(out1, d) for d in os.listdir(out1)
            if os.path.exists(os.path.join(out1, d, "claim.bin")))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            kc, ac = env.new_key("cheater")

            def commit_args(start=0, bond=700):
                return ["--task", task, "--start", str(start), "--steps", str(commit["steps"]),
                        "--proof-root", commit["proof_root"], "--final-state",
                        commit["final_state"], "--checkpoint", commit["checkpoint_id"],
                        "--bond", str(bond), "--endpoint", "http://127.0.0.1:%d" % (base + 2)]
            common = commit_args()
            # what no block would take is refused at submission with the rule it broke
            # (it used to wait in the mempool for good)
            err = env.tx_refused(kc, "work-commit", *commit_args(bond=99), "--eval-loss", "1")
            assert_that("IOLM_ELEDGER_BOND" in err, "bond below the minimum: %s" % err)
            err = env.tx_refused(kc, "model-pay", "--task", "ab" * 32, "--amount", "5")
            assert_that("IOLM_ELEDGER_NOTASK" in err, "a task nobody created: %s" % err)
            # a better eval loss than it has
            cheat1 = env.tx(kc, "work-commit", *common, "--eval-loss",
                            str(commit["eval_loss"] // 2))
            w = wait_work(net, env.n0, cheat1, ("accepted", "rejected", "slashed"))
            assert_that(w["status_name"] == "slashed", "lying eval loss %s" % w["status_name"])
            # extending the slashed work, through another node (once it has the verdict)
            wait_work(net, net.nodes[1], cheat1, ("slashed",), timeout=30)
            env.rpc, rpc0 = "127.0.0.1:%d" % net.nodes[1].rpc_port, env.rpc
            env.cookie, cookie0 = os.path.join(net.nodes[1].dir, "rpc.cookie"), env.cookie
            try:
                err = env.tx_refused(kc, "work-commit", *commit_args(start=commit["steps"]),
                                     "--parent", cheat1, "--eval-loss", "1")
            finally:
                env.rpc, env.cookie = rpc0, cookie0
            assert_that("IOLM_ELEDGER_PARENT" in err, "a slashed parent: %s" % err)
            # the wallet fetches no model for it: no validator verified one
            model = os.path.join(net.dir, "slashed.bin")
            wenv = dict(os.environ, IOLM_GENESIS=os.path.join(env.n0.dir, "genesis.json"),
                        IOLM_NODE=env.rpc, IOLM_COOKIE=env.cookie,
                        IOLM_WALLET_DIR=os.path.join(net.dir, "wallet"))
            wbin = os.path.join(os.path.dirname(os.path.dirname(net.iolmd)), "wallet",
                                "iolm-wallet")
            out = subprocess.run([wbin, "--json", "model", "get", "--work", cheat1, "--out",
                                  model], capture_output=True, text=True, timeout=60, env=wenv)
            said = json.loads(out.stdout or "{}").get("error", {})
            assert_that(out.returncode == 1 and said.get("name") == "IOLM_ESTATE" and
                        "is slashed, not accepted" in said.get("detail", "") and
                        not os.path.exists(model) and
                        not any(f.startswith("slashed.bin") for f in os.listdir(net.dir)),
                        "model get --work of a slashed work: %d %s %s" %
                        (out.returncode, out.stdout, out.stderr))
            phase("lying eval loss slashed")
            # one faked segment: the second segment's start checkpoint is corrupted
            Replay.corrupt_step = 10
            cheat2 = env.tx(kc, "work-commit", *common, "--eval-loss", str(commit["eval_loss"]))
            w = wait_work(net, env.n0, cheat2, ("accepted", "rejected", "slashed"))
            assert_that(w["status_name"] == "slashed", "faked segment %s" % w["status_name"])
            assert_that(rewards(env.n0, ac)["slashed"] == 1400, "bonds burned")
            phase("faked segment slashed")
            # every segment and the eval loss check out, but the committed checkpoint id
            # is not the final checkpoint's: what model users fetch would never verify
            Replay.corrupt_step = None
            wrong = commit_args()
            wrong[wrong.index("--checkpoint") + 1] = "1e20" + "cd" * 32
            cheat3 = env.tx(kc, "work-commit", *wrong, "--eval-loss", str(commit["eval_loss"]))
            w = wait_work(net, env.n0, cheat3, ("accepted", "rejected", "slashed"))
            assert_that(w["status_name"] == "slashed", "wrong checkpoint id %s" % w["status_name"])
            assert_that(rewards(env.n0, ac)["slashed"] == 2100, "bonds burned")
            said = "final checkpoint's artifact id differs from the committed checkpoint id"
            assert_that(any(said in open(n.log_path).read() for n in net.nodes),
                        "no validator gave the checkpoint id as the reason")
            phase("wrong checkpoint id slashed")
        finally:
            srv.shutdown()
    finally:
        m1.terminate()
        m1.wait()

    # 4b. a miner killed with SIGKILL part way through its training: started again the
    # same way, it goes on from its run's progress log, and the work is accepted
    k4, _ = env.new_key("miner4")
    out4 = os.path.join(net.dir, "run4")
    log4 = os.path.join(out4, "run-0001", "progress.log")

    def segments_logged():
        try:
            with open(log4) as f:
                return sum(1 for line in f if line.startswith("seg ") and line.endswith("\n"))
        except FileNotFoundError:
            return 0
    m4 = mine(env, k4, task, out4, base + 3, "none", steps=1000)
    try:
        net.wait("miner 4 logging 5 segments",
                 lambda: segments_logged() >= 5 or m4.poll() is not None, 120)
    finally:
        m4.send_signal(signal.SIGKILL)
        m4.wait()
    done = segments_logged()
    assert_that(5 <= done < 100 and
                not os.path.exists(os.path.join(out4, "run-0001", "claim.bin")),
                "miner 4 was not stopped part way: %d segments logged" % done)
    os.rename(out4 + ".log", out4 + "-killed.log")
    m4 = mine(env, k4, task, out4, base + 3, "none", steps=1000)
    try:
        w4 = work_id_from_log(net, out4 + ".log", proc=m4)
        with open(out4 + ".log") as f:
            log = f.read()
        resumed = re.search(r"resumed: (\d+) of 1000 steps were done before", log)
        assert_that(resumed and 10 * done <= int(resumed.group(1)) < 1000 and
                    "run-0001 (a stopped run's" in log and
                    not os.path.exists(os.path.join(out4, "run-0002")),
                    "miner 4 did not resume its run:\n" + log[-1500:])
        w = wait_work(net, env.n0, w4, ("accepted", "rejected", "slashed"))
        assert_that(w["status_name"] == "accepted", "resumed work %s" % w["status_name"])
    finally:
        m4.terminate()
        m4.wait()
    # a stopped run of another round (its run.txt says other steps) is left as it was: the
    # miner trains into a new directory
    other = os.path.join(out4, "run-0002")
    os.makedirs(other)
    for name, text in (("run.txt", "parent none\nsteps 7\n"), ("progress.log", "x\n")):
        with open(os.path.join(other, name), "w") as f:
            f.write(text)
    def start_then_kill(said, new_run, old_log, check=None):
        """Start miner 4 again; once its log says `said` and it made new_run, run check
        (if any), then kill it."""
        os.rename(out4 + ".log", out4 + old_log)
        p = mine(env, k4, task, out4, base + 3, "none", steps=1000)

        def seen():
            with open(out4 + ".log") as f:
                return said in f.read()
        try:
            net.wait("miner 4 saying: " + said,
                     lambda: (seen() and os.path.isdir(os.path.join(out4, new_run))) or
                     p.poll() is not None, 60)
            assert_that(seen() and os.path.isdir(os.path.join(out4, new_run)),
                        "miner 4 did not say %r and train into %s" % (said, new_run))
            if check:
                check()
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
    # ... and, started again, it serves the work its earlier run committed (validators
    # verifying it, or miners extending it, still need it)
    def serves_w4():
        with open(out4 + ".log") as f:
            log = f.read()
        assert_that("serving 1 works committed by earlier runs" in log,
                    "miner 4 restarted without its earlier work:\n" + log[-800:])
        with urllib.request.urlopen("http://127.0.0.1:%d/claim/%s" % (base + 3, w4),
                                    timeout=10) as r:
            with open(os.path.join(out4, "run-0001", "claim.bin"), "rb") as f:
                assert_that(r.status == 200 and r.read() == f.read(),
                            "the restarted miner serves another claim for its work")
    start_then_kill("run-0002 is a stopped run of another parent or --steps", "run-0003",
                    "-resumed.log", serves_w4)
    with open(os.path.join(other, "progress.log")) as f:
        assert_that(f.read() == "x\n" and sorted(os.listdir(other)) ==
                    ["progress.log", "run.txt"], "the other stopped run was touched")
    # a run stopped while its commit was on the way is not resumed (the same claim must
    # not go twice)
    for name in ("committing", "progress.log"):  # the log: however far the kill let it
        with open(os.path.join(out4, "run-0003", name), "a"):
            pass
    start_then_kill("run-0003 was being committed when the miner stopped", "run-0004",
                    "-other.log")
    phase("a killed miner resumed its run; the work accepted")

    # 5. a miner keeping one run (--keep-runs 1): three rounds from scratch along its own
    # lineage; once the second is decided the first run's directory goes (it is not the
    # task's best: miner 2's 80 steps beat its 30), the newest stay
    k3, _ = env.new_key("miner3")
    out3 = os.path.join(net.dir, "run3")
    m3 = mine(env, k3, task, out3, base + 3, "none", steps=30,
              extra=("--rounds", "3", "--keep-runs", "1", "--follow", "2"))
    try:
        assert_that(m3.wait(timeout=240) == 0, "miner 3 failed: see run3.log")
    except subprocess.TimeoutExpired:
        m3.kill()
        m3.wait()
        raise TestFailure("miner 3 did not finish three rounds in 240 s")
    with open(out3 + ".log") as f:
        log3 = f.read()
    works3 = re.findall(r"work ([0-9a-f]{64}) committed", log3)
    assert_that(len(works3) == 3, "miner 3 committed %d works" % len(works3))
    assert_that(env.n0.get("/task/" + task)["best_work"] != works3[0],
                "miner 3's first work became the best")
    assert_that(not os.path.exists(os.path.join(out3, "run-0001")) and
                os.path.isdir(os.path.join(out3, "run-0002")) and
                os.path.isfile(os.path.join(out3, "run-0003", "claim.bin")),
                "miner 3's runs after --keep-runs 1: %s" % sorted(os.listdir(out3)))
    assert_that("deleted 1 runs and 0 fetched parent checkpoints" in log3,
                "no pruning line in run3.log")
    phase("--keep-runs 1: the first run deleted")
    # the validators keep one checkpoint for the task, its best model's, pinned: the
    # first work's was released when the second beat it, miner 3's (never the best)
    # removed once decided; what they hold is listed in DIR/kept for a restart, with the
    # data sets they fetched for the task (node0 had them added: not its list's)
    best = env.n0.get("/task/" + task)["best_work"]
    best_ckpt = env.n0.get("/work/" + best)["commit"]["checkpoint_id"]
    task_data = sorted("data %s %s 0" % (task, a) for a in (ds, ev))  # no deadline

    def checkpoints(node):
        return [(a["id"], a["pinned"]) for a in node.get("/artifacts")["artifacts"]
                if a["kind"] == "checkpoint"]
    for n in net.nodes[:3]:
        net.wait("node%d holding the best model's checkpoint alone" % n.index,
                 lambda n=n: checkpoints(n) == [(best_ckpt, True)], 30)
        with open(os.path.join(n.dir, "kept")) as f:
            kept = f.read().split("\n")
        assert_that(kept[0] == "iolm-kept 1" and
                    "best %s %s" % (task, best_ckpt) in kept and
                    not any(line.startswith("pending") for line in kept) and
                    sorted(l for l in kept if l.startswith("data ")) ==
                    ([] if n.index == 0 else task_data),
                    "node%d kept: %s" % (n.index, kept))
        # GET /artifacts says why each is kept (node0's data sets are its operator's)
        why = {a["id"]: a.get("kept") for a in n.get("/artifacts")["artifacts"]}
        assert_that(why[best_ckpt] == {"as": "best_model", "task": task} and
                    all(why[a] == (None if n.index == 0 else {"as": "data_set", "task": task})
                        for a in (ds, ev)),
                    "node%d: why kept: %s" % (n.index, why))
        # ... and so does iolmd art list, beside the running node (from DIR/kept)
        listed = {line.split()[0]: line for line in
                  env.iolmd("art", "list", "-d", n.dir).splitlines()}
        assert_that(listed[best_ckpt].endswith("kept as best_model of task " + task[:16]) and
                    all(("kept as" not in listed[a]) if n.index == 0 else
                        listed[a].endswith("kept as data_set of task " + task[:16])
                        for a in (ds, ev)),
                    "node%d: iolmd art list:\n%s" % (n.index, "\n".join(listed.values())))
        removed = [line for line in n.get_text("/metrics").splitlines()
                   if line.startswith("iolm_checkpoints_removed_total ")]
        assert_that(removed and float(removed[0].split()[1]) >= 3,
                    "node%d removed checkpoints: %s" % (n.index, removed))
    with open(os.path.join(n3.dir, "kept")) as f:
        kept = [line for line in f.read().split("\n")[1:] if line]
    assert_that(sorted(kept) == task_data,
                "node3 (art_keep_checkpoints off) lists more than the data sets: %s" % kept)
    phase("validators hold the best model's checkpoint only")
    final = 0
    for n in net.nodes:
        dropped = {}
        for line in n.get_text("/metrics").splitlines():
            if line.startswith("iolm_evidence_total "):
                assert_that(float(line.split()[1]) == 0, "equivocation on node%d" % n.index)
            m = re.match(r'iolm_mempool_dropped_total\{reason="(\w+)"\} (\d+)$', line)
            if m:
                dropped[m.group(1)] = int(m.group(2))
        assert_that(set(dropped) == {"final", "expired", "evicted"},
                    "node%d drops %s" % (n.index, dropped))
        assert_that(dropped["expired"] == dropped["evicted"] == 0,
                    "node%d expired or evicted transactions: %s" % (n.index, dropped))
        final += dropped["final"]
    # (an attestation admitted while its work was pending, then left out because a
    # quorum decided the work first, is one of the final drops)
    phase("mempool: %d final drops, none expired" % final)


if __name__ == "__main__":
    sys.exit(run(test_mining))
