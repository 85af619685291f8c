#!/usr/bin/env bash
# Fills the folders that bench/gpu_check.sh needs on the GPU machine, where nothing can be
# installed and ../shared is not there (both git-ignored, carried with the run):
#   bench/data/u.data           MovieLens 100K ratings (from DATA_DIR, default ../shared/data)
#   bench/local/googletest/     GoogleTest sources (Debian's /usr/src/googletest), built with the tests
#   bench/local/include/        nlohmann/json.hpp (Debian's nlohmann-json3-dev; header-only)
#
# Usage: bash bench/prepare_gpu_check.sh [DATA_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}
mkdir -p "$root/bench/data" "$root/bench/local"
cp "$data/movielens-100k/u.data" "$root/bench/data/u.data"
if [ -f /usr/src/googletest/CMakeLists.txt ]; then
  rm -rf "$root/bench/local/googletest"
  cp -r /usr/src/googletest "$root/bench/local/googletest"
else
  echo "prepare_gpu_check.sh: /usr/src/googletest not found (apt-get install googletest)" >&2
  exit 1
fi
if [ -f /usr/include/nlohmann/json.hpp ]; then
  rm -rf "$root/bench/local/include"
  mkdir -p "$root/bench/local/include"
  cp -r /usr/include/nlohmann "$root/bench/local/include/"
else
  echo "prepare_gpu_check.sh: /usr/include/nlohmann not found (apt-get install nlohmann-json3-dev)" >&2
  exit 1
fi
du -sh "$root/bench/data" "$root/bench/local"
echo "carry: bench/data bench/local"
