#!/usr/bin/env bash
# libvirt's <bandwidth> and OVS Mirror select_vlan, realised by briskd --ovsdb on a real
# ovsdb-server, driven by Debian's unmodified /usr/bin/ovs-vsctl with libvirt's own command
# lines (src/util/virnetdevopenvswitch.c: --timeout=5, `find` by external-ids, `set port ...
# qos=@qos1 -- --id=@qos1 create qos type=linux-htb ... queues:0=@queue0 -- --id=@queue0
# create queue ...`, `set Interface ... ingress_policing_rate/burst`, and its cleanup lines).
# VMs are namespaces behind veths whose host ends brisk attaches (AF_XDP, fast path on).
#   - <bandwidth><inbound average=peak=2500 KB/s burst=1 MiB/><outbound average=2500 KB/s
#     burst=1 MiB/> on A: iperf3 TCP B -> A (brisk's output to A: the htb brisk put on A's
#     device) and A -> B (brisk's input from A: the userspace policer) each within 10% of
#     20 Mbit/s of wire rate; the Interface row says how (status), `port` shows it; A is off
#     the fast path while policed, B stays on it; the `policed` counter moves
#   - libvirt's cleanup lines: full rate again both ways, no qdisc left on A's device, A back
#     on the fast path; a qdisc brisk did not install is never replaced (error) nor removed
#   - a brisk host tap (type internal: frames enter the host, no qdisc) with the same QoS:
#     limited in userspace (the path a kernel without htb takes too), within 10%
#   - Mirror select_all + select_vlan=101 to a port: only VLAN 101's frames reach it
#     (tcpdump -e in the mirror's namespace), output_vlan gets the Bridge's status error
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping iperf3 tc tcpdump ovsdb-server ovsdb-tool
VSCTL=/usr/bin/ovs-vsctl
[[ -x $VSCTL ]] || skip "no $VSCTL (Debian's openvswitch-switch)"
need_netns
PY=/usr/bin/python3
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
[[ -r $SCHEMA ]] || skip "no $SCHEMA (Debian's openvswitch-common)"

DB="$TMPD/conf.db" OSOCK="$TMPD/db.sock"
ovsdb-tool create "$DB" "$SCHEMA"
ovsdb-server --remote="punix:$OSOCK" --unixctl="$TMPD/ovsdb.ctl" --log-file="$TMPD/ovsdb.log" \
  --no-chdir "$DB" >>"$TMPD/ovsdb.out" 2>&1 &
track_pid $!
wait_until 5 test -S "$OSOCK" || fail "ovsdb-server did not listen on $OSOCK"

# vs <args>: Debian's ovs-vsctl on our database; output in $TMPD/out, status in $RC.
vs() {
  RC=0
  timeout 30 "$VSCTL" --db="unix:$OSOCK" "$@" >"$TMPD/out" 2>&1 || RC=$?
  say "ovs-vsctl $* -> $RC $(head -c 200 "$TMPD/out" | tr '\n' ' ')"
  ((RC != 124)) || fail "ovs-vsctl $* hung (briskd never wrote cur_cfg)"
}
ok() { vs "$@"; ((RC == 0)) || fail "ovs-vsctl $* failed: $(cat "$TMPD/out")"; }
iface_col() { timeout 30 "$VSCTL" --db="unix:$OSOCK" get Interface "$1" "$2"; }

start_briskd --ovsdb "unix:$OSOCK" --xdp-fastpath on
ok init

B="${PFX}ob" VA="${PFX}va" VB="${PFX}vb" HT="${PFX}ht"
NS_A="${PFX}-a" NS_B="${PFX}-b" NS_T="${PFX}-t"
IP_A=198.18.21.1 IP_B=198.18.21.2 IP_T=198.18.21.3
UUID=6f0ad4a2-6b8e-4a54-9b1e-4a3c1d2e0b17  # the domain's
veth_to_ns "$NS_A" "$VA" "$IP_A/24" gro
veth_to_ns "$NS_B" "$VB" "$IP_B/24" gro
ok add-br "$B"
for v in "$VA" "$VB"; do
  ok --timeout=5 -- --may-exist add-port "$B" "$v" -- set Interface "$v" \
    "external-ids:attached-mac=\"52:54:00:21:00:0${#v}\"" \
    "external-ids:vm-id=\"$UUID\"" external-ids:iface-status=active
done
ip netns exec "$NS_A" ping -c 1 -W 2 "$IP_B" >/dev/null || fail "no ping A -> B before QoS"

