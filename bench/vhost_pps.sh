#!/usr/bin/env bash
# Frames/s of 64-byte frames virtio-user -> switch -> virtio-user, in one run for:
#   brisk    briskd, one worker on CPU 0 (busy poll), two vhost-user ports in client mode
#   ovs      Open vSwitch 3.1 with DPDK (package openvswitch-switch-dpdk, its ovs-vswitchd-dpdk
#            binary run directly), netdev bridge with the NORMAL action (MAC learning), two
#            dpdkvhostuserclient ports, one PMD thread on CPU 0 (pmd-cpu-mask=0x1)
#   testpmd  dpdk-testpmd with two net_vhost ports in io mode on CPU 0: a forwarder that does
#            nothing, the ceiling on this machine
#
#   bench/vhost_pps.sh build/briskd build/brisk [runs=5] [seconds=10] [switches=brisk,ovs,testpmd]
#
# Prints one line per run with each switch's frames/s and its CPU use (user + system time of
# all the switch's threads over the window, in % of one CPU: a poller below 100% lost its CPU
# to other work for that share of the time), then per switch the median of the runs of
# frames/s and of frames per CPU-second of the switch, and the ratios brisk/ovs and
# brisk/testpmd. The switches take turns within each run (brisk, ovs, testpmd,
# brisk, ...), so a change in the machine's load hits them alike; the load average is printed
# at the start and the end.
#
# Why a loop: this machine has two CPUs. A sender, a switch and a receiver as three busy
# pollers would put two of them on one CPU, and a vhost ring shared by two pollers on one
# CPU moves one ring's worth of frames per scheduler time slice (~10 kframes/s). So one
# dpdk-testpmd (the "guests", CPU 1) owns both virtio-user ports in mac forward mode and
# starts 32 bursts of 32 frames on each port (`start tx_first 32`); the switch (CPU 0)
# carries them between its ports A and B, testpmd sends what arrives on one port back out of
# the other, and so on, in both directions. The figure is what the switch delivered: the
# guests' RX-packets on both ports, counted from `clear port stats all` (3 s after the start)
# to `show port stats all` <seconds> later, divided by the measured interval. Frames a
# switch drops leave the loop for good, so a lossy switch also loses rate.
# Each switch learns or is told the two MACs before the window: brisk has static FDB entries,
# OVS learns them from the first frames (NORMAL), testpmd io needs none.
#
# Open vSwitch runs as bench/ovs_dpdk.sh starts it: from a private directory, never touching a
# system Open vSwitch. If a device ovs-netdev already exists (another
# Open vSwitch userspace datapath runs), that ovs run is skipped with a message and left out
# of the median (the summary says of how many runs a median is).
# Hugepages: vhost-user front ends (testpmd's virtio-user) and OVS-DPDK need them; the script
# reserves what is missing (256 pages of 2 MiB, 768 with ovs) and on exit lowers nr_hugepages
# by what it added. Every process it started is stopped by PID on exit, also on errors and Ctrl-C.
set -euo pipefail
BRISKD=$(realpath "$1") BRISK=$(realpath "$2") RUNS=${3:-5} SECS=${4:-10}
SWITCHES=${5:-brisk,ovs,testpmd}
source "$(dirname "$0")/ovs_dpdk.sh"
IFS=, read -r -a SW <<<"$SWITCHES"
for s in "${SW[@]}"; do
  case $s in
    brisk | testpmd) ;;
    ovs) ovs_dpdk_available ||
      { echo "E: $OVS_VSWITCHD not found (apt-get install openvswitch-switch-dpdk)" >&2; exit 1; } ;;
    *) echo "E: unknown switch '$s' (known: brisk, ovs, testpmd)" >&2; exit 1 ;;
  esac
done
has() { [[ ",$SWITCHES," == *",$1,"* ]]; }

