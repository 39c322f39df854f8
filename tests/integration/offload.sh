#!/usr/bin/env bash
# TCP with the peers' default offloads crosses brisk as GSO super-frames, not 1500-byte frames
# (datapath/offload.hpp, tap_port.cpp, afpacket_port.cpp, tx_queue.cpp):
#   - host taps moved into namespaces A and B (VLAN 10): their TX checksumming and TSO are on
#     (TUNSETOFFLOAD); iperf3 A->B and B->A with 1 and 4 streams; super-frames cross whole
#     (the taps' ports average far more than 1514 bytes per frame; nothing cut in software)
#   - veths attached with `driver afpacket` (C, D; VLAN 20): between the two the fast path's tc
#     program forwards the skbs (at least 95% of C's frames, nothing cut); from C to a host tap
#     Q (VLAN 20, userspace: a tap is never accelerated) C's super-frames are received whole
#     from the AF_PACKET ring (C averages far more than 1514 bytes per frame over that run)
#   - a host tap (E) and an AF_XDP veth (F) (VLAN 30): E's super-frames are cut in software for
#     F (`tx_segmented` > 0 on F, checksums completed); TCP works both ways
#   - the kernel bridge on two veths (G, H) in the same run, for comparison
# Rates are printed with their ratio to the kernel bridge, not asserted (brisk-bench measures);
# a floor of 100 Mbit/s catches a path that loses super-frames and crawls on retransmissions
# (working paths run at several Gbit/s, also under ASan: 2 s of iperf3 each is enough, and
# leaves a second after a lost first segment's 1 s retransmission timeout).
source "$(dirname "$0")/lib.sh" "$@"
need_tool iperf3 ethtool
need_netns
start_briskd

NS() { echo "${PFX}-$1"; }
T_A=$(bk tap create 10) && T_B=$(bk tap create 10) && T_E=$(bk tap create 30) &&
  T_Q=$(bk tap create 20) || fail "tap create"
ns_add_tap "$(NS a)" "$T_A" 198.18.81.1/24
ns_add_tap "$(NS b)" "$T_B" 198.18.81.2/24
ns_add_tap "$(NS e)" "$T_E" 198.18.83.1/24
ns_add_tap "$(NS q)" "$T_Q" 198.18.82.3/24
veth_to_ns "$(NS c)" "${PFX}pc" 198.18.82.1/24
veth_to_ns "$(NS d)" "${PFX}pd" 198.18.82.2/24
veth_to_ns "$(NS f)" "${PFX}xf" 198.18.83.2/24
veth_to_ns "$(NS g)" "${PFX}vg" 198.18.84.1/24
veth_to_ns "$(NS h)" "${PFX}vh" 198.18.84.2/24
bk port add "${PFX}pc" vlan 20 driver afpacket && bk port add "${PFX}pd" vlan 20 driver afpacket &&
  bk port add "${PFX}xf" vlan 30 driver afxdp || fail "port add"
KBR="${PFX}kb"
ip link add "$KBR" type bridge
ip link set "$KBR" up
ip link set "${PFX}vg" master "$KBR"
ip link set "${PFX}vh" master "$KBR"
bk port

check "host taps offer checksum offload and TSO to their stack"
for x in "a $T_A" "b $T_B"; do
  read -r n t <<<"$x"
  k=$(ip netns exec "$(NS "$n")" ethtool -k "$t")
  grep -q "^tx-checksumming: on" <<<"$k" || fail "$t: tx-checksumming is not on"
  grep -q "^tcp-segmentation-offload: on" <<<"$k" || fail "$t: TSO is not on"
done
pass "taps come up with tx-checksumming and TSO on"

# tcp <from> <to> <to ip> <streams> <label>: iperf3 for 2 s; sets BPS (received bits/s).
PORTNO=5400
tcp() {
  local from=$1 to=$2 ip=$3 streams=$4 label=$5
  PORTNO=$((PORTNO + 1))
  ip netns exec "$(NS "$to")" iperf3 -s -1 -B "$ip" -p $PORTNO >"$TMPD/s$PORTNO" 2>&1 &
  track_pid $!
  wait_until 3 ip netns exec "$(NS "$to")" ss -ltn "sport = :$PORTNO" | grep -q LISTEN || true
  sleep 0.3
  ip netns exec "$(NS "$from")" iperf3 -c "$ip" -p $PORTNO -t 2 -P "$streams" -J >"$TMPD/c$PORTNO.json" ||
    fail "$label: iperf3 failed: $(tail -3 "$TMPD/c$PORTNO.json")"
  BPS=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' \
    "$TMPD/c$PORTNO.json")
  ((BPS > 100000000)) || fail "$label: $((BPS / 1000000)) Mbit/s: super-frames are being lost"
}

