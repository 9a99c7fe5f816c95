#!/bin/sh
# iolm-miner's --device choices on machines with 0 to 8 GPUs (emulated:
# tests/cuda_emu/README.md), each run's proof root, final state and checkpoints against
# the CPU's, bit for bit. Usage: miner_devices.sh IOLM-MINER IOLM-MINER-EMU WORKDIR
set -eu
cpu_miner=$1
emu_miner=$2
work=$3
rm -rf "$work"
mkdir -p "$work"

# 12 KiB of text: the repository's own docs, always present.
data="$work/data.txt"
cat "$(dirname "$0")/README.md" "$(dirname "$0")/../../docs/compute.md" | head -c 12288 > "$data"
flags="--data $data --steps 8 --segment 4 --layers 1 --channels 32 --heads 2 --seq 16
       --eval-windows 8 --threads 1"

fail() {
  echo "FAIL: $*"
  exit 1
}

# run NAME DEVICES MINER DEVICE-FLAG [BATCH]: train into $work/NAME (a batch of BATCH
# sequences, default 3), log in $work/NAME.log
run() {
  IOLM_CUDA_EMU_DEVICES=$2 "$3" train $flags --batch "${5:-3}" --device "$4" \
    --out "$work/$1" > "$work/$1.log" 2>&1
}

# same NAME [REF]: the proof root, final state and eval loss, and every file, equal those
# of the CPU run REF (default cpu)
same() {
  ref=${2:-cpu}
  for k in "proof root" "final state" "eval loss"; do
    a=$(grep "^$k" "$work/$ref.log") || fail "$ref: no $k"
    b=$(grep "^$k" "$work/$1.log") || fail "$1: no $k"
    [ "$a" = "$b" ] || fail "$1: $b, the CPU: $a"
  done
  for f in "$work/$ref"/*; do
    cmp "$f" "$work/$1/$(basename "$f")" || fail "$1: $(basename "$f") differs"
  done
}

# backend NAME TEXT [BATCH]: the run's log names that backend
backend() {
  grep -q "batch ${3:-3}, $2 backend" "$work/$1.log" || {
    cat "$work/$1.log"
    fail "$1: expected the $2 backend"
  }
}

run cpu 0 "$cpu_miner" cpu || { cat "$work/cpu.log"; fail "cpu run"; }
ls "$work/cpu/claim.bin" "$work/cpu/ckpt-00000008.bin" > /dev/null

run one 1 "$emu_miner" cuda || { cat "$work/one.log"; fail "cuda on one GPU"; }
backend one "cuda (device 0)"
same one

run two 2 "$emu_miner" cuda || { cat "$work/two.log"; fail "cuda on two GPUs"; }
backend two "cuda x2 data parallel (nccl)"
same two

# auto with four GPUs and a batch of three sequences: three of them
run auto4 4 "$emu_miner" auto || { cat "$work/auto4.log"; fail "auto on four GPUs"; }
backend auto4 "cuda x3 data parallel (nccl)"
same auto4

run list 3 "$emu_miner" cuda:2,0 || { cat "$work/list.log"; fail "cuda:2,0"; }
backend list "cuda x2 data parallel (nccl)"
same list

# eight GPUs, a batch of eight: one sequence each
run cpu8 0 "$cpu_miner" cpu 8 || { cat "$work/cpu8.log"; fail "cpu run, batch 8"; }
run eight 8 "$emu_miner" cuda 8 || { cat "$work/eight.log"; fail "cuda on eight GPUs"; }
backend eight "cuda x8 data parallel (nccl)" 8
same eight cpu8

# GPUs NCCL cannot join: auto trains on GPU 0 alone, cuda is an error saying so
export IOLM_CUDA_EMU_NCCL_FAIL=1
run nojoin 2 "$emu_miner" auto || { cat "$work/nojoin.log"; fail "auto, NCCL failing"; }
backend nojoin "cuda (device 0)"
grep -q "joining 2 devices" "$work/nojoin.log" || { cat "$work/nojoin.log"; fail "nojoin: message"; }
same nojoin
if run nojoin2 2 "$emu_miner" cuda; then fail "--device cuda with NCCL failing succeeded"; fi
grep -q "device cuda: joining 2 devices" "$work/nojoin2.log" || { cat "$work/nojoin2.log"; fail "nojoin2: message"; }
unset IOLM_CUDA_EMU_NCCL_FAIL

# no GPU: auto trains on the CPU, cuda is an error saying so
run auto0 0 "$emu_miner" auto || { cat "$work/auto0.log"; fail "auto without a GPU"; }
backend auto0 cpu
same auto0
if run none 0 "$emu_miner" cuda; then fail "--device cuda without a GPU succeeded"; fi
grep -q "device cuda: .*CUDA device" "$work/none.log" || { cat "$work/none.log"; fail "none: message"; }

# more devices than sequences, a device that does not exist
if run many 4 "$emu_miner" cuda:0,1,2,3; then fail "four GPUs for three sequences succeeded"; fi
grep -q "4 devices for a batch of 3 sequences" "$work/many.log" || { cat "$work/many.log"; fail "many: message"; }
if run absent 2 "$emu_miner" cuda:0,5; then fail "cuda:0,5 on two GPUs succeeded"; fi
grep -q "device 5:" "$work/absent.log" || { cat "$work/absent.log"; fail "absent: message"; }

# generate from the CPU run's final model: the same text on the GPU as on the CPU
gen="--ckpt $work/cpu/ckpt-00000008.bin --prompt abc --bytes 40 --temperature 0.8 --seed 5"
"$cpu_miner" generate $gen --device cpu > "$work/gen-cpu.txt" 2> "$work/gen-cpu.log" ||
  { cat "$work/gen-cpu.log"; fail "generate on the CPU"; }
IOLM_CUDA_EMU_DEVICES=1 "$emu_miner" generate $gen --device cuda > "$work/gen-gpu.txt" \
  2> "$work/gen-gpu.log" || { cat "$work/gen-gpu.log"; fail "generate on the GPU"; }
grep -q "on cuda" "$work/gen-gpu.log" || { cat "$work/gen-gpu.log"; fail "generate: not on cuda"; }
[ "$(wc -c < "$work/gen-cpu.txt")" -eq 40 ] || fail "generate: not 40 bytes"
cmp "$work/gen-cpu.txt" "$work/gen-gpu.txt" || fail "generate: the GPU's text differs"

echo "ok: cpu, cuda x1, cuda x2, auto x3 of 4, cuda:2,0, cuda x8, auto with NCCL failing"
echo "    and auto without a GPU give the same bits; so does generate on a GPU"
