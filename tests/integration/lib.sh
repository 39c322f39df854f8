# Common helpers of the brisk integration tests. Each test does
#
#   source "$(dirname "$0")/lib.sh" "$@"     # $1 = briskd binary, $2 = brisk client
#   start_briskd
#
# and then talks to the daemon with `bk ...`. Everything a test creates (the daemon, iperf3
# and tcpdump processes, network namespaces, temp dirs) is recorded here and removed by the
# EXIT trap, also when the test fails half-way. Nothing else on the host is touched: all names
# carry a random prefix ("bt" + 4 hex digits), traffic only flows between the test's own
# namespaces, and addresses are from 198.18.0.0/15 (RFC 2544 benchmarking range).
#
# Exit codes: 0 pass, 1 fail, 77 skip (not root, no /dev/net/tun, a tool missing).

set -euo pipefail

BRISKD_BIN=${1:-}
BRISK_BIN=${2:-}
TEST_NAME=$(basename "$0" .sh)

# ------------------------------------------------------------------ reporting

say() { echo "[$TEST_NAME] $*"; }
check() { echo "[$TEST_NAME] CHECK: $*"; }
pass() { echo "[$TEST_NAME] PASS: $*"; }
fail() {
  echo "[$TEST_NAME] FAIL: $*" >&2
  exit 1
}
# fail_soft "msg": report a failure but go on with the test; it still exits 1 at the end.
SOFT_FAILS=0
fail_soft() {
  echo "[$TEST_NAME] FAIL: $*" >&2
  SOFT_FAILS=$((SOFT_FAILS + 1))
}
skip() {
  echo "[$TEST_NAME] SKIP: $*"
  exit 77
}

# ------------------------------------------------------------------ preconditions

[[ -n "$BRISKD_BIN" && -n "$BRISK_BIN" ]] || fail "usage: $0 <briskd> <brisk>"
[[ -x "$BRISKD_BIN" ]] || fail "briskd binary '$BRISKD_BIN' is not executable"
[[ -x "$BRISK_BIN" ]] || fail "brisk binary '$BRISK_BIN' is not executable"
[[ $(id -u) -eq 0 ]] || skip "needs root (creates TAP devices and network namespaces)"
[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"
command -v ip >/dev/null 2>&1 || skip "iproute2 (ip) is not installed"

# need_tool <tool>...: skip the test when a tool is missing.
need_tool() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
  done
}

# need_scapy: skip the test when scapy is missing for the system Python (/usr/bin/python3,
# which is the one the tests run scapy with; python3-scapy is in tools/dev.sh's PACKAGES).
need_scapy() {
  /usr/bin/python3 -c 'import scapy.all' >/dev/null 2>&1 ||
    skip "scapy for /usr/bin/python3 is missing (Debian package python3-scapy)"
}

# Python for JSON parsing (the system one preferred), or empty.
PY=""  # used by the tests
# shellcheck disable=SC2034
if [[ -x /usr/bin/python3 ]]; then
  PY=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then
  PY=$(command -v python3)
fi

# contains <grep args>: like `grep -q`, but reads all its input, so the command writing into
# the pipe never dies of SIGPIPE (which pipefail would turn into a false "no match").
contains() { grep "$@" >/dev/null; }

# ------------------------------------------------------------------ names

rand_hex4() { od -An -N2 -tx1 /dev/urandom | tr -d ' \n'; }

# PFX: unique prefix of every name this test uses; BR: the default bridge (also a host
# interface); TP: the daemon's tap prefix, so default tap names are ${TP}0, ${TP}1, ...
for _ in 1 2 3 4 5 6 7 8; do
  PFX="bt$(rand_hex4)"
  if ! ip -o link show 2>/dev/null | contains ": ${PFX}" && ! ip netns list 2>/dev/null | contains "^${PFX}"; then
    break
  fi
done
BR="${PFX}br"
TP="${PFX}t"

# ------------------------------------------------------------------ leftovers of killed tests

