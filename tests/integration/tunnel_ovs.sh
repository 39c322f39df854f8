#!/usr/bin/env bash
# Tagged frames between brisk and Open vSwitch's userspace datapath over VXLAN and GRE.
# (OVS handles VLAN tags itself; this kernel has no 802.1Q.) A private ovsdb-server and
# ovs-vswitchd run in namespace P with their own run directory; no system OVS is touched.
#   namespace H: briskd, underlay veth 198.18.50.1/24 <-> P: eth0 on OVS bridge brp (netdev),
#                the endpoint address 198.18.50.2/24 on brp's own port (OVS native tunnels)
#   OVS bridge bri (netdev): vx0 vxlan key 42, gr0 gre key 43 (remote 198.18.50.1);
#                internal ports v10 (tag=10) 198.18.51.2/24 and v20 (tag=20) 198.18.52.2/24
#   brisk: vxlan key 42 and gre key 43 to 198.18.50.2; taps VLAN 10 -> T10 198.18.51.1/24,
#          VLAN 20 -> T20 198.18.52.1/24
# Checks: both VLANs ping through OVS (frames tagged 10 and 20 inside the tunnels, which OVS
# maps to its access ports), over VXLAN and over GRE in turn (one tunnel removed each time);
# a capture on the underlay shows inner tags.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump ovsdb-server ovs-vswitchd ovs-vsctl ovsdb-tool
need_netns
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
[[ -r $SCHEMA ]] || skip "OVS schema $SCHEMA missing"

NS_H="${PFX}-h" NS_P="${PFX}-p"
ns_create "$NS_H"
ns_create "$NS_P"
veth_between "$NS_H" u0 198.18.50.1/24 "$NS_P" eth0 ""
start_briskd_in "$NS_H" h

OVSD="$TMPD/ovs"
mkdir -p "$OVSD"
export OVS_RUNDIR="$OVSD" OVS_LOGDIR="$OVSD" OVS_DBDIR="$OVSD" OVS_SYSCONFDIR="$OVSD"
ovsdb-tool create "$OVSD/conf.db" "$SCHEMA"
ip netns exec "$NS_P" ovsdb-server "$OVSD/conf.db" --remote="punix:$OVSD/db.sock" \
  --pidfile="$OVSD/ovsdb-server.pid" --unixctl="$OVSD/ovsdb-server.ctl" \
  --log-file="$OVSD/ovsdb-server.log" >/dev/null 2>&1 &
track_pid $!
wait_until 5 test -S "$OVSD/db.sock" || fail "ovsdb-server did not start: $(cat "$OVSD/ovsdb-server.log")"
vsctl() { ip netns exec "$NS_P" ovs-vsctl --db="unix:$OVSD/db.sock" --timeout=10 "$@"; }
vsctl --no-wait init
ip netns exec "$NS_P" ovs-vswitchd "unix:$OVSD/db.sock" --pidfile="$OVSD/ovs-vswitchd.pid" \
  --unixctl="$OVSD/ovs-vswitchd.ctl" --log-file="$OVSD/ovs-vswitchd.log" >/dev/null 2>&1 &
track_pid $!
OVS_PID=$!
wait_until 10 test -S "$OVSD/ovs-vswitchd.ctl" || fail "ovs-vswitchd did not start"
# ovs_diag: what OVS saw, for a failure message.
ovs_diag() {
  echo "---- ovs-vswitchd log ----" >&2
  tail -20 "$OVSD/ovs-vswitchd.log" >&2
  ip netns exec "$NS_P" ovs-appctl -t "$OVSD/ovs-vswitchd.ctl" dpctl/dump-flows >&2 || true
  ip netns exec "$NS_P" ovs-appctl -t "$OVSD/ovs-vswitchd.ctl" tnl/neigh/show >&2 || true
  ip netns exec "$NS_P" ovs-appctl -t "$OVSD/ovs-vswitchd.ctl" ovs/route/show >&2 || true
  bkn h stats >&2
}

