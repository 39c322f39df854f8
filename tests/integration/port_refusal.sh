#!/usr/bin/env bash
# `port add` refuses what the kernel bridge refuses (control/netdev.hpp, attach_refusal):
#   namespace N holds a briskd of its own, a kernel bridge ${PFX}kb with two veth ports (their
#   peers in namespaces A and B, which ping each other through the bridge), and a free veth
#   ${PFX}v3. Checks, in N:
#   - `port add lo ...` (and `bridge trunk <b> lo`, driver afpacket too) exits 1 with one E:
#     line naming the loopback device; lo gets no XDP program; `ping 127.0.0.1` still works
#   - `port add` of a kernel bridge's port exits 1 naming the bridge; the port gets no XDP
#     program and the bridge still forwards A <-> B; a bond slave likewise (when this kernel
#     has bonding)
#   - state replay: ${PFX}v3, attached, becomes a port of ${PFX}kb while briskd is down: after
#     the restart it is not attached (no XDP program, not in `port`) and `state` lists it
#     pending with that reason
#   Then, with a briskd in the host namespace: `port add lo` is refused, the host's lo has no
#   XDP program and `ping -c1 127.0.0.1` works (reached only once N showed the refusal, so a
#   build without it never touches the host's lo).
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping
need_netns

NS="${PFX}-n" NS_A="${PFX}-a" NS_B="${PFX}-b"
KB="${PFX}kb" V0="${PFX}v0" V1="${PFX}v1" V3="${PFX}v3"
ns_create "$NS"
ns_create "$NS_A"
ns_create "$NS_B"
ip -n "$NS" link add "$KB" type bridge
ip -n "$NS" link set "$KB" up
veth_between "$NS" "$V0" "" "$NS_A" eth0 198.18.61.1/24
veth_between "$NS" "$V1" "" "$NS_B" eth0 198.18.61.2/24
ip -n "$NS" link set "$V0" master "$KB"
ip -n "$NS" link set "$V1" master "$KB"
veth_between "$NS" "$V3" "" "$NS_A" eth3 ""
start_briskd_in "$NS" h
H_PID=${EXTRA_PIDS[-1]}

# has_xdp <ns|""> <dev>: the device runs an XDP program ("": the host namespace).
has_xdp() {
  local ns=()
  [[ -n $1 ]] && ns=(-n "$1")
  ip "${ns[@]}" -d link show dev "$2" | contains -E "prog/xdp|xdpgeneric|xdpdrv| xdp "
}
# refused_h <pattern> <words...>: namespace N's briskd refuses the command with one E: line
# matching <pattern>. A build that accepts it gets the port deleted again at once.
refused_h() {
  local pat=$1 rc=0
  shift
  bkn h "$@" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
  say "  brisk $* -> exit $rc: $(cat "$TMPD/err")"
  if ((rc == 0)); then
    for p in lo "$V0" "$V3"; do bkn h port delete "$p" >/dev/null 2>&1 || true; done
    fail "'$*' was accepted"
  fi
  ((rc == 1)) || fail "'$*' exited $rc, want 1"
  [[ $(wc -l <"$TMPD/err") -eq 1 ]] || fail "'$*' printed more than one line on stderr"
  contains "^E: .*$pat" "$TMPD/err" || fail "'$*': the error does not say '$pat'"
}
bridge_forwards() { ip netns exec "$NS_A" ping -c 1 -W 2 198.18.61.2 >/dev/null; }

check "the kernel bridge forwards A <-> B"
wait_until 5 bridge_forwards || fail "ping A -> B through $KB failed before brisk touched anything"
pass "it does"

check "the loopback device is refused"
refused_h "loopback" port add lo vlan 10
refused_h "loopback" port add lo trunk
refused_h "loopback" port add lo vlan 10 driver afpacket
refused_h "loopback" bridge trunk "$BR" lo
has_xdp "$NS" lo && fail "lo has an XDP program: $(ip -n "$NS" -d link show dev lo)"
ip netns exec "$NS" ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "ping 127.0.0.1 in $NS failed"
bkn h port | table_rows | contains "^lo|" && fail "lo is listed as a port"
pass "refused; lo has no XDP program and still answers"

check "a kernel bridge's port is refused"
refused_h "port of kernel bridge $KB" port add "$V0" vlan 10
refused_h "port of kernel bridge $KB" port add "$V0" trunk driver afpacket
has_xdp "$NS" "$V0" && fail "$V0 has an XDP program"
ip -n "$NS" -o link show dev "$V0" | contains "master $KB" || fail "$V0 left $KB"
bridge_forwards || fail "the kernel bridge stopped forwarding"
pass "refused; $KB still forwards"

check "a bond slave is refused (if this kernel has bonding)"
if ip -n "$NS" link add "${PFX}bd" type bond 2>/dev/null; then
  ip -n "$NS" link set "$V3" down
  ip -n "$NS" link set "$V3" master "${PFX}bd"
  refused_h "slave of bond ${PFX}bd" port add "$V3" vlan 10
  ip -n "$NS" link set "$V3" nomaster
  ip -n "$NS" link del "${PFX}bd"
  ip -n "$NS" link set "$V3" up
  pass "refused"
else
  say "no bonding in this kernel: not checked"
fi

check "state replay: a device enslaved while briskd was down stays pending"
bkn h port add "$V3" vlan 10 || fail "port add $V3"
kill -TERM "$H_PID"
wait "$H_PID" || fail "briskd in $NS exited with status $?"
ip -n "$NS" link set "$V3" master "$KB"
start_briskd_in "$NS" h
bkn h state | tee "$TMPD/state"
contains "^pending ports $V3: .*port of kernel bridge $KB" "$TMPD/state" ||
  fail "$V3 is not pending with the reason"
bkn h port | table_rows | contains "^$V3|" && fail "$V3 was attached"
has_xdp "$NS" "$V3" && fail "$V3 has an XDP program"
bridge_forwards || fail "the kernel bridge stopped forwarding"
pass "pending, not attached"

check "the host's loopback device is refused (host namespace briskd)"
start_briskd
rc=0
bk port add lo vlan 10 2>"$TMPD/err" || rc=$?
if ((rc == 0)); then
  bk port delete lo || true
  fail "port add lo was accepted on the host"
fi
cat "$TMPD/err"
contains "^E: lo is the loopback device" "$TMPD/err" || fail "wrong error"
has_xdp "" lo && fail "the host's lo has an XDP program"
ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "ping 127.0.0.1 failed on the host"
pass "refused; the host's lo has no XDP program and answers ping"