# A test killed outright (SIGKILL: a ctest timeout, which kills the test's whole process
# tree) runs no EXIT trap. So every test records its PID and temp directory in
# $STALE_DIR/<prefix> (removed by cleanup), and first removes what dead tests left: the
# namespaces, interfaces and temp directory of every recorded prefix whose process is gone.
STALE_DIR=/run/brisk-tests

# remove_prefixed_links <prefix>: delete every interface of this namespace named <prefix>...
remove_prefixed_links() {
  local dev
  for dev in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$1"); do
    echo "[$TEST_NAME] removing leftover interface $dev" >&2
    ip link del "$dev" 2>/dev/null
  done
}

# release_tmpd <dir>: undo what keeps a test's temp directory from being removed: file systems
# mounted in it and the immutable attribute (tests of state files on a full or read-only
# disk do both).
release_tmpd() {
  local m
  [[ -d $1 ]] || return 0
  for m in $(findmnt -rn -o TARGET 2>/dev/null | grep "^$1/" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  chattr -R -i "$1" >/dev/null 2>&1 || true
}

remove_stale() {
  local f pid tmpd ns
  for f in "$STALE_DIR"/bt*; do
    [[ -f $f ]] || continue
    { read -r pid; read -r tmpd; } <"$f" || true
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && continue  # still running (or a reused pid)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${f##*/}"); do
      echo "[$TEST_NAME] removing namespace $ns of a killed test" >&2
      ip netns del "$ns" 2>/dev/null
    done
    remove_prefixed_links "${f##*/}"
    if [[ $tmpd == /tmp/brisk-it.* ]]; then
      release_tmpd "$tmpd"
      rm -rf "$tmpd"
    fi
    rm -f "$f"
  done
}

if [[ $(id -u) -eq 0 ]] && mkdir -p "$STALE_DIR" 2>/dev/null; then
  remove_stale || true
  echo $$ >"$STALE_DIR/$PFX"
fi

# ------------------------------------------------------------------ state & cleanup

TMPD=""
SOCK=""
BRISKD_PID=""
EXTRA_PIDS=()   # iperf3, tcpdump, ... started by the test
PIDFILES=()     # "<pidfile>|<program>" of daemons the test started detached (track_pidfile)
NAMESPACES=()   # namespaces created by the test
ON_EXIT=()      # commands (strings) cleanup runs last, after every process is gone

cleanup() {
  local rc=$?
  set +e
  if [[ $rc -eq 0 && $SOFT_FAILS -gt 0 ]]; then
    echo "[$TEST_NAME] $SOFT_FAILS check(s) failed" >&2
    rc=1
  fi
  trap - EXIT INT TERM ERR
  local p pf
  for pf in ${PIDFILES[@]+"${PIDFILES[@]}"}; do
    p=$(cat "${pf%|*}" 2>/dev/null) || continue
    [[ $p =~ ^[0-9]+$ && $(cat "/proc/$p/comm" 2>/dev/null) == "${pf##*|}" ]] && EXTRA_PIDS+=("$p")
  done
  for p in ${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"}; do
    if kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  if [[ -n "$BRISKD_PID" ]]; then
    if kill -0 "$BRISKD_PID" 2>/dev/null; then
      kill -TERM "$BRISKD_PID" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$BRISKD_PID" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$BRISKD_PID" 2>/dev/null; then
        echo "[$TEST_NAME] briskd (pid $BRISKD_PID) ignored SIGTERM for 5 s; killing it" >&2
        kill -9 "$BRISKD_PID" 2>/dev/null
        [[ $rc -eq 0 ]] && rc=1
      fi
    fi
    wait "$BRISKD_PID" 2>/dev/null
    local brc=$?
    # briskd exits 0 on SIGTERM; anything else (a crash, a sanitizer's exit code, LeakSanitizer
    # at exit) fails the test.
    if [[ $brc -ne 0 ]]; then
      echo "[$TEST_NAME] FAIL: briskd (pid $BRISKD_PID) exited with status $brc" >&2
      [[ $rc -eq 0 || $rc -eq 77 ]] && rc=1
    fi
  fi
  # A sanitizer report on briskd's stderr fails the test even if the daemon survived (ASan+UBSan
  # builds: tools/dev.sh runs these tests against build-asan/briskd too).
  if [[ -n "$TMPD" && -s "$TMPD/briskd.log" ]] &&
    grep -qE "ERROR: (Address|Leak|Memory|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer" "$TMPD/briskd.log"; then
    echo "[$TEST_NAME] FAIL: sanitizer report in briskd's log:" >&2
    grep -m 1 -A 60 -E "ERROR: |WARNING: ThreadSanitizer|runtime error:" "$TMPD/briskd.log" >&2
    [[ $rc -eq 0 || $rc -eq 77 ]] && rc=1
  fi
  local ns
  for ns in ${NAMESPACES[@]+"${NAMESPACES[@]}"}; do
    ip netns del "$ns" 2>/dev/null
  done
  # Safety net: taps die with the daemon's file descriptors, but remove anything with our
  # unique prefix that is still around (never anything else).
  remove_prefixed_links "$PFX"
  rm -f "$STALE_DIR/$PFX"
  if [[ $rc -ne 0 && $rc -ne 77 && -n "$TMPD" && -s "$TMPD/briskd.log" ]]; then
    echo "[$TEST_NAME] ---- briskd log (last 40 lines) ----" >&2
    tail -n 40 "$TMPD/briskd.log" >&2
  fi
  if [[ -n "$TMPD" ]]; then
    release_tmpd "$TMPD"
    rm -rf "$TMPD"
  fi
  local cmd
  for cmd in ${ON_EXIT[@]+"${ON_EXIT[@]}"}; do
    eval "$cmd"
  done
  case $rc in
    0) echo "[$TEST_NAME] RESULT: PASS" ;;
    77) echo "[$TEST_NAME] RESULT: SKIP" ;;
    *) echo "[$TEST_NAME] RESULT: FAIL (exit $rc)" >&2 ;;
  esac
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# An unexpected failing command (set -e) says where it happened; -E: also inside functions.
set -E
trap 'echo "[$TEST_NAME] FAIL: unexpected error (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

