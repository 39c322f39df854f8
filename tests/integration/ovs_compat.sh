#!/usr/bin/env bash
# The Open vSwitch command lines minimega (internal/bridge, cmd/minimega) and libvirt
# (virnetdevopenvswitch.c) run, replayed with Debian's unmodified ovs-vsctl against this
# test's ovsdb-server and briskd --ovsdb (integration.ovsdb covers the rest of their life
# cycles), and brisk's ovs-ofctl front end (minimega's NORMAL flows). Every ovs-vsctl waits for
# brisk's cur_cfg; each check reads what brisk made of the rows:
#   - minimega's start: other_config:vlan-limit=2, --may-exist add-br, list-ports, port-to-br
#   - a host tap (type=internal) on VLAN 112, an access veth (tag=112) and a trunk (no tag):
#     a ping between the first two, the trunk sees the broadcast tagged 112
#   - libvirt's older interface line: --if-exists del-port and add-port with external-ids in
#     one transaction, again for a VM restart (the row replaced: the port follows its new tag);
#     native-untagged with a tag and trunks, trunks= alone on it; `get Interface I
#     statistics:rx_bytes`; external_ids:PortData set and read back (migration);
#     `find Interface options:vhost-server-path=P` on a dpdkvhostuserclient port
#   - QinQ as minimega sets it: vlan_mode=dot1q-tunnel tag=N, tag= alone keeps the mode,
#     qinq-ethtype=802.1q and empty cvlans accepted, qinq-ethtype=802.1ad and cvlans reported
#     on the Interface's error with brisk's port unchanged; a host tap added as dot1q-tunnel
#   - set bridge other_config:mac-aging-time
#   - minimega's mirror transaction (add bridge B mirrors @m) and its removal (remove bridge B
#     mirrors @m); minimega's bridge capture: a select-all mirror to an internal port, on
#     which tcpdump sees the bridge's frames
#   - brisk's ovs-ofctl: NORMAL flows on the OVSDB bridge accepted, others and a missing
#     bridge refused with a clear error
#   - batched del-port and del-br: nothing left in brisk
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump
need_ovsdb
need_netns
OFCTL="$(cd "$(dirname "$BRISK_BIN")" && pwd)/ovs-ofctl"
[[ -x $OFCTL ]] || fail "brisk's ovs-ofctl front end is not built next to $BRISK_BIN"
PY=/usr/bin/python3

OSOCK="$TMPD/db.sock"
ovsdb_start "$TMPD"
start_briskd --ovsdb "unix:$OSOCK"
export BRISK_SOCKET="$SOCK"  # brisk's ovs-ofctl

# vs <args>: Debian's ovs-vsctl on this database; output in $TMPD/out, status in $RC.
vs() {
  RC=0
  timeout 30 "$VSCTL" --db="unix:$OSOCK" "$@" >"$TMPD/out" 2>&1 || RC=$?
  say "ovs-vsctl $* -> $RC $(head -c 300 "$TMPD/out" | tr '\n' ' ')"
  ((RC != 124)) || fail "ovs-vsctl $* hung (briskd never wrote cur_cfg)"
}
ok() { vs "$@"; ((RC == 0)) || fail "ovs-vsctl $* failed: $(cat "$TMPD/out")"; }
out() { cat "$TMPD/out"; }
iface_error() { timeout 30 "$VSCTL" --db="unix:$OSOCK" get Interface "$1" error; }
port_row() { bk port | table_rows | awk -F'|' -v p="$1" '$1 == p'; }
vlans() { port_json "$1" mode; port_json "$1" vlans; }

B="${PFX}ob"
T1="${PFX}h1" V1="${PFX}v1" V2="${PFX}v2" LV="${PFX}lv" QT="${PFX}qt" CT="${PFX}ct" VH="${PFX}vh"
NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c"
IP_A=198.18.13.1 IP_B=198.18.13.2

