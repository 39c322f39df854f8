#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# The ARP-spoofing man in the middle of seeds/bridge-security-arp-spoofing.txt, reproduced with
# three namespaces on brisk taps (VLAN 10):
#   kali3 (victim, .13)   kali4 (attacker, .14)   kali5 (victim, .15)
# The attacker sends arpspoof's poisoning replies with scapy: "kali5's IP is at kali4's MAC"
# to kali3 and "kali3's IP is at kali4's MAC" to kali5.
#   1. unprotected ports: kali3's ARP cache is poisoned and kali3's pings to kali5 go to kali4
#   2. with `port security <tap> mac <mac> ip <addr>` on the three taps: the caches stay clean,
#      pings between the victims work, the refusals are counted (sec_arp, sec_src_mac) and
#      logged as DENY lines (briskd logs via syslog and, with LOG_PERROR, on its stderr)
#   3. a victim poisoned before the bindings existed: its redirected frames are not delivered
#      to the attacker (the seed's rule 3, drop reason sec_egress)
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump
need_scapy

need_netns
start_briskd

NS3="${PFX}-k3" NS4="${PFX}-k4" NS5="${PFX}-k5"
IP3=198.18.50.13 IP4=198.18.50.14 IP5=198.18.50.15

T3=$(bk tap create 10) || fail "tap create 10"
T4=$(bk tap create 10) || fail "tap create 10"
T5=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS3" "$T3" "$IP3/24"
ns_add_tap "$NS4" "$T4" "$IP4/24"
ns_add_tap "$NS5" "$T5" "$IP5/24"
MAC3=$(mac_of "$NS3" "$T3")
MAC4=$(mac_of "$NS4" "$T4")
MAC5=$(mac_of "$NS5" "$T5")
say "kali3: $T3 $MAC3 $IP3; kali4 (attacker): $T4 $MAC4 $IP4; kali5: $T5 $MAC5 $IP5"

# neigh_mac <ns> <ip>: the MAC the namespace's ARP cache holds for <ip> (empty if none).
neigh_mac() {
  ip -n "$1" neigh show "$2" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'
}

# poison [forge]: arpspoof -t kali3 kali5 and -t kali5 kali3 from kali4, 8 rounds 0.25 s apart
# (Linux ignores a reply that comes within locktime, 1 s, of the entry's last update, so the
# attack keeps sending, as arpspoof does). With `forge`, each round also sends the same two
# replies with the impersonated victim's MAC as Ethernet source (a MAC-only check is not
# enough either): 16 frames of each kind.
poison() {
  local forge=${1:-}
  ip netns exec "$NS4" /usr/bin/python3 - "$T4" "$MAC4" "$MAC3" "$IP3" "$MAC5" "$IP5" "$forge" <<'EOF'
import sys, time
from scapy.all import ARP, Ether, conf, sendp
conf.verb = 0
iface, me, mac3, ip3, mac5, ip5, forge = sys.argv[1:8]
frames = []
for src3, src5 in [(me, me)] + ([(mac5, mac3)] if forge else []):
    frames.append(Ether(dst=mac3, src=src3) / ARP(op=2, hwsrc=me, psrc=ip5, hwdst=mac3, pdst=ip3))
    frames.append(Ether(dst=mac5, src=src5) / ARP(op=2, hwsrc=me, psrc=ip3, hwdst=mac5, pdst=ip5))
for _ in range(8):
    sendp(frames, iface=iface)
    time.sleep(0.25)
EOF
}

# fresh_caches: forget and relearn the true neighbours (and wait out the ARP locktime).
fresh_caches() {
  ip -n "$NS3" neigh flush all
  ip -n "$NS5" neigh flush all
  ip netns exec "$NS3" ping -c 2 -i 0.2 -W 2 "$IP5" >/dev/null || fail "ping kali3 -> kali5 failed"
  [[ "$(neigh_mac "$NS3" "$IP5")" == "$MAC5" ]] || fail "kali3's cache: $IP5 at '$(neigh_mac "$NS3" "$IP5")', want $MAC5"
  [[ "$(neigh_mac "$NS5" "$IP3")" == "$MAC3" ]] || fail "kali5's cache: $IP3 at '$(neigh_mac "$NS5" "$IP3")', want $MAC3"
  sleep 1.2
}

# ---------------------------------------------------------------- 1. the attack works
check "unprotected ports: arpspoof from kali4 poisons kali3 and kali5"
fresh_caches
poison
say "kali3: $IP5 at $(neigh_mac "$NS3" "$IP5"); kali5: $IP3 at $(neigh_mac "$NS5" "$IP3")"
[[ "$(neigh_mac "$NS3" "$IP5")" == "$MAC4" ]] ||
  fail "the attack did not poison kali3 ($IP5 at '$(neigh_mac "$NS3" "$IP5")'): the test would prove nothing"
[[ "$(neigh_mac "$NS5" "$IP3")" == "$MAC4" ]] ||
  fail "the attack did not poison kali5 ($IP3 at '$(neigh_mac "$NS5" "$IP3")')"
rx0=$(rx_packets "$NS4" "$T4")
ip netns exec "$NS3" ping -c 1 -W 1 "$IP5" >/dev/null || true  # kali4 does not forward it
rx1=$(rx_packets "$NS4" "$T4")
((rx1 > rx0)) || fail "kali3's ping to $IP5 did not reach kali4 although kali3 is poisoned"
pass "without bindings kali3 and kali5 are poisoned and kali3's traffic for kali5 reaches kali4"