TMPD=$(mktemp -d /tmp/brisk-it.XXXXXX)
[[ -f $STALE_DIR/$PFX ]] && echo "$TMPD" >>"$STALE_DIR/$PFX"
SOCK="$TMPD/briskd.sock"

# need_netns: skip the test when network namespaces cannot be used here.
need_netns() {
  local probe="${PFX}-probe"
  if ! ip netns add "$probe" >/dev/null 2>&1; then
    skip "cannot create network namespaces (ip netns add failed)"
  fi
  if ! ip netns exec "$probe" true >/dev/null 2>&1; then
    ip netns del "$probe" >/dev/null 2>&1 || true
    skip "cannot enter network namespaces (ip netns exec failed)"
  fi
  ip netns del "$probe"
}

# ------------------------------------------------------------------ daemon

# bk <words...>: run the client against this test's daemon.
bk() { "$BRISK_BIN" --socket "$SOCK" "$@"; }

# refused <what> <command words...>: the command must fail with exactly one line, starting
# "E: " (said with <what>).
refused() {
  local what=$1 out
  shift
  if out=$(bk "$@" 2>&1); then fail "$what: accepted: $out"; fi
  [[ $out == "E: "* && $(wc -l <<<"$out") -eq 1 ]] || fail "$what: want one E: line, got: $out"
  say "$what: $out"
}

daemon_alive() { [[ -n "$BRISKD_PID" ]] && kill -0 "$BRISKD_PID" 2>/dev/null; }

