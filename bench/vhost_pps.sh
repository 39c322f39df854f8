#!/usr/bin/env bash
# Frames/s of 64-byte frames virtio-user -> brisk -> virtio-user, next to testpmd's own
# vhost back end forwarding the same frames (io mode: the ceiling of a forwarder that does
# nothing on this machine).
#
#   bench/vhost_pps.sh build/briskd build/brisk [runs=5] [seconds=10]
#
# Why a loop: this machine has two CPUs. A sender, brisk and a receiver as three busy
# pollers would put two of them on one CPU, and a vhost ring shared by two pollers on one
# CPU moves one ring's worth of frames per scheduler time slice (~10 kframes/s). So one
# dpdk-testpmd (the "guests", CPU 1) owns both virtio-user ports in mac forward mode and
# starts 32 bursts of 32 frames on each port (`start tx_first 32`); brisk (one worker,
# busy poll, CPU 0) carries them between vhost ports A and B, testpmd sends what arrives on
# one port back out of the other, and so on, in both directions. brisk's rx counters of A
# and B together over the measured seconds give frames/s through brisk.
# The baseline replaces brisk by a second testpmd with two net_vhost ports in io mode.
# Static FDB entries for both MACs (no flooding, no learning during the run).
set -euo pipefail
BRISKD=$(realpath "$1") BRISK=$(realpath "$2") RUNS=${3:-5} SECS=${4:-10}
T=$(mktemp -d /tmp/brisk-vbench.XXXXXX)
HP=/proc/sys/vm/nr_hugepages HP_PREV=$(cat /proc/sys/vm/nr_hugepages)
PIDS=()
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
  echo "$HP_PREV" >"$HP"
  rmdir /var/run/dpdk/vbench* 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
((free >= 256)) || echo $((HP_PREV + 256 - free)) >"$HP"
LAST=$(($(nproc) - 1))
M0=02:00:00:00:0a:00 M1=02:00:00:00:0a:01

# guests <name> <sock0 args> <sock1 args>: the testpmd with both virtio-user ports,
# interactive, driven by a fifo.
guests() {
  local name=$1 a0=$2 a1=$3
  mkfifo "$T/$name.in"
  dpdk-testpmd --lcores "0@0,1@${LAST}" --in-memory --single-file-segments --no-pci \
    --no-telemetry --file-prefix="vbench$name" \
    --vdev "net_virtio_user0,$a0,queues=1,mac=$M0" --vdev "net_virtio_user1,$a1,queues=1,mac=$M1" \
    -- -i --forward-mode=mac --eth-peer="0,$M1" --eth-peer="1,$M0" --nb-cores=1 \
    --total-num-mbufs=16384 <"$T/$name.in" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  exec 7>"$T/$name.in"
}
cmd() { echo "$*" >&7; }

# rx_total: frames brisk received on va and vb together.
rx_total() {
  "$BRISK" --socket "$T/ctl" --json stats | /usr/bin/python3 -c '
import json, sys
print(sum(p["rx_frames"] for p in json.load(sys.stdin)["ports"] if p["port"] in ("va", "vb")))'
}

run_brisk() {
  local i=$1
  rm -f "$T"/*.sock
  "$BRISKD" --socket "$T/ctl" --workers 1 --cpus 0 --poll busy --default-bridge vbbr \
    >"$T/briskd$i.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do [[ -S "$T/ctl" ]] && break; sleep 0.1; done
  local b=("$BRISK" --socket "$T/ctl")
  "${b[@]}" vhost create 10 socket "$T/a.sock" name va >/dev/null
  "${b[@]}" vhost create 10 socket "$T/b.sock" name vb >/dev/null
  "${b[@]}" fdb add vbbr 10 "$M0" va
  "${b[@]}" fdb add vbbr 10 "$M1" vb
  guests g$i "path=$T/a.sock,server=1" "path=$T/b.sock,server=1"
  for _ in $(seq 100); do
    [[ $("${b[@]}" --json port | grep -c '"connected": true') -eq 2 ]] && break
    sleep 0.2
  done
  cmd "start tx_first 32"
  sleep 3
  local r0 r1
  r0=$(rx_total)
  sleep "$SECS"
  r1=$(rx_total)
  "${b[@]}" stats >&2
  cmd "quit"
  exec 7>&-
  echo $(((r1 - r0) / SECS)) >"$T/result"
  stop_all
}

run_direct() {
  local i=$1
  rm -f "$T"/*.sock
  mkfifo "$T/sw$i.in"
  dpdk-testpmd --lcores "0@0,1@0" --in-memory --no-pci --no-telemetry --file-prefix="vbenchs$i" \
    --vdev "net_vhost0,iface=$T/a.sock,queues=1" --vdev "net_vhost1,iface=$T/b.sock,queues=1" \
    -- -i --forward-mode=io --nb-cores=1 --total-num-mbufs=16384 <"$T/sw$i.in" >"$T/sw$i.log" 2>&1 &
  PIDS+=($!)
  exec 8>"$T/sw$i.in"
  echo "start" >&8
  sleep 2
  guests d$i "path=$T/a.sock" "path=$T/b.sock"
  sleep 3
  cmd "start tx_first 32"
  sleep 3
  echo "clear port stats all" >&8
  sleep "$SECS"
  echo "show port stats all" >&8
  sleep 1
  echo "quit" >&8
  cmd "quit"
  exec 7>&- 8>&-
  sleep 1
  # RX-packets of the switch's two ports since the clear.
  local rx
  rx=$(awk '/NIC statistics for port/ {f = 1} f && /RX-packets:/ {s += $2; f = 0} END {print s + 0}' "$T/sw$i.log")
  echo $((${rx:-0} / SECS)) >"$T/result"
  stop_all
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
b=() d=()
for i in $(seq "$RUNS"); do
  # Not in $(...): the processes a run starts must stay in this shell's PIDS for cleanup.
  run_brisk "$i"
  b+=("$(cat "$T/result")")
  run_direct "$i"
  d+=("$(cat "$T/result")")
  echo "run $i: brisk ${b[-1]} frames/s, testpmd io ${d[-1]} frames/s"
done
echo "median of $RUNS runs: brisk $(printf '%s\n' "${b[@]}" | median) frames/s," \
  "testpmd io $(printf '%s\n' "${d[@]}" | median) frames/s (64-byte frames, ${SECS} s each)"
