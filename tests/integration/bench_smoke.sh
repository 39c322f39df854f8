#!/usr/bin/env bash
# Smoke test of the benchmark harness build/brisk-bench: ~0.5 s of 64-byte frames per window
# through brisk and the Linux bridge, on the default topology and on the VXLAN topology (two
# brisks / two kernel bridges with vxlan devices, a tunnel between their namespaces). It
# checks that the harness runs, prints its table with nonzero delivered frames for both
# switches, and removes every namespace and device it created. The generator: auto (live
# frames where the kernel runs them, else the XDP loop, which must then say why), and each
# fallback forced (the XDP loop, AF_XDP transmit), with both sinks, and the chart (--plot) (XDP
# and tc); on a kernel that refuses live frames, forcing them fails with the kernel's reason.
# Then the latency test (the paced generator) through both at 20,000 frames/s: stamped frames
# arrive. Then its mirror test, briefly (--mirrors 0,1, fast path on and off: with it on, the
# XDP program makes the copies): frames forwarded and mirrored, and brisk's mirror counters and
# the destination's far end agree (no copy unaccounted). Then the TCP matrix, briefly (every
# port kind, MTU 1500, one stream, 1 s per cell): its JSON has a cell per kind with brisk's and
# the bridge's nonzero Gbit/s and CPU per GByte. It asserts no performance figure.
#   bench_smoke.sh <briskd> <brisk> <brisk-bench>
source "$(dirname "$0")/lib.sh" "$@"
BENCH_BIN=${3:-}
[[ -x "$BENCH_BIN" ]] || fail "brisk-bench binary '$BENCH_BIN' is not executable"
need_tool ping iperf3
need_netns

# col_of <table> <switch> <header>: the figure in that column of a switch's row.
col_of() {
  awk -F'|' -v sw="$2" -v want="$3" '
    /^switch / { for (i = 1; i <= NF; i++) { h = $i; gsub(/^ +| +$/, "", h); if (h == want) col = i } }
    { n = $1; gsub(/^ +| +$/, "", n); if (col && n == sw) { v = $col; gsub(/^ +| +$/, "", v); print v } }' "$1"
}
# The figure in the "Mfps" column of a switch's row of table $1.
mfps_of() { col_of "$1" "$2" Mfps; }

# check_cleaned_up <what>: the harness left no device or namespace with the prefix.
check_cleaned_up() {
  local left
  check "the harness removed what it created ($1)"
  left=$(our_host_devs)
  [[ -z "$left" ]] || fail "devices left behind: $left"
  if ip netns list | contains "^${PFX}-"; then fail "namespaces left behind: $(ip netns list | grep "^${PFX}-")"; fi
  pass "no namespaces or devices with prefix $PFX remain"
}

# bench <table> <log> <brisk-bench options...>: run the harness with this test's daemon,
# client and prefix, the table to <table>, its log to <log>; fail (showing both) unless it
# exits 0.
bench() {
  local table=$1 log=$2 rc=0
  shift 2
  "$BENCH_BIN" --briskd "$BRISKD_BIN" --brisk "$BRISK_BIN" --prefix "$PFX" "$@" \
    >"$table" 2>"$log" || rc=$?
  ((rc == 0)) || { cat "$log" "$table" >&2; fail "brisk-bench $* exited $rc"; }
}

# run_bench <name> <brisk-bench options...>: one round of the fps test through brisk and the
# bridge; checks the table and that nothing with the prefix is left.
run_bench() {
  local name=$1 table="$TMPD/table-$1" log="$TMPD/log-$1" sw v
  shift
  check "brisk-bench ($name) with brisk and the kernel bridge"
  bench "$table" "$log" --switches brisk,bridge --tests fps --runs 1 --duration 0.5 --warmup 0.1 "$@"
  cat "$log" "$table"
  for sw in brisk bridge; do
    v=$(mfps_of "$table" "$sw")
    [[ -n "$v" && "$v" != "-" ]] || fail "no frames/s figure for $sw in the $name table"
    awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "$sw delivered no frames ($v Mfps, $name)"
    say "$name: $sw delivered $v Mfps"
  done
  contains -F "brisk / bridge" "$table" || fail "no brisk / bridge ratio row ($name)"
  pass "$name: table with nonzero delivered frames for brisk and the bridge"

  check_cleaned_up "$name"
}

