#!/usr/bin/env bash
# The two commands of README.md, and their parts.
#   tools/dev.sh run    install dependencies, build, start briskd in the foreground
#   tools/dev.sh test   install dependencies, build (plain, ASan+UBSan, TSan) and run every test
#   tools/dev.sh deps | build
# Run as root on Debian 12 (apt packages; integration tests need CAP_NET_ADMIN).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang llvm libbpf-dev libxdp-dev libelf-dev zlib1g-dev
  libboost-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 iputils-ping iperf3 tcpdump procps python3-scapy isc-dhcp-client dnsmasq-base
  libdpdk-dev dpdk dpdk-dev
)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  ninja -C "$dir" -j "$(nproc)"
}

case "${1:-}" in
  deps) deps ;;
  build) deps; build build ;;
  run)
    deps
    build build
    shift
    exec build/briskd "$@"
    ;;
  test)
    deps
    echo "== build (RelWithDebInfo, -Werror)"
    build build
    echo "== ASan+UBSan build"
    build build-asan -DBRISK_SANITIZE=address -DBRISK_BENCH=OFF
    echo "== TSan build"
    build build-tsan -DBRISK_SANITIZE=thread -DBRISK_BENCH=OFF
    rc=0
    echo "== unit tests under ASan+UBSan"
    (cd build-asan && ctest -L unit --output-on-failure -j2) || rc=1
    echo "== unit and concurrency tests under TSan"
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -L unit --output-on-failure) || rc=1
    echo "== every test (unit, benchmark smoke, integration in namespaces)"
    (cd build && ctest --output-on-failure 2>&1 | tee ctest.log; exit "${PIPESTATUS[0]}") || rc=1
    # A suite that passes by skipping is not passing: as root nothing may skip.
    if [[ $(id -u) -eq 0 ]] && grep -E "\*+Skipped|Not Run" build/ctest.log; then
      echo "== FAIL: tests were skipped although this run has root (see the reasons above)"
      rc=1
    fi
    exit $rc
    ;;
  *)
    echo "usage: $0 run [briskd options] | test | deps | build" >&2
    exit 2
    ;;
esac