check "minimega's start: vlan-limit, --may-exist add-br, list-ports, port-to-br"
ok init
ok set Open_vSwitch . other_config:vlan-limit=2
ok --may-exist add-br "$B"
ok --may-exist add-br "$B"
[[ $(port_json "$B" owner) == ovsdb ]] || fail "bridge $B not in brisk: $(bk bridge)"
pass "bridge $B"

check "a host tap (VLAN 112), an access veth (112) and a trunk forward as OVS would"
ok add-port "$B" "$T1" tag=112 -- set Interface "$T1" type=internal
[[ $(port_json "$T1" kind) == tap ]] || fail "$T1 is not a host tap: $(port_row "$T1")"
ns_create "$NS_B"
ns_create "$NS_C"
veth_to_ns "$NS_B" "$V1" "$IP_B/24"
veth_to_ns "$NS_C" "$V2" -
ok add-port "$B" "$V1" tag=112
ok add-port "$B" "$V2"
[[ $(vlans "$V1" | tr '\n' ' ') == "access 112 " ]] || fail "$V1: $(port_row "$V1")"
[[ $(vlans "$V2" | tr '\n' ' ') == "trunk all native 0 " ]] || fail "$V2: $(port_row "$V2")"
ok list-ports "$B"
[[ $(sort "$TMPD/out" | tr '\n' ' ') == "$(printf '%s\n' "$T1" "$V1" "$V2" | sort | tr '\n' ' ')" ]] ||
  fail "list-ports: $(out)"
ok port-to-br "$V1"
[[ $(out) == "$B" ]] || fail "port-to-br: $(out)"
ns_add_tap "$NS_A" "$T1" "$IP_A/24"
# No 802.1Q devices on this kernel (TESTBED.md): the trunk's side is read with tcpdump.
ip netns exec "$NS_C" timeout 10 tcpdump -nn -e -c 1 -i eth0 "vlan 112 and arp" >"$TMPD/trunk.txt" 2>/dev/null &
TCPDUMP_PID=$!
track_pid "$TCPDUMP_PID"
sleep 1
ip netns exec "$NS_A" ping -c 2 -W 2 "$IP_B" >/dev/null || fail "ping host tap -> access veth"
wait "$TCPDUMP_PID" || true
contains "vlan 112" "$TMPD/trunk.txt" || fail "the trunk did not see A's ARP tagged 112: $(cat "$TMPD/trunk.txt")"
pass "VLAN 112 across the host tap, the access veth and (tagged) the trunk"

check "libvirt: --if-exists del-port + add-port with external-ids, a VM restart, VLAN changes"
ip tuntap add dev "$LV" mode tap
ip link set "$LV" up
ok --timeout=5 -- --if-exists del-port "$LV" -- add-port "$B" "$LV" tag=114 -- set Interface "$LV" \
  'external-ids:attached-mac="52:54:00:12:34:56"' -- set Interface "$LV" \
  external-ids:iface-id=8d5e9b6a-1d2c-4b7e-9a51-1f2e3d4c5b6a -- set Interface "$LV" \
  external-ids:iface-status=active