# libvirt's units: average/peak KB/s (x 8000 bit/s), burst KiB (x 8192 bits); inbound is the
# QoS on the port (brisk sends to the VM), outbound the Interface's policing (x 8 kbit).
AVG=2500 BURST=1024
RATE=$((AVG * 8000))  # 20 Mbit/s
VMID="external-ids:vm-id=\"$UUID\""
# set_bandwidth <iface>: libvirt's virNetDevOpenvswitchInterfaceSetQos, line by line.
set_bandwidth() {
  local ifid="external-ids:ifname=\"$1\""
  vs --timeout=5 --no-heading --columns=_uuid find queue "$VMID" "$ifid"
  vs --timeout=5 --no-heading --columns=_uuid find qos "$VMID" "$ifid"
  ok --timeout=5 set port "$1" qos=@qos1 "$VMID" "$ifid" -- --id=@qos1 create qos type=linux-htb \
    "other_config:min-rate=$RATE" "other_config:burst=$((BURST * 8192))" \
    "other_config:max-rate=$RATE" queues:0=@queue0 "$VMID" "$ifid" -- --id=@queue0 create queue \
    "other_config:min-rate=$RATE" "other_config:burst=$((BURST * 8192))" \
    "other_config:max-rate=$RATE" "$VMID" "$ifid"
  ok --timeout=5 set Interface "$1" "ingress_policing_rate=$((AVG * 8))" \
    "ingress_policing_burst=$((BURST * 8))"
}
# clear_bandwidth <iface>: libvirt's virNetDevOpenvswitchInterfaceClearQos.
clear_bandwidth() {
  local ifid="external-ids:ifname=\"$1\"" q u
  vs --timeout=5 --no-heading --columns=_uuid find queue "$VMID" "$ifid"
  q=$(cat "$TMPD/out")
  vs --timeout=5 --no-heading --columns=_uuid find qos "$VMID" "$ifid"
  for u in $(cat "$TMPD/out"); do
    vs --timeout=5 --no-heading --columns=_uuid --if-exists list port "$1" qos
    [[ -s $TMPD/out ]] && ok --timeout=5 remove port "$1" qos "$u"
    ok --timeout=5 destroy qos "$u"
  done
  for u in $q; do ok --timeout=5 destroy queue "$u"; done
  ok --timeout=5 set Interface "$1" ingress_policing_rate=0 ingress_policing_burst=0
}

# iperf <client ns> <server ns> <server ip> <port> <seconds> [-R]: TCP; the receiver's bit/s,
# the first second omitted (the bucket's initial burst).
iperf() {
  ip netns exec "$2" iperf3 -s -1 -B "$3" -p "$4" >"$TMPD/iperf-s-$4" 2>&1 &
  track_pid $!
  sleep 0.3
  ip netns exec "$1" iperf3 -c "$3" -p "$4" -t "$5" -O 1 ${6:-} -J >"$TMPD/iperf-$4.json" ||
    fail "iperf3 to $3 failed: $(tail -5 "$TMPD/iperf-$4.json")"
  "$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/iperf-$4.json"
}
# within <bit/s> <what>: within 10% of RATE's TCP goodput (payload 1448 of 1514 wire bytes).
within() {
  local want=$((RATE * 1448 / 1514))
  say "$2: $1 bit/s (limit $RATE bit/s wire, $want bit/s of TCP payload)"
  "$PY" -c 'import sys; g, w = int(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if abs(g - w) <= w / 10 else 1)' "$1" "$want" ||
    fail "$2: $1 bit/s is not within 10% of $want bit/s"
}
policed() { bk --json stats "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ports"][0]["drops"]["policed"])'; }
qos_json() { port_json "$1" qos; }
fastpath_is() { [[ $(port_json "$1" xdp_fastpath) == "$2" ]]; }
sees_qdisc() { [[ $(port_json "$1" qdisc) != None ]]; }
root_qdisc() { tc qdisc show dev "$1" | awk '/ root / { print $2, $3; exit }'; }

check "libvirt's <bandwidth> lines on $VA: htb on its device, policing, status written back"
set_bandwidth "$VA"
[[ $(iface_col "$VA" error) == "[]" ]] || fail "error on $VA: $(iface_col "$VA" error)"
status=$(iface_col "$VA" status)
[[ $status == *"qos=\"htb on $VA\""* && $status == *ingress_policing=userspace* ]] ||
  fail "status of $VA: $status"
[[ $(root_qdisc "$VA") == "htb 1:" ]] || fail "root qdisc of $VA: $(tc qdisc show dev "$VA")"
wait_until 3 fastpath_is "$VA" false || fail "$VA still on the fast path while policed"
[[ $(port_json "$VB" xdp_fastpath) == true ]] || fail "$VB left the fast path"
bk port | grep -q "in 20000kbit out ${RATE}bit htb" || fail "port shows no qos for $VA: $(bk port)"
pass "$(root_qdisc "$VA") on $VA; status $status"

check "B -> A (brisk's output to A, through the htb) and A -> B (policed) within 10%"
before=$(policed "$VA")
within "$(iperf "$NS_A" "$NS_B" "$IP_B" 5301 5 -R)" "outbound (htb) B -> A"
within "$(iperf "$NS_A" "$NS_B" "$IP_B" 5302 5)" "inbound (policed) A -> B"
after=$(policed "$VA")
((after > before)) || fail "the policed counter did not move ($before -> $after)"
pass "policed drops on $VA: $before -> $after"

