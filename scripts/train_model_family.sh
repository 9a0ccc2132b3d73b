#!/bin/sh
# Trains lockstep's model family (docs/model-family.md) one model after another, with one torch
# thread, the built-in model's tokenizer and 1024 positions, then (with --export) builds each ONNX
# folder. Every size reads the same windows of the training text in the same order (same seed, same
# recipe) for the same number of steps: 904 steps of 1024 tokens, 1024-token windows on every 4th
# step and 256-token windows on the others (2-2.5x cheaper per token than long windows only; all
# positions are trained throughout). Budgets are in steps, so the result does not depend on how busy
# the machine is; --minutes is only a safety cap. (m was made by a run that stopped at 904 steps on a
# 22-minute wall-clock budget, its learning rate following the clock: see its training.json.)
# Usage:
#   sh scripts/train_model_family.sh [--export] [xs s m l]     (default: all four, in that order)
# Logs: /tmp/lockstep-family/train-<size>.log; weights: /tmp/lockstep-family/weights-<size>.
set -e
cd "$(dirname "$0")/.."
EXPORT=0
if [ "$1" = "--export" ]; then EXPORT=1; shift; fi
SIZES=${*:-xs s m l}
OUT=/tmp/lockstep-family
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
for size in $SIZES; do
  case $size in
    xs) arch="--n-embd 16 --n-layer 2 --n-head 2 --lr 1e-2" ;;
    s)  arch="--n-embd 32 --n-layer 3 --n-head 2 --lr 6e-3" ;;
    m)  arch="--n-embd 64 --n-layer 6 --n-head 4 --lr 4e-3" ;;
    l)  arch="--n-embd 96 --n-layer 8 --n-head 4 --lr 3e-3" ;;
    *) echo "unknown size $size (xs s m l)" >&2; exit 2 ;;
  esac
  dir=models/family/lockstep-moby-gpt2-$size
  w=$OUT/weights-$size
  # shellcheck disable=SC2086
  /usr/bin/python3 scripts/train_builtin_model.py --tokenizer models/lockstep-moby-gpt2/tokenizer.json \
    --model-dir "$dir" --weights-dir "$w" --fixtures-dir "$w" --threads 1 --ctx 1024 --eval-ctx 128 \
    --batch 1 --micro-batch 1 --short-ctx 256 --long-every 4 --max-steps 904 --minutes 90 --dropout 0 --seed 1234 $arch > "$OUT/train-$size.log" 2>&1
  if [ $EXPORT = 1 ]; then
    node dist/adapters/onnx/builder/exportBuiltinModelMain.js --weights "$w" \
      --tokenizer models/lockstep-moby-gpt2/tokenizer.json --out "$dir" >> "$OUT/train-$size.log" 2>&1
  fi
done