# Extra daemon options for a whole run come from $BRISK_TEST_BRISKD_ARGS (e.g.
# "--xdp-fastpath off": ctest runs system_ports both ways). BRISKD_NETNS=<ns>: briskd runs in
# that namespace of the test's (its PID is still BRISKD_PID: ip netns exec execs it).
start_briskd() {
  # Each test keeps its own state file (never the host's /var/lib/brisk/state.json); starting
  # again in the same test replays it.
  local in_ns=()
  [[ -n ${BRISKD_NETNS:-} ]] && in_ns=(ip netns exec "$BRISKD_NETNS")
  # shellcheck disable=SC2086
  ${in_ns[@]+"${in_ns[@]}"} "$BRISKD_BIN" --socket "$SOCK" --state "$TMPD/state.json" --default-bridge "$BR" --tap-prefix "$TP" "$@" ${BRISK_TEST_BRISKD_ARGS:-} \
    >"$TMPD/briskd.log" 2>&1 &
  BRISKD_PID=$!
  for _ in $(seq 1 50); do
    if [[ -S "$SOCK" ]] && bk bridge >/dev/null 2>&1; then
      say "briskd pid $BRISKD_PID serving $SOCK (bridge $BR, tap prefix $TP)"
      return 0
    fi
    daemon_alive || fail "briskd exited at start: $(cat "$TMPD/briskd.log")"
    sleep 0.1
  done
  fail "briskd did not answer on $SOCK within 5 s"
}