T=$(mktemp -d /tmp/brisk-vbench.XXXXXX)
PFX=vbench$$
source "$(dirname "$0")/../tools/hugepages.sh"
PIDS=()
OVS_BR="vb$$o"
stop_all() {  # testpmd -i may ignore SIGTERM at its prompt: SIGKILL after 3 s
  local p
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -9 "$p" 2>/dev/null || true; done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  set +e
  stop_all
  ovs_dpdk_cleanup "$OVS_BR"
  hugepages_release
  rmdir /var/run/dpdk/"$PFX"* 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# nap <seconds>: a sleep that a signal interrupts at once (bash runs traps only after a
# foreground command ends, but interrupts `wait`).
nap() {
  sleep "$1" &
  wait $! || true
}
want=256
has ovs && want=768
hugepages_reserve "$want" || { echo "E: could not reserve $want hugepages (free: $(hugepages_free))" >&2; exit 1; }
LAST=$(($(nproc) - 1))
M0=02:00:00:00:0a:00 M1=02:00:00:00:0a:01

# guests <name> <sock0 args> <sock1 args>: the testpmd with both virtio-user ports,
# interactive, driven by a fifo on fd 7.
guests() {
  local name=$1 a0=$2 a1=$3
  mkfifo "$T/$name.in"
  dpdk-testpmd --lcores "0@0,1@${LAST}" --in-memory --single-file-segments --no-pci \
    --no-telemetry --file-prefix="$PFX$name" \
    --vdev "net_virtio_user0,$a0,queues=1,mac=$M0" --vdev "net_virtio_user1,$a1,queues=1,mac=$M1" \
    -- -i --forward-mode=mac --eth-peer="0,$M1" --eth-peer="1,$M0" --nb-cores=1 \
    --total-num-mbufs=16384 <"$T/$name.in" >"$T/$name.log" 2>&1 &
  GUESTS_PID=$!
  PIDS+=($!)
  exec 7>"$T/$name.in"
}
cmd() { echo "$*" >&7; }
# exited <pid>: the process is gone or a zombie (a child not yet waited for).
exited() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
  [[ $st == Z* ]]
}

# cpu_ticks <pid>: user + system clock ticks of a process (all its threads).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)

# measure <name>: start the loop, wait 3 s, count the guests' RX-packets over SECS seconds;
# frames/s to $T/result, the switch's (SWITCH_PID) CPU use in % of one CPU to $T/cpu.
measure() {
  local name=$1
  cmd "start tx_first 32"
  nap 3
  cmd "clear port stats all"
  local t0 t1 c0 c1
  c0=$(cpu_ticks "$SWITCH_PID")
  t0=$(date +%s.%N)
  nap "$SECS"
  cmd "show port stats all"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$SWITCH_PID")
  awk -v c0="${c0:-0}" -v c1="${c1:-0}" -v a="$t0" -v b="$t1" -v hz="$HZ" \
    'BEGIN {printf "%d\n", 100 * (c1 - c0) / hz / (b - a)}' >"$T/cpu"
  cmd "quit"
  exec 7>&-
  # testpmd's stdout is a file, fully buffered: read it once testpmd has exited.
  for _ in $(seq 100); do exited "$GUESTS_PID" && break; sleep 0.1; done
  # RX-packets of the guests' two ports since the clear (the blocks after "NIC statistics for
  # port N ####", not the "... cleared" lines).
  local rx
  rx=$(awk '/#+ NIC statistics for port/ {f = 1; next} f && /RX-packets:/ {s += $2; f = 0} END {print s + 0}' \
    "$T/$name.log")
  awk -v r="$rx" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d\n", r / (b - a)}' >"$T/result"
  if ((rx == 0)); then
    echo "$name: no frames delivered; the guests' testpmd said:" >&2
    grep -v -E "^(Stopping|Closing|Shutting|Port [01] is|Done|Bye)" "$T/$name.log" | tail -n 30 >&2
  fi
}

