#!/usr/bin/env bash
# Everything owed to the GPU machine (shared/device/README.md), in one command per part:
#   all      check, bench and train back to back in one command (every start of the machine costs
#            minutes of a session's device time), each under its own limit: $CHECK_SECONDS (60),
#            $BENCH_SECONDS (240), $TRAIN_SECONDS (180); then prints how long an ablation row
#            takes at the rate train measured, to size `ablate` for the time that is left
#   check    `tips selfcheck`: every op's kernel against float64 on this GPU (first: figures from
#            wrong kernels mean nothing; the bench also checks its own results)
#   bench    the PyTorch reference, then our benchmarks with it merged in (extra args: groups),
#            then the data side on this machine's CPU beside the training steps' images/s
#   train    tips-micro on scenes for $TRAIN_STEPS steps (default 3000) or $TRAIN_SECONDS seconds
#            (default 420), whichever ends first (it then saves, as on Ctrl-C): a per-step log
#            with images/s, then `tips eval` of the result
#   ablate   `tips ablate` on tips-micro: $ABLATE_STEPS steps (default 1000), $SEEDS seeds per row
#            (default 3) from $FIRST_SEED (default 0), rows $ROWS (default all) in $PARALLEL
#            processes (default 1), stopped after $ABLATE_SECONDS (default 540); each finished
#            row's result (<row>-seed<n>.json) comes back, so the rows can be split over several
#            commands, and the table is assembled here from them (docs/performance.md)
# Every command has 600 s on the device; results go to $OUT (the device tool brings them back).
# Prepare here first (the bundles load dawn.node from $DAWN_NODE_PATH, set by .device/env.sh):
#   npm ci && bash ../shared/device/pack.sh
#   node scripts/build-node.mjs bench/main.ts dist/bench/bench.mjs
#   node scripts/build-node.mjs src/cli/main.ts dist/bench/tips.mjs
# then run with carry [".device", "dist/bench"]:  bash bench/run-gpu.sh check | bench | train | ablate
# REHEARSE=1 runs the same steps here without a GPU (SwiftShader, PyTorch on the CPU, tiny sizes;
# after npm ci and the two builds, no .device needed), to find a broken step before the GPU time
# is spent: its figures mean nothing.
set -euo pipefail
part="${1:-bench}"
shift || true
out="${OUT:-/tmp}"
started=$SECONDS
if [[ -n "${REHEARSE:-}" ]]; then
  icd=$(node -e 'import("@sparticuz/chromium").then(async (c) => console.log(await c.default.executablePath()))')
  export DAWN_NODE_PATH=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node
  export VK_ICD_FILENAMES=$(dirname "$icd")/vk_swiftshader_icd.json LD_LIBRARY_PATH=$(dirname "$icd")
  small=(--small) reference_device=cpu preset=tips-test batch=4 train_steps="${TRAIN_STEPS:-3}"
  ablate_steps="${ABLATE_STEPS:-2}" rows="${ROWS:-A}" seeds="${SEEDS:-1}" eval_size=(--train 16 --test 8)
else
  source .device/env.sh
  small=() reference_device=cuda preset=tips-micro batch=64 train_steps="${TRAIN_STEPS:-3000}"
  ablate_steps="${ABLATE_STEPS:-1000}" rows="${ROWS:-}" seeds="${SEEDS:-3}" eval_size=(--train 256 --test 128)