# gen_named <table> <name>: the table's header names the generator and its ceiling.
gen_named() {
  contains -F "generator: $2 on CPU" "$1" || fail "the table does not name the generator '$2'"
  local c
  c=$(sed -n 's/^generator ceiling \([0-9.]*\) Mfps.*/\1/p' "$1")
  awk -v v="$c" 'BEGIN { exit !(v > 0) }' || fail "no generator ceiling in the table ('$c')"
}

run_bench switch --plot "$TMPD/chart.svg"
check "--plot drew the comparison with gnuplot"
[[ -s $TMPD/chart.svg ]] || fail "no chart at $TMPD/chart.svg"
contains -F "<svg" "$TMPD/chart.svg" || fail "the chart is not an SVG: $(head -c 200 "$TMPD/chart.svg")"
contains -F "Gnuplot" "$TMPD/chart.svg" || fail "the chart was not drawn by gnuplot"
for sw in brisk bridge; do contains -F ">$sw<" "$TMPD/chart.svg" || fail "no $sw in the chart"; done
pass "an SVG chart naming brisk and the bridge"
# --generator auto: live frames where the kernel runs them, the XDP loop where it refuses.
if contains -F "generator: XDP live frames on CPU" "$TMPD/table-switch"; then
  say "this kernel runs XDP live frames: auto chose them"
else
  gen_named "$TMPD/table-switch" "XDP loop"
  contains -F "generator chosen because the kernel refuses XDP live frames" "$TMPD/table-switch" ||
    fail "the fallback generator was chosen without saying why"
  say "this kernel refuses XDP live frames: auto chose the XDP loop and said why"
fi
# Every generator, forced, with both sinks: each one stays working whatever this kernel is.
run_bench gen-loop --generator loop --sinks tc,xdp
gen_named "$TMPD/table-gen-loop" "XDP loop"
run_bench gen-afxdp --generator afxdp --sinks xdp,tc
gen_named "$TMPD/table-gen-afxdp" "AF_XDP TX (copy mode)"
for sw in brisk bridge; do
  v=$(col_of "$TMPD/table-gen-afxdp" "$sw" "tc sink Mfps")
  awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "$sw delivered nothing to the tc sink ('$v')"
  g=$(col_of "$TMPD/table-gen-afxdp" "$sw" "gen %")
  awk -v v="$g" 'BEGIN { exit !(v > 0) }' || fail "$sw: no share of the generator's ceiling ('$g')"
done
pass "the loop and AF_XDP generators and the tc sink each carried frames through both switches"
if ! contains -F "generator: XDP live frames on CPU" "$TMPD/table-switch"; then
  check "--generator live on a kernel that refuses it fails with the kernel's reason"
  rc=0
  "$BENCH_BIN" --briskd "$BRISKD_BIN" --brisk "$BRISK_BIN" --prefix "$PFX" --generator live \
    --switches bridge --tests fps --runs 1 --duration 0.3 >"$TMPD/live.out" 2>&1 || rc=$?
  ((rc != 0)) || fail "--generator live succeeded on a kernel whose probe refused live frames"
  contains -F "live frames" "$TMPD/live.out" || { cat "$TMPD/live.out" >&2; fail "no reason given"; }
  check_cleaned_up "forced live frames"
  pass "refused with: $(grep -m1 -F "live frames" "$TMPD/live.out")"
fi
run_bench vxlan --topology vxlan
contains -F "topology vxlan" "$TMPD/table-vxlan" || fail "the vxlan table does not say its topology"
contains -F "bridge tunnel vxlan" "$TMPD/table-vxlan" || fail "brisk did not run with a tunnel"

check "brisk-bench latency test (the paced generator) with brisk and the kernel bridge"
# The paced generator (bench_gen sends a frame when it is due, in one long test-run call):
# stamped frames must reach the sink through both switches, giving p50 <= p99.
bench "$TMPD/ltable" "$TMPD/llog" --switches brisk,bridge --tests latency --latency-rate 20000 \
  --runs 1 --duration 0.5 --warmup 0.1
cat "$TMPD/ltable"
for sw in brisk bridge; do
  p50=$(col_of "$TMPD/ltable" "$sw" "p50 us") p99=$(col_of "$TMPD/ltable" "$sw" "p99 us")
  awk -v a="$p50" -v b="$p99" 'BEGIN { exit !(a > 0 && b >= a) }' ||
    fail "$sw: no latency from the paced generator (p50 '$p50', p99 '$p99')"
  say "paced 20 kfps through $sw: p50 $p50 us, p99 $p99 us"
done
pass "the paced generator's stamped frames reach the sink through both switches"
check_cleaned_up latency

