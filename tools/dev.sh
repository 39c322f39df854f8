#!/usr/bin/env bash
# The two commands of README.md, and their parts.
#   tools/dev.sh run    install dependencies, build, start briskd in the foreground, attached to
#                       an Open vSwitch database (ovsdb-server; see "The Open vSwitch database")
#   tools/dev.sh start  the same without installing or building (the build that is there)
#   tools/dev.sh stop-db  stop the ovsdb-server that `run`/`start` started (the database stays)
#   tools/dev.sh test   install dependencies, build (plain, ASan+UBSan, TSan, fuzz), run every test
#   tools/dev.sh fuzz   build the libFuzzer targets (build-fuzz) and run each FUZZ_SECONDS (60)
#   tools/dev.sh deps | build
# Run as root on Debian 12 (apt packages; integration tests need CAP_NET_ADMIN).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang llvm libbpf-dev libxdp-dev libelf-dev zlib1g-dev
  libboost-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  iproute2 iputils-ping iperf3 tcpdump ethtool procps python3-scapy isc-dhcp-client dnsmasq-base curl
  tshark openvswitch-switch gnuplot-nox
  libdpdk-dev dpdk dpdk-dev
  qemu-system-x86 openvswitch-switch-dpdk
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

build() {  # build DIR [cmake args...] [-- ninja targets...]  (no targets: everything)
  local dir=$1; shift
  local args=() targets=()
  while (($#)) && [[ $1 != -- ]]; do args+=("$1"); shift; done
  (($#)) && { shift; targets=("$@"); }
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LINE_TABLES_FLAGS[@]}" "${args[@]}" >/dev/null
  ninja -C "$dir" -j "$(nproc)" "${targets[@]}"
}

# Every tree gets line tables only (-g1 instead of -g): function names and lines for perf,
# callgrind, gdb backtraces and sanitizer reports, no local variables; a third less compile
# time (control/switch.cpp: 23.9 s at -O2 -g, 14.5 s at -O2 -g1). Later -D's override these.
LINE_TABLES_FLAGS=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
# The sanitizer trees also compile brisk_control, the unit tests and brisk-bench as one
# translation unit each (BRISK_UNITY_BUILD, CMakeLists.txt): their sources share nlohmann/json,
# gtest and the control model's headers, which are then parsed and their inline code emitted
# once per target (ASan tree: 710 CPU-s before, 392 after). Not the plain -O2 tree nor the
# fuzz tree, where one big unit became a long serial step (92 s and 115 s for brisk_control).
# The sanitizer trees compile with -O1 and line tables only (-g1): enough for the sanitizers'
# stack traces, and about 40% less compile time per file than -O2 -g (the datapath library
# keeps its own -O3; the tests' and the harness's own sources take -O0: CMakeLists.txt,
# BRISK_TEST_COMPILE_OPTIONS). They exist to run tests, not to be measured: no benchmarks.
SANITIZER_FLAGS=(-DBRISK_BENCH=OFF -DBRISK_UNITY_BUILD=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
                 "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
# The plain tree is the programs' (-O2, -Werror): what `build` and `run` make, less the test
# executables, whose tests run in the sanitizer trees (the ASan tree builds every target too).
PLAIN_TARGETS=(briskd brisk ovs_ofctl brisk-bench brisk-microbench brisk_mirror_bench)
# The TSan tree runs the test executables (unit tests, and the AF_XDP / AF_PACKET driver tests
# whose workers, control thread and kernel share rings and a UMEM), and briskd for the metrics
# test (prometheus-cpp's threads ask the control thread for snapshots: control/metrics.hpp).
TSAN_TARGETS=(brisk_unit_tests brisk_afpacket_tests brisk_afxdp_tests briskd brisk)

# Fuzz targets: clang, ASan+UBSan, libFuzzer; only the fuzz_* targets are built in build-fuzz.
FUZZ_TARGETS=(fuzz_pipeline fuzz_commands fuzz_server fuzz_state fuzz_ovsdb)
fuzz_build() {
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LINE_TABLES_FLAGS[@]}" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DBRISK_FUZZ=ON -DBRISK_BENCH=OFF >/dev/null
  ninja -C build-fuzz -j "$(nproc)" "${FUZZ_TARGETS[@]}"
}

# Run the fuzz targets for FUZZ_SECONDS (default 60) each on its committed seed corpus
# (tests/fuzz/corpus/<target>, read only) plus a working corpus in build-fuzz/corpus/<target>.
# A crash, leak, timeout or invariant violation fails; the input is saved as
# build-fuzz/artifacts/<target>-crash-*. Full logs: build-fuzz/<target>.log.
fuzz_run() {
  local secs=${FUZZ_SECONDS:-60} rc=0 t
  local -A pids=()
  mkdir -p build-fuzz/artifacts
  # The targets run side by side (one per core); each one's log is read when it is done.
  for t in "${FUZZ_TARGETS[@]}"; do
    local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                -artifact_prefix="build-fuzz/artifacts/$t-")
    [[ -f tests/fuzz/$t.dict ]] && args+=(-dict="tests/fuzz/$t.dict")
    case $t in fuzz_pipeline) args+=(-max_len=20000) ;; fuzz_state) args+=(-max_len=8192) ;; *) args+=(-max_len=2048) ;; esac
    mkdir -p "build-fuzz/corpus/$t"
    echo "== fuzzing $t for ${secs} s"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build-fuzz/tests/fuzz/$t" "${args[@]}" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
      >"build-fuzz/$t.log" 2>&1 &
    pids[$t]=$!
  done
  for t in "${FUZZ_TARGETS[@]}"; do
    if ! wait "${pids[$t]}"; then
      echo "== FAIL: $t found a problem (input in build-fuzz/artifacts/):"
      grep -v "^#" "build-fuzz/$t.log" | tail -n 60
      rc=1
    fi
    grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "build-fuzz/$t.log" || true
  done
  return $rc
}