check "libvirt's cleanup lines: no qdisc left, full rate, fast path again"
clear_bandwidth "$VA"
[[ $(root_qdisc "$VA") != "htb 1:" ]] || fail "brisk's htb left on $VA: $(tc qdisc show dev "$VA")"
tc qdisc show dev "$VA" | grep -q htb && fail "an htb left on $VA"
[[ $(qos_json "$VA") == None ]] || fail "port still shows qos: $(qos_json "$VA")"
wait_until 3 fastpath_is "$VA" true || fail "$VA not back on the fast path"
for dir in -R ""; do
  bps=$(iperf "$NS_A" "$NS_B" "$IP_B" 5303 2 $dir)
  ((bps > RATE * 3)) || fail "after cleanup ($dir) only $bps bit/s"
done
[[ $(iface_col "$VA" status) == "{}" ]] || fail "status left: $(iface_col "$VA" status)"
pass "no qdisc on $VA, $bps bit/s"

check "a qdisc brisk did not install is neither replaced nor removed"
tc qdisc replace dev "$VA" root handle 7: pfifo limit 500
wait_until 3 sees_qdisc "$VA" || fail "brisk did not see pfifo 7:"
set_bandwidth "$VA"
[[ $(iface_col "$VA" error) == *"did not install"* ]] || fail "no error: $(iface_col "$VA" error)"
clear_bandwidth "$VA"
[[ $(root_qdisc "$VA") == "pfifo 7:" ]] || fail "the user's qdisc is gone: $(tc qdisc show dev "$VA")"
tc qdisc del dev "$VA" root
pass "pfifo 7: kept, the Interface error says why"

check "a brisk host tap (no device qdisc): limited in userspace within 10%"
ok add-port "$B" "$HT" -- set Interface "$HT" type=internal
ns_add_tap "$NS_T" "$HT" "$IP_T/24"
set_bandwidth "$HT"
[[ $(iface_col "$HT" status) == *'qos=userspace'* ]] || fail "status of $HT: $(iface_col "$HT" status)"
within "$(iperf "$NS_T" "$NS_B" "$IP_B" 5304 5 -R)" "outbound (userspace) B -> host tap"
bk --json stats "$HT" | grep -q '"egress_limit": [1-9]' || fail "no egress_limit drops on $HT"
clear_bandwidth "$HT"
pass "host tap limited in userspace"

check "Mirror select_all + select_vlan=101: only VLAN 101 reaches the mirror port"
NS_C="${PFX}-c" NS_E="${PFX}-e" NS_M="${PFX}-m" VC="${PFX}vc" VE="${PFX}ve" VM="${PFX}vm"
veth_to_ns "$NS_C" "$VC" 198.18.22.1/24
veth_to_ns "$NS_E" "$VE" 198.18.23.1/24
veth_to_ns "$NS_M" "$VM" -
ok add-port "$B" "$VC" tag=101
ok add-port "$B" "$VE" tag=102
ok add-port "$B" "$VM"
ok -- --id=@p get port "$VM" -- --id=@m create mirror name=mv select_all=true select_vlan=101 \
  output_port=@p -- add bridge "$B" mirrors @m
[[ $(timeout 30 "$VSCTL" --db="unix:$OSOCK" get bridge "$B" status) == "{}" ]] ||
  fail "bridge status: $(timeout 30 "$VSCTL" --db="unix:$OSOCK" get bridge "$B" status)"
ip netns exec "$NS_M" tcpdump -i eth0 -e -nn -U -w "$TMPD/mirror.pcap" >"$TMPD/tcpdump.log" 2>&1 &
TD=$!
track_pid "$TD"
wait_until 3 grep -q listening "$TMPD/tcpdump.log" || fail "tcpdump did not start"
# ARP for addresses nobody has: broadcasts entering C's (VLAN 101) and E's (102) ports.
ip netns exec "$NS_C" ping -c 2 -i 0.3 -W 1 198.18.22.9 >/dev/null 2>&1 || true
ip netns exec "$NS_E" ping -c 2 -i 0.3 -W 1 198.18.23.9 >/dev/null 2>&1 || true
sleep 0.5
kill "$TD"
wait "$TD" 2>/dev/null || true
tcpdump -r "$TMPD/mirror.pcap" -e -nn 2>/dev/null >"$TMPD/mirror.txt"
n101=$(grep -c "vlan 101" "$TMPD/mirror.txt" || true)
n102=$(grep -c "vlan 102" "$TMPD/mirror.txt" || true)
say "mirror port saw $n101 frames of VLAN 101, $n102 of VLAN 102"
((n101 >= 2)) || fail "VLAN 101's frames did not reach the mirror port: $(head -5 "$TMPD/mirror.txt")"
((n102 == 0)) || fail "VLAN 102's frames reached the mirror port"
ok -- --id=@m create mirror name=rspan select_all=true output_vlan=300 -- add bridge "$B" mirrors @m
[[ $(timeout 30 "$VSCTL" --db="unix:$OSOCK" get bridge "$B" status) == *output_vlan* ]] ||
  fail "no status for output_vlan"
pass "select_vlan=101: $n101 frames of VLAN 101, none of 102; output_vlan reported"

ok del-br "$B"
pass "done"
