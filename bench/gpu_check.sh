#!/usr/bin/env bash
# The one prepared GPU check: build, a smoke test that stops everything when it fails, the CUDA
# tests (every launch synchronised and checked), the whole suite, compute-sanitizer on the CUDA
# tests, `ppmf-gpu bench` at ranks 32, 64 and 128 on 100 M entries, MovieLens 100K on GPU and
# CPU, and NumPyro's SVI against ppmf-gpu on MovieLens 100K; a summary table last.
#
# How to run it (GPU time is scarce: dry-run here after every change to this script):
#   1. here, once:   bash bench/prepare_gpu_check.sh          (fills bench/data and bench/local)
#   2. here:         bash bench/gpu_check.sh --dry            (every phase on the CPU, ~3 minutes)
#   3. the device:   run  command "bash bench/gpu_check.sh"
#                         carry   ["bench/data", "bench/local"]
#                         timeout_s 540     (the phases' own limits add up to about 8 minutes)
# It writes at most 8 small files to $OUT (summary.txt, steps.log, build.log, tests.log,
# sanitizer.log, bench.json, ml.json, numpyro.json); scratch goes to /tmp. Then record every number
# in bench/RESULTS.md with the card, date and commit.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dry=0
[ "${1:-}" = "--dry" ] && dry=1
out=${OUT:-/tmp/ppmf_gpu_check_out}
scratch=/tmp/ppmf_gpu_check
mkdir -p "$out" "$scratch"
build=$scratch/build
bin=$build/ppmf-gpu
start=$SECONDS
dev=0
[ $dry = 1 ] && dev=cpu
note() { echo "[$((SECONDS - start))s] $*" | tee -a "$out/steps.log" >&2; }
# phase NAME SECONDS LOG COMMAND...: runs COMMAND (a shell function too) with its output appended to
# LOG, in its own process group, killed with everything it started when the time limit passes; the
# phase's status is the command's (124 on the time limit).
set -m
phase() {
  local name=$1 limit=$2 log=$3
  shift 3
  note "$name (limit ${limit}s)"
  "$@" >>"$log" 2>&1 &
  local pid=$! rc
  (sleep "$limit"; kill -TERM -- -"$pid" 2>/dev/null; sleep 10; kill -KILL -- -"$pid" 2>/dev/null) &
  local watchdog=$!
  wait "$pid"
  rc=$?
  if kill -0 "$watchdog" 2>/dev/null; then
    kill -- -"$watchdog" 2>/dev/null
  else
    rc=124
  fi
  wait "$watchdog" 2>/dev/null
  [ $rc = 0 ] || note "$name: FAILED (exit $rc$([ $rc = 124 ] && echo ', time limit'))"
  return $rc
}
keep_tail() { tail -c 200000 "$1" >"$2" 2>/dev/null; }  # files back from the device stay small

# 1. Build what the tests run: the CLI, the CUDA plugin, the test binary, and the Python package
# where pybind11 is installed (GoogleTest from the carried sources when the system has none; no
# Google Benchmark).
gtest=()
[ -f bench/local/googletest/CMakeLists.txt ] && gtest=(-DPPMF_GTEST_SOURCE_DIR="$root/bench/local/googletest")
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
build_all() {
  cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DPPMF_BUILD_BENCH=OFF "${gtest[@]}" &&
    cmake --build "$build" -j"$(nproc)"
}
phase "build" 300 "$scratch/build.log" build_all
build_rc=$?
keep_tail "$scratch/build.log" "$out/build.log"
[ $build_rc = 0 ] || { tail -30 "$scratch/build.log"; exit 1; }

# 2. Smoke: the device is seen and trains; nothing else runs if this fails.
smoke() {
  if [ $dry = 0 ]; then nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; fi
  "$bin" devices
  "$bin" train --device "$dev" --epochs 2 --valid-frac 0 --rank 8 --quiet --out "$scratch/smoke.ppmf"
}
phase "smoke" 60 "$scratch/smoke.log" smoke
smoke_rc=$?
cat "$scratch/smoke.log" >>"$out/steps.log"
[ $smoke_rc = 0 ] || { note "smoke failed: $(tail -3 "$scratch/smoke.log" | tr '\n' ' ')"; exit 1; }

