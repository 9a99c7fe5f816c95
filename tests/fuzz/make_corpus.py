#!/usr/bin/env python3
"""Write the seed corpus for the decoder fuzz targets (tests/fuzz/corpus/<target>/).

Seeds are small canonical encodings of each message, written here by hand with a
minimal protobuf encoder, so libFuzzer starts from valid structure. Re-run after a
schema change: python3 tests/fuzz/make_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def f_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def f_float(num, x):
    return varint(num << 3 | 5) + struct.pack("<f", x) if x else b""


H = bytes(range(32))
SIG = bytes(range(64))
ADDR = bytes(range(20))

transfer = f_bytes(1, ADDR) + f_varint(2, 1000)
body = f_bytes(1, b"iolm-devnet") + f_bytes(2, H) + f_varint(3, 1) + f_varint(4, 10) + f_bytes(10, transfer)
tx = f_bytes(1, body) + f_bytes(2, SIG)

model = f_varint(1, 2) + f_varint(2, 64) + f_varint(3, 4) + f_varint(4, 64) + f_varint(5, 256) + f_varint(6, 7)
optim = f_float(1, 3e-4) + f_float(2, 0.9) + f_float(3, 0.95) + f_float(4, 1e-8) + f_varint(6, 10)
task = f_bytes(1, model) + f_bytes(2, optim) + f_varint(3, 8) + f_bytes(4, H) + f_bytes(5, H) + f_varint(6, 10) + f_varint(7, 3) + f_varint(8, 10**9)
body_task = f_bytes(1, b"iolm-devnet") + f_bytes(2, H) + f_varint(3, 2) + f_varint(4, 10) + f_bytes(11, task)
tx_task = f_bytes(1, body_task) + f_bytes(2, SIG)

header = f_bytes(1, b"iolm-devnet") + f_varint(2, 5) + f_varint(3, 1700000000000) + f_bytes(4, H) + f_bytes(6, H) + f_bytes(7, H) + f_bytes(9, H)
commit_sig = f_varint(1, 1) + f_bytes(2, SIG)
cert = f_varint(1, 4) + f_bytes(3, H) + f_bytes(4, f_bytes(2, SIG)) + f_bytes(4, commit_sig)
block = f_bytes(1, header) + f_bytes(2, tx) + f_bytes(2, tx_task) + f_bytes(3, cert)

vote_body = f_bytes(1, b"iolm-devnet") + f_varint(2, 1) + f_varint(3, 5) + f_bytes(5, H) + f_varint(6, 2)
vote = f_bytes(1, vote_body) + f_bytes(2, SIG)
prop_body = f_bytes(1, b"iolm-devnet") + f_varint(2, 5) + f_varint(4, (1 << 64) - 1) + f_bytes(5, H)
proposal = f_bytes(1, prop_body) + f_bytes(2, SIG) + f_bytes(3, block)

hello = f_varint(1, 1) + f_bytes(2, b"iolm-devnet") + f_bytes(3, H) + f_bytes(4, H) + f_varint(5, 26656) + f_bytes(6, b"iolmd/0.1")

chunk = f_bytes(1, b"\x1e\x20" + H) + f_varint(2, 65536)
fentry = f_bytes(1, b"weights.bin") + f_varint(2, 131072) + f_varint(4, 2)
manifest = f_varint(1, 1) + f_varint(2, 2) + f_bytes(4, fentry) + f_bytes(5, chunk) + f_bytes(5, chunk) + f_bytes(6, H) + f_varint(7, 131072)

seg = f_varint(1, 10) + f_bytes(2, H) + f_bytes(3, varint(5545177) + varint(5400000))
claim = f_bytes(1, H) + f_bytes(2, seg) + f_bytes(2, seg) + f_bytes(3, H) + f_varint(4, 3100000)

frames = [
    f_bytes(1, f_varint(1, 42)),
    f_bytes(4, tx),
    f_bytes(5, proposal),
    f_bytes(6, vote),
    f_bytes(7, cert),
    f_bytes(9, f_varint(1, 5) + f_bytes(2, block) + f_bytes(3, cert)),
    f_bytes(11, f_bytes(1, b"\x1e\x20" + H)),
    f_bytes(12, f_bytes(1, b"\x1e\x20" + H) + f_bytes(2, b"chunk data")),
]

corpus = {
    "tx": [tx, tx_task],
    "block": [block, header],
    "frame": frames,
    "vote": [vote],
    "proposal": [proposal],
    "manifest": [manifest],
    "hello": [hello],
    "work_claim": [claim],
    "addr": [b"iolm10saslgzfw89u72g4pq37tk6kglpdptww8f6gc6", b"A1LQFN3A", b"abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx"],
    "hex": [b"00ff10abCD", b"0"],
}

# fuzz_art_xfer reads a script, not a message (see its header): window, rate flag, then
# per operation [fetch?, pin when fetching,] op, peer, chunk, operands. These three
# fetch from one honest peer; from peers that tamper, flood and leave; and with the
# serving side rate-limited.
FETCH, NOFETCH = [0, 1], [255]
honest = [3, 0] + FETCH + [0, 0, 0] + [2, 0, 0] + [4, 0, 0]
for i in range(8):
    honest += [5, 0, i]
honest += [12, 0, 0]
hostile = [5, 0] + FETCH + [0, 0, 0, 0, 1, 0, 2, 1, 0, 2, 0, 0]
hostile += [4, 1, 0, 6, 0, 1, 0, 9, 6, 0, 2, 200, 7, 1, 0, 3, 11, 0, 0, 70, 12, 0, 0]
hostile += [8, 0, 0, 40, 8, 1, 0, 250, 9, 7, 9, 1, 0, 3, 40, 100, 240, 10, 1, 0, 1, 40]
hostile += [3, 1, 0, 5, 5, 1, 1, 1, 0, 0, 11, 0, 0, 255, 5, 1, 2, 12, 0, 0]
flood = [1, 1] + NOFETCH + [0, 2, 0] + NOFETCH + [4, 2, 0]
for r in range(6):
    flood += NOFETCH + [9, 2, 0, 7] + [40 + r, 41, 42, 43, 44, 45, 46, 47]
flood += FETCH + [2, 2, 0, 11, 2, 0, 90]
corpus["art_xfer"] = [bytes(honest), bytes(hostile), bytes(flood)]
# block frames as the P2P link frames them by hand: a 34-byte id and 10, 200 and 20000
# bytes of data (lengths of one, two and three varint bytes)
corpus["p2p_block"] = [frames[-1]] + [f_bytes(12, f_bytes(1, b"\x1e\x20" + H) + f_bytes(2, bytes(range(256)) * (n // 256) + bytes(n % 256))) for n in (200, 20000)]

# fuzz_ledger_txs reads records of [signer][length, 2 bytes][TxBody]; the harness sets the
# chain, sender, nonce and (signer byte < 0x80) the fee, and a 32-byte id whose first
# byte is below 0x10 becomes the chain's id number (byte % 6): 0 an open task, 1 a task
# past its deadline, 2 an accepted work, 3 a slashed one, 4 a pending one, 5 one on the
# closed task.
def chain_id(i):
    return bytes([i]) + H[1:]


ART = b"\x1e\x20" + H


def record(who, kind_field, msg):
    body = f_bytes(kind_field, msg)
    return bytes([who]) + struct.pack(">H", len(body)) + body


def work(task, parent=None, start=0, steps=10, bond=500):
    return (f_bytes(1, chain_id(task)) + (f_bytes(2, chain_id(parent)) if parent is not None else b"") +
            f_varint(3, start) + f_varint(4, steps) + f_bytes(5, H) + f_bytes(6, H) + f_bytes(7, ART) +
            f_varint(8, 4000000) + f_varint(9, bond) + f_bytes(10, b"http://127.0.0.1:1"))


def attest(w, valid=1):
    return f_bytes(1, chain_id(w)) + f_varint(2, valid) + f_varint(3, 4000000)


task_ok = (f_bytes(1, model) + f_bytes(2, optim + f_varint(7, 1000)) + f_varint(3, 8) + f_bytes(4, ART) +
           f_bytes(5, ART) + f_varint(6, 10) + f_varint(7, 3) + f_varint(8, 10**6) + f_varint(10, 1000) +
           f_varint(13, 100) + f_varint(14, 100))
ledger_seeds = [
    record(0, 10, transfer) + record(0, 16, f_bytes(1, chain_id(0)) + f_varint(2, 10)),
    record(1, 12, work(0)) + record(2, 12, work(0, parent=2, start=10)) + record(3, 12, work(0, parent=4, start=10)),
    record(1, 12, work(0, bond=99)) + record(2, 12, work(1)) + record(3, 12, work(0, parent=3, start=10)) +
    record(1, 12, work(0, steps=7)),
    record(4, 14, attest(4)) + record(5, 14, attest(2)) + record(6, 14, attest(3, 0)) + record(0, 14, attest(4)),
    record(2, 11, task_ok) + record(0x83, 10, transfer),
]
corpus["ledger_txs"] = ledger_seeds

# fuzz_mempool reads two-byte operations (see its header): admit (op % 8 < 6) the
# transaction arg % 144 (index = (account * 12 + nonce) * 3 + fee), a block of the
# first arg % 5 selected (6), the state moving under the mempool (7).
def tx_index(acct, nonce, fee=0):
    return (acct * 12 + nonce) * 3 + fee


def ops(*pairs):
    return bytes(b for p in pairs for b in p)


corpus["mempool"] = [
    # runs from two accounts, a block of four, a replacement
    ops(*[(0, tx_index(a, n)) for a in (0, 1) for n in range(4)], (6, 4), (0, tx_index(0, 4, 1)), (0, tx_index(0, 4, 2))),
    # gaps fill the mempool; a runnable transaction displaces them
    ops(*[(0, tx_index(2, n)) for n in (2, 3, 4, 5)], *[(0, tx_index(1, n)) for n in range(4)], (0, tx_index(3, 0))),
    # blocks of nothing past the TTL; the state moving under the mempool
    ops((0, tx_index(0, 1)), (0, tx_index(1, 0)), (6, 0), (6, 0), (6, 0), (6, 0), (6, 0), (7, 0x15), (7, 0x02)),
]

for name, seeds in corpus.items():
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as fp:
            fp.write(s)
print("wrote", sum(len(s) for s in corpus.values()), "seeds")
