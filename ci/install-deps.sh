#!/usr/bin/env bash
# Installs the Debian 12 packages rwkvbench builds and tests with. Idempotent: installs only what
# is missing, and does nothing (not even apt-get update) when everything is there. Run as root.
set -euo pipefail

packages=(
  build-essential cmake git pkg-config
  libdnnl-dev                                   # oneDNN 2.6: the CPU backend and `limits`
  ocl-icd-opencl-dev opencl-headers opencl-clhpp-headers  # OpenCL ICD loader + C/C++ headers
  pocl-opencl-icd clinfo                        # an OpenCL device on the CPU, for CI
  libfmt-dev libcli11-dev nlohmann-json3-dev
  libssl-dev                                    # SHA-256 (libcrypto) guarding cached logits and weights
  libboost-dev libboost-filesystem-dev          # Boost.Process (header-only) + what it links
  libbenchmark-dev libgtest-dev libgmock-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