# ------------------------------------------------------------------ the Open vSwitch database
# `run` and `start` attach briskd to an Open vSwitch database (briskd --ovsdb), so Open
# vSwitch's own ovs-vsctl configures it right away:
#   - an ovsdb-server already serving $OVS_DB_SOCK (Open vSwitch's, e.g. its systemd unit
#     ovsdb-server.service) is used as it is, unless ovs-vswitchd runs on it (its pidfile
#     ovs-vswitchd.pid next to the socket names a live ovs-vswitchd: two switches must not
#     realise the same rows; docs/operations.md says how to switch over). Then, as when no
#     server answers there, dev.sh serves its own: the database $STATE_DIR/conf.db, made from
#     Open vSwitch's schema once (converted when the schema is newer) and kept across runs,
#     served by an ovsdb-server on unix:$RUN_DIR/db.sock (pidfile and control socket next to
#     it, log in $STATE_DIR/ovsdb-server.log), detached so it outlives briskd as
#     ovsdb-server.service does.
#     A server already answering there is used again; a dead one's socket and pidfile are
#     replaced. `ovs-vsctl --db=unix:$RUN_DIR/db.sock ...`, or OVS_RUNDIR=$RUN_DIR, reaches it.
# briskd options that name --ovsdb themselves, or BRISK_OVSDB=off, start briskd without one.
# The paths can be moved (the integration test does): BRISK_RUN_DIR, BRISK_STATE_DIR,
# BRISK_OVS_DB_SOCK, BRISK_OVS_SCHEMA; BRISKD is the daemon to start.
RUN_DIR=${BRISK_RUN_DIR:-/run/brisk}
STATE_DIR=${BRISK_STATE_DIR:-/var/lib/brisk}
OVS_DB_SOCK=${BRISK_OVS_DB_SOCK:-/run/openvswitch/db.sock}
OVS_SCHEMA=${BRISK_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
BRISKD=${BRISKD:-build/briskd}

die() {
  echo "dev.sh: $*" >&2
  exit 1
}

# db_answers <socket>: an ovsdb-server answers there and serves the Open_vSwitch database.
db_answers() {
  [[ -S $1 ]] && timeout 5 ovsdb-client list-dbs "unix:$1" 2>/dev/null | grep -qx Open_vSwitch
}

# live_pid <pidfile> <program>: the pid in the file if that process runs <program>, else nothing.
live_pid() {
  local pid
  [[ -r $1 ]] && read -r pid <"$1" 2>/dev/null && [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] && echo "$pid"
  return 0
}

# ovsdb_up: sets DB_REMOTE to the database briskd attaches to, starting ovsdb-server if needed.
ovsdb_up() {
  local tool
  for tool in ovsdb-server ovsdb-tool ovsdb-client ovs-vsctl; do
    command -v "$tool" >/dev/null || die "$tool is missing: install Debian's openvswitch-switch (tools/dev.sh deps)"
  done
  if db_answers "$OVS_DB_SOCK"; then
    local vs
    vs=$(live_pid "$(dirname "$OVS_DB_SOCK")/ovs-vswitchd.pid" ovs-vswitchd)
    if [[ -z $vs ]]; then
      DB_REMOTE="unix:$OVS_DB_SOCK"
      echo "== using the Open vSwitch database served at $DB_REMOTE"
      return
    fi
    echo "== ovs-vswitchd (pid $vs) runs on the database at $OVS_DB_SOCK: brisk does not take" \
      "its place (to switch over: docs/operations.md); brisk gets a database of its own"
  fi
  local sock="$RUN_DIR/db.sock" db="$STATE_DIR/conf.db" pid
  DB_REMOTE="unix:$sock"
  mkdir -p -m 0750 "$RUN_DIR" "$STATE_DIR" || die "cannot make $RUN_DIR and $STATE_DIR"
  if db_answers "$sock"; then
    echo "== ovsdb-server (pid $(live_pid "$RUN_DIR/ovsdb-server.pid" ovsdb-server)) already serves $db at $DB_REMOTE"
  else
    [[ -r $OVS_SCHEMA ]] || die "no Open vSwitch schema at $OVS_SCHEMA: install Debian's openvswitch-common"
    if [[ ! -e $db ]]; then
      ovsdb-tool create "$db" "$OVS_SCHEMA" || die "ovsdb-tool create $db failed"
      echo "== made the database $db from $OVS_SCHEMA"
    elif [[ $(ovsdb-tool db-name "$db" 2>&1) != Open_vSwitch ]]; then
      die "$db is not an Open_vSwitch database ($(ovsdb-tool db-name "$db" 2>&1)); move it away"
    elif [[ $(ovsdb-tool needs-conversion "$db" "$OVS_SCHEMA") == yes ]]; then
      ovsdb-tool convert "$db" "$OVS_SCHEMA" || die "ovsdb-tool convert $db failed"
      echo "== converted $db to $OVS_SCHEMA"
    fi
    pid=$(live_pid "$RUN_DIR/ovsdb-server.pid" ovsdb-server)
    [[ -z $pid ]] || die "ovsdb-server (pid $pid, $RUN_DIR/ovsdb-server.pid) does not answer on $sock"
    [[ ! -e $sock || -S $sock ]] || die "$sock exists and is not a socket; move it away"
    rm -f "$sock"  # a dead server's
    ovsdb-server "$db" --remote="punix:$sock" --pidfile="$RUN_DIR/ovsdb-server.pid" \
      --unixctl="$RUN_DIR/ovsdb-server.ctl" --log-file="$STATE_DIR/ovsdb-server.log" \
      --no-chdir --detach ||
      die "ovsdb-server did not start: $(tail -5 "$STATE_DIR/ovsdb-server.log" 2>/dev/null)"
    ovs-vsctl --db="$DB_REMOTE" --no-wait --timeout=10 init || die "ovs-vsctl init on $DB_REMOTE failed"
    echo "== ovsdb-server (pid $(live_pid "$RUN_DIR/ovsdb-server.pid" ovsdb-server)) serves $db at $DB_REMOTE"
  fi
  echo "== ovs-vsctl --db=$DB_REMOTE show   (or: export OVS_RUNDIR=$RUN_DIR)"
}

# ovsdb_stop: stop the ovsdb-server ovsdb_up started (by its pidfile); the database stays.
ovsdb_stop() {
  local pid
  pid=$(live_pid "$RUN_DIR/ovsdb-server.pid" ovsdb-server)
  [[ -n $pid ]] || { echo "== no ovsdb-server of dev.sh runs ($RUN_DIR/ovsdb-server.pid)"; return 0; }
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || die "ovsdb-server (pid $pid) did not stop"
  echo "== stopped ovsdb-server (pid $pid); the database $STATE_DIR/conf.db stays"
}

# start_briskd [briskd options]: briskd in the foreground (exec), attached to the database.
start_briskd() {
  [[ -x $BRISKD ]] || die "no $BRISKD: build first (tools/dev.sh run)"
  local a
  for a in "$@"; do [[ $a == --ovsdb ]] && exec "$BRISKD" "$@"; done
  [[ ${BRISK_OVSDB:-on} == off ]] && exec "$BRISKD" "$@"
  ovsdb_up
  exec "$BRISKD" --ovsdb "$DB_REMOTE" "$@"
}

# stage "what": prints the stage's heading with the minutes elapsed since the start.
T0=$SECONDS
stage() { printf '== [%2d:%02d] %s\n' $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60)) "$*"; }

