#!/usr/bin/env bash
# The one prepared GPU check: builds for sm_90, runs the test suite (GPU tests included), runs
# `ppmf-gpu bench` at ranks 32, 64 and 128 on a 100-million-entry problem, trains MovieLens 100K
# on the GPU and on the CPU, races NumPyro's SVI against ppmf-gpu to the same held-out RMSE on
# MovieLens 100K and on generated AVOD data, and prints a short table last. Logs and JSON go to
# $OUT (the device tool's output folder) or bench/local/gpu_check.
#
# Needs bench/data/u.data: a copy of MovieLens 100K's u.data (git-ignored; carry bench/data):
#   mkdir -p bench/data && cp ../shared/data/movielens-100k/u.data bench/data/
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/bench/local/gpu_check}
mkdir -p "$out"
build=$root/build-gpu
bin=$build/ppmf-gpu
start=$SECONDS
note() { echo "[$((SECONDS - start))s] $*" | tee -a "$out/steps.log" >&2; }

note "configure + build (sm_90)"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >"$out/cmake.log" 2>&1 &&
  cmake --build "$build" -j"$(nproc)" >"$out/build.log" 2>&1 || { note "BUILD FAILED"; tail -40 "$out/build.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$out/nvidia-smi.csv" 2>&1
"$bin" devices | tee "$out/devices.txt" >&2

note "tests"
ctest --test-dir "$build" -j8 --output-on-failure >"$out/ctest.log" 2>&1
tests=$(grep -E "tests passed|tests failed" "$out/ctest.log" | tail -1)
cuda_tests=$("$build/tests/ppmf_tests" --gtest_filter='*Cuda*' 2>&1 | tee "$out/cuda_tests.log" |
  grep -E "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test" | tr -s ' \n' ' ')

note "sweep microbenchmarks"
[ -x "$build/bench/bench_cuda_sweep" ] && "$build/bench/bench_cuda_sweep" --benchmark_min_time=0.2 >"$out/bench_cuda_sweep.txt" 2>&1

note "ppmf-gpu bench, ranks 32 64 128 (100M entries, generated once)"
"$bin" bench --device 0 --users 2000000 --items 200000 --nnz 100000000 --rank 32,64,128 \
  --json "$out/bench.json" >"$out/bench.txt" 2>&1 || note "bench FAILED: $(tail -1 "$out/bench.txt")"

# time_to FILE TARGET: seconds (cumulative) until the held-out RMSE first reaches TARGET.
time_to() {
  python3 - "$1" "$2" <<'PY'
import json, sys
m, target, t = json.load(open(sys.argv[1])), float(sys.argv[2]), 0.0
for e in m["epochs"]:
    t += e["seconds"]
    if e["test_rmse"] is not None and e["test_rmse"] <= target:
        print(f"{t:.3f}"); break
else:
    print("never")
PY
}
best_rmse() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(min(e['test_rmse'] for e in m['epochs']))" "$1"; }

note "MovieLens 100K: GPU and CPU"
ml=bench/data/u.data
for dev in 0 cpu; do
  "$bin" train --data "$ml" --test-frac 0.1 --seed 1 --rank 32 --device "$dev" --split-out "$out/ml" \
    --metrics-json "$out/ml_$dev.json" --out "$out/ml_$dev.ppmf" >"$out/ml_$dev.txt" 2>"$out/ml_$dev.log" ||
    note "ML100K on $dev FAILED: $(tail -1 "$out/ml_$dev.log")"
done

note "NumPyro vs ppmf-gpu, MovieLens 100K"
ml_target=0.93
python3 bench/numpyro_ppmf.py --train "$out/ml/train.csv" --test "$out/ml/test.csv" --rank 32 --batch 4096 \
  --target "$ml_target" --max-seconds 60 --label movielens-100k >"$out/numpyro_ml.json" 2>"$out/numpyro_ml.log" ||
  note "NumPyro ML FAILED: $(tail -1 "$out/numpyro_ml.log")"

note "NumPyro vs ppmf-gpu, generated AVOD data"
"$bin" synth --out "$out/avod" --users 200000 --items 20000 --seed 1 >/dev/null
"$bin" train --data "$out/avod/ratings.csv" --transform log1p --test-frac 0.1 --seed 1 --rank 32 --device 0 \
  --split-out "$out/avod_split" --metrics-json "$out/avod_gpu.json" --out "$out/avod.ppmf" \
  >"$out/avod_gpu.txt" 2>"$out/avod_gpu.log" || note "AVOD on GPU FAILED: $(tail -1 "$out/avod_gpu.log")"
avod_target=$(python3 -c "print(round(1.02 * float('$(best_rmse "$out/avod_gpu.json" 2>/dev/null || echo 9)'), 4))")
python3 bench/numpyro_ppmf.py --train "$out/avod_split/train.csv" --test "$out/avod_split/test.csv" --rank 32 \
  --batch 65536 --transform log1p --target "$avod_target" --max-seconds 60 --label avod \
  >"$out/numpyro_avod.json" 2>"$out/numpyro_avod.log" || note "NumPyro AVOD FAILED: $(tail -1 "$out/numpyro_avod.log")"

note "done"
{
  echo "== gpu_check summary ($(head -2 "$out/nvidia-smi.csv" | tail -1), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)) =="
  echo "tests: $tests | cuda tests: $cuda_tests"
  printf "%-6s %14s %14s %12s %12s %10s\n" rank user_ent/s item_ent/s user_GFLOP/s item_GFLOP/s epoch_s
  python3 - "$out/bench.json" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception:
    rows = []
    print("bench: failed (see bench.txt)")
for b in rows:
    print("%-6d %14.4g %14.4g %12.1f %12.1f %10.3f" % (b["rank"], b["user_sweep_entries_per_s"], b["item_sweep_entries_per_s"],
          b["user_sweep_flops_per_s"] / 1e9, b["item_sweep_flops_per_s"] / 1e9, b["epoch_seconds"]))
PY
  for dev in 0 cpu; do echo "ML100K device $dev: $(grep -E '^test_rmse' "$out/ml_$dev.txt" 2>/dev/null | tr -s ' ') $(grep -E 'train_s|epochs' "$out/ml_$dev.txt" 2>/dev/null | tr -s ' ' | tr '\n' ' ')"; done
  echo "ML100K to RMSE $ml_target: ppmf-gpu $(time_to "$out/ml_0.json" $ml_target 2>/dev/null) s | numpyro $(cat "$out/numpyro_ml.json" 2>/dev/null)"
  echo "AVOD to RMSE $avod_target: ppmf-gpu $(time_to "$out/avod_gpu.json" "$avod_target" 2>/dev/null) s | numpyro $(cat "$out/numpyro_avod.json" 2>/dev/null)"
  echo "total ${SECONDS}s"
} | tee "$out/summary.txt"
