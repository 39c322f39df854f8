#!/usr/bin/env bash
# Switching a host over from Open vSwitch to brisk on the same database, and back
# (docs/operations.md, "Switching over from Open vSwitch"). Open vSwitch's own ovsdb-server,
# ovs-vswitchd (userspace datapath: datapath_type=netdev, no kernel module) and ovs-vsctl:
#   namespace H: the switch (ovs-vswitchd, then briskd --ovsdb, then ovs-vswitchd again);
#                veths pa -> namespace A eth0 198.18.60.1/24, pb -> B 198.18.60.2/24,
#                pc -> C 198.18.60.3/24
#   database: bridge B (netdev), ports pa and pb tag=101, pc tag=102; ovsdb-server is this
#             test's, in the host namespace; it runs throughout
# Checks:
#   - Open vSwitch switches: A pings B, not C (another VLAN)
#   - ovs-vswitchd stopped (by its PID; ovsdb-server kept): A no longer reaches B
#   - briskd --ovsdb on the same database: the bridge and its ports come up in brisk (owner
#     ovsdb, VLANs from the rows), A pings B and not C; ovs-vsctl shows brisk's write-backs:
#     ofport = brisk's port id + 1, link_state up, error empty, statistics equal to brisk's
#     counters; cur_cfg follows next_cfg (a change made through ovs-vsctl returns and reaches
#     brisk)
#   - back: briskd stopped (exit 0, no XDP program left on the ports), ovs-vswitchd started
#     again: A pings B, not C; the change made while brisk ran (pc moved to VLAN 101) is
#     Open vSwitch's now too
source "$(dirname "$0")/lib.sh" "$@"
need_ovsdb
need_tool ping ovs-vswitchd
need_netns
PY=/usr/bin/python3

NS_H="${PFX}-h" NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c"
IP_A=198.18.60.1 IP_B=198.18.60.2 IP_C=198.18.60.3
B="${PFX}sw"
OVSD="$TMPD/ovs"
# Open vSwitch's run, log and configuration directories: this test's (management sockets,
# pidfiles); never the host's /run/openvswitch.
export OVS_RUNDIR="$OVSD" OVS_LOGDIR="$OVSD" OVS_DBDIR="$OVSD" OVS_SYSCONFDIR="$OVSD"

ns_create "$NS_H"
for x in a b c; do ns_create "${PFX}-$x"; done
veth_between "$NS_H" pa "" "$NS_A" eth0 "$IP_A/24"
veth_between "$NS_H" pb "" "$NS_B" eth0 "$IP_B/24"
veth_between "$NS_H" pc "" "$NS_C" eth0 "$IP_C/24"

ovsdb_start "$OVSD"
# vs <args>: Debian's ovs-vsctl on this database; it waits for the switch's cur_cfg.
vs() { timeout 30 "$VSCTL" --db="unix:$OVSD/db.sock" "$@"; }
vs --no-wait init

