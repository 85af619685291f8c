#!/usr/bin/env bash
# Top-10 recommendations of the watch model against the most-popular lists on public data sets:
# a random 90/10 split per seed (train --test-frac 0.1 --seed S), top 10 among items unseen in
# training, relevant: held-out ratings >= 4 on MovieLens 100K, every held-out entry on Last.fm and
# Steam; recall@10, NDCG@10 and catalog coverage of `eval` for the default objective (watch), the
# expected objective and the most-popular lists, and the minutes part's test RMSE with and
# without the watch model; then new users (the given-N protocol, N = 0, 1, 3): recall@10 and
# NDCG@10 of the pooled model's watch lists and of the most-popular lists.
#
# Usage: bash bench/watch.sh [BIN] [DATA_DIR]   (default build/ppmf-gpu, ../shared/data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/ppmf-gpu}
data=${2:-$root/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf "%-16s %4s %-14s %8s %8s %8s %10s %9s\n" data seed lists recall ndcg coverage test_rmse seconds
run() {  # NAME FILE RELEVANT [train flags...]
  local name=$1 file=$2 relevant=$3
  shift 3
  for seed in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" train --data "$file" --test-frac 0.1 --seed "$seed" --rank 32 --device cpu --quiet \
      --split-out "$work/split" --out "$work/m.ppmf" --metrics-json "$work/m.json" "$@" >/dev/null
    t1=$(date +%s.%N)
    "$bin" train --data "$work/split/train.csv" --test "$work/split/test.csv" --seed "$seed" \
      --rank 32 --device cpu --quiet --no-watch --out "$work/n.ppmf" "$@" > "$work/n.txt"
    local rmse with
    with=$("$bin" info --model "$work/m.ppmf" | grep -o 'test rmse [0-9.]*' | grep -o '[0-9.]*$')
    rmse=$(grep -o 'test_rmse *[0-9.]*' "$work/n.txt" | grep -o '[0-9.]*$')
    for objective in watch expected; do
      "$bin" eval --model "$work/m.ppmf" --data "$work/split/test.csv" --relevant "$relevant" \
        --objective "$objective" --device cpu > "$work/eval.txt"
      awk -v n="$name" -v s="$seed" -v o="$objective" -v r="$with" -v t="$(echo "$t1 - $t0" | bc)" \
        '/^model \(/ {printf "%-16s %4s %-14s %8.4f %8.4f %8.4f %10s %9.2f\n", n, s, o, $4, $5, $6, r, t}' \
        "$work/eval.txt"
    done
    awk -v n="$name" -v s="$seed" -v r="$rmse" \
      '/^most popular/ {printf "%-16s %4s %-14s %8.4f %8.4f %8.4f %10s\n", n, s, "most-popular", $4, $5, $6, r " (no watch)"}' \
      "$work/eval.txt"
  done
}
# New users: the given-N protocol (20% of the users held out, their first N entries folded in,
# the entries after them scored), the watch lists of the pooled model against the most-popular
# lists of the same users.
given_n() {  # NAME FILE RELEVANT [eval flags...]
  local name=$1 file=$2 relevant=$3
  shift 3
  for seed in 1 2 3; do
    "$bin" eval --protocol given-n --data "$file" --relevant "$relevant" --n 0,1,3 --seed "$seed" \
      --rank 32 --device cpu --quiet "$@" |
      awk -v n="$name" -v s="$seed" '$1 == "pooled" && $2 == "after-n" { printf "%-16s %4s %-14s %8.4f %8.4f   N = %s, %s users\n", n, s, "given-n watch", $9, $10, $3, $4 }
        $1 == "most-popular" && $2 == "after-n" { printf "%-16s %4s %-14s %8.4f %8.4f   N = %s\n", n, s, "given-n popular", $(NF-1), $NF, $3 }'
  done
}

run "MovieLens 100K" "$data/movielens-100k/u.data" 3.5
run "Last.fm" "$data/lastfm-hetrec2011-2k/user_artists.dat" all --transform log1p
run "Steam" "$data/steam-200k-caserec/game_play.dat" all --transform log1p --duplicates sum
given_n "MovieLens 100K" "$data/movielens-100k/u.data" 3.5 --time-column 4
given_n "Last.fm" "$data/lastfm-hetrec2011-2k/user_artists.dat" all --transform log1p
given_n "Steam" "$data/steam-200k-caserec/game_play.dat" all --transform log1p --duplicates sum