# 3. Tests: the CUDA tests with every launch synchronised and checked (a fault names its kernel),
# then the whole suite.
PPMF_CUDA_SYNC=1 phase "cuda tests (PPMF_CUDA_SYNC=1)" 150 "$scratch/tests.log" \
  "$build/tests/ppmf_tests" --gtest_filter='*Cuda*'
phase "all tests" 150 "$scratch/tests.log" ctest --test-dir "$build" -j8 --output-on-failure
cuda_tests=$(grep -E "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test" "$scratch/tests.log" | head -3 | tr -s ' \n' ' ')
all_tests=$(grep -E "tests passed|tests failed" "$scratch/tests.log" | tail -1)
keep_tail "$scratch/tests.log" "$out/tests.log"

# 4. compute-sanitizer on the CUDA tests that exercise every kernel on small problems.
sanitized="skipped (dry run)"
if [ $dry = 0 ] && command -v compute-sanitizer >/dev/null; then
  filter='SolveRows.*:ImplicitZeros.*:DistributedOps.*:TrainPass.*:GroupMoments.*:Predict.*:ScoreAllItems.*'
  for tool in memcheck racecheck; do
    phase "compute-sanitizer $tool" 60 "$scratch/sanitizer.log" compute-sanitizer --tool "$tool" \
      --error-exitcode 3 "$build/tests/ppmf_tests" --gtest_filter="$filter"
    sanitized="$sanitized $tool:$?"
  done
  sanitized=${sanitized#skipped (dry run)}
  keep_tail "$scratch/sanitizer.log" "$out/sanitizer.log"
fi

# 5. Throughput: the exact sweeps at ranks 32, 64, 128 (the dry run: a small problem).
if [ $dry = 0 ]; then size=(--users 2000000 --items 200000 --nnz 100000000); else size=(--users 20000 --items 4000 --nnz 200000); fi
phase "ppmf-gpu bench" 150 "$scratch/bench.txt" "$bin" bench --device "$dev" "${size[@]}" \
  --rank 32,64,128 --json "$out/bench.json"

# 6. MovieLens 100K on the GPU and the CPU, the same split; then NumPyro's SVI of the same model to
# ppmf-gpu's held-out RMSE.
ml=bench/data/u.data
[ -f "$ml" ] || note "$ml is missing: run bench/prepare_gpu_check.sh here and carry bench/data"
ml_run() {
  for d in $(printf '%s\n' "$dev" cpu | sort -u); do
    "$bin" train --data "$ml" --test-frac 0.1 --seed 1 --rank 32 --device "$d" --split-out "$scratch/ml" \
      --metrics-json "$scratch/ml_$d.json" --out "$scratch/ml_$d.ppmf" >"$scratch/ml_$d.txt" 2>&1 || return 1
  done
}
ml_rmse() { grep -E '^test_rmse' "$1" | awk '{print $2}'; }
phase "MovieLens 100K on $(printf "%s\n" "$dev" cpu | sort -u | tr "\n" " ")" 60 "$scratch/ml.log" ml_run
python3 - "$scratch" "$dev" >"$out/ml.json" <<'PY'
import json, sys
scratch, dev = sys.argv[1], sys.argv[2]
runs = {}
for d in dict.fromkeys([dev, "cpu"]):
    try:
        m = json.load(open(f"{scratch}/ml_{d}.json"))
        text = open(f"{scratch}/ml_{d}.txt").read()
        rmse = [l.split()[1] for l in text.splitlines() if l.startswith("test_rmse")]
        runs[d] = {"test_rmse": float(rmse[0]) if rmse else None,
                   "train_seconds": sum(e["seconds"] for e in m["epochs"]), "epochs": len(m["epochs"])}
    except Exception as e:
        runs[d] = {"error": str(e)}
print(json.dumps(runs))
PY
# 6b. The same training as one rank over NCCL (distributed code path, no MPI): its test RMSE next
# to the single-GPU run's, and its time in collectives.
nccl_result="skipped (dry run)"
if [ $dry = 0 ]; then
  nccl_run() {
    "$bin" train --data "$ml" --test-frac 0.1 --seed 1 --rank 32 --device "$dev" --transport nccl \
      --metrics-json "$scratch/ml_nccl.json" --out "$scratch/ml_nccl.ppmf" >"$scratch/ml_nccl.txt" 2>&1
  }
  phase "MovieLens 100K, one rank over NCCL" 60 "$scratch/nccl.log" nccl_run
  nccl_result="test_rmse $(ml_rmse "$scratch/ml_nccl.txt") (single GPU $(ml_rmse "$scratch/ml_$dev.txt")); $(grep -E '^ranks' "$scratch/ml_nccl.txt" || tail -2 "$scratch/ml_nccl.txt" | tr '\n' ' ')"
fi
target=$(ml_rmse "$scratch/ml_$dev.txt")
if [ -n "$target" ] && python3 -c "import numpyro" 2>/dev/null; then
  numpyro() {
    python3 bench/numpyro_ppmf.py --train "$scratch/ml/train.csv" --test "$scratch/ml/test.csv" \
      --rank 32 --batch 4096 --target "$(python3 -c "print(round(1.02 * $target, 4))")" \
      --max-seconds 60 --label movielens-100k >"$out/numpyro.json"
  }
  phase "NumPyro vs ppmf-gpu, MovieLens 100K" 120 "$scratch/numpyro.log" numpyro
else
  echo '{"skipped": "numpyro not installed or no ppmf-gpu result"}' >"$out/numpyro.json"
fi

note "done"
{
  echo "== gpu_check summary ($([ $dry = 1 ] && echo 'DRY RUN on the CPU' || nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)) =="
  echo "cuda tests (synchronised): $cuda_tests | all tests: $all_tests | compute-sanitizer: $sanitized"
  printf "%-5s %13s %13s %12s %12s %8s %8s %9s\n" rank user_ent/s item_ent/s user_GFLOP/s item_GFLOP/s of_peak of_copy epoch_s
  python3 - "$out/bench.json" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception:
    rows = []
    print("bench: failed (see steps.log)")
for b in rows:
    u, i = b["user_sweep"], b["item_sweep"]
    print("%-5d %13.4g %13.4g %12.1f %12.1f %7.1f%% %7.1f%% %9.3f" % (
        b["rank"], u["entries_per_s"], i["entries_per_s"], u["flops_per_s"] / 1e9,
        i["flops_per_s"] / 1e9, 100 * u["flops_per_s"] / b["peak_flops_per_s"],
        100 * u["bytes_per_s"] / b["copy_bytes_per_s"], b["epoch_seconds"]))
for b in rows:  # the watch model's sweeps (implicit zeros)
    u, i = b.get("watch_user_sweep"), b.get("watch_item_sweep")
    if u and u["seconds"]:
        print("%-5d %13.4g %13.4g %12.1f %12.1f   (watch model's sweeps)" % (
            b["rank"], u["entries_per_s"], i["entries_per_s"], u["flops_per_s"] / 1e9,
            i["flops_per_s"] / 1e9))
if rows:
    print("peak %.1f GFLOP/s, copy %.1f GB/s" % (rows[0]["peak_flops_per_s"] / 1e9, rows[0]["copy_bytes_per_s"] / 1e9))
PY
  echo "MovieLens 100K: $(cat "$out/ml.json")"
  echo "One rank over NCCL: $nccl_result"
  echo "NumPyro: $(cat "$out/numpyro.json")"
  echo "total ${SECONDS}s"
} | tee "$out/summary.txt"