VSWITCHD_PID=""
start_vswitchd() {
  ip netns exec "$NS_H" ovs-vswitchd "unix:$OVSD/db.sock" --pidfile="$OVSD/ovs-vswitchd.pid" \
    --unixctl="$OVSD/ovs-vswitchd.ctl" --log-file="$OVSD/ovs-vswitchd.log" --no-chdir >/dev/null 2>&1 &
  VSWITCHD_PID=$!
  track_pid "$VSWITCHD_PID"
  wait_until 10 test -S "$OVSD/ovs-vswitchd.ctl" || fail "ovs-vswitchd did not start: $(tail "$OVSD/ovs-vswitchd.log")"
}
# stop_vswitchd: ovs-vswitchd exits as the switch-over has it stop: `exit --cleanup`, which
# deletes its datapath and so the devices it made (a plain exit leaves its internal ports'
# taps behind, and a kernel datapath holding the system ports).
stop_vswitchd() {
  ip netns exec "$NS_H" ovs-appctl -t "$OVSD/ovs-vswitchd.ctl" exit --cleanup ||
    fail "ovs-appctl exit --cleanup failed"
  wait_until 10 bash -c "! kill -0 $VSWITCHD_PID 2>/dev/null" || kill -TERM "$VSWITCHD_PID"
  wait "$VSWITCHD_PID" 2>/dev/null || true
  untrack_pid "$VSWITCHD_PID"
  VSWITCHD_PID=""
}
pings() { ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
# vlans_hold <who>: A reaches B (retried while the switch settles), not C.
vlans_hold() {
  wait_until 15 pings "$NS_A" "$IP_B" || fail "$1: A cannot ping B (VLAN 101): $(tail -5 "$OVSD/ovs-vswitchd.log")"
  ip netns exec "$NS_B" ping -c 3 -i 0.2 -W 2 "$IP_A" >/dev/null || fail "$1: B -> A lost pings"
  if pings "$NS_A" "$IP_C"; then fail "$1: VLAN 101 reached VLAN 102"; fi
}

check "Open vSwitch (ovs-vswitchd, userspace datapath) switches between the namespaces"
start_vswitchd
vs add-br "$B" -- set bridge "$B" datapath_type=netdev
# In the reverse of brisk's order (brisk makes them by name), so the ofports differ.
vs add-port "$B" pc tag=102
vs add-port "$B" pb tag=101
vs add-port "$B" pa tag=101
vlans_hold "Open vSwitch"
ovs_ofports="pa $(vs get Interface pa ofport), pb $(vs get Interface pb ofport), pc $(vs get Interface pc ofport)"
pass "A <-> B on VLAN 101 through ovs-vswitchd pid $VSWITCHD_PID (ofports $ovs_ofports)"

check "ovs-vswitchd stopped, ovsdb-server kept: nothing switches"
stop_vswitchd
kill -0 "$OVSDB_PID" || fail "ovsdb-server went with ovs-vswitchd"
if pings "$NS_A" "$IP_B"; then fail "A still reaches B with no switch running"; fi
pass "no switch: A does not reach B"

check "briskd --ovsdb on the same database: the bridge comes up in brisk, ping works"
BRISKD_NETNS="$NS_H" start_briskd --ovsdb "unix:$OVSD/db.sock"
wait_until 10 bash -c "'$BRISK_BIN' --socket '$SOCK' port | grep -q '^ *pc '" || fail "ports not in brisk: $(bk port)"
for p in pa pb pc "$B"; do
  [[ $(port_json "$p" owner) == ovsdb ]] || fail "$p: owner '$(port_json "$p" owner)': $(bk port)"
done
[[ $(port_json pa mode) == access && $(port_json pa vlans) == 101 && $(port_json pc vlans) == 102 ]] ||
  fail "VLANs not from the rows: $(bk port)"
[[ $(port_json "$B" kind) == internal ]] || fail "bridge $B's own interface: $(bk port)"
vlans_hold brisk
pass "bridge $B with pa, pb (101) and pc (102) in brisk; A <-> B, not C"

check "ovs-vsctl shows brisk's write-backs: ofport, link_state, error, statistics"
vs show >"$TMPD/show"
for p in pa pb pc; do contains "Port $p" "$TMPD/show" || fail "show lacks $p: $(cat "$TMPD/show")"; done
for p in pa pb pc; do
  of=$(vs get Interface "$p" ofport)
  [[ $of == $(($(port_json "$p" id) + 1)) ]] || fail "$p: ofport $of, brisk's id $(port_json "$p" id)"
  [[ $(vs get Interface "$p" link_state) == up ]] || fail "$p: link_state $(vs get Interface "$p" link_state)"
  [[ $(vs get Interface "$p" error) == "[]" ]] || fail "$p: error $(vs get Interface "$p" error)"
done
[[ $(vs get Interface "$B" ofport) == 65534 ]] || fail "$B's interface: ofport $(vs get Interface "$B" ofport)"
[[ $(vs get Open_vSwitch . cur_cfg) == $(vs get Open_vSwitch . next_cfg) ]] || fail "cur_cfg behind next_cfg"
brisk_counts() {
  bk --json stats pa | $PY -c 'import json,sys
p = json.load(sys.stdin)["ports"][0]
print(p["rx_frames"], p["rx_bytes"], p["tx_frames"], p["tx_bytes"])'
}
matched=""
for _ in 1 2 3; do
  before=$(brisk_counts)
  sleep 6  # a statistics period (5 s) and more
  db=$(vs --format=list --data=json --no-headings --columns=statistics list Interface pa | $PY -c 'import json,sys
s = dict(json.loads(sys.stdin.read())[1])
print(s["rx_packets"], s["rx_bytes"], s["tx_packets"], s["tx_bytes"])')
  after=$(brisk_counts)
  say "brisk's counters $before / $after, statistics in the database $db"
  [[ $before == "$after" ]] || continue  # traffic during the window: again
  [[ $db == "$after" ]] || fail "pa statistics $db, brisk's counters $after"
  matched=$db
  break
done
[[ -n $matched ]] || fail "pa's counters never stood still for 6 s"
[[ ${matched%% *} -gt 0 ]] || fail "no frames counted on pa"
say "ofports: Open vSwitch's $ovs_ofports; brisk's pa $(vs get Interface pa ofport), pb $(vs get Interface pb ofport), pc $(vs get Interface pc ofport)"
vs list Interface pa | grep -E "^(ofport|link_state|statistics|error) " | while read -r l; do say "  $l"; done
pass "ofports, link_state up, no errors, statistics = brisk's counters ($matched)"

check "a change through ovs-vsctl while brisk runs: pc to VLAN 101"
vs set Port pc tag=101
[[ $(port_json pc vlans) == 101 ]] || fail "pc not moved: $(bk port)"
wait_until 10 pings "$NS_A" "$IP_C" || fail "A cannot reach C on VLAN 101 through brisk"
pass "ovs-vsctl returned (cur_cfg) and brisk moved pc"

check "back to Open vSwitch: briskd stopped, ovs-vswitchd started again"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" || fail "briskd exited with an error on SIGTERM"
BRISKD_PID=""
for p in pa pb pc; do
  if ip -n "$NS_H" -d link show dev "$p" | contains -w xdp; then fail "brisk left an XDP program on $p"; fi
done
if pings "$NS_A" "$IP_B"; then fail "A reaches B with no switch running"; fi
start_vswitchd
wait_until 15 pings "$NS_A" "$IP_B" || fail "Open vSwitch again: A cannot ping B: $(tail -5 "$OVSD/ovs-vswitchd.log")"
wait_until 15 pings "$NS_A" "$IP_C" || fail "Open vSwitch again: A cannot reach C (moved to VLAN 101 under brisk)"
vs set Port pc tag=102
wait_until 10 bash -c "! ip netns exec '$NS_A' ping -c 1 -W 1 '$IP_C' >/dev/null 2>&1" ||
  fail "Open vSwitch did not take pc back to VLAN 102"
vlans_hold "Open vSwitch again"
[[ $(vs get Interface pa error) == "[]" && $(vs get Interface pa ofport) -gt 0 ]] || fail "pa after the switch back"
pass "Open vSwitch switches again on the same database (pid $VSWITCHD_PID)"
