#!/usr/bin/env python3
"""A training run killed with SIGKILL part way (docs/miner.md "Resuming"): `iolm-miner train`
started again the same way goes on from its progress log instead of step 0, and ends
with the proof root, final state, eval loss and files of a run never stopped. Started
with other steps it trains afresh."""
import os
import signal
import subprocess
import sys
import time

from framework import TestFailure, run

STEPS = 4000


def assert_that(cond, what):
    if not cond:
        raise TestFailure(what)


def train(miner, data, out, steps=STEPS):
    return [miner, "train", "--data", data, "--steps", str(steps), "--segment", "10",
            "--layers", "1", "--channels", "32", "--heads", "2", "--seq", "16", "--batch",
            "2", "--threads", "1", "--eval-windows", "8", "--out", out]


def result(text):
    """The proof root, final state and eval loss lines of a run's output."""
    keep = [line for line in text.splitlines()
            if line.startswith(("proof root", "final state", "eval loss"))]
    assert_that(len(keep) == 3, "no result in:\n" + text[-1500:])
    return keep


def seg_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.startswith("seg ") and line.endswith("\n"))
    except FileNotFoundError:
        return 0


def test_miner_resume(net):
    miner = os.path.join(os.path.dirname(net.iolmd), "iolm-miner")
    data = os.path.join(net.dir, "data.txt")
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
    with open(data, "wb") as f:
        for name in ("compute.md", "artifacts.md"):
            with open(os.path.join(docs, name), "rb") as d:
                f.write(d.read())
    whole, cut = os.path.join(net.dir, "whole"), os.path.join(net.dir, "cut")

    out = subprocess.run(train(miner, data, whole), capture_output=True, text=True,
                         timeout=240)
    assert_that(out.returncode == 0, "the unbroken run failed: " + out.stderr[-800:])
    want = result(out.stdout)

    # killed once a few segments are in the log, well before the end
    p = subprocess.Popen(train(miner, data, cut), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    log = os.path.join(cut, "progress.log")
    deadline = time.monotonic() + 120
    while seg_lines(log) < 5 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = seg_lines(log)
    assert_that(5 <= done < STEPS // 10 and
                not os.path.exists(os.path.join(cut, "claim.bin")),
                "the run was not stopped part way: %d segments logged" % done)

    out = subprocess.run(train(miner, data, cut), capture_output=True, text=True,
                         timeout=240)
    assert_that(out.returncode == 0, "the resumed run failed: " + out.stderr[-800:])
    said = [line for line in out.stdout.splitlines() if line.startswith("resumed from")]
    assert_that(said and "of %d steps were done before" % STEPS in said[0],
                "no resume in:\n" + out.stdout[-1500:])
    resumed = int(said[0].split(": ")[1].split()[0])
    assert_that(10 * done <= resumed < STEPS, "resumed at %d with %d segments logged before"
                % (resumed, done))
    assert_that(result(out.stdout) == want, "resumed %s, unbroken %s" %
                (result(out.stdout), want))
    for name in sorted(os.listdir(whole)):
        with open(os.path.join(whole, name), "rb") as a, open(os.path.join(cut, name), "rb") as b:
            assert_that(a.read() == b.read(), "%s differs from the unbroken run's" % name)
    assert_that(sorted(os.listdir(whole)) == sorted(os.listdir(cut)),
                "files: %s against %s" % (os.listdir(cut), os.listdir(whole)))

    # other steps: another run, trained from step 0
    out = subprocess.run(train(miner, data, cut, steps=STEPS // 2), capture_output=True,
                         text=True, timeout=240)
    assert_that(out.returncode == 0 and "resumed from" not in out.stdout,
                "a run of other steps resumed:\n" + out.stdout[-800:])


if __name__ == "__main__":
    sys.exit(run(test_miner_resume))