vsctl add-br brp -- set bridge brp datapath_type=netdev
vsctl add-port brp eth0
ip -n "$NS_P" addr add 198.18.50.2/24 dev brp
ip -n "$NS_P" link set brp up
vsctl add-br bri -- set bridge bri datapath_type=netdev
vsctl add-port bri vx0 -- set interface vx0 type=vxlan options:remote_ip=198.18.50.1 options:key=42
vsctl add-port bri gr0 -- set interface gr0 type=gre options:remote_ip=198.18.50.1 options:key=43
vsctl add-port bri v10 tag=10 -- set interface v10 type=internal
vsctl add-port bri v20 tag=20 -- set interface v20 type=internal
for d in v10 v20; do
  wait_until 5 ip -n "$NS_P" link show "$d" >/dev/null 2>&1 || fail "OVS internal port $d missing"
  ip netns exec "$NS_P" sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1" || true
done
ip -n "$NS_P" addr add 198.18.51.2/24 dev v10
ip -n "$NS_P" addr add 198.18.52.2/24 dev v20
ip -n "$NS_P" link set v10 up
ip -n "$NS_P" link set v20 up

TV=$(bkn h bridge tunnel vxlan "$BR" 198.18.50.2 42) || fail "vxlan tunnel refused"
TG=$(bkn h bridge tunnel gre "$BR" 198.18.50.2 43) || fail "gre tunnel refused"
t10=$(bkn h tap create 10) || fail "tap create 10"
t20=$(bkn h tap create 20) || fail "tap create 20"
move_tap "$NS_H" "$t10" "${PFX}-t10" 198.18.51.1/24
move_tap "$NS_H" "$t20" "${PFX}-t20" 198.18.52.1/24

ip netns exec "$NS_H" tcpdump -i u0 -n -U -w "$TMPD/u0.pcap" >/dev/null 2>&1 &
track_pid $!
CAP=$!
sleep 1

# ping_both: VLAN 10 and VLAN 20 reach OVS's access ports, both directions (OVS's native
# tunnels resolve the next hop first: allow a few tries).
ping_both() {
  local what=$1
  wait_until 10 ip netns exec "${PFX}-t10" ping -c 1 -W 1 198.18.51.2 >/dev/null 2>&1 ||
    { ovs_diag; fail "$what: VLAN 10 tap -> OVS v10 (tag 10) failed"; }
  ip netns exec "${PFX}-t20" ping -c 2 -i 0.2 -W 2 198.18.52.2 >/dev/null ||
    fail "$what: VLAN 20 tap -> OVS v20 (tag 20) failed"
  ip netns exec "$NS_P" ping -c 2 -i 0.2 -W 2 198.18.51.1 >/dev/null || fail "$what: OVS v10 -> VLAN 10 tap failed"
  ip netns exec "$NS_P" ping -c 2 -i 0.2 -W 2 198.18.52.1 >/dev/null || fail "$what: OVS v20 -> VLAN 20 tap failed"
}

check "tagged frames over VXLAN (GRE removed)"
bkn h bridge notunnel "$BR" "$TG"
vsctl del-port bri gr0
ping_both VXLAN
pass "VLAN 10 and 20 through VXLAN key 42 with OVS"

check "tagged frames over GRE (VXLAN removed)"
bkn h bridge notunnel "$BR" "$TV"
vsctl del-port bri vx0
vsctl add-port bri gr0 -- set interface gr0 type=gre options:remote_ip=198.18.50.1 options:key=43
TG=$(bkn h bridge tunnel gre "$BR" 198.18.50.2 43) || fail "gre tunnel refused"
ping_both GRE
pass "VLAN 10 and 20 through GRE key 43 with OVS"

check "inner 802.1Q tags on the underlay"
sleep 0.5
kill "$CAP"
wait "$CAP" 2>/dev/null || true
tcpdump -n -e -r "$TMPD/u0.pcap" 2>/dev/null >"$TMPD/u0.txt"
for proto in "udp port 4789" "proto gre"; do
  for v in 10 20; do
    tcpdump -n -e -r "$TMPD/u0.pcap" "$proto" 2>/dev/null | contains "vlan $v" ||
      fail "no frame tagged $v inside $proto"
  done
done
pass "VLAN tags 10 and 20 inside both VXLAN and GRE"
bkn h stats
