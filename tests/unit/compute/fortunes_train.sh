#!/bin/sh
# Train on the text of Debian's fortunes package for a few hundred steps on the CPU and
# check that the eval loss drops by at least 0.3 nats from the untrained model's
# (about ln 256 = 5.55). Exit 77 (skipped) when the package is absent; scripts/setup
# installs it. Usage: fortunes_train.sh IOLM-MINER WORKDIR
set -eu
miner=$1
work=$2
text=/usr/share/games/fortunes/fortunes
if [ ! -r "$text" ]; then
  echo "skipped: $text absent (scripts/setup installs the fortunes package)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
cat > "$work/task.txt" <<TASK
# a small model on the fortunes text; the last tenth of it is the eval set
task_id = 666f7274756e6573000000000000000000000000000000000000000000000000
dataset = $text
n_layer = 2
n_embd = 64
n_head = 4
seq_len = 64
init_seed = 1
lr = 0.003
weight_decay = 0
total_steps = 300
batch_size = 8
segment_len = 30
eval_windows = 64
TASK
"$miner" train --task-file "$work/task.txt" --out "$work/out" --threads 2 | tee "$work/log"
init=$(awk '/^initial eval loss/ { print $4 }' "$work/log")
final=$(awk '/^eval loss/ { print $3 }' "$work/log")
test -s "$work/out/claim.bin"
test -s "$work/out/ckpt-00000300.bin"
echo "eval loss $init -> $final"
awk -v a="$init" -v b="$final" 'BEGIN { exit !(a != "" && b != "" && a - b >= 0.3) }'
