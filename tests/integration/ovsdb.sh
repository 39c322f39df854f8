#!/usr/bin/env bash
# briskd --ovsdb: brisk in ovs-vswitchd's place on a real, unmodified ovsdb-server holding Open
# vSwitch's schema, driven by Debian's unmodified /usr/bin/ovs-vsctl (never --no-wait: every
# command waits for brisk's cur_cfg). The test makes its own database and server (by PID).
#   - add-br: the bridge and its own interface (ofport 65534), owner ovsdb in `port`, not in
#     the state file
#   - minimega's life cycle: VMs (namespaces) on two VLANs (add-port B P tag=101/102), a host
#     tap (type=internal) moved into a namespace, ping within a VLAN and not across; a vxlan
#     port named by the row with a 32-bit key (the VNI on the wire: its low 24 bits), then
#     del-port by that name; mirrors (select-src/dst-port = one port; select-all, minimega's
#     bridge capture, with Mirror statistics) and one brisk cannot realise (output_vlan: the
#     Bridge's status says why)
#   - libvirt's interface life cycle: --timeout=5 --may-exist add-port with external_ids,
#     set Port tag / trunk= (a unique prefix) / vlan_mode=native-untagged, clear tag, trunks
#     and vlan_mode (back to a trunk of every VLAN), `get Interface I ofport`, statistics read
#     back with libvirt's list line equal to brisk's counters
#   - bad input: tag=5000 refused by the database (brisk unchanged), tag=4095, type=bogus and
#     a missing device get the Interface's error column and one log line each; the missing
#     device comes back when it appears; ingress_policing_rate is realised (status) on a
#     port that keeps working (ovsdb_qos.sh measures it)
#     on a port that keeps working
#   - briskd restarted on the same database and state file, now with `--ovsdb tcp:127.0.0.1:P`
#     (the server also listens there: ovsdb-server/add-remote, loopback only): the ports come
#     back once
#   - ovsdb-server killed and restarted on the same database: briskd reconnects over TCP, a
#     ping every 50 ms between two VMs loses nothing (at most 1 of ~160), ovs-vsctl works again
#   - the VMs' devices deleted, the reaper's batched del-port of every port, del-br: nothing
#     left in brisk or in the database
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping ovs-appctl ss
need_ovsdb  # Open vSwitch's own ovsdb-server and ovs-vsctl, never a front end of brisk's
need_netns
PY=/usr/bin/python3

OSOCK="$TMPD/db.sock"
ovsdb_start "$TMPD"

# vs <args>: Debian's ovs-vsctl on our database (waits for cur_cfg: brisk must answer).
# Output in $TMPD/out, status in $RC.
vs() {
  RC=0
  timeout 30 "$VSCTL" --db="unix:$OSOCK" "$@" >"$TMPD/out" 2>&1 || RC=$?
  say "ovs-vsctl $* -> $RC $(head -c 300 "$TMPD/out" | tr '\n' ' ')"
  ((RC != 124)) || fail "ovs-vsctl $* hung (briskd never wrote cur_cfg)"
}
ok() { vs "$@"; ((RC == 0)) || fail "ovs-vsctl $* failed: $(cat "$TMPD/out")"; }
out() { cat "$TMPD/out"; }
# iface_col <iface> <column>: one column of an Interface row (ovs-vsctl's bare format).
iface_col() { timeout 30 "$VSCTL" --db="unix:$OSOCK" get Interface "$1" "$2"; }
log_lines() { grep -c -- "ovsdb: interface $1: " "$TMPD/briskd.log" || true; }
has_port() { bk --json port | $PY -c 'import json,sys; sys.exit(0 if any(p["port"] == sys.argv[1] for p in json.load(sys.stdin)) else 1)' "$1"; }
no_port() { ! has_port "$1"; }

start_briskd --ovsdb "unix:$OSOCK"
ok init