[[ $(vlans "$LV" | tr '\n' ' ') == "access 114 " ]] || fail "$LV: $(port_row "$LV")"
id1=$(port_json "$LV" id)
ok --timeout=5 -- --if-exists del-port "$LV" -- add-port "$B" "$LV" tag=115
[[ $(vlans "$LV" | tr '\n' ' ') == "access 115 " ]] || fail "$LV after the restart: $(port_row "$LV")"
say "$LV: brisk port id $id1, then $(port_json "$LV" id)"
ok set port "$LV" vlan_mode=native-untagged tag=7 trunks=10,20
[[ $(vlans "$LV" | tr '\n' ' ') == "trunk 7,10,20 native 7 " ]] || fail "$LV native-untagged: $(port_row "$LV")"
ok set port "$LV" trunks=30,40
[[ $(vlans "$LV" | tr '\n' ' ') == "trunk 7,30,40 native 7 " ]] || fail "$LV trunks=30,40: $(port_row "$LV")"
ok set port "$LV" vlan_mode=access tag=116
ok clear port "$LV" trunks
[[ $(vlans "$LV" | tr '\n' ' ') == "access 116 " ]] || fail "$LV back to access: $(port_row "$LV")"
sleep 6  # a statistics period
ok get Interface "$V1" statistics:rx_bytes
[[ $(out) -gt 0 ]] || fail "statistics:rx_bytes of $V1: $(out)"
ok set Interface "$LV" external_ids:PortData=a1b2c3
ok --if-exists get Interface "$LV" external_ids:PortData
[[ $(out) == a1b2c3 || $(out) == '"a1b2c3"' ]] || fail "PortData read back: $(out)"
ok add-port "$B" "$VH" tag=114 -- set Interface "$VH" type=dpdkvhostuserclient \
  "options:vhost-server-path=$TMPD/vm1.sock"
ok --no-headings --columns=name find Interface "options:vhost-server-path=\"$TMPD/vm1.sock\""
[[ $(out) == "$VH" || $(out) == "\"$VH\"" ]] || fail "find by vhost-server-path: $(out)"
[[ $(port_json "$VH" kind) == vhost ]] || fail "$VH is not a brisk vhost-user port: $(port_row "$VH") $(iface_error "$VH")"
ok del-port "$B" "$VH"
pass "libvirt's lines reach brisk; statistics, PortData and find read back"

check "QinQ as minimega sets it; 802.1ad and cvlans reported, the port unchanged"
ok set port "$LV" vlan_mode=dot1q-tunnel tag=200
[[ $(vlans "$LV" | tr '\n' ' ') == "dot1q-tunnel 200 " ]] || fail "$LV: $(port_row "$LV")"
ok set port "$LV" tag=201
[[ $(vlans "$LV" | tr '\n' ' ') == "dot1q-tunnel 201 " ]] || fail "tag= alone: $(port_row "$LV")"
ok set port "$LV" other_config:qinq-ethtype=802.1q cvlans=[]
[[ $(iface_error "$LV") == "[]" ]] || fail "802.1q refused: $(iface_error "$LV")"
ok set port "$LV" other_config:qinq-ethtype=802.1ad tag=202
iface_error "$LV" | contains -F "802.1ad" || fail "802.1ad not reported: $(iface_error "$LV")"
[[ $(vlans "$LV" | tr '\n' ' ') == "dot1q-tunnel 201 " ]] || fail "802.1ad changed $LV: $(port_row "$LV")"
ok set port "$LV" other_config:qinq-ethtype=802.1q cvlans=10,20
iface_error "$LV" | contains -F "cvlans" || fail "cvlans not reported: $(iface_error "$LV")"
[[ $(vlans "$LV" | tr '\n' ' ') == "dot1q-tunnel 201 " ]] || fail "cvlans changed $LV: $(port_row "$LV")"
ok clear port "$LV" cvlans
[[ $(vlans "$LV" | tr '\n' ' ') == "dot1q-tunnel 202 " && $(iface_error "$LV") == "[]" ]] ||
  fail "$LV after the errors were cleared: $(port_row "$LV") $(iface_error "$LV")"
ok add-port "$B" "$QT" tag=300 vlan_mode=dot1q-tunnel -- set Interface "$QT" type=internal
[[ $(port_json "$QT" kind) == tap && $(vlans "$QT" | tr '\n' ' ') == "dot1q-tunnel 300 " ]] ||
  fail "$QT: $(port_row "$QT")"
ok set port "$QT" vlan_mode=access
[[ $(vlans "$QT" | tr '\n' ' ') == "access 300 " ]] || fail "$QT back to access: $(port_row "$QT")"
ok del-port "$B" "$QT"
pass "dot1q-tunnel ports as minimega makes them"

