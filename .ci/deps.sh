#!/usr/bin/env bash
# Installs the Debian packages ppmf-gpu builds with, only those that are missing (apt, no other
# network). The CUDA Toolkit is optional and not installed here: CMake uses it when nvcc is found.
# Clang, its runtime libraries and libomp build the fuzz targets (cmake --preset fuzz); Open MPI
# builds and tests distributed training (mpirun).
set -euo pipefail
packages=(cmake make g++ clang libclang-rt-dev libomp-dev libgtest-dev libgmock-dev libbenchmark-dev
          zlib1g-dev nlohmann-json3-dev libopenmpi-dev openmpi-bin
          pybind11-dev python3-dev python3-numpy python3-pandas python3-pytest python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
