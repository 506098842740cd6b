#!/usr/bin/env bash
# On the GPU machine (shared/device/README.md): the PyTorch reference, then our benchmarks with
# it merged in, in one command. Prepare here first:
#   npm ci && bash ../shared/device/pack.sh && node scripts/build-node.mjs bench/main.ts dist/bench/bench.mjs
# then run with carry [".device", "dist/bench"]:  bash bench/run-gpu.sh [groups...]
set -euo pipefail
python3 bench/reference/bench.py --out /tmp/bench-reference.json
source .device/env.sh
node dist/bench/bench.mjs "$@" --reference /tmp/bench-reference.json --json "${OUT:-/tmp}/bench.json"
