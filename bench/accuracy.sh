#!/usr/bin/env bash
# Accuracy on the public data sets in ../shared/data (each skipped when absent): 90/10 random entry
# splits, pooled vs unpooled vs bias-only (rank 0), RMSE overall and for users with <= 5 training
# entries (users unseen in training predicted from the size-biased new-user prior, and from the
# plain group prior: in a random entry split such users are light ones, not the users who go on to
# make most entries), held-out NLL and 90% coverage. Prints a Markdown table on stdout; logs go to
# $OUT_DIR.
#
# Usage: bench/accuracy.sh [DATA_DIR] [SEED]      (defaults: ../shared/data, 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}
seed=${2:-1}
bin=${PPMF_BIN:-$root/build/ppmf-gpu}
out=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$out"
[ -x "$bin" ] || { echo "accuracy.sh: build first ($bin not found)" >&2; exit 1; }
[ -d "$data" ] || { echo "accuracy.sh: no data directory $data" >&2; exit 1; }

echo "| data set | model | rank | test RMSE | RMSE, users <= 5 train | same, plain prior | NLL | 90% coverage | train s |"
echo "|---|---|---|---|---|---|---|---|---|"

# run NAME FILE MODEL RANK [train options...]
run() {
  local name=$1 file=$2 label=$3 rank=$4
  shift 4
  [ -f "$file" ] || { echo "| $name | (absent: $file) | | | | | | | |"; return; }
  local tag="${name// /_}-$label-r$rank"
  local start end
  start=$(date +%s.%N)
  "$bin" train --data "$file" --test-frac 0.1 --seed "$seed" --rank "$rank" --quiet --device cpu \
    --split-out "$out/$tag.split" --out "$out/$tag.ppmf" "$@" >"$out/$tag.train.log" 2>&1
  end=$(date +%s.%N)
  "$bin" eval --model "$out/$tag.ppmf" --data "$out/$tag.split/test.csv" --device cpu >"$out/$tag.eval"
  "$bin" eval --model "$out/$tag.ppmf" --data "$out/$tag.split/test.csv" --device cpu --plain-prior \
    >"$out/$tag.plain.eval"
  awk -v name="$name" -v label="$label" -v rank="$rank" -v secs="$(awk "BEGIN { print $end - $start }")" '
    FNR == 1 { file++ }
    file == 1 && $1 == "all" { rmse = $3; nll = $5; cov = $6 }
    $1 == "0" || $1 == "1" || $1 == "2-5" { if ($2 > 0) { n[file] += $2; sse[file] += $2 * $3 * $3 } }
    END {
      light = n[1] > 0 ? sprintf("%.4f (%d)", sqrt(sse[1] / n[1]), n[1]) : "-"
      plain = n[2] > 0 ? sprintf("%.4f", sqrt(sse[2] / n[2])) : "-"
      printf "| %s | %s | %s | %.4f | %s | %s | %.4f | %.3f | %.1f |\n", name, label, rank, rmse, light, plain, nll, cov, secs
    }' "$out/$tag.eval" "$out/$tag.plain.eval"
}

ml=$data/movielens-100k/u.data
run "MovieLens 100K" "$ml" pooled 10
run "MovieLens 100K" "$ml" pooled 32
run "MovieLens 100K" "$ml" unpooled 32 --no-pool
run "MovieLens 100K" "$ml" bias-only 0

ciao=$data/ciaodvd/movie-ratings.txt.gz
run "CiaoDVD" "$ciao" pooled 16 --columns 1,2,5 --duplicates mean
run "CiaoDVD" "$ciao" unpooled 16 --columns 1,2,5 --duplicates mean --no-pool
run "CiaoDVD" "$ciao" bias-only 0 --columns 1,2,5 --duplicates mean

mt=$data/movietweetings-40k/ratings.dat
run "MovieTweetings" "$mt" pooled 16
run "MovieTweetings" "$mt" unpooled 16 --no-pool
run "MovieTweetings" "$mt" bias-only 0

ft=$data/filmtrust/ratings.txt
run "FilmTrust" "$ft" pooled 16 --duplicates mean
run "FilmTrust" "$ft" unpooled 16 --duplicates mean --no-pool
run "FilmTrust" "$ft" bias-only 0 --duplicates mean

lfm=$data/lastfm-hetrec2011-2k/user_artists.dat
run "Last.fm (log1p plays)" "$lfm" pooled 16 --transform log1p
run "Last.fm (log1p plays)" "$lfm" unpooled 16 --transform log1p --no-pool
run "Last.fm (log1p plays)" "$lfm" bias-only 0 --transform log1p

echo
echo "seed $seed, $(nproc) CPU threads, logs in $out"