# port_json <port> <key>
port_json() {
  bk --json port | $PY -c 'import json,sys; print([p for p in json.load(sys.stdin) if p["port"]==sys.argv[1]][0][sys.argv[2]])' "$1" "$2"
}
# rx_counts <port>: rx_frames rx_bytes, and of them through the fast path: frames bytes
# (`--json stats`).
rx_counts() {
  bk --json stats | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin)["ports"] if p["port"] == sys.argv[1]][0]
f = p.get("fastpath", {})
print(p["rx_frames"], p["rx_bytes"], f.get("rx_frames", 0), f.get("rx_bytes", 0))' "$1"
}
# bytes_per_frame <port>: received bytes per received frame (`--json stats`).
bytes_per_frame() {
  local c
  read -r -a c < <(rx_counts "$1")
  echo $((c[1] / (c[0] > 0 ? c[0] : 1)))
}

declare -A REF
for s in 1 4; do
  tcp g h 198.18.84.2 "$s" "kernel bridge, $s streams"
  REF[$s]=$BPS
  say "kernel bridge, veths, $s stream(s): $((BPS / 1000000)) Mbit/s"
done
ratio() { $PY -c "print('%.2fx' % ($1 / $2))"; }

check "TCP through two host taps, default offloads"
for s in 1 4; do
  tcp a b 198.18.81.2 "$s" "taps A->B"
  say "taps A->B, $s stream(s): $((BPS / 1000000)) Mbit/s ($(ratio "$BPS" "${REF[$s]}") the kernel bridge)"
  tcp b a 198.18.81.1 "$s" "taps B->A"
  say "taps B->A, $s stream(s): $((BPS / 1000000)) Mbit/s ($(ratio "$BPS" "${REF[$s]}") the kernel bridge)"
done
bpf=$(bytes_per_frame "$T_A")
((bpf > 3000)) || fail "$T_A averages $bpf bytes per received frame: super-frames were not received whole"
for t in "$T_A" "$T_B"; do
  [[ $(port_json "$t" tx_segmented) == 0 ]] || fail "$t: brisk cut super-frames for a tap that takes them"
done
pass "taps carry super-frames whole ($bpf bytes per frame from $T_A)"

check "TCP through two AF_PACKET veths, default offloads: the fast path's tc program"
read -r -a c0 < <(rx_counts "${PFX}pc")
for s in 1 4; do
  tcp c d 198.18.82.2 "$s" "afpacket C->D"
  say "afpacket C->D, $s stream(s): $((BPS / 1000000)) Mbit/s ($(ratio "$BPS" "${REF[$s]}") the kernel bridge)"
done
read -r -a c1 < <(rx_counts "${PFX}pc")
frames=$((c1[0] - c0[0])) fp=$((c1[2] - c0[2]))
((fp * 100 >= frames * 95)) || fail "${PFX}pc: only $fp of $frames frames through the fast path"
[[ $(port_json "${PFX}pd" tx_segmented) == 0 ]] || fail "${PFX}pd: super-frames were cut"
pass "AF_PACKET veths: $fp of $frames frames in the kernel, nothing cut"

check "an AF_PACKET port's super-frames received whole in userspace (toward a host tap)"
read -r -a c0 < <(rx_counts "${PFX}pc")
tcp c q 198.18.82.3 1 "afpacket C -> tap Q"
say "afpacket C -> tap Q: $((BPS / 1000000)) Mbit/s"
read -r -a c1 < <(rx_counts "${PFX}pc")
frames=$((c1[0] - c0[0] - (c1[2] - c0[2]))) bytes=$((c1[1] - c0[1] - (c1[3] - c0[3])))
bpf=$((bytes / (frames > 0 ? frames : 1)))
((bpf > 3000)) || fail "${PFX}pc averages $bpf bytes per frame received in userspace"
[[ $(port_json "$T_Q" tx_segmented) == 0 ]] || fail "$T_Q: super-frames were cut for a tap"
pass "AF_PACKET super-frames whole through userspace ($bpf bytes per frame)"

check "a tap's super-frames are cut in software for an AF_XDP port"
tcp e f 198.18.83.2 1 "tap E -> AF_XDP F"
say "tap -> AF_XDP: $((BPS / 1000000)) Mbit/s"
tcp f e 198.18.83.1 1 "AF_XDP F -> tap E"
say "AF_XDP -> tap: $((BPS / 1000000)) Mbit/s"
seg=$(port_json "${PFX}xf" tx_segmented)
((seg > 0)) || fail "${PFX}xf: tx_segmented is $seg"
drops=$(bk --json stats | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin)["ports"] if p["port"] == sys.argv[1]][0]
print(p["drops"]["bad_offload"] + p["drops"]["oversize"])' "${PFX}xf")
[[ $drops == 0 ]] || fail "${PFX}xf: $drops frames dropped as bad_offload/oversize"
pass "$seg super-frames cut for the AF_XDP port; TCP works both ways"
