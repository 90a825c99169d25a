#!/usr/bin/env bash
# Installs the Debian 12 packages ironroot builds and tests with. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache python3
  libssl-dev libtss2-dev libsqlite3-dev libboost-dev libefivar-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
  tpm2-tools bc swtpm swtpm-tools libtss2-tcti-swtpm0
  libre2-dev libsimdjson-dev                   # policy: linear-time regexes, fast JSON
  libpcap-dev libnetfilter-conntrack-dev libmnl-dev tcpdump tshark iproute2 nftables  # sensor
  dmidecode fwupd python3-jsonschema           # posture
  openssl                                      # tests cross-check signatures with its CLI
  spin gcc                                     # the Promela model of the protocol
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
