#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# Flooding and MAC moves on VLAN 10 with three namespaces A, B and C (the "B2" of the plan):
#   - after learning, unicast A <-> B is not flooded to C
#   - after `fdb flush`, unicast to the now unknown MAC of B is flooded to C
#   - MAC move: C takes A's MAC, A's interface goes down, C sends traffic: the FDB now has
#     A's MAC on C's tap and C can talk to B (B's replies to that MAC reach C)
#   - and back: C goes down, A comes up and sends: the MAC returns to A's tap
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping

need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c"
IP_A=198.18.40.1 IP_B=198.18.40.2 IP_C=198.18.40.3

T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
T_C=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ns_add_tap "$NS_C" "$T_C" "$IP_C/24"
MAC_A=$(mac_of "$NS_A" "$T_A")
MAC_B=$(mac_of "$NS_B" "$T_B")
MAC_C=$(mac_of "$NS_C" "$T_C")
say "A: $T_A $MAC_A $IP_A; B: $T_B $MAC_B $IP_B; C: $T_C $MAC_C $IP_C (all VLAN 10)"

# ---------------------------------------------------------------- learning
check "ping A -> B; the FDB learns A on $T_A and B on $T_B"
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
learned_ab() { [[ "$(fdb_port 10 "$MAC_A")" == "$T_A" && "$(fdb_port 10 "$MAC_B")" == "$T_B" ]]; }
wait_until 2 learned_ab || fail "FDB did not learn A and B: $(bk fdb show "$BR")"
bk fdb show "$BR"
pass "A and B learned"

# ---------------------------------------------------------------- known unicast
check "known unicast A <-> B is not flooded to C"
rx0=$(rx_packets "$NS_C" "$T_C")
ip netns exec "$NS_A" ping -c 5 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
rx1=$(rx_packets "$NS_C" "$T_C")
say "C received $((rx1 - rx0)) frames during 5 known-unicast pings"
((rx1 == rx0)) || fail "C received $((rx1 - rx0)) frames of known unicast traffic between A and B"
pass "known unicast not flooded"

# ---------------------------------------------------------------- unknown unicast
check "after fdb flush, unicast to B's unknown MAC is flooded to C"
bk fdb flush "$BR" || fail "fdb flush $BR"
[[ -z "$(fdb_port 10 "$MAC_B")" ]] || fail "fdb flush left $MAC_B: $(bk fdb show "$BR")"
rx0=$(rx_packets "$NS_C" "$T_C")
ip netns exec "$NS_A" ping -c 1 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B after flush failed"
rx1=$(rx_packets "$NS_C" "$T_C")
say "C received $((rx1 - rx0)) frames of A's unicast to the unknown MAC $MAC_B"
((rx1 > rx0)) || fail "unknown unicast from A to $MAC_B was not flooded to C"
pass "unknown unicast flooded"

# ---------------------------------------------------------------- MAC move A -> C
check "MAC move: C takes $MAC_A, A goes down, C sends: $MAC_A moves to $T_C"
ip -n "$NS_A" link set dev "$T_A" down
ip -n "$NS_C" link set dev "$T_C" down
ip -n "$NS_C" link set dev "$T_C" address "$MAC_A"
ip -n "$NS_C" link set dev "$T_C" up
[[ "$(mac_of "$NS_C" "$T_C")" == "$MAC_A" ]] || fail "could not set C's MAC to $MAC_A"
[[ "$(fdb_port 10 "$MAC_A")" == "$T_A" ]] || fail "before the move $MAC_A is on '$(fdb_port 10 "$MAC_A")', want $T_A"
# C's ARP request carries the moved MAC; B's replies are unicast to it and must reach C.
ip netns exec "$NS_C" ping -c 3 -i 0.3 -W 2 "$IP_B" >/dev/null ||
  fail "ping C ($MAC_A) -> B failed after the move: B's replies do not reach $T_C"
moved() { [[ "$(fdb_port 10 "$MAC_A")" == "$T_C" ]]; }
wait_until 2 moved || fail "after the move $MAC_A is on '$(fdb_port 10 "$MAC_A")', want $T_C"
bk fdb show "$BR"
n=$(bk fdb show "$BR" | table_rows | awk -F'|' -v m="$MAC_A" '$3 == m' | grep -c . || true)
((n == 1)) || fail "$MAC_A has $n FDB entries, want 1"
pass "$MAC_A moved from $T_A to $T_C"

# ---------------------------------------------------------------- and back
check "MAC move back: C down, A up and sending: $MAC_A returns to $T_A"
ip -n "$NS_C" link set dev "$T_C" down
ip -n "$NS_A" link set dev "$T_A" up
ip netns exec "$NS_A" ping -c 3 -i 0.3 -W 2 "$IP_B" >/dev/null || fail "ping A -> B failed after moving back"
back() { [[ "$(fdb_port 10 "$MAC_A")" == "$T_A" ]]; }
wait_until 2 back || fail "$MAC_A is on '$(fdb_port 10 "$MAC_A")', want $T_A"
bk fdb show "$BR"
pass "$MAC_A back on $T_A"

check "the daemon is still alive"
daemon_alive || fail "briskd died"
pass "daemon alive"
