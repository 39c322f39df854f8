#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# FDB ageing and hub mode:
#   - `bridge ageing <br> 2`: a ping teaches the FDB both MACs; ~4 s without traffic later
#     both entries are gone
#   - `bridge ageing <br> 0` (hub mode): the FDB is flushed, ping still works (flooding) and
#     nothing is learned
#   - back to `bridge ageing <br> 300`: learning resumes
# IPv6 is off in the namespaces so no RS/ND/MLD frames refresh the entries.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping

need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b"
IP_A=198.18.20.1 IP_B=198.18.20.2

T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
MAC_A=$(mac_of "$NS_A" "$T_A")
MAC_B=$(mac_of "$NS_B" "$T_B")
say "A: $T_A $MAC_A $IP_A in $NS_A; B: $T_B $MAC_B $IP_B in $NS_B"

# ---------------------------------------------------------------- ageing 2 s
check "bridge ageing $BR 2 is accepted and shown by bridge"
bk bridge ageing "$BR" 2 || fail "bridge ageing $BR 2"
bk bridge | contains "ageing=2 " || fail "bridge does not show ageing=2: $(bk bridge)"
pass "ageing set to 2 s"

check "a ping teaches the FDB both MACs"
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
bk fdb show "$BR"
[[ "$(fdb_port 10 "$MAC_A")" == "$T_A" ]] || fail "fdb has no entry $MAC_A on $T_A after the ping"
[[ "$(fdb_port 10 "$MAC_B")" == "$T_B" ]] || fail "fdb has no entry $MAC_B on $T_B after the ping"
pass "both MACs learned"

check "after ~4 s without traffic the entries have aged out"
sleep 4
bk fdb show "$BR"
gone() { [[ -z "$(fdb_port 10 "$MAC_A")" && -z "$(fdb_port 10 "$MAC_B")" ]]; }
if ! gone; then
  # A little slack for a slow machine, but it must happen well before the default 300 s.
  wait_until 3 gone || fail "FDB entries still present 7 s after the last frame with ageing 2 s"
  say "note: entries needed more than 4 s to age out"
fi
pass "entries aged out"

# ---------------------------------------------------------------- hub mode
check "bridge ageing $BR 0 (hub mode): ping works, FDB stays empty"
ip netns exec "$NS_A" ping -c 1 -W 2 "$IP_B" >/dev/null || fail "ping before hub mode failed"
bk bridge ageing "$BR" 0 || fail "bridge ageing $BR 0"
bk bridge | contains "ageing=0 " || fail "bridge does not show ageing=0: $(bk bridge)"
n=$(fdb_count)
((n == 0)) || fail "hub mode did not flush the FDB: $(bk fdb show "$BR")"
ip netns exec "$NS_A" ping -c 3 -i 0.3 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed in hub mode"
ip netns exec "$NS_B" ping -c 3 -i 0.3 -W 2 "$IP_A" >/dev/null || fail "ping $IP_B -> $IP_A failed in hub mode"
sleep 1.5  # learning is applied by the control thread; give it time to (wrongly) happen
bk fdb show "$BR"
n=$(fdb_count)
((n == 0)) || fail "hub mode learned $n FDB entries"
pass "hub mode floods and learns nothing"

# ---------------------------------------------------------------- learning again
check "bridge ageing $BR 300: learning resumes"
bk bridge ageing "$BR" 300 || fail "bridge ageing $BR 300"
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping after leaving hub mode failed"
learned() { [[ "$(fdb_port 10 "$MAC_A")" == "$T_A" && "$(fdb_port 10 "$MAC_B")" == "$T_B" ]]; }
wait_until 3 learned || fail "MACs not learned after leaving hub mode: $(bk fdb show "$BR")"
pass "learning resumes"

check "the daemon is still alive"
daemon_alive || fail "briskd died"
pass "daemon alive"
