#!/usr/bin/env bash
# Warm-start retraining against a cold start on generated AVOD data: "yesterday" holds 90% of the
# users, "today" adds a day of new users (the other 10%). Trains yesterday's model, then today's
# model cold and warm (--warm-start), on the same held-out split, and prints the epochs each needs
# to come within 0.5% of the cold run's best held-out NLL, then the watch part's time and lists.
#
# Usage: bench/warm_start.sh [USERS] [ITEMS]      (defaults: 50000 5000); WARM_ARGS adds options
# to the warm run only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PPMF_BIN:-$root/build/ppmf-gpu}
users=${1:-50000}
items=${2:-5000}
out=$(mktemp -d)
"$bin" synth --out "$out/avod" --users "$users" --items "$items" --seed 3 >/dev/null
# Today's held-out entries are drawn first, so yesterday's model never saw them either.
awk -v train="$out/train.csv" -v test="$out/test.csv" 'BEGIN { srand(7) }
  NR == 1 { print > train; print > test; next } { print > (rand() < 0.1 ? test : train) }' "$out/avod/ratings.csv"
cutoff=$(printf 'u%07d' $((users * 9 / 10)))
awk -F, -v cut="$cutoff" 'NR == 1 || $1 < cut' "$out/train.csv" >"$out/yesterday.csv"
common=(--user-groups "$out/avod/user_groups.csv" --item-groups "$out/avod/item_groups.csv" --transform log1p
        --rank 16 --device cpu --quiet --valid-frac 0)
"$bin" train --data "$out/yesterday.csv" --epochs 40 --out "$out/yesterday.ppmf" "${common[@]}" >/dev/null
"$bin" train --data "$out/train.csv" --test "$out/test.csv" --epochs 40 --out "$out/cold.ppmf" \
  --metrics-json "$out/cold.json" "${common[@]}" >/dev/null
"$bin" train --data "$out/train.csv" --test "$out/test.csv" --epochs 40 --out "$out/warm.ppmf" \
  --warm-start "$out/yesterday.ppmf" --metrics-json "$out/warm.json" "${common[@]}" ${WARM_ARGS:-} >/dev/null
target=$(grep -o '"test_nll": [-0-9.e]*' "$out/cold.json" | awk '{print $2}' | sort -g | head -1)
for run in cold warm; do
  grep -o '"epoch": [0-9]*\|"test_nll": [-0-9.e]*' "$out/$run.json" | awk -v t="$target" -v run="$run" '
    /epoch/ { e = $2 } /test_nll/ { if (!done && $2 <= t + 0.005 * (t < 0 ? -t : t)) { done = 1; hit = e }
                                    last = $2; if (first == "") first = $2 }
    END { printf "%-5s epoch-1 NLL %.4f, best-cold target %.4f reached at epoch %s, final NLL %.4f\n",
                 run, first, t, done ? hit : "never (40)", last }'
done
# The watch part: its time (the warm run keeps the old model's weights instead of searching) and
# the top-10 lists of both models on today's held-out entries (every entry relevant).
for run in cold warm; do
  seconds=$(grep -o '"watch_seconds": [0-9.e]*' "$out/$run.json" | awk '{print $2}')
  "$bin" eval --model "$out/$run.ppmf" --data "$out/test.csv" --relevant all --device cpu |
    awk -v run="$run" -v s="$seconds" '/^model \(/ { m = sprintf("recall@10 %s, NDCG@10 %s", $4, $5) }
      /^most popular/ { p = sprintf("most popular %s / %s", $4, $5) }
      END { printf "%-5s watch part %.2f s, %s (%s)\n", run, s, m, p }'
done
rm -rf "$out"
