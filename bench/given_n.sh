#!/usr/bin/env bash
# The given-N cold-start tables on the public data sets in ../shared/data (each skipped when
# absent): MovieTweetings (time column 4) and CiaoDVD (columns 1,2,5, dates in column 6), ranks 16
# and 0, three seeds (the seed picks the held-out users and the training seed). Prints one Markdown
# table per data set and rank: RMSE / 90% coverage per model, target rule, N and seed, then the
# mean over seeds. Logs and JSON go to $OUT_DIR.
#
# Usage: bench/given_n.sh [DATA_DIR] [SEEDS]      (defaults: ../shared/data, "1 2 3")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}
seeds=${2:-1 2 3}
bin=${PPMF_BIN:-$root/build/ppmf-gpu}
out=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$out"
[ -x "$bin" ] || { echo "given_n.sh: build first ($bin not found)" >&2; exit 1; }

# run NAME FILE RANK [eval options...]
run() {
  local name=$1 file=$2 rank=$3
  shift 3
  [ -f "$file" ] || { echo "($name absent: $file)"; return; }
  local tag="${name// /_}-r$rank"
  for seed in $seeds; do
    "$bin" eval --protocol given-n --data "$file" --n 0,1,3 --rank "$rank" --seed "$seed" \
      --device cpu --quiet --json "$out/$tag-s$seed.json" "$@" >"$out/$tag-s$seed.txt" 2>"$out/$tag-s$seed.log"
  done
  echo
  echo "**$name, rank $rank** (RMSE / 90% coverage; seeds $seeds; mean RMSE over seeds last)"
  echo
  /usr/bin/python3 - "$out" "$tag" $seeds <<'PY'
import json, sys
out, tag, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = [json.load(open(f"{out}/{tag}-s{s}.json"))["rows"] for s in seeds]
# RMSE rows only (the most-popular rows are ranking lists: bench/watch.sh reports them).
keys = [(r["targets"], r["n"], r["model"]) for r in runs[0] if r["model"] != "most-popular"]
print("| targets | N | model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean RMSE |")
print("|---|---|---|" + "---|" * (len(seeds) + 1))
for key in sorted(set(keys), key=lambda k: (k[0], k[1], ["pooled", "pooled-plain", "unpooled", "item-mean"].index(k[2]))):
    cells, rmses = [], []
    for rows in runs:
        r = next(x for x in rows if (x["targets"], x["n"], x["model"]) == key)
        cells.append(f'{r["rmse"]:.4f} / {r["coverage90"]:.3f}')
        rmses.append(r["rmse"])
    print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + f" | {sum(rmses)/len(rmses):.4f} |")
PY
}

mt=$data/movietweetings-40k/ratings.dat
ciao=$data/ciaodvd/movie-ratings.txt.gz
for rank in 16 0; do
  run "MovieTweetings" "$mt" "$rank" --time-column 4
  run "CiaoDVD" "$ciao" "$rank" --columns 1,2,5 --duplicates mean --time-column 6
done
echo
echo "$(nproc) CPU threads, logs in $out"