check "brisk-bench --mirrors 0,1 (fast path on and off)"
bench "$TMPD/mtable" "$TMPD/mlog" --switches brisk --mirrors 0,1 --mirror-fastpath on,off \
  --runs 1 --duration 0.5 --warmup 0.1
cat "$TMPD/mlog" "$TMPD/mtable"

# mirror_col <on|off> <mirrors> <header>: that column of the row "brisk fastpath <on|off> | <mirrors>".
mirror_col() {
  awk -F'|' -v m="brisk fastpath $1" -v n="$2" -v want="$3" '
    { for (i = 1; i <= NF; i++) { c[i] = $i; gsub(/^ +| +$/, "", c[i]) } }
    c[1] == "switch" && c[2] == "mirrors" { for (i = 1; i <= NF; i++) if (c[i] == want) col = i }
    col && c[1] == m && c[2] == n { print c[col] }' "$TMPD/mtable"
}
positive() { awk -v v="$1" 'BEGIN { exit !(v > 0) }'; }
for fpm in on off; do
  for n in 0 1; do
    v=$(mirror_col $fpm "$n" "fwd Mfps")
    if [[ -z "$v" ]] || ! positive "$v"; then fail "fast path $fpm, $n mirror(s): forwarded '$v' Mfps"; fi
  done
  per=$(mirror_col $fpm 1 "Mfps per mirror")
  positive "$per" || fail "fast path $fpm, 1 mirror: mirrored '$per' Mfps at the destination"
  cost=$(mirror_col $fpm 1 "cost %")
  [[ -n "$cost" && "$cost" != "-" ]] || fail "fast path $fpm, 1 mirror: no cost figure"
  unacc=$(mirror_col $fpm 1 "unacc. copies")
  wire=$(mirror_col $fpm 1 "wire lost")
  # Every copy brisk counted as delivered reached the far end or was dropped by the
  # destination veth (its ring full on a starved machine: "wire lost"; sendto() answers
  # EBUSY and brisk's AF_XDP port keeps kicking its TX ring until it is empty). With the fast
  # path on, copies the destination device refused are brisk's `dropped` (xdp_devmap_xmit).
  [[ "$unacc" == 0 ]] || fail "fast path $fpm, 1 mirror: $unacc mirror copies unaccounted ($wire lost on the wire)"
  ((wire == 0)) || say "the destination's veth dropped $wire copies (counted)"
  contains "brisk fastpath $fpm: 1 mirror costs" "$TMPD/mtable" || fail "no verdict line (fast path $fpm)"
  pass "fast path $fpm: forwarded and mirrored (${per} Mfps per mirror, cost ${cost}%), every copy accounted"
done

check_cleaned_up "the mirror test"

check "brisk-bench TCP matrix (--tcp-ports, every kind, MTU 1500, 1 stream, 1 s)"
bench "$TMPD/tcp.json" "$TMPD/tcplog" --tcp-ports veth-afxdp,veth-afpacket,tap --tcp-streams 1 \
  --tcp-mtus 1500 --runs 1 --tcp-duration 1 --json
cat "$TMPD/tcplog"
$PY - "$TMPD/tcp.json" <<'PYEOF' || fail "the TCP matrix's JSON lacks a cell or a rate"
import json, sys
m = json.load(open(sys.argv[1]))["tcp_ports"]
cells = {(c["port"], c["mtu"], c["streams"]): c for c in m["cells"]}
want = [(k, 1500, 1) for k in ("veth-afxdp", "veth-afpacket", "tap")]
ok = True
for key in want:
    c = cells.get(key)
    if c is None:
        print("no cell", key); ok = False; continue
    for sw in ("brisk", "bridge"):
        s = c[sw]
        runs = s["runs"]
        good = (len(runs) == 1 and (s["gbps"] or 0) > 0 and (s["cpu_s_per_gbyte"] or 0) > 0
                and runs[0]["bytes"] > 0 and "error" not in s and "error" not in runs[0])
        print(key, sw, "%.2f Gbit/s, %s CPU s/GB" % (s["gbps"] or 0, s["cpu_s_per_gbyte"]))
        ok = ok and good
    ok = ok and c["ratio"]["gbps"] is not None and c["bridge_reference"].startswith("veths")
sys.exit(0 if ok and len(m["cells"]) == len(want) else 1)
PYEOF
pass "a cell per port kind, brisk and the bridge each with nonzero Gbit/s and CPU per GByte"
check_cleaned_up "the TCP matrix"
