#!/usr/bin/env bash
# Builds the libFuzzer targets (cmake --preset fuzz: Clang, ASan, UBSan) and runs each for SECONDS
# (default 20) from its seed corpus; fails, naming the input it saved, when one crashes. What the
# fuzzer learns goes to a scratch copy, not to the repository's corpus.
#
# Usage: bash tests/fuzz/smoke.sh [SECONDS]
# A crash: add the saved input to tests/fuzz/regressions/<harness>/ with the fix.
set -euo pipefail
seconds=${1:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for harness in ratings_reader group_reader model_file checkpoint_file; do
  mkdir -p "$work/$harness" "$work/crashes"
  cp tests/fuzz/corpus/$harness/* "$work/$harness/"
  if ! build-fuzz/tests/fuzz/fuzz_$harness -max_total_time="$seconds" -max_len=8192 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/crashes/$harness-" \
       "$work/$harness" >"$work/$harness.log" 2>&1; then
    tail -40 "$work/$harness.log" >&2
    mkdir -p build-fuzz/crashes && cp "$work"/crashes/* build-fuzz/crashes/ 2>/dev/null || true
    echo "fuzz: $harness crashed; inputs saved in build-fuzz/crashes/" >&2
    status=1
  else
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$harness.log" | grep -o '[0-9]*$')
    echo "fuzz: $harness: ${runs:-?} inputs in ${seconds}s, no crash"
  fi
done
exit $status