B="${PFX}ob"
VA="${PFX}va" VB="${PFX}vb" VC="${PFX}vc" VL="${PFX}vl" VM="${PFX}vm"
HT="${PFX}ht" TT="${PFX}tt" VX="${PFX}vx" MISS="${PFX}mi" BOG="${PFX}bg" T4="${PFX}t4"
NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_D="${PFX}-d" NS_L="${PFX}-l" NS_M="${PFX}-m"
IP_A=198.18.17.1 IP_B=198.18.17.2 IP_C=198.18.17.3 IP_D=198.18.17.4 IP_L=198.18.17.5

# vm <ns> <host end> [<cidr>]: a namespace as a VM behind a veth whose host end brisk attaches.
vm() {
  ns_create "$1"
  ip link add "$2" type veth peer name "${2}n"
  ip link set "${2}n" netns "$1"
  ip -n "$1" link set "${2}n" name eth0
  [[ -n ${3:-} ]] && ip -n "$1" addr add "$3" dev eth0
  ip -n "$1" link set eth0 up
  ip link set "$2" up
}

check "add-br makes a bridge of OVSDB's (ovs-vsctl waits for cur_cfg)"
ok add-br "$B"
[[ $(port_json "$B" owner) == ovsdb ]] || fail "$B not listed with owner ovsdb: $(bk port)"
[[ $(iface_col "$B" ofport) == 65534 ]] || fail "bridge interface ofport $(iface_col "$B" ofport), want 65534"
[[ $(iface_col "$B" error) == "[]" ]] || fail "bridge interface error $(iface_col "$B" error)"
pass "bridge $B made, its interface at ofport 65534"

check "minimega: VMs on VLANs 101 and 102, a host tap, ping within a VLAN only"
vm "$NS_A" "$VA" "$IP_A/24"
vm "$NS_B" "$VB" "$IP_B/24"
vm "$NS_C" "$VC" "$IP_C/24"
ok add-port "$B" "$VA" tag=101
ok add-port "$B" "$VB" tag=101
ok add-port "$B" "$VC" tag=102
ok add-port "$B" "$HT" tag=101 -- set Interface "$HT" type=internal
ns_add_tap "$NS_D" "$HT" "$IP_D/24"
ip tuntap add mode tap name "$TT"
ok add-port "$B" "$TT" tag=102
for p in "$VA" "$VB" "$VC" "$HT" "$TT"; do
  has_port "$p" || fail "$p not in brisk: $(bk port)"
  [[ $(port_json "$p" owner) == ovsdb ]] || fail "$p owner $(port_json "$p" owner)"
  of=$(iface_col "$p" ofport)
  [[ $of == $(($(port_json "$p" id) + 1)) ]] || fail "$p: ofport $of, brisk id $(port_json "$p" id)"
done
[[ $(port_json "$VA" vlans) == 101 && $(port_json "$VC" vlans) == 102 ]] || fail "VLANs: $(bk port)"
[[ $(port_json "$HT" kind) == tap ]] || fail "internal interface $HT is not a brisk host tap"
ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_B" >/dev/null || fail "ping A -> B (VLAN 101)"
ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_D" >/dev/null || fail "ping A -> host tap D (VLAN 101)"
if ip netns exec "$NS_A" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1; then fail "VLAN 101 reached 102"; fi
pass "ports made with their VLANs and ofports; 101 forwards, 101 -> 102 does not"

check "the state file keeps no OVSDB object"
bk bridge config "$BR" fdb-limit=4096 >/dev/null  # a native change: the file is written now
contains -F "$BR" "$TMPD/state.json" || fail "the state file lacks the native bridge $BR"
for n in "$B" "$VA" "$HT"; do
  if grep -q "\"$n\"" "$TMPD/state.json"; then fail "$n is in the state file: $(cat "$TMPD/state.json")"; fi
done
pass "state file without OVSDB objects"

check "a vxlan port named by the row, 32-bit key, removed by its name"
ok add-port "$B" "$VX" -- set interface "$VX" type=vxlan options:remote_ip=198.18.17.200 options:key=3735928559
[[ $(port_json "$VX" kind) == tunnel ]] || fail "$VX is not a brisk tunnel: $(bk port)"
[[ $(port_json "$VX" key) == $((3735928559 & 0xffffff)) ]] || fail "$VX key $(port_json "$VX" key)"
[[ $(iface_col "$VX" error) == "[]" ]] || fail "$VX error $(iface_col "$VX" error)"
ok del-port "$B" "$VX"
no_port "$VX" || fail "$VX still in brisk after del-port"
pass "vxlan $VX made with VNI $((3735928559 & 0xffffff)) and removed by name"

