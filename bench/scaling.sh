#!/usr/bin/env bash
# Distributed training on this machine: P = 1 and P = 2 ranks under mpirun (THREADS threads per
# rank, default 1) against one process with THREADS and with 2 x THREADS threads, on a generated
# problem cut into 4 files. Per configuration, the median over RUNS runs (default 3; the
# configurations interleaved run by run, so drifts of the machine hit them alike) of: an epoch's
# wall time, entries/s per rank, rank 0's time in collectives (and the part of it spent waiting
# for the slowest rank) and the bytes it sent per epoch (from --metrics-json); then what the
# scale-out model (bench_scaleout) predicts here, from the one-process compute rate and this
# machine's copy bandwidth as the link.
#
# Usage: bash bench/scaling.sh [BUILD_DIR] [USERS] [ITEMS] [RANK]
#   defaults: build 100000 20000 32 (about 2 M entries)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
users=${2:-100000}
items=${3:-20000}
rank=${4:-32}
runs=${RUNS:-3}
threads=${THREADS:-1}
bin=$build/ppmf-gpu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)

"$bin" synth --out "$work/data" --users "$users" --items "$items" --seed 1 >/dev/null
{ read -r header; split -n l/4 -d --additional-suffix=.csv - "$work/part"; } < "$work/data/ratings.csv"
for f in "$work"/part*.csv; do { echo "$header"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"; done
entries=$(($(wc -l < "$work/data/ratings.csv") - 1))
flags=(train --data "$work/part*.csv" --user-groups "$work/data/user_groups.csv"
       --item-groups "$work/data/item_groups.csv" --transform log1p --rank "$rank" --epochs 6
       --valid-frac 0 --no-watch --threads "$threads" --quiet --out "$work/m.ppmf")

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# One run of a configuration: RANKS (0: no mpirun) -> a row appended to $work/rows.RANKS.
run_once() {
  local ranks=$1
  if [ "$ranks" = 0 ]; then
    "$bin" "${flags[@]}" --metrics-json "$work/m.json" > /dev/null
  elif [ "$ranks" = w ]; then  # one process with the threads of two ranks
    "$bin" "${flags[@]}" --threads $((2 * threads)) --metrics-json "$work/m.json" > /dev/null
  else
    "${mpirun[@]}" -np "$ranks" "$bin" "${flags[@]}" --metrics-json "$work/m.json" > /dev/null
  fi
  /usr/bin/python3 - "$work/m.json" "$entries" "${ranks/w/0}" >> "$work/rows.$ranks" <<'PY'
import json, statistics, sys
m = json.load(open(sys.argv[1]))
entries, ranks = int(sys.argv[2]), max(1, int(sys.argv[3]))
epoch = statistics.median(e["seconds"] for e in m["epochs"])
d = m.get("distributed") or {}
print(epoch, entries / ranks / epoch, d.get("comm_seconds_per_epoch", 0), d.get("comm_bytes_per_epoch", 0),
      d.get("comm_wait_seconds_per_epoch", 0))
PY
}
# The medians of a configuration's runs: LABEL RANKS.
report() {
  local label=$1 ranks=$2 cols=()
  for c in 1 2 3 4 5; do cols+=("$(awk -v c=$c '{print $c}' "$work/rows.$ranks" | median)"); done
  printf "%-26s %10.3f %16.0f %12.4f %12.4f %14.2f\n" "$label" "${cols[0]}" "${cols[1]}" "${cols[2]}" \
    "${cols[4]}" "$(echo "${cols[3]} / 1000000" | bc -l)"
}

echo "# $entries entries, $users users, $items items, rank $rank; $threads thread(s) per rank; medians of $runs runs, the configurations interleaved"
printf "%-26s %10s %16s %12s %12s %14s\n" configuration epoch_s entries/s/rank comm_s/epoch of_it_wait MB/epoch
for _ in $(seq "$runs"); do
  for ranks in 0 w 1 2; do run_once $ranks; done
done
report "1 process" 0
report "1 process, 2x threads" w
report "mpirun P=1" 1
report "mpirun P=2" 2
one_epoch=$(awk '{print $1}' "$work/rows.0" | median)

# The model: compute rate from one process's epoch; the link: this machine's copy bandwidth.
flops=$(/usr/bin/python3 -c "
m = $rank + 1; e = $entries; u = $users; i = $items
f = 2 * e * (m * (m + 1) + 2 * m) + (u + i) * (2 * m**3 / 3 + 2 * m * m) + e * 8 * m
print(f / $one_epoch)")
# Shared memory between ranks: each byte is copied ~4 times (into our message, into and out of
# Open MPI's shared segment, into place), so the link is a quarter of one core's copy bandwidth.
"$bin" bench --users 2000 --items 200 --nnz 20000 --rank 4 --device cpu --threads 1 \
  --json "$work/bench.json" > /dev/null 2>&1
bw=$(/usr/bin/python3 -c "import json; print(json.load(open('$work/bench.json'))[0]['copy_bytes_per_s'] / 4)")
echo "# model (bench_scaleout): compute rate $flops flop/s from one process, link $bw B/s:"
"$build/bench/bench_scaleout" --entries "$entries" --users "$users" --items "$items" --rank "$rank" \
  --groups 6 --ranks 1,2 --ranks-per-node 2 --flops "$flops" --intra "$bw" --inter "$bw" --latency 2e-5 | tail -n +2
