#!/usr/bin/env bash
# vhost-user and DPDK ports, with DPDK's own testpmd standing in for guests.
#   - two vhost-user ports in client mode (the default): two dpdk-testpmd instances with
#     net_virtio_user vdevs serve the sockets (server=1), one sends 64-byte frames (txonly),
#     one receives (rxonly); frames cross brisk from one to the other
#   - the receiving testpmd is stopped and started again: brisk reconnects by itself and
#     frames flow again, with no command
#   - briskd is killed (-9) while frames flow and started again with the same state file:
#     the vhost-user ports come back from it, reconnect to the still-running testpmds and
#     frames flow again, with no command
#   - a vhost-user port in server mode: testpmd connects to brisk's socket in icmpecho mode
#     (it answers ARP and ICMP echo) and a host tap in a namespace pings it through brisk
#   - a DPDK port (net_pcap vdev on a veth end): the namespace behind the veth pings the tap's
#     namespace and the icmpecho testpmd through brisk; `port delete` removes the vdev and
#     the path, adding it again restores both; deleting a server-mode port removes its socket
#   - bad vhost and DPDK commands get one `E:` line and change nothing
# Hugepages: the test reserves what testpmd needs if the host has too few free, and gives
# back what it added on exit.
source "$(dirname "$0")/lib.sh" "$@"
need_tool dpdk-testpmd ping
need_netns
[[ -n "$PY" ]] || skip "python3 is not installed (JSON parsing)"

# ------------------------------------------------------------------ hugepages
source "$(dirname "$0")/../../tools/hugepages.sh"
HP_WANT=256  # three testpmd instances with small pools (2 MiB pages)
hp_prev=$(cat /proc/sys/vm/nr_hugepages)
ON_EXIT+=("hugepages_release")
hugepages_reserve "$HP_WANT" || fail "could not reserve $HP_WANT hugepages (free: $(hugepages_free))"
((HUGEPAGES_ADDED == 0)) ||
  say "reserved hugepages: nr_hugepages $hp_prev -> $(cat /proc/sys/vm/nr_hugepages) ($HUGEPAGES_ADDED given back on exit)"

# testpmd leaves an empty runtime directory per --file-prefix (named after this test).
ON_EXIT+=("rmdir /var/run/dpdk/${PFX}* 2>/dev/null")
start_briskd

