#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# Tap mirroring as in seeds/minimega-tap-mirroring.txt, with namespaces in place of VMs:
# A and B on VLAN LAN, a monitor on VLAN 0, `tap mirror <A's tap> <monitor's tap>`.
#   - tcpdump on the monitor sees both directions of a ping A -> B
#   - `tap mirror` counts: mirrored == delivered, nothing dropped
#   - after `clear tap mirror` the monitor sees none of the next ping
#   - a mirror destination's own frames are not forwarded (counted as mirror_dst) and it
#     forwards again once the mirror is cleared
#   - minimega's error words for bad mirrors
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump

need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_M="${PFX}-m"
IP_A=198.18.30.1 IP_B=198.18.30.2 IP_M=198.18.31.9

T_A=$(bk tap create LAN) || fail "tap create LAN"
T_B=$(bk tap create LAN) || fail "tap create LAN"
T_M=$(bk tap create 0) || fail "tap create 0"
bk tap
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ns_add_tap "$NS_M" "$T_M" "$IP_M/24"

# start_tcpdump <file>: tcpdump on the monitor's tap, writing <file>; sets TCPDUMP_PID.
start_tcpdump() {
  local out=$1
  ip netns exec "$NS_M" tcpdump -U -n -i "$T_M" -w "$out" >"$out.log" 2>&1 &
  TCPDUMP_PID=$!
  track_pid "$TCPDUMP_PID"
  wait_until 10 contains "listening on" "$out.log" || fail "tcpdump did not start: $(cat "$out.log")"
}
stop_tcpdump() {
  sleep 0.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" 2>/dev/null || true
}
# count <file> <filter>: packets in a capture file matching a tcpdump filter.
count() { tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- the seed's mirror
check "tap mirror $T_A $T_M (the seed's command) succeeds"
bk tap mirror "$T_A" "$T_M" || fail "tap mirror $T_A $T_M"
bk tap mirror
pass "mirror created"

check "tcpdump on the monitor sees both directions of a ping $IP_A -> $IP_B"
start_tcpdump "$TMPD/mirror.pcap"
ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
stop_tcpdump
tcpdump -n -r "$TMPD/mirror.pcap" 2>/dev/null | head -20
req=$(count "$TMPD/mirror.pcap" "icmp[icmptype] == icmp-echo and src $IP_A and dst $IP_B")
rep=$(count "$TMPD/mirror.pcap" "icmp[icmptype] == icmp-echoreply and src $IP_B and dst $IP_A")
say "monitor saw $req echo requests A->B and $rep echo replies B->A"
((req == 3)) || fail "monitor saw $req of 3 echo requests"
((rep == 3)) || fail "monitor saw $rep of 3 echo replies"
pass "both directions mirrored"

check "tap mirror counters: mirrored == delivered, dropped 0"
row=$(bk tap mirror | table_rows | awk -F'|' -v d="$T_M" '$3 == d')
say "row: $row"
IFS='|' read -r _ src dst mirrored delivered dropped <<<"$row"
[[ "$src" == "$T_A" && "$dst" == "$T_M" ]] || fail "listing row is '$row'"
((mirrored >= 6 && mirrored == delivered && dropped == 0)) ||
  fail "mirrored=$mirrored delivered=$delivered dropped=$dropped"
bk stats | contains "$T_M" || fail "stats does not list the mirror"
pass "mirrored=$mirrored delivered=$delivered dropped=$dropped"

# ---------------------------------------------------------------- errors
check "bad mirrors get minimega's errors and change nothing"
expect_err() {
  local want=$1
  shift
  local out
  if out=$(bk "$@" 2>&1); then fail "'$*' succeeded"; fi
  [[ "$out" == "E: $want" ]] || fail "'$*' said '$out', want 'E: $want'"
}
expect_err "cannot mirror tap to itself" tap mirror "$T_A" "$T_A"
expect_err "source tap is not on bridge" tap mirror "${PFX}nope" "$T_B"
expect_err "destination tap is not on bridge" tap mirror "$T_A" "${PFX}nope"
expect_err "destination tap is already a mirror" tap mirror "$T_B" "$T_M"
expect_err "tap is not a mirror on bridge $BR: $T_B" clear tap mirror "$T_B"
n=$(bk tap mirror | table_rows | grep -c . || true)
((n == 1)) || fail "$n mirrors listed after refused commands, want 1"
pass "errors as minimega words them"

# ---------------------------------------------------------------- clear
check "after clear tap mirror the monitor sees none of the next ping"
bk clear tap mirror "$T_M" || fail "clear tap mirror $T_M"
n=$(bk tap mirror | table_rows | grep -c . || true)
((n == 0)) || fail "$n mirrors listed after clear"
start_tcpdump "$TMPD/after.pcap"
ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
stop_tcpdump
n=$(count "$TMPD/after.pcap" "icmp")
((n == 0)) || fail "monitor still saw $n ICMP packets"
pass "nothing mirrored after clear"

# ---------------------------------------------------------------- destination input
check "a mirror destination's own frames are not forwarded"
NS_C="${PFX}-c" IP_C=198.18.30.3
T_C=$(bk tap create LAN) || fail "tap create LAN"
ns_add_tap "$NS_C" "$T_C" "$IP_C/24"
ip netns exec "$NS_C" ping -c 1 -W 2 "$IP_B" >/dev/null || fail "$IP_C cannot reach $IP_B before mirroring"
bk tap mirror all "$T_C" || fail "tap mirror all $T_C"
ip netns exec "$NS_C" ip neigh flush all
if ip netns exec "$NS_C" ping -c 2 -W 1 "$IP_B" >/dev/null 2>&1; then
  fail "$T_C reached $IP_B while it is a mirror destination"
fi
drops=$(bk --json stats "$T_C" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drops"]["mirror_dst"])')
((drops > 0)) || fail "no mirror_dst drops counted on $T_C"
bk clear tap mirror || fail "clear tap mirror"
ip netns exec "$NS_C" ping -c 2 -W 2 "$IP_B" >/dev/null || fail "$T_C does not forward after clear"
pass "destination input dropped ($drops frames, mirror_dst) and restored after clear"

daemon_alive || fail "briskd died"