# track_pid <pid>: kill this process in cleanup. untrack_pid <pid>: not any more (it is gone).
track_pid() { EXTRA_PIDS+=("$1"); }
untrack_pid() {
  local p keep=()
  for p in ${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"}; do [[ $p == "$1" ]] || keep+=("$p"); done
  EXTRA_PIDS=(${keep[@]+"${keep[@]}"})
}
# track_pidfile <pidfile> <program>: a daemon the test started detached; cleanup stops the
# process the file names then, if that process runs <program> (the file may not exist yet).
track_pidfile() { PIDFILES+=("$1|$2"); }

# ------------------------------------------------------------------ Open vSwitch's database

# Open vSwitch's own tools and schema (Debian's openvswitch-common and openvswitch-switch),
# unmodified: briskd --ovsdb plays ovs-vswitchd's part for them.
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
VSCTL=/usr/bin/ovs-vsctl
need_ovsdb() {
  need_tool ovsdb-server ovsdb-tool
  [[ -x $VSCTL ]] || skip "no $VSCTL (Debian's openvswitch-switch)"
  [[ -r $OVS_SCHEMA ]] || skip "no $OVS_SCHEMA (Debian's openvswitch-common)"
}

# ovsdb_start <dir>: this test's ovsdb-server (a child: its PID in OVSDB_PID, stopped by the
# cleanup) on <dir>/conf.db, made from the schema when missing, serving unix:<dir>/db.sock;
# pidfile <dir>/ovsdb-server.pid, log <dir>/ovsdb-server.log.
OVSDB_PID=""
ovsdb_start() {
  local dir=$1
  mkdir -p "$dir"
  [[ -e $dir/conf.db ]] || ovsdb-tool create "$dir/conf.db" "$OVS_SCHEMA"
  ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/ovsdb-server.ctl" \
    --pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log" --no-chdir \
    >>"$dir/ovsdb-server.out" 2>&1 &
  OVSDB_PID=$!
  track_pid "$OVSDB_PID"
  wait_until 5 test -S "$dir/db.sock" || fail "ovsdb-server did not listen on $dir/db.sock: $(tail -5 "$dir/ovsdb-server.log")"
}
# ovsdb_stop: stop it (SIGTERM, by its PID).
ovsdb_stop() {
  kill "$OVSDB_PID"
  wait "$OVSDB_PID" 2>/dev/null || true
  untrack_pid "$OVSDB_PID"
  OVSDB_PID=""
}

# ------------------------------------------------------------------ namespaces & devices

# ns_create <ns>: a namespace with lo up and IPv6 off (no RS/ND/MLD chatter in the FDB).
ns_create() {
  local ns=$1
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# ns_add_tap <ns> <tap> <cidr>: move a host tap into <ns> (created if needed), give it an
# address and bring it and lo up.
ns_add_tap() {
  local ns=$1 tap=$2 cidr=$3
  if ! ip netns list | awk '{print $1}' | contains -x "$ns"; then
    ns_create "$ns"
  fi
  ip link set dev "$tap" netns "$ns"
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.${tap}.disable_ipv6=1" >/dev/null 2>&1 || true
  ip -n "$ns" addr add "$cidr" dev "$tap"
  ip -n "$ns" link set dev "$tap" up
  ip -n "$ns" link set lo up
}

# veth_to_ns <ns> <host end> <cidr|-> [gro]: a veth pair, one end "eth0" in <ns> (created if
# needed) with <cidr> (or no address), the other end up on the host without one. "gro": GRO on
# in the namespace (the veth then takes XDP redirects).
veth_to_ns() {
  local ns=$1 host=$2 cidr=$3 gro=${4:-}
  if ! ip netns list | awk '{print $1}' | contains -x "$ns"; then
    ns_create "$ns"
  fi
  ip link add "$host" type veth peer name "${host}n"
  ip link set "${host}n" netns "$ns"
  ip -n "$ns" link set "${host}n" name eth0
  [[ $cidr != - ]] && ip -n "$ns" addr add "$cidr" dev eth0
  [[ $gro == gro ]] && ip netns exec "$ns" ethtool -K eth0 gro on >/dev/null
  ip -n "$ns" link set eth0 up
  ip link set "$host" up
}

# mac_of <ns> <dev>: the device's MAC address.
mac_of() { ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# rx_packets <ns> <dev> / tx_packets <ns> <dev>: the kernel's counters of a device.
rx_packets() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }
tx_packets() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_packets"; }

# host_has_dev <dev>: the device exists in the host namespace.
host_has_dev() { ip link show dev "$1" >/dev/null 2>&1; }

# our_host_devs: sorted names of host interfaces with this test's prefix.
our_host_devs() {
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^${PFX}" | sort || true
}

# wait_until <seconds> <command...>: poll every 0.1 s until the command succeeds.
wait_until() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  while ! "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
  return 0
}

# ------------------------------------------------------------------ table parsing

# table_rows: the client's table on stdin as rows of '|'-separated trimmed cells, header dropped.
table_rows() {
  awk -F'|' 'NR > 1 { out = ""; for (i = 1; i <= NF; i++) { c = $i; gsub(/^ +| +$/, "", c); out = out (i > 1 ? "|" : "") c } print out }'
}

# fdb_port <vlan> <mac> [bridge]: the port an FDB entry points at (empty when there is none).
fdb_port() {
  local vlan=$1 mac=$2 bridge=${3:-$BR}
  bk fdb show "$bridge" | table_rows | awk -F'|' -v v="$vlan" -v m="$mac" '$2 == v && $3 == m { print $4 }'
}

# fdb_count [bridge]: number of FDB entries.
fdb_count() { bk fdb show "${1:-$BR}" | table_rows | grep -c . || true; }

# stat_of <port> <column>: a column (rx_frames, rx_bytes, tx_frames, tx_bytes, dropped) of `stats`.
stat_of() {
  local port=$1 col=$2
  bk stats "$port" | awk -F'|' -v p="$port" -v c="$col" '
    NR == 1 { for (i = 1; i <= NF; i++) { h = $i; gsub(/^ +| +$/, "", h); idx[h] = i } next }
    /^$/ { exit }
    { n = $1; gsub(/^ +| +$/, "", n); if (n == p) { v = $(idx[c]); gsub(/^ +| +$/, "", v); print v } }'
}

# port_json <port> <key>: a field of `port` for one port (JSON mode; needs $PY).
port_json() {
  bk --json port | "$PY" -c '
import json, sys
for p in json.load(sys.stdin):
    if p["port"] == sys.argv[1]:
        v = p.get(sys.argv[2], "")
        print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}
# vhost-user ports: is the guest connected?
connected() { [[ $(port_json "$1" connected) == true ]]; }
disconnected() { [[ $(port_json "$1" connected) == false ]]; }

# tap_names: the taps the daemon lists (one a line).
tap_names() { bk tap | table_rows | awk -F'|' '{print $2}'; }

# ------------------------------------------------------------------ daemons in namespaces

# start_briskd_in <ns> <name>: a further briskd inside namespace <ns> (its taps are created
# there), socket $TMPD/<name>.sock, log $TMPD/<name>.log; killed by the cleanup. Talk to it
# with `bkn <name> ...`.
start_briskd_in() {
  local ns=$1 name=$2
  local sock="$TMPD/$name.sock"
  ip netns exec "$ns" "$BRISKD_BIN" --socket "$sock" --state "$TMPD/$name.state.json" --default-bridge "$BR" --tap-prefix "$TP" \
    >"$TMPD/$name.log" 2>&1 &
  local pid=$!
  track_pid "$pid"
  for _ in $(seq 1 50); do
    if [[ -S "$sock" ]] && bkn "$name" bridge >/dev/null 2>&1; then
      say "briskd $name pid $pid in namespace $ns serving $sock"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || fail "briskd $name exited at start: $(cat "$TMPD/$name.log")"
    sleep 0.1
  done
  fail "briskd $name did not answer on $sock within 5 s"
}
bkn() {
  local name=$1
  shift
  "$BRISK_BIN" --socket "$TMPD/$name.sock" "$@"
}

# move_tap <from ns> <tap> <to ns> <cidr>: move a tap a namespaced briskd created into
# another namespace (created if needed) with an address, up.
move_tap() {
  local from=$1 tap=$2 to=$3 cidr=$4
  if ! ip netns list | awk '{print $1}' | contains -x "$to"; then
    ns_create "$to"
  fi
  ip -n "$from" link set dev "$tap" netns "$to"
  ip -n "$to" addr add "$cidr" dev "$tap"
  ip -n "$to" link set dev "$tap" up
}

# veth_between <ns1> <dev1> <cidr1> <ns2> <dev2> <cidr2>: a veth pair joining two namespaces.
veth_between() {
  local ns1=$1 d1=$2 c1=$3 ns2=$4 d2=$5 c2=$6
  ip link add "${PFX}v$$" type veth peer name "${PFX}w$$"
  ip link set "${PFX}v$$" netns "$ns1"
  ip link set "${PFX}w$$" netns "$ns2"
  ip -n "$ns1" link set "${PFX}v$$" name "$d1"
  ip -n "$ns2" link set "${PFX}w$$" name "$d2"
  [[ -n "$c1" ]] && ip -n "$ns1" addr add "$c1" dev "$d1"
  [[ -n "$c2" ]] && ip -n "$ns2" addr add "$c2" dev "$d2"
  ip -n "$ns1" link set "$d1" up
  ip -n "$ns2" link set "$d2" up
}

# drop_count <name> <reason>: a drop counter of a namespaced daemon (JSON `stats`).
drop_count() {
  bkn "$1" --json stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["drops"][sys.argv[1]])' "$2"
}

