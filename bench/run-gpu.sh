#!/usr/bin/env bash
# Everything owed to the GPU machine (shared/device/README.md), in one command per part:
#   bench    the PyTorch reference, then our benchmarks with it merged in (extra args: groups)
#   train    tips-micro on scenes for $TRAIN_STEPS steps (default 3000): per-step log with
#            images/s, then `tips eval` of the result
#   ablate   `tips ablate` on tips-micro: $ABLATE_STEPS steps (default 1000), seeds $SEEDS
#            (default 0), rows $ROWS (default all)
# Prepare here first (the bundles load dawn.node from $DAWN_NODE_PATH, set by .device/env.sh):
#   npm ci && bash ../shared/device/pack.sh
#   node scripts/build-node.mjs bench/main.ts dist/bench/bench.mjs
#   node scripts/build-node.mjs src/cli/main.ts dist/bench/tips.mjs
# then run with carry [".device", "dist/bench"]:  bash bench/run-gpu.sh bench | train | ablate
# Results go to $OUT (the device tool brings them back).
set -euo pipefail
part="${1:-bench}"
shift || true
out="${OUT:-/tmp}"
source .device/env.sh
case "$part" in
  bench)
    node dist/bench/bench.mjs --write-step-configs /tmp/step-configs.json
    python3 bench/reference/bench.py --out /tmp/bench-reference.json --step-configs /tmp/step-configs.json
    node dist/bench/bench.mjs "$@" --reference /tmp/bench-reference.json --json "$out/bench.json"
    ;;
  train)
    node dist/bench/tips.mjs train --preset tips-micro --steps "${TRAIN_STEPS:-3000}" --batch 64 \
      --save-every 100000 --log "$out/train-micro.jsonl" --out /tmp/tips-micro.safetensors
    node dist/bench/tips.mjs eval --checkpoint /tmp/tips-micro.safetensors --train 256 --test 128 \
      --json "$out/eval-micro.json"
    ;;
  ablate)
    node dist/bench/tips.mjs ablate --preset tips-micro --steps "${ABLATE_STEPS:-1000}" --batch 64 \
      --seeds "${SEEDS:-0}" ${ROWS:+--rows "$ROWS"} --out-dir /tmp/ablation
    cp /tmp/ablation/table.md "$out/ablation.md"
    ;;
  *)
    echo "usage: bash bench/run-gpu.sh bench [groups...] | train | ablate" >&2
    exit 2
    ;;
esac