# ---------------------------------------------------------------- 2. bindings stop it
check "bindings on the three taps; legitimate traffic still flows"
bk port security "$T3" mac "$MAC3" ip "$IP3" || fail "port security $T3"
bk port security "$T4" mac "$MAC4" ip "$IP4" || fail "port security $T4"
bk port security "$T5" mac "$MAC5" ip "$IP5" || fail "port security $T5"
bk port security
fresh_caches
ip netns exec "$NS4" ping -c 2 -i 0.2 -W 2 "$IP3" >/dev/null || fail "the attacker's own legitimate ping to kali3 failed"
ip netns exec "$NS5" ping -c 2 -i 0.2 -W 2 "$IP3" >/dev/null || fail "ping kali5 -> kali3 failed with bindings"
pass "pings kali3 <-> kali5 and kali4 -> kali3 work with bindings"

check "arpspoof against bound ports: caches stay clean, drops counted"
arp0=$(bk --json stats "$T4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["sec_arp"])')
poison forge
say "kali3: $IP5 at $(neigh_mac "$NS3" "$IP5"); kali5: $IP3 at $(neigh_mac "$NS5" "$IP3")"
[[ "$(neigh_mac "$NS3" "$IP5")" != "$MAC4" ]] || fail "kali3 was poisoned through a bound port"
[[ "$(neigh_mac "$NS5" "$IP3")" != "$MAC4" ]] || fail "kali5 was poisoned through a bound port"
bk stats "$T4"
sec_arp=$(bk --json stats "$T4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["sec_arp"])')
sec_src=$(bk --json stats "$T4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["sec_src_mac"])')
say "drops on $T4: sec_arp $((sec_arp - arp0)) (16 sent), sec_src_mac $sec_src (16 sent)"
((sec_arp - arp0 == 16)) || fail "sec_arp on $T4 grew by $((sec_arp - arp0)), want 16"
((sec_src == 16)) || fail "sec_src_mac on $T4 is $sec_src, want 16"
ip netns exec "$NS3" ping -c 2 -i 0.2 -W 2 "$IP5" >/dev/null || fail "ping kali3 -> kali5 failed after the attack"
pass "bound ports refuse the poison; kali3 still reaches kali5"

check "each refusal is logged as a DENY line naming the port, MACs and IPs"
deny_logged() { contains "DENY sec_arp PHYSIN=$T4 PHYSOUT=- MAC=$MAC3:$MAC4:08:06 ARP OP=2 SHA=$MAC4 SPA=$IP5 TPA=$IP3" "$TMPD/briskd.log"; }
wait_until 3 deny_logged || fail "no DENY sec_arp line for the poisoning reply in briskd's log"
contains "DENY sec_src_mac PHYSIN=$T4 PHYSOUT=- MAC=$MAC3:$MAC5:08:06" "$TMPD/briskd.log" ||
  fail "no DENY sec_src_mac line for the forged frame in briskd's log"
grep -m 3 "DENY" "$TMPD/briskd.log"
pass "DENY lines logged"

# ---------------------------------------------------------------- 3. the egress rule
check "a victim poisoned beforehand: its frames for kali5 are not delivered to kali4 (sec_egress)"
ip -n "$NS3" neigh replace "$IP5" lladdr "$MAC4" dev "$T3" nud permanent
eg0=$(bk --json stats "$T4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["sec_egress"])')
# Count only kali3's frames for kali5 arriving at kali4 (other frames, such as the host's
# IPv6 multicast from the bridge interface, may legitimately reach kali4 meanwhile).
ip netns exec "$NS4" tcpdump -i "$T4" -nn -U -w "$TMPD/k4.pcap" "dst host $IP5" >/dev/null 2>&1 &
TD=$!
track_pid "$TD"
sleep 1
if ip netns exec "$NS3" ping -c 3 -i 0.2 -W 1 "$IP5" >/dev/null; then
  fail "kali3's pings reached $IP5 through the attacker's MAC"
fi
sleep 0.5
kill -INT "$TD"
wait "$TD" 2>/dev/null || true
rx0=0
rx1=$(tcpdump -nn -r "$TMPD/k4.pcap" 2>/dev/null | wc -l)
eg1=$(bk --json stats "$T4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["sec_egress"])')
say "kali4 received $((rx1 - rx0)) frames; sec_egress on $T4 grew by $((eg1 - eg0))"
((rx1 == rx0)) || fail "kali4 received $((rx1 - rx0)) frames of kali3's traffic for $IP5"
((eg1 - eg0 >= 3)) || fail "sec_egress on $T4 grew by $((eg1 - eg0)), want >= 3"
contains "DENY sec_egress PHYSIN=$T3 PHYSOUT=$T4 MAC=$MAC4:$MAC3:08:00 SRC=$IP3 DST=$IP5" "$TMPD/briskd.log" ||
  fail "no DENY sec_egress line (PHYSIN=$T3 PHYSOUT=$T4) in briskd's log"
ip -n "$NS3" neigh del "$IP5" dev "$T3"
ip netns exec "$NS3" ping -c 2 -i 0.2 -W 2 "$IP5" >/dev/null || fail "ping kali3 -> kali5 failed after repairing the cache"
pass "redirected traffic refused toward the attacker and logged"

check "port security off restores plain switching"
bk port security "$T4" off || fail "port security $T4 off"
ip netns exec "$NS4" ping -c 2 -i 0.2 -W 2 "$IP3" >/dev/null || fail "ping kali4 -> kali3 failed after security off"
daemon_alive || fail "briskd died"
pass "daemon alive"