check "set bridge other_config:mac-aging-time"
ok set bridge "$B" other_config:mac-aging-time=100 stp_enable=false
bk bridge | table_rows | contains "^${B}|.*ageing=100" || fail "ageing not set: $(bk bridge)"
pass "ageing 100"

check "minimega's mirror transaction and its removal; its bridge capture on an internal port"
ok -- --id=@dst get port "$V2" -- --id=@src get port "$T1" -- --id=@m create mirror \
  "name=mirror-$V2" output-port=@dst select-src-port=@src select-dst-port=@src -- add bridge "$B" mirrors @m
bk tap mirror | table_rows | contains "$T1|$V2" || fail "no brisk mirror $T1 -> $V2: $(bk tap mirror)"
ok -- --id=@m get mirror "mirror-$V2" -- remove bridge "$B" mirrors @m
wait_until 3 bash -c "! '$BRISK_BIN' --socket '$SOCK' tap mirror | grep -q '$V2'" || fail "mirror left: $(bk tap mirror)"
ok add-port "$B" "$CT" -- set interface "$CT" type=internal
ok -- --id=@o get port "$CT" -- --id=@m create mirror name="$CT" select-all=true output-port=@o \
  -- add bridge "$B" mirrors @m
bk tap mirror | table_rows | contains "$B|all|$CT" || fail "no select-all mirror to $CT: $(bk tap mirror)"
ip link set "$CT" up
timeout 10 tcpdump -nn -c 2 -i "$CT" "icmp" >"$TMPD/capture.txt" 2>/dev/null &
CAP_PID=$!
track_pid "$CAP_PID"
sleep 1
ip netns exec "$NS_A" ping -c 2 -W 2 "$IP_B" >/dev/null || fail "ping with a capture"
wait "$CAP_PID" || true
[[ $(grep -c "ICMP echo" "$TMPD/capture.txt") -ge 2 ]] || fail "the capture port saw: $(cat "$TMPD/capture.txt")"
ok -- --id=@m get mirror "$CT" -- remove bridge "$B" mirrors @m -- del-port "$B" "$CT"
if bk tap mirror | contains "$CT"; then fail "capture mirror left: $(bk tap mirror)"; fi
pass "mirror made and removed; the capture port saw the pings"

check "brisk's ovs-ofctl: NORMAL flows on the OVSDB bridge"
"$OFCTL" add-flow "$B" dl_type=0x0806,actions=local,normal || fail "ovs-ofctl ARP flow refused"
"$OFCTL" add-flow "$B" "dl_type=0x86dd,nw_proto=58,icmp_type=135,actions=local,normal" ||
  fail "ovs-ofctl IPv6 neighbour-solicitation flow refused"
if "$OFCTL" add-flow "$B" dl_type=0x0800,actions=drop 2>"$TMPD/err"; then fail "a drop flow was accepted"; fi
contains "NORMAL" "$TMPD/err" || fail "unclear ovs-ofctl error: $(cat "$TMPD/err")"
if "$OFCTL" add-flow "${PFX}nobr" actions=normal 2>"$TMPD/err"; then fail "flow on a missing bridge"; fi
contains "is not a bridge" "$TMPD/err" || fail "unclear ovs-ofctl error: $(cat "$TMPD/err")"
"$OFCTL" -V | head -1 | contains "Open vSwitch" || fail "ovs-ofctl -V"
pass "NORMAL flows accepted, others refused"

check "batched del-port, del-br: nothing left in brisk"
ok del-port "$B" "$V1" -- del-port "$B" "$V2" -- del-port "$B" "$LV" -- del-port "$B" "$T1"
for p in "$V1" "$V2" "$LV" "$T1"; do
  if bk port | table_rows | contains "^${p}|"; then fail "$p still in brisk"; fi
done
ok del-br "$B"
if bk bridge | table_rows | contains "^${B}|"; then fail "bridge $B still in brisk"; fi
ip link del "$LV" 2>/dev/null || true
pass "ports and bridge removed"