check "mirrors: one port to a monitor port; output_vlan refused on the Bridge's status"
vm "$NS_M" "$VM"
ok add-port "$B" "$VM"
ok -- --id=@p get port "$VA" -- --id=@o get port "$VM" -- --id=@m create mirror name=m1 \
  select-src-port=@p select-dst-port=@p output-port=@o -- set bridge "$B" mirrors=@m
bk tap mirror | table_rows | contains "$VA|$VM" || fail "no brisk mirror $VA -> $VM: $(bk tap mirror)"
ok clear Bridge "$B" mirrors
wait_until 3 bash -c "! '$BRISK_BIN' --socket '$SOCK' tap mirror | grep -q '$VM'" || fail "mirror left after clear"
# minimega's `capture pcap bridge`: every frame of the bridge to one port.
ok -- --id=@o get port "$VM" -- --id=@m create mirror name=m0 select-all=true output-port=@o \
  -- set bridge "$B" mirrors=@m
bk tap mirror | table_rows | contains "$B|all|$VM" || fail "no select-all mirror: $(bk tap mirror)"
ip netns exec "$NS_A" ping -c 2 -W 2 "$IP_B" >/dev/null || fail "ping A -> B with a mirror"
sleep 6  # a statistics period
ok get Mirror m0 statistics
[[ $(out | sed -n 's/.*tx_packets=\([0-9]*\).*/\1/p') -ge 4 ]] || fail "mirror statistics $(out)"
ok clear Bridge "$B" mirrors
ok -- --id=@m create mirror name=m2 select-all=true output-vlan=300 -- add bridge "$B" mirrors @m
ok get Bridge "$B" status
contains -F "mirror m2" "$TMPD/out" || fail "Bridge status lacks mirror m2's error: $(out)"
ok clear Bridge "$B" mirrors
wait_until 3 bash -c "! '$BRISK_BIN' --socket '$SOCK' tap mirror | grep -q '$VM'" || fail "mirror left after clear"
ok del-port "$B" "$VM"
pass "mirrors (one port, select-all with statistics) made and removed; unsupported mirror reported"

check "libvirt: --may-exist add-port with external_ids, VLAN updates and their removal"
vm "$NS_L" "$VL" "$IP_L/24"
ok --timeout=5 -- --may-exist add-port "$B" "$VL" -- set Interface "$VL" \
  external_ids:attached-mac=52:54:00:11:22:33 external-ids:iface-id=0b1c5d3e-7f47-4d6a-9c1e-1f2e3d4c5b6a \
  external-ids:iface-status=active external-ids:vm-id=5d9c8a4e-2b1f-4a3c-8d7e-6f5a4b3c2d1e
[[ $(port_json "$VL" mode) == trunk && $(port_json "$VL" vlans) == "all native 0" ]] || fail "untagged port: $(bk port)"
ok set Port "$VL" tag=101
[[ $(port_json "$VL" mode) == access && $(port_json "$VL" vlans) == 101 ]] || fail "tag=101: $(bk port)"
ip netns exec "$NS_L" ping -c 2 -W 2 "$IP_A" >/dev/null || fail "ping L -> A on VLAN 101"
ok set Port "$VL" trunk=101,102
[[ $(port_json "$VL" mode) == access ]] || fail "a tag and trunks without vlan_mode is access in OVS"
ok set Port "$VL" vlan_mode=native-untagged
[[ $(port_json "$VL" vlans) == "101-102 native 101" ]] || fail "native-untagged: $(port_json "$VL" vlans)"
ip netns exec "$NS_L" ping -c 2 -W 2 "$IP_A" >/dev/null || fail "ping L (native 101) -> A"
ok clear Port "$VL" tag
ok clear Port "$VL" trunks
ok clear Port "$VL" vlan_mode
[[ $(port_json "$VL" mode) == trunk && $(port_json "$VL" vlans) == "all native 0" ]] || fail "cleared: $(bk port)"
if ip netns exec "$NS_L" ping -c 2 -W 1 "$IP_A" >/dev/null 2>&1; then fail "VLAN 0 reached VLAN 101"; fi
ok set Port "$VL" tag=101
pass "tag, trunk prefix, native-untagged and clearing them all reach brisk"