run_brisk() {
  local i=$1
  rm -f "$T"/*.sock "$T/ctl"
  "$BRISKD" --socket "$T/ctl" --no-state --workers 1 --cpus 0 --poll busy --default-bridge vbbr \
    >"$T/briskd$i.log" 2>&1 &
  SWITCH_PID=$!
  PIDS+=($!)
  for _ in $(seq 50); do [[ -S "$T/ctl" ]] && break; sleep 0.1; done
  local b=("$BRISK" --socket "$T/ctl")
  "${b[@]}" vhost create 10 socket "$T/a.sock" name va >/dev/null
  "${b[@]}" vhost create 10 socket "$T/b.sock" name vb >/dev/null
  "${b[@]}" fdb add vbbr 10 "$M0" va >/dev/null
  "${b[@]}" fdb add vbbr 10 "$M1" vb >/dev/null
  guests b$i "path=$T/a.sock,server=1" "path=$T/b.sock,server=1"
  for _ in $(seq 100); do
    [[ $("${b[@]}" --json port | grep -c '"connected": true') -eq 2 ]] && break
    sleep 0.2
  done
  measure b$i
  stop_all
}

run_ovs() {
  local i=$1
  rm -f "$T"/*.sock
  if ovs_dpdk_netdev_busy; then
    echo "ovs: a device ovs-netdev exists (another Open vSwitch userspace datapath runs): skipped" >&2
    echo skipped >"$T/result"
    return
  fi
  ovs_dpdk_start "$T/ovs" "${PFX}o$i" other_config:pmd-cpu-mask=0x1
  PIDS+=("${OVS_PIDS[@]}")
  SWITCH_PID=$OVS_SWITCH_PID
  ovs_vsctl add-br "$OVS_BR" -- set bridge "$OVS_BR" datapath_type=netdev
  ovs_vsctl add-port "$OVS_BR" va -- set Interface va type=dpdkvhostuserclient \
    options:vhost-server-path="$T/a.sock" \
    -- add-port "$OVS_BR" vb -- set Interface vb type=dpdkvhostuserclient \
    options:vhost-server-path="$T/b.sock"
  guests o$i "path=$T/a.sock,server=1" "path=$T/b.sock,server=1"
  for _ in $(seq 100); do
    [[ $(ovs_vsctl get Interface va status:status 2>/dev/null) == connected &&
       $(ovs_vsctl get Interface vb status:status 2>/dev/null) == connected ]] && break
    sleep 0.2
  done
  measure o$i
  ovs_vsctl --if-exists del-br "$OVS_BR" || true
  stop_all
  ovs_dpdk_cleanup "$OVS_BR"
  cp "$T/ovs/ovs-vswitchd.log" "$T/ovs-vswitchd$i.log" 2>/dev/null || true
  rm -rf "$T/ovs"
}

run_testpmd() {
  local i=$1
  rm -f "$T"/*.sock
  mkfifo "$T/sw$i.in"
  dpdk-testpmd --lcores "0@0,1@0" --in-memory --no-pci --no-telemetry --file-prefix="${PFX}s$i" \
    --vdev "net_vhost0,iface=$T/a.sock,queues=1" --vdev "net_vhost1,iface=$T/b.sock,queues=1" \
    -- -i --forward-mode=io --nb-cores=1 --total-num-mbufs=16384 <"$T/sw$i.in" >"$T/sw$i.log" 2>&1 &
  SWITCH_PID=$!
  PIDS+=($!)
  exec 8>"$T/sw$i.in"
  echo "start" >&8
  # The guests connect as clients: wait for the switch's sockets.
  for _ in $(seq 150); do [[ -S $T/a.sock && -S $T/b.sock ]] && break; sleep 0.2; done
  sleep 1
  guests t$i "path=$T/a.sock" "path=$T/b.sock"
  nap 3
  measure t$i
  echo "quit" >&8
  exec 8>&-
  sleep 1
  stop_all
}

median() { sort -n | awk 'NF {a[++n] = $1} END {print n ? a[int((n + 1) / 2)] : "-"}'; }
mfps() { awk -v v="$1" 'BEGIN {printf "%.2f", v / 1e6}'; }
# per_cpu <frames/s> <cpu %>: frames per CPU-second of the switch.
per_cpu() { awk -v v="$1" -v c="$2" 'BEGIN {printf "%d\n", (c > 0 ? v * 100 / c : 0)}'; }
declare -A R E
echo "vhost-user 64-byte frames/s, $RUNS runs of ${SECS} s: $SWITCHES; $(nproc) CPUs;" \
  "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); work dir $T"
for i in $(seq "$RUNS"); do
  line="run $i:"
  for s in "${SW[@]}"; do
    # Not in $(...): the processes a run starts must stay in this shell's PIDS for cleanup.
    "run_$s" "$i"
    if [[ $(cat "$T/result") == skipped ]]; then
      line+=" $s skipped"
      continue
    fi
    R[$s]+="$(cat "$T/result") "
    E[$s]+="$(per_cpu "$(cat "$T/result")" "$(cat "$T/cpu")") "
    line+=" $s $(mfps "$(cat "$T/result")") M (CPU $(cat "$T/cpu")%)"
  done
  echo "$line"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A MED MEDE
out="median of $RUNS runs (frames/s):"
oute="median of $RUNS runs (frames per CPU-second of the switch):"
for s in "${SW[@]}"; do
  # shellcheck disable=SC2086
  MED[$s]=$(printf '%s\n' ${R[$s]:-} | median)
  # shellcheck disable=SC2086
  MEDE[$s]=$(printf '%s\n' ${E[$s]:-} | median)
  # shellcheck disable=SC2086
  n=$(printf '%s\n' ${R[$s]:-} | grep -c . || true)
  ((n == RUNS)) && of="" || of=" (of $n runs)"
  out+=" $s ${MED[$s]}$of"
  oute+=" $s ${MEDE[$s]}$of"
done
echo "$out"
echo "$oute"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) printf "%.2fx", a / b; else print "-"}'; }
if has brisk && has ovs; then
  echo "brisk / ovs: $(ratio "${MED[brisk]}" "${MED[ovs]}") (per CPU-second: $(ratio "${MEDE[brisk]}" "${MEDE[ovs]}"))"
fi
if has brisk && has testpmd; then
  echo "brisk / testpmd io: $(ratio "${MED[brisk]}" "${MED[testpmd]}") (per CPU-second: $(ratio "${MEDE[brisk]}" "${MEDE[testpmd]}"))"
fi