# ------------------------------------------------------------------ QEMU guests (TCG)

# A tiny guest: Debian's amd64 kernel and busybox-static (tools/guest-image.sh fetches them with
# `apt-get download` into a cache next to briskd, $BRISK_GUEST_CACHE to override, and unpacks
# them with `dpkg -x`: nothing is installed) in an initramfs whose /init is the test's. QEMU
# runs it under TCG (no KVM needed), one at a time per test.
GUEST_TOOL="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/guest-image.sh"
GUEST_INITRD="$TMPD/initrd.cpio"
QEMU_PID="" GUEST_CONSOLE="" GUEST_QEMU_LOG=""
GUEST_LOGS=()  # more files of the test's that show_guest prints (the tail of each)

# guest_image <init script> [host programs...]: fetch the kernel and busybox (not skipped when
# the download fails: CI reaches the Debian mirror, a broken fetch is a failure) and build
# GUEST_INITRD with <init script> as /init and the programs with their libraries.
guest_image() {
  local init=$1
  shift
  GUEST_CACHE=${BRISK_GUEST_CACHE:-$(dirname "$(realpath "$BRISKD_BIN")")/guest-cache}
  "$GUEST_TOOL" fetch "$GUEST_CACHE" || fail "could not get the guest kernel and busybox (see above)"
  say "guest: $(cat "$GUEST_CACHE/VERSION") from $GUEST_CACHE"
  "$GUEST_TOOL" initramfs "$GUEST_CACHE" "$init" "$GUEST_INITRD" "$@" || fail "building the initramfs"
}

