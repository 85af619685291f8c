#!/usr/bin/env bash
# Training when other work competes for the cores: the wall time of `ppmf-gpu train` with 1 and
# with 2 threads (and the default thread count), on an idle machine and with a busy loop pinned
# to core 0 the whole time. Median of RUNS runs each.
#
# Usage: bash bench/shared_cores.sh [BIN] [DATA] [extra train flags...]
#   BIN  default build/ppmf-gpu;  DATA default: a generated 100,000 x 20,000 problem (2 M entries)
#   RUNS (environment) default 3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/ppmf-gpu}
data=${2:-}
shift 2 2>/dev/null || shift $#
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'kill "${busy:-}" 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "$data" ]; then
  "$bin" synth --out "$work/data" --users 100000 --items 20000 --seed 1 >/dev/null
  data=$work/data/ratings.csv
fi
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
time_train() {  # THREADS [flags] -> median wall seconds
  local threads=$1
  shift
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" train --data "$data" --device cpu --threads "$threads" --quiet --out "$work/m.ppmf" "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
  done | median
}
printf "%-10s %10s %10s %10s\n" machine "1 thread" "2 threads" "default"
for load in idle busy; do
  if [ $load = busy ]; then
    taskset -c 0 sh -c 'while :; do :; done' &
    busy=$!
    sleep 0.2
  fi
  printf "%-10s %9.2fs %9.2fs %9.2fs\n" $load "$(time_train 1 "$@")" "$(time_train 2 "$@")" "$(time_train 0 "$@")"
done