# ------------------------------------------------------------------ testpmd helpers
LAST_CPU=$(($(nproc) - 1))
# start_testpmd <name> <vdev> <forward mode> [testpmd options]: runs in the background until
# killed; statistics every second in $TMPD/<name>.log; pid in TPID_<name>.
start_testpmd() {
  local name=$1 vdev=$2 mode=$3
  shift 3
  dpdk-testpmd --lcores "0@0,1@${LAST_CPU}" --in-memory --single-file-segments --no-pci \
    --no-telemetry --file-prefix="${PFX}${name}" --vdev "$vdev" -- \
    --forward-mode="$mode" --stats-period 1 --nb-cores=1 --total-num-mbufs=4096 \
    --auto-start "$@" </dev/null >"$TMPD/$name.log" 2>&1 &
  local pid=$!
  track_pid "$pid"
  eval "TPID_${name}=$pid"
}
stop_testpmd() {
  local pid
  pid=$(eval echo "\$TPID_$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "testpmd $1 (pid $pid) did not stop"
  wait "$pid" 2>/dev/null || true
}
# testpmd_rx <name> / testpmd_tx <name>: the last RX-/TX-packets figure it printed.
testpmd_rx() { awk '/RX-packets:/ {v = $2} END {print v + 0}' "$TMPD/$1.log"; }
testpmd_tx() { awk '/TX-packets:/ {v = $2} END {print v + 0}' "$TMPD/$1.log"; }
rx_above() { (($(testpmd_rx "$1") > $2)); }

RX_MAC=02:00:00:00:0b:01
RX_SOCK="$TMPD/rx.sock" TX_SOCK="$TMPD/tx.sock" ECHO_SOCK="$TMPD/echo.sock"
VRX="${PFX}vr" VTX="${PFX}vt" VECHO="${PFX}ve"

# ------------------------------------------------------------------ client mode, two guests
check "vhost-user ports in client mode before their peers exist"
bk vhost create 10 socket "$RX_SOCK" name "$VRX" || fail "vhost create $VRX"
bk vhost create 10 socket "$TX_SOCK" name "$VTX" || fail "vhost create $VTX"
bk port
bk port | table_rows | contains "^${VRX}|${BR}|vhost/client|access|10" || fail "$VRX not listed as vhost/client"
disconnected "$VRX" || fail "$VRX claims a peer before any exists"
contains "DPDK started" "$TMPD/briskd.log" || fail "briskd did not log the DPDK start"
grep "DPDK started" "$TMPD/briskd.log"
pass "ports exist and wait for their peers"

check "txonly testpmd -> brisk -> rxonly testpmd (64-byte frames)"
# The receiver never sends, so its MAC is made known with a static FDB entry: frames go
# straight to it rather than being flooded (also to the bridge's own interface).
bk fdb add "$BR" 10 "$RX_MAC" "$VRX" || fail "fdb add for the receiver"
start_testpmd rx1 "net_virtio_user0,path=$RX_SOCK,server=1,queues=1,mac=$RX_MAC" rxonly
start_testpmd tx "net_virtio_user1,path=$TX_SOCK,server=1,queues=1" txonly \
  --txpkts=64 --eth-peer="0,$RX_MAC"
wait_until 30 connected "$VRX" || fail "brisk did not connect to the receiving testpmd"
wait_until 30 connected "$VTX" || fail "brisk did not connect to the sending testpmd"
wait_until 20 rx_above rx1 10000 || fail "receiver got $(testpmd_rx rx1) frames (sender: $(testpmd_tx tx))"
say "sender TX-packets $(testpmd_tx tx), receiver RX-packets $(testpmd_rx rx1)"
bk port
(($(stat_of "$VTX" rx_frames) > 10000)) || fail "brisk counted no frames from $VTX"
(($(stat_of "$VRX" tx_frames) > 10000)) || fail "brisk counted no frames to $VRX"
pass "frames flow between two virtio-user guests through brisk"

check "restart the receiving testpmd: brisk reconnects with no command"
stop_testpmd rx1
wait_until 10 disconnected "$VRX" || fail "$VRX still connected after its peer exited"
before=$(stat_of "$VRX" tx_frames)
rm -f "$RX_SOCK"
start_testpmd rx2 "net_virtio_user0,path=$RX_SOCK,server=1,queues=1,mac=$RX_MAC" rxonly
wait_until 30 connected "$VRX" || fail "brisk did not reconnect to the restarted testpmd"
wait_until 20 rx_above rx2 10000 || fail "restarted receiver got $(testpmd_rx rx2) frames"
[[ $(port_json "$VRX" connects) -ge 2 ]] || fail "connects of $VRX: $(port_json "$VRX" connects), want >= 2"
(($(stat_of "$VRX" tx_frames) > before)) || fail "brisk sent nothing to $VRX after the restart"
say "restarted receiver RX-packets $(testpmd_rx rx2); connects $(port_json "$VRX" connects)"
pass "frames flow again after the peer restarted"

check "kill -9 briskd while frames flow; restarted with the same state file, it reconnects"
# The testpmd guests keep running (their virtio-user serves the socket, server=1); the new
# briskd replays the vhost-user ports (and the static FDB entry) from the state file and
# connects to them again with no command.
kill -9 "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
sleep 2
frozen=$(testpmd_rx rx2)
sleep 2
(($(testpmd_rx rx2) == frozen)) || fail "the receiver still got frames with briskd dead ($frozen -> $(testpmd_rx rx2))"
kill -0 "$TPID_rx2" 2>/dev/null && kill -0 "$TPID_tx" 2>/dev/null || fail "a testpmd guest died with briskd"
start_briskd
bk port
bk port | table_rows | contains "^${VRX}|${BR}|vhost/client|access|10" || fail "$VRX not replayed from the state file"
bk port | table_rows | contains "^${VTX}|${BR}|vhost/client|access|10" || fail "$VTX not replayed from the state file"
wait_until 30 connected "$VRX" || fail "the restarted briskd did not reconnect to the receiving testpmd"
wait_until 30 connected "$VTX" || fail "the restarted briskd did not reconnect to the sending testpmd"
wait_until 20 rx_above rx2 $((frozen + 10000)) ||
  fail "no frames after the briskd restart: receiver at $(testpmd_rx rx2), was $frozen (sender: $(testpmd_tx tx))"
[[ $(fdb_port 10 "$RX_MAC") == "$VRX" ]] || fail "the static FDB entry for $RX_MAC was not replayed"
(($(stat_of "$VTX" rx_frames) > 10000)) || fail "the new briskd counted no frames from $VTX"
say "receiver RX-packets $frozen while briskd was dead, $(testpmd_rx rx2) after the restart"
pass "vhost-user ports came back from the state file and carry frames again"
stop_testpmd tx
stop_testpmd rx2

# ------------------------------------------------------------------ server mode, tap <-> vhost
check "server mode: a tap in a namespace pings testpmd icmpecho behind a vhost-user port"
NS_T="${PFX}-t" NS_D="${PFX}-d"
bk vhost create 20 socket "$ECHO_SOCK" name "$VECHO" server || fail "vhost create (server)"
[[ -S "$ECHO_SOCK" ]] || fail "brisk did not create the server socket $ECHO_SOCK"
start_testpmd echo "net_virtio_user2,path=$ECHO_SOCK,queues=1" icmpecho
wait_until 30 connected "$VECHO" || fail "testpmd did not connect to brisk's socket"
bk tap create 20 name "${PFX}tt" >/dev/null || fail "tap create"
ns_add_tap "$NS_T" "${PFX}tt" 198.18.20.1/24
ip netns exec "$NS_T" ping -c 3 -W 2 198.18.20.2 || fail "no echo replies from testpmd behind $VECHO"
(($(stat_of "$VECHO" rx_frames) >= 3)) || fail "brisk counted no frames from $VECHO"
pass "tap <-> vhost-user (server mode) in both directions"

# ------------------------------------------------------------------ DPDK port
check "a DPDK port (net_pcap on a veth end) joins VLAN 20"
ns_create "$NS_D"
ip link add "${PFX}pd" type veth peer name "${PFX}pdn"
ip link set "${PFX}pdn" netns "$NS_D"
ip -n "$NS_D" addr add 198.18.20.3/24 dev "${PFX}pdn"
ip -n "$NS_D" link set "${PFX}pdn" up
ip link set "${PFX}pd" up
bk port add "net_pcap0,iface=${PFX}pd" vlan 20 driver dpdk || fail "port add net_pcap0 driver dpdk"
bk port | table_rows | contains "^net_pcap0|${BR}|system/dpdk|access|20" || fail "net_pcap0 not listed"
ip netns exec "$NS_D" ping -c 3 -W 2 198.18.20.1 || fail "ping over the DPDK port failed"
ip netns exec "$NS_D" ping -c 2 -W 2 198.18.20.2 || fail "ping DPDK port -> vhost-user echo failed"
# testpmd icmpecho answers ARP for every address: stop it before the next checks.
stop_testpmd echo
bk port delete "$VECHO" || fail "port delete $VECHO"
wait_until 5 test ! -e "$ECHO_SOCK" || fail "server socket $ECHO_SOCK left behind"
ip -n "$NS_D" neigh flush all
ip -n "$NS_T" neigh flush all
bk port delete net_pcap0 || fail "port delete net_pcap0"
if ip netns exec "$NS_D" ping -c 2 -W 1 198.18.20.1 >/dev/null 2>&1; then
  fail "ping still works after the DPDK port was deleted"
fi
bk port add "net_pcap0,iface=${PFX}pd" vlan 20 driver dpdk || fail "re-adding the deleted vdev"
ip netns exec "$NS_D" ping -c 2 -W 2 198.18.20.1 >/dev/null || fail "ping after re-adding the vdev"
pass "DPDK vdev port forwards, is removed and re-added cleanly"

# ------------------------------------------------------------------ bad commands
check "bad vhost and DPDK commands are refused with one E: line"
# The ports' configuration, without their counters (frames may arrive meanwhile).
port_config() {
  bk --json port | $PY -c 'import json,sys
conf = ("port", "id", "bridge", "kind", "driver", "mode", "vlans", "vlan")
print(json.dumps([{k: p.get(k) for k in conf} for p in json.load(sys.stdin)], sort_keys=True))'
}
before=$(port_config)
expect_error() {
  if bk "$@" 2>"$TMPD/err"; then fail "accepted: $*"; fi
  contains "^E: " "$TMPD/err" || fail "no 'E: ' line for: $* ($(cat "$TMPD/err"))"
  say "  $* -> $(cat "$TMPD/err")"
}
expect_error vhost create 10 socket relative.sock
expect_error vhost create 10 socket "$RX_SOCK"
expect_error vhost create 10 socket "$TMPD/nodir/x.sock"
expect_error vhost create 5000 socket "$TMPD/v.sock"
expect_error vhost create 10
expect_error vhost create 10 socket "$TMPD/v.sock" name "$VRX"
expect_error vhost create 10 socket "$TMPD/v.sock" bogus
expect_error port add net_bogus0 vlan 10 driver dpdk
expect_error port add "net_pcap1,iface=${PFX}nodev" vlan 10 driver dpdk
expect_error port add "bad name" vlan 10 driver dpdk
expect_error port add net_null0 vlan 10 driver nosuch
after=$(port_config)
[[ "$after" == "$before" ]] || fail "a refused command changed the port list: $before -> $after"
pass "refused, nothing changed"

check "deleting vhost-user ports"
bk port delete "$VRX" || fail "port delete $VRX"
bk vhost create 10 socket "$RX_SOCK" name "$VRX" || fail "socket of a deleted port not reusable"
daemon_alive || fail "briskd died"
pass "sockets released"
