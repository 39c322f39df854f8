#!/usr/bin/env bash
# Metrics endpoint: briskd --metrics 127.0.0.1:PORT serves Prometheus text while it forwards.
#   - off by default: nothing listens without --metrics
#   - two taps in namespaces ping each other; the scrape (curl and a bash /dev/tcp client)
#     shows their rx/tx counters, FDB entries, and a named drop reason after a tagged frame
#     on an access port (sent with scapy)
#   - scraping does not disturb forwarding (ping during repeated scrapes)
#   - stuck scrapers (half a request, never the rest) delay neither a scrape, nor the control
#     socket, nor forwarding; an unknown path is 404 (prometheus-cpp's civetweb serves HTTP)
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping curl
need_netns
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import scapy' 2>/dev/null || skip "scapy under /usr/bin/python3 is missing"

PORT=""
for _ in 1 2 3 4 5 6 7 8; do
  cand=$((20000 + RANDOM % 30000))
  if ! ss -Htln "sport = :$cand" | contains .; then PORT=$cand; break; fi
done
[[ -n "$PORT" ]] || fail "no free TCP port found"
URL="http://127.0.0.1:$PORT/metrics"

check "off by default"
start_briskd
if curl -s -m 2 "$URL" >/dev/null; then fail "something answers on $PORT without --metrics"; fi
kill -TERM "$BRISKD_PID"; wait "$BRISKD_PID" 2>/dev/null || true; BRISKD_PID=""
pass "no endpoint without --metrics"

start_briskd --metrics "127.0.0.1:$PORT"
NS_A="${PFX}-a" NS_B="${PFX}-b"
T_A="${PFX}ta" T_B="${PFX}tb"
bk tap create 10 name "$T_A" >/dev/null
bk tap create 10 name "$T_B" >/dev/null
ns_add_tap "$NS_A" "$T_A" 198.18.14.1/24
ns_add_tap "$NS_B" "$T_B" 198.18.14.2/24

check "counters after a ping"
ip netns exec "$NS_A" ping -c 3 -W 2 198.18.14.2 >/dev/null || fail "ping A -> B"
curl -s -m 5 -D "$TMPD/hdr" "$URL" >"$TMPD/m1" || fail "curl $URL failed"
contains -i "^content-type: text/plain" "$TMPD/hdr" || fail "content type: $(cat "$TMPD/hdr")"
contains -x "brisk_metrics_snapshot 1" "$TMPD/m1" || fail "no snapshot from the control thread: $(grep snapshot "$TMPD/m1")"
metric() {  # <file> <name{labels}>: the value
  awk -v k="$2" 'index($0, k " ") == 1 { print $2 }' "$1"
}
rx=$(metric "$TMPD/m1" "brisk_port_rx_frames_total{port=\"$T_A\",bridge=\"$BR\",kind=\"tap\"}")
tx=$(metric "$TMPD/m1" "brisk_port_tx_frames_total{port=\"$T_B\",bridge=\"$BR\",kind=\"tap\"}")
fdb=$(metric "$TMPD/m1" "brisk_fdb_entries{bridge=\"$BR\"}")
say "rx($T_A)=$rx tx($T_B)=$tx fdb($BR)=$fdb"
[[ -n "$rx" && "$rx" -ge 3 ]] || fail "rx of $T_A is '$rx'"
[[ -n "$tx" && "$tx" -ge 3 ]] || fail "tx of $T_B is '$tx'"
[[ -n "$fdb" && "$fdb" -ge 2 ]] || fail "fdb entries '$fdb'"
pass "per-port and FDB figures"

check "a named drop reason"
ip netns exec "$NS_A" /usr/bin/python3 - "$T_A" <<'PY'
import sys
from scapy.all import Ether, Dot1Q, IP, ICMP, sendp
sendp(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:14:01") / Dot1Q(vlan=20) / IP(dst="198.18.14.2") / ICMP(),
      iface=sys.argv[1], count=2, verbose=False)
PY
# A tiny HTTP client in bash, no curl.
wait_until 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3 >'$TMPD/m2'; grep -q 'brisk_drops_total{reason=\"tagged_on_access\"} [1-9]' '$TMPD/m2'" ||
  fail "tagged_on_access not counted: $(grep tagged_on_access "$TMPD/m2" || true)"
grep "tagged_on_access" "$TMPD/m2" | grep "$T_A" || fail "the drop is not charged to $T_A"
head -1 "$TMPD/m2" | contains "200 OK" || fail "bash client got: $(head -1 "$TMPD/m2")"
pass "drops by reason"

check "scrapes do not disturb forwarding"
for _ in $(seq 1 20); do curl -s -m 2 "$URL" >/dev/null || fail "scrape failed"; done &
SCRAPER=$!
ip netns exec "$NS_A" ping -c 10 -i 0.1 -W 2 198.18.14.2 >"$TMPD/ping" || fail "ping during scrapes: $(tail -3 "$TMPD/ping")"
wait "$SCRAPER" || fail "scraper failed"
curl -s -m 2 "http://127.0.0.1:$PORT/other" -o /dev/null -w '%{http_code}' | contains 404 || fail "unknown path not 404"
pass "10/10 pings while scraping"

check "stuck scrapers delay no one"
# Three connections that send half a request and then nothing (bash holds them open).
exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /metr' >&5
printf 'GET /metr' >&6
printf 'GET /metr' >&7
sleep 0.5
t0=$(date +%s%N)
curl -s -m 5 "$URL" >"$TMPD/m3" || fail "scrape while three scrapers are stuck"
t1=$(date +%s%N)
contains -x "brisk_metrics_snapshot 1" "$TMPD/m3" || fail "scrape without a snapshot while scrapers are stuck"
bk port >/dev/null || fail "control socket while scrapers are stuck"
t2=$(date +%s%N)
ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 2 198.18.14.2 >"$TMPD/ping2" || fail "ping while scrapers are stuck: $(tail -3 "$TMPD/ping2")"
exec 5>&- 6>&- 7>&-
say "scrape $(((t1 - t0) / 1000000)) ms, control command $(((t2 - t1) / 1000000)) ms with 3 stuck scrapers"
pass "scrape, command and pings while 3 scrapers are stuck"