case "${1:-}" in
  deps) deps ;;
  fuzz) deps; fuzz_build; fuzz_run ;;
  build) deps; build build ;;
  run)
    deps
    build build
    shift
    start_briskd "$@"
    ;;
  start) shift; start_briskd "$@" ;;
  stop-db) ovsdb_stop ;;
  test)
    deps
    stage "build (RelWithDebInfo, -Werror; the programs and benchmarks)"
    build build -- "${PLAIN_TARGETS[@]}"
    stage "ASan+UBSan build"
    build build-asan -DBRISK_SANITIZE=address "${SANITIZER_FLAGS[@]}"
    stage "TSan build (test executables)"
    build build-tsan -DBRISK_SANITIZE=thread "${SANITIZER_FLAGS[@]}" -- "${TSAN_TARGETS[@]}"
    stage "fuzz targets (clang, libFuzzer, ASan+UBSan)"
    fuzz_build
    rc=0
    stage "unit tests under ASan+UBSan"
    (cd build-asan && ctest -L unit --output-on-failure -j2) || rc=1
    # The integration tests against the ASan+UBSan briskd and client: a sanitizer report on
    # briskd's stderr or a non-zero exit (LeakSanitizer at exit) fails the test (lib.sh).
    stage "integration tests (needs_root) under ASan+UBSan, two at a time"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest -L needs_root -j2 --output-on-failure 2>&1 | tee ctest-root.log; exit "${PIPESTATUS[0]}") || rc=1
    stage "fuzzing (bounded: ${FUZZ_SECONDS:-60} s, the targets side by side)"
    fuzz_run || rc=1
    stage "unit and concurrency tests, the AF_XDP / AF_PACKET driver tests and the metrics, under TSan"
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -L unit --output-on-failure -j2) || rc=1
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
      ctest -L needs_root -R '^(AfXdp|AfPacket|integration\.metrics$)' --output-on-failure 2>&1 | tee ctest-root.log
      exit "${PIPESTATUS[0]}") || rc=1
    # The unit and integration tests ran above, against the ASan+UBSan and TSan binaries (the
    # same code; building and running them plain as well would add minutes to CI on 2 cores).
    stage "the micro-benchmark smoke test (plain build)"
    (cd build && ctest -L bench --output-on-failure 2>&1 | tee ctest.log; exit "${PIPESTATUS[0]}") || rc=1
    # A suite that passes by skipping is not passing: as root nothing may skip.
    if [[ $(id -u) -eq 0 ]] && grep -E "\*+Skipped|Not Run" build/ctest.log build-asan/ctest-root.log build-tsan/ctest-root.log; then
      echo "== FAIL: tests were skipped although this run has root (see the reasons above)"
      rc=1
    fi
    stage "done (exit $rc)"
    exit $rc
    ;;
  *)
    echo "usage: $0 run|start [briskd options] | stop-db | test | fuzz | deps | build" >&2
    exit 2
    ;;
esac