# guest_init_net <cidr>: the first lines of a guest's /init (printed): busybox's applets, /proc,
# /sys, /dev, the virtio-net modules, IPv6 off, lo up and eth0 up with <cidr>.
guest_init_net() {
  cat <<INIT
#!/bin/busybox sh
export PATH=/usr/bin:/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /lib/modules/order); do
  insmod /lib/modules/\$m.ko || echo "BRISK-GUEST: insmod \$m failed"
done
n=0
while [ ! -e /sys/class/net/eth0 ] && [ \$n -lt 200 ]; do sleep 0.1; n=\$((n + 1)); done
[ -e /sys/class/net/eth0 ] || { echo "BRISK-GUEST: no eth0"; poweroff -f; }
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
ip link set lo up
ip link set eth0 up
ip addr add $1 dev eth0
INIT
}

# guest_init_cmd_loop: the last lines of a guest's /init (printed): the command loop on ttyS1
# (guest_cmd_channel: one command line in, its output and "BRISK-DONE <rc>" out); the guest
# then stays up for the host's pings and commands until QEMU is stopped.
guest_init_cmd_loop() {
  cat <<'INIT'
stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
echo "BRISK-DONE 0" >&3
while read -r line <&3; do
  sh -c "$line" >&3 2>&1 </dev/null
  echo "BRISK-DONE $?" >&3
done
echo "BRISK-GUEST: command loop ended"
while true; do sleep 10; done
INIT
}

# start_guest <name> <memory MiB> <QEMU options...>: boot GUEST_INITRD in the background; the
# options give its network (-netdev/-device, a memory backend, more -serial ports: the console
# is ttyS0). Sets QEMU_PID (killed by the cleanup), GUEST_CONSOLE (the serial console's file)
# and GUEST_QEMU_LOG (QEMU's own output), both in $TMPD named after <name>.
start_guest() {
  local name=$1 mem=$2
  shift 2
  GUEST_CONSOLE="$TMPD/$name.console" GUEST_QEMU_LOG="$TMPD/$name.qemu"
  qemu-system-x86_64 -machine pc,accel=tcg -m "${mem}M" -smp 1 -nodefaults -no-user-config \
    -display none -monitor none -no-reboot -serial "file:$GUEST_CONSOLE" "$@" \
    -kernel "$GUEST_CACHE/vmlinuz" -initrd "$GUEST_INITRD" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" \
    </dev/null >"$GUEST_QEMU_LOG" 2>&1 &
  QEMU_PID=$!
  track_pid "$QEMU_PID"
  say "qemu pid $QEMU_PID ($name)"
}

guest_alive() { [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; }

# show_guest: the guest's console, the files of GUEST_LOGS and QEMU's output, on stderr.
show_guest() {
  local f
  echo "---- guest console ----" >&2
  cat "$GUEST_CONSOLE" >&2 || true
  for f in ${GUEST_LOGS[@]+"${GUEST_LOGS[@]}"}; do
    echo "---- $f (last 40 lines) ----" >&2
    tail -n 40 "$f" >&2 || true
  done
  echo "---- qemu output (alive: $(guest_alive && echo yes || echo no)) ----" >&2
  cat "$GUEST_QEMU_LOG" >&2 || true
}

# guest_wait <seconds> <what> <command...>: poll the command every 0.2 s while QEMU runs; fail
# (showing the guest) when QEMU exits or <what> has not happened within <seconds>.
guest_wait() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@"; do
    guest_alive || { show_guest; fail "QEMU exited before $what"; }
    ((SECONDS < end)) || { show_guest; fail "no $what within $secs s"; }
    sleep 0.2
  done
}

# stop_guest: SIGTERM to QEMU, SIGKILL after 5 s.
stop_guest() {
  kill -TERM "$QEMU_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do guest_alive || break; sleep 0.1; done
  guest_alive && kill -KILL "$QEMU_PID" 2>/dev/null
  wait "$QEMU_PID" 2>/dev/null || true
}

