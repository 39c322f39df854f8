#!/usr/bin/env bash
# Smoke test of bench/vhost_pps.sh: one run of 1 s of 64-byte frames virtio-user -> switch ->
# virtio-user through brisk, Open vSwitch with DPDK and testpmd io. It checks that every
# switch delivered frames, that the summary has the medians and the brisk/ovs ratio, and
# that the script stopped every process it started, removed its devices and directories and
# gave nr_hugepages back. It asserts no performance figure.
source "$(dirname "$0")/lib.sh" "$@"
need_tool dpdk-testpmd ovsdb-server ovsdb-tool ovs-vsctl
OVSD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
[[ -x $OVSD ]] || skip "$OVSD is missing (Debian package openvswitch-switch-dpdk)"
[[ -e /sys/class/net/ovs-netdev ]] &&
  skip "a device ovs-netdev exists: another Open vSwitch userspace datapath runs, the bench would not touch it"
BENCH="$(cd "$(dirname "$0")/../.." && pwd)/bench/vhost_pps.sh"

check "bench/vhost_pps.sh with brisk, ovs and testpmd, 1 run of 1 s"
hp_before=$(cat /proc/sys/vm/nr_hugepages)
rc=0
bash "$BENCH" "$BRISKD_BIN" "$BRISK_BIN" 1 1 brisk,ovs,testpmd >"$TMPD/out" 2>"$TMPD/err" &
bpid=$!
track_pid "$bpid"
wait "$bpid" || rc=$?
grep -E "^(vhost-user|run|load|median|brisk /)" "$TMPD/out" || true
((rc == 0)) || { tail -n 40 "$TMPD/err" "$TMPD/out" >&2; fail "vhost_pps.sh exited $rc"; }
med=$(grep -F "median of 1 runs (frames/s):" "$TMPD/out") || fail "no median line"
for sw in brisk ovs testpmd; do
  v=$(sed -n "s/.* $sw \([0-9]*\)\( .*\)\?$/\1/p" <<<"$med")
  [[ -n $v ]] || fail "no figure for $sw in: $med"
  ((v > 0)) || { tail -n 40 "$TMPD/err" >&2; fail "$sw delivered no frames"; }
  say "$sw: $v frames/s"
done
contains -E "^brisk / ovs: [0-9.]+x " "$TMPD/out" || fail "no brisk / ovs ratio"
pass "every switch delivered frames; medians and ratio printed"

check "the bench cleaned up"
work=$(sed -n 's/.*work dir \(.*\)$/\1/p' "$TMPD/out")
[[ -n $work ]] || fail "the bench did not say its work dir"
[[ ! -e $work ]] || fail "work dir $work left behind"
left=$(pgrep -f -- "$work" || true)
[[ -z $left ]] || fail "processes left behind: $(ps -o pid,args -p "${left//$'\n'/,}")"
[[ ! -e /sys/class/net/ovs-netdev ]] || fail "ovs-netdev left behind"
[[ ! -e /sys/class/net/vb${bpid}o ]] || fail "the OVS bridge device vb${bpid}o left behind"
ls -d /var/run/dpdk/vbench"$bpid"* >/dev/null 2>&1 && fail "DPDK runtime dirs left: $(ls -d /var/run/dpdk/vbench"$bpid"*)"
[[ $(cat /proc/sys/vm/nr_hugepages) == "$hp_before" ]] ||
  fail "nr_hugepages $(cat /proc/sys/vm/nr_hugepages), was $hp_before"
pass "no processes, devices, directories or hugepages left"