check "statistics read back as libvirt reads them equal brisk's counters"
ip netns exec "$NS_L" ping -c 5 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping L -> B"
brisk_stats() {
  bk --json stats "$VL" | $PY -c 'import json,sys
p = json.load(sys.stdin)["ports"][0]
print(p["rx_frames"], p["rx_bytes"], p["tx_frames"], p["tx_bytes"])'
}
matched=0
for _ in 1 2 3; do
  before=$(brisk_stats)
  sleep 6  # one statistics period (5 s) and more
  ok --if-exists --format=list --data=json --no-headings --columns=statistics list Interface "$VL"
  db=$($PY -c 'import json,sys
s = dict(json.loads(sys.stdin.read())[1])  # ["map", [[key, value], ...]]
print(s["rx_packets"], s["rx_bytes"], s["tx_packets"], s["tx_bytes"])' <"$TMPD/out")
  after=$(brisk_stats)
  say "brisk $before / $after, database $db"
  [[ $before == "$after" ]] || continue  # traffic during the window: again
  [[ $db == "$after" ]] || fail "statistics $db, brisk's counters $after"
  matched=1
  break
done
((matched)) || fail "counters never stood still for 6 s"
[[ ${db%% *} -ge 5 ]] || fail "rx_packets ${db%% *} after 5 pings"
pass "statistics = brisk's counters ($db)"

check "bad input: tag=5000, tag=4095, type=bogus, a missing device"
vs set Port "$VL" tag=5000
((RC != 0)) || fail "tag=5000 accepted by the database"
[[ $(port_json "$VL" vlans) == 101 ]] || fail "brisk changed after a refused tag=5000"
ok add-port "$B" "$T4" tag=4095 -- set Interface "$T4" type=internal
ok add-port "$B" "$BOG" -- set Interface "$BOG" type=bogus
ok add-port "$B" "$MISS" tag=102
for p in "$T4" "$BOG" "$MISS"; do
  e=$(iface_col "$p" error)
  [[ $e != "[]" && -n $e ]] || fail "$p: no error column"
  [[ $(iface_col "$p" ofport) == -1 ]] || fail "$p: ofport $(iface_col "$p" ofport), want -1"
  no_port "$p" || fail "$p is in brisk although in error"
  say "$p: error $e"
done
contains -F "bogus" <<<"$(iface_col "$BOG" error)" || fail "type error does not name the type"
# Policing: realised in userspace (status says so), the port keeps its ofport.
ok set Interface "$VL" ingress_policing_rate=1000
contains -F "ingress_policing=userspace" <<<"$(iface_col "$VL" status)" || fail "policing not in status: $(iface_col "$VL" status)"
[[ $(iface_col "$VL" error) == "[]" ]] || fail "policing error: $(iface_col "$VL" error)"
[[ $(iface_col "$VL" ofport) -gt 0 ]] || fail "$VL lost its ofport over policing"
ok set Interface "$VL" ingress_policing_rate=0
[[ $(iface_col "$VL" status) == "{}" ]] || fail "policing status not cleared: $(iface_col "$VL" status)"
sleep 2.5  # retried twice meanwhile: still one log line each
for p in "$T4" "$BOG" "$MISS"; do
  [[ $(log_lines "$p") == 1 ]] || fail "$p: $(log_lines "$p") log lines, want 1"
done
vm "$NS_C-x" "$MISS"
wait_until 5 has_port "$MISS" || fail "$MISS did not come back when its device appeared"
wait_until 3 bash -c "[[ \$(timeout 5 $VSCTL --db=unix:$OSOCK get Interface $MISS error) == '[]' ]]" ||
  fail "$MISS: error not cleared"
pass "errors on the rows, one log line each, the missing device came back"

check "briskd restarted on the same database and state file, over TCP: every port once"
# The server's second remote, on loopback: a free port now, the same one after its restart.
TPORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tcp_remote() {
  ovs-appctl -t "$TMPD/ovsdb-server.ctl" ovsdb-server/add-remote "ptcp:$TPORT:127.0.0.1" ||
    fail "ovsdb-server/add-remote ptcp:$TPORT:127.0.0.1"
  wait_until 5 bash -c "ss -ltn 'sport = :$TPORT' | grep -q LISTEN" || fail "ovsdb-server not listening on $TPORT"
}
tcp_remote
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" || fail "briskd exited with an error on SIGTERM"
BRISKD_PID=""
mv "$TMPD/briskd.log" "$TMPD/briskd.log.1"
start_briskd --ovsdb "tcp:127.0.0.1:$TPORT"
wait_until 10 has_port "$VA" || fail "$VA not back after restart"
wait_until 10 has_port "$MISS" || fail "$MISS not back after restart"
grep -q "pending\|cannot be replayed" "$TMPD/briskd.log" && fail "state replay complained: $(cat "$TMPD/briskd.log")"
ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_B" >/dev/null || fail "ping A -> B after restart"
grep -q "ovsdb: connected to tcp:127.0.0.1:$TPORT" "$TMPD/briskd.log" ||
  fail "no 'ovsdb: connected to tcp:127.0.0.1:$TPORT' in briskd's log: $(grep ovsdb: "$TMPD/briskd.log")"
pass "ports back from the database over TCP, nothing replayed twice"

check "ovsdb-server killed and restarted: briskd reconnects, forwarding never stops"
ip netns exec "$NS_A" ping -i 0.05 -c 160 -W 1 "$IP_B" >"$TMPD/ping" 2>&1 &
PING_PID=$!
track_pid "$PING_PID"
sleep 1
ovsdb_stop
sleep 2
ovsdb_start "$TMPD"
tcp_remote
wait_until 15 bash -c "[[ \$(grep -c 'ovsdb: connected' '$TMPD/briskd.log') -ge 2 ]]" || fail "briskd did not reconnect"
ok set Port "$VB" tag=101 -- set Port "$VA" tag=101
wait "$PING_PID" || true
tail -2 "$TMPD/ping"
rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMPD/ping")
[[ -n $rx && $rx -ge 159 ]] || fail "ping across the restart: $(tail -2 "$TMPD/ping")"
pass "reconnected; $rx of 160 pings answered"

check "minimega teardown: devices deleted, batched del-port, del-br; nothing left"
ip link del "$VA"
ip link del "$VB"
ip tuntap del mode tap name "$TT"
wait_until 5 no_port "$VA" || fail "$VA still in brisk after its device went"
ok list-ports "$B"
contains -x "$VA" "$TMPD/out" || fail "the row of $VA went with its device"
ok -- del-port "$B" "$VA" -- del-port "$B" "$VB" -- del-port "$B" "$TT" -- del-port "$B" "$VC" \
  -- del-port "$B" "$HT" -- del-port "$B" "$VL" -- del-port "$B" "$T4" -- del-port "$B" "$BOG" \
  -- del-port "$B" "$MISS"
ok del-br "$B"
ok list-br
[[ ! -s $TMPD/out ]] || fail "bridges left in the database: $(out)"
ok --columns=name list Interface
[[ ! -s $TMPD/out ]] || fail "interfaces left in the database: $(out)"
left=$(bk --json port | $PY -c 'import json,sys; print(" ".join(p["port"] for p in json.load(sys.stdin) if p["owner"] != "native"))')
[[ -z $left ]] || fail "OVSDB ports left in brisk: $left"
[[ $(bk port | table_rows | grep -c .) == 1 ]] || fail "brisk has more than its default bridge: $(bk port)"
pass "nothing left in brisk or the database"