# guest_cmd_channel: the guest's command channel, its second serial port (start_guest ...
# -serial "pipe:$TMPD/cmd"; the guest's /init runs a loop on ttyS1: one command line in, its
# output and "BRISK-DONE <rc>" out). Read-write opens of a FIFO never block; QEMU opens both
# ends read-write too. A cat copies what the guest answers into guest-cmd.log, which
# guest_collect polls (no `read -t`: bash 5.2 aborts when the TERM trap exits during one).
guest_cmd_channel() {
  mkfifo "$TMPD/cmd.in" "$TMPD/cmd.out"
  exec {CMD_W}<>"$TMPD/cmd.in" {CMD_R}<>"$TMPD/cmd.out"
  cat <&"$CMD_R" >"$TMPD/guest-cmd.log" &
  track_pid $!
  GUEST_LINES=0 # lines of guest-cmd.log already consumed
  GUEST_LOGS+=("$TMPD/guest-cmd.log")
}

# guest_collect <seconds>: wait for the command channel's next "BRISK-DONE <rc>" line; the lines
# before it go to GUEST_OUT; returns <rc>, or 124 when it did not come within <seconds>.
guest_collect() {
  local end=$((SECONDS + $1)) lines done_at="" new rc
  GUEST_OUT=""
  while true; do
    # Only complete lines (wc -l counts newlines): the last one may still be arriving.
    lines=$(wc -l <"$TMPD/guest-cmd.log")
    if ((lines > GUEST_LINES)); then
      new=$(sed -n "$((GUEST_LINES + 1)),${lines}p" "$TMPD/guest-cmd.log" | tr -d '\r')
      done_at=$(awk '/^BRISK-DONE [0-9]+$/ { print NR; exit }' <<<"$new")
    fi
    if [[ -n $done_at ]]; then
      GUEST_LINES=$((GUEST_LINES + done_at))
      new=$(head -n "$done_at" <<<"$new")
      rc=${new##*BRISK-DONE }
      GUEST_OUT=$(head -n -1 <<<"$new")
      return "$rc"
    fi
    guest_alive || { show_guest; fail "QEMU exited"; }
    ((SECONDS < end)) || return 124
    sleep 0.2
  done
}
# guest_run <seconds> <command line>: run it in the guest; its exit code, output in GUEST_OUT.
guest_run() {
  echo "$2" >&"$CMD_W"
  guest_collect "$1"
}

# guest_iperf <g2p|p2g> <ns> <server ip> <port> <seconds> <json file>: iperf3 TCP between the
# guest (its command channel) and namespace <ns>: g2p the guest's client to a server this
# starts in <ns> at <server ip>:<port>; p2g <ns>'s client to the guest's own server at <server
# ip>:<port>. The receiver's JSON report goes to <json file>. Sets GUEST_IPERF_BPS to the
# receiver's bits/s (0 when nothing was carried; what failed is said). Not in $(...): the
# command channel's position is kept in this shell's variables.
guest_iperf() {
  local dir=$1 ns=$2 ip=$3 port=$4 secs=$5 out=$6 rc=0
  if [[ $dir == g2p ]]; then
    ip netns exec "$ns" timeout $((secs + 60)) iperf3 -s -1 -B "$ip" -p "$port" -J >"$out" 2>&1 &
    local spid=$!
    track_pid "$spid"
    wait_until 5 bash -c "ip netns exec $ns ss -ltn 'sport = :$port' | grep -q LISTEN" || true
    guest_run $((secs + 60)) \
      "timeout $((secs + 40)) iperf3 -c $ip -p $port -t $secs -i 0 --connect-timeout 5000" || rc=$?
    ((rc == 0)) || say "iperf3 in the guest exited $rc: $(tail -n 3 <<<"$GUEST_OUT" | tr '\n' ' ')"
    wait_until 15 bash -c "! kill -0 $spid 2>/dev/null" || kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    untrack_pid "$spid"
  else
    ip netns exec "$ns" timeout $((secs + 40)) iperf3 -c "$ip" -p "$port" -t "$secs" \
      --connect-timeout 5000 -J >"$out" 2>&1 ||
      say "iperf3 in $ns failed: $(tail -n 3 "$out" | tr '\n' ' ')"
  fi
  GUEST_IPERF_BPS=$("$PY" -c '
import json, sys
try:
    print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))
except Exception:
    print(0)' "$out")
}
