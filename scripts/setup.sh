#!/usr/bin/env bash
# Installs the Debian 12 packages LARQL needs, only those missing. Idempotent.
set -euo pipefail
PKGS=(build-essential cmake ninja-build ccache pkg-config git
      clang libclang-rt-14-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libpcre2-dev nlohmann-json3-dev libcli11-dev libfmt-dev
      libcpp-httplib-dev libreadline-dev python3 python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
