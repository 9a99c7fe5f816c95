#!/usr/bin/env python3
"""A validator killed with SIGKILL while it waits to verify a pending work verifies it
again when it restarts (docs/operator.md "After a crash"): with a fourth validator stopped,
the work needs its attestation to be accepted, and gets it. The task's data sets reach
the validators only after the restart (no node holds them before), so the validator is
waiting, whatever the machine's speed."""
import os
import signal
import sys

from framework import TestFailure, free_base_port, run
from test_mining import (create_task, mine, phase, slow_data_env, wait_work,
                         work_id_from_log)


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def test_verify_restart(net):
    env = slow_data_env(net)
    net.start_all()
    net.wait("all nodes at height 2", lambda: all(n.height() >= 2 for n in net.nodes), 60)
    # the data sets' ids, from a store of no node: the validators wait for them
    scratch = os.path.join(net.dir, "scratch")
    os.makedirs(scratch)
    ds = env.iolmd("art", "add", "-d", scratch, env.train)
    ev = env.iolmd("art", "add", "-d", scratch, env.eval)
    task, _, _ = create_task(env, ds, ev)
    miner_key, _ = env.new_key("miner")
    # node3 stops: blocks go on with the other three, and a work needs all three
    # attestations (30 of 40 voting power) to be accepted
    n2, n3 = net.nodes[2], net.nodes[3]
    n3.stop()
    phase("task created; node3 stopped")

    out = os.path.join(net.dir, "run")
    m = mine(env, miner_key, task, out, free_base_port(1), "none")
    try:
        wid = work_id_from_log(net, out + ".log", proc=m)

        def waiting():
            with open(n2.log_path) as f:
                return "work %s: waiting for the task's data sets" % wid[:16] in f.read()
        net.wait("node2 waiting to verify the work", waiting, 60)
        assert_that(n2.stop(sig=signal.SIGKILL) == -signal.SIGKILL, "node2 not killed")
        n2.start()
        # the designer adds the data sets to node0; the validators fetch them from there
        for path in (env.train, env.eval):
            env.iolmd("art", "add", "-d", env.n0.dir, path)
        w = wait_work(net, env.n0, wid, ("accepted", "rejected", "slashed"))
        assert_that(w["status_name"] == "accepted", "the work was %s" % w["status_name"])
        by = sorted(a["validator"] for a in w["attestations"] if a["valid"])
        assert_that(by == [0, 1, 2], "valid attestations by validators %s" % by)
        with open(n2.log_path) as f:
            log = f.read()
        assert_that("1 pending works not attested here before the restart" in log,
                    "node2 did not take up the work again:\n" + log[-1500:])
    finally:
        m.terminate()
        m.wait()
    phase("node2 killed while waiting, restarted: it verified the work and attested")
    n3.start()
    net.wait("node3 back in step", lambda: n3.height() >= env.n0.height() - 1, 60)


if __name__ == "__main__":
    sys.exit(run(test_verify_restart))