fi
case "$part" in
  all)
    # A part cut short by its limit keeps what it finished (each writes its results as it goes).
    CHECK_SECONDS=${CHECK_SECONDS:-60} BENCH_SECONDS=${BENCH_SECONDS:-240} TRAIN_SECONDS=${TRAIN_SECONDS:-180}
    export TRAIN_SECONDS
    timeout "$CHECK_SECONDS" bash "$0" check || echo "run-gpu.sh all: check ended with status $?"
    timeout "$BENCH_SECONDS" bash "$0" bench || echo "run-gpu.sh all: bench ended with status $?"
    bash "$0" train || echo "run-gpu.sh all: train ended with status $?"
    node -e '
      const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
      const last = lines[lines.length - 1];
      const [steps, batch, ips] = [process.argv[2], process.argv[3], last.imagesPerSecond];
      console.log(`train: ${lines.length} steps, last ${ips.toFixed(1)} img/s; at that rate an ablation row of ` +
        `${steps} steps at batch ${batch} trains in ${((steps * batch) / ips).toFixed(0)} s (one process, plus its eval)`);
    ' "$out/train-$preset.jsonl" "$ablate_steps" "$batch" || true
    ;;
  check)
    node dist/bench/tips.mjs selfcheck "$@" | tee "$out/selfcheck.txt"
    ;;
  bench)
    node dist/bench/bench.mjs "${small[@]}" --write-step-configs /tmp/step-configs.json
    status=0
    reference=(--reference "$out/bench-reference.json")
    # Without the reference our rows are still timed (and checked), only without their ratio.
    python3 bench/reference/bench.py "${small[@]}" --device "$reference_device" --out "$out/bench-reference.json" \
      --step-configs /tmp/step-configs.json || { status=$?; reference=(); echo "run-gpu.sh bench: no PyTorch reference"; }
    node dist/bench/bench.mjs "${small[@]}" "$@" "${reference[@]}" --json "$out/bench.json" || status=$?
    # The data side on this machine's CPU beside the training steps' images/s just measured (does
    # it keep up?): the scenes rows only, as sharp and openmoji are not installed here.
    node dist/bench/bench.mjs data --scenes-only "${small[@]}" --steps-from "$out/bench.json" \
      --json "$out/bench-data.json" || status=$?
    [[ $status == 0 ]] || exit "$status"
    ;;
  train)
    # timeout's SIGINT is tips train's Ctrl-C: it finishes the steps in flight and saves.
    status=0
    timeout -s INT "${TRAIN_SECONDS:-420}" node dist/bench/tips.mjs train --preset "$preset" --steps "$train_steps" \
      --batch "$batch" --save-every 100000 --log "$out/train-$preset.jsonl" --out /tmp/tips-train.safetensors || status=$?
    [[ $status == 0 || $status == 124 ]] || exit "$status"
    node dist/bench/tips.mjs eval --checkpoint /tmp/tips-train.safetensors "${eval_size[@]}" --json "$out/eval-$preset.json"
    ;;
  ablate)
    # $PARALLEL processes (default 1), each on every PARALLEL-th row: tips-micro leaves much of a
    # large GPU idle, so several at once may finish more rows within the time limit.
    IFS=, read -ra all <<< "${rows:-A,B1,B2,B3,B4,C1,C2,D,E,F1,F2}"
    jobs=${PARALLEL:-1}
    pids=()
    for ((j = 0; j < jobs; j++)); do
      mine=()
      for ((i = j; i < ${#all[@]}; i += jobs)); do mine+=("${all[i]}"); done
      [[ ${#mine[@]} -gt 0 ]] || continue
      (IFS=,; timeout "${ABLATE_SECONDS:-540}" node dist/bench/tips.mjs ablate --preset "$preset" \
        --steps "$ablate_steps" --batch "$batch" --seeds "$seeds" --first-seed "${FIRST_SEED:-0}" --rows "${mine[*]}" "${eval_size[@]}" \
        --out-dir "/tmp/ablation-$j") > "$out/ablate-$j.log" 2>&1 &
      pids+=($!)
    done
    status=0
    for pid in "${pids[@]}"; do
      wait "$pid" || { s=$?; [[ $s == 124 ]] || status=$s; }
    done
    cp /tmp/ablation-*/*-seed*.json "$out/" 2>/dev/null || true
    tail -n 20 "$out"/ablate-*.log
    [[ $status == 0 ]] || exit "$status"
    ;;
  *)
    echo "usage: bash bench/run-gpu.sh all | check [--family LIST] | bench [groups...] | train | ablate" >&2
    exit 2
    ;;
esac
echo "run-gpu.sh $part: $((SECONDS - started)) s"
