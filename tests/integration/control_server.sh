#!/usr/bin/env bash
# The control socket serves many clients at once, and none delays another (issue 20, item 2):
#   - the latency of `brisk tap` and `brisk tap create` with no other client (the baseline),
#     then with 20 idle connections and one client sending a byte every 0.4 s: within the
#     baseline + 100 ms (the blocking server took 10-14 s per command)
#   - those idle and slow clients are answered "request timed out" 5 s after connecting
#   - with 64 connections open the next is refused "too many connections" (brisk prints the
#     E: line, exit 1), and served again once one closes
#   - a request over 64 KiB is answered "request too long"
source "$(dirname "$0")/lib.sh" "$@"
[[ -n $PY ]] || skip "python3 is needed for the socket clients"

start_briskd

"$PY" - "$SOCK" "$BRISK_BIN" "$TP" <<'EOF' || fail "see above"
import json, socket, statistics, subprocess, sys, threading, time

SOCK, BRISK, TP = sys.argv[1:4]
failures = []

def fail(msg):
    print(f"  FAIL: {msg}")
    failures.append(msg)

def brisk(*words, timeout=30):
    t = time.monotonic()
    try:
        r = subprocess.run([BRISK, "--socket", SOCK, *words], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return timeout, None
    return time.monotonic() - t, r

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s

def answer_of(s, timeout):
    """The server's JSON reply on s (None when none came within timeout)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass  # the server closed with our unread bytes queued: its reply came first
    try:
        return json.loads(data)
    except ValueError:
        return {"ok": None, "text": "unparsable: " + data[:200].decode(errors="replace")}

def measure(tag):
    """Seconds taken by `tap` and `tap create`, 5 of each, or None after one took over 3 s."""
    lat = {"tap": [], "tap create": []}
    for i in range(5):
        for name, words in (("tap", ["tap"]), ("tap create", ["tap", "create", "10", "name", f"{TP}{tag}{i}"])):
            dt, r = brisk(*words, timeout=15)
            if r is None or r.returncode != 0:
                fail(f"{' '.join(words)}: {'no answer within 15 s' if r is None else r.stderr.strip()}")
                return None
            lat[name].append(dt)
            if dt > 3:
                fail(f"{' '.join(words)} took {dt:.1f} s")
                return None
    return lat

def ms(xs):
    return "[" + " ".join(f"{x * 1000:.0f}" for x in xs) + "] ms"

# ---------------------------------------------------------------- latency with slow clients
base = measure("b")
if base is None:
    sys.exit(1)
print(f"baseline: tap {ms(base['tap'])}, tap create {ms(base['tap create'])}")

t_connect = time.monotonic()
idle = [connect() for _ in range(20)]
slow = connect()
stop = threading.Event()
def drip():
    for b in b'{"argv": ["tap"]}\n':  # 18 bytes at 0.4 s: longer than the 5 s deadline
        if stop.wait(0.4):
            return
        try:
            slow.send(bytes([b]))
        except OSError:
            return
dripper = threading.Thread(target=drip)
dripper.start()
time.sleep(0.5)
loaded = measure("s")
took = time.monotonic() - t_connect
if loaded is not None:
    print(f"with 20 idle and 1 slow client: tap {ms(loaded['tap'])}, tap create {ms(loaded['tap create'])}")
    for name in ("tap", "tap create"):
        b, l = base[name], loaded[name]
        if statistics.median(l) > statistics.median(b) + 0.1:
            fail(f"{name}: median {statistics.median(l) * 1000:.0f} ms > baseline median "
                 f"{statistics.median(b) * 1000:.0f} ms + 100 ms")
        if max(l) > max(b) + 0.1:
            fail(f"{name}: slowest {max(l) * 1000:.0f} ms > baseline slowest {max(b) * 1000:.0f} ms + 100 ms")
    # The slow and idle clients were waiting all along (nothing answered them yet).
    if took > 4.5:
        fail(f"the measurement took {took:.1f} s: the idle clients may have timed out during it")
    print(f"  measured within {took:.1f} s of connecting the idle clients")

# ---------------------------------------------------------------- request deadline
for i, s in enumerate(idle + [slow]):
    a = answer_of(s, max(0.1, 10 - (time.monotonic() - t_connect)))
    t = time.monotonic() - t_connect
    who = "the slow client" if s is slow else f"idle client {i}"
    if a is None:
        fail(f"{who}: no answer within 10 s of connecting")
    elif a.get("ok") is not False or not a.get("text", "").startswith("request timed out"):
        fail(f"{who}: answered {a!r}, not 'request timed out'")
    elif not 4.5 <= t <= 7.5:
        fail(f"{who}: answered after {t:.1f} s, not at the 5 s deadline")
    s.close()
stop.set()
dripper.join()
print(f"idle and slow clients answered 'request timed out' after {time.monotonic() - t_connect:.1f} s")

# ---------------------------------------------------------------- connection cap
held = [connect() for _ in range(64)]
time.sleep(0.3)  # accepted in order: the next connection is the 65th whenever it comes
dt, r = brisk("bridge", timeout=10)
if r is None:
    fail("brisk bridge with 64 connections open: no answer within 10 s")
elif r.returncode != 1 or not r.stderr.startswith("E: too many connections"):
    fail(f"brisk bridge with 64 connections open: exit {r.returncode}, {r.stderr.strip()!r}")
else:
    print(f"65th connection: {r.stderr.strip()} (exit 1)")
extra = connect()
try:
    extra.sendall(b'{"argv": ["bridge"]}\n')
except OSError:
    pass  # refused (and closed) before the request was read: the answer is waiting
a = answer_of(extra, 5)
if a is None or not a.get("text", "").startswith("too many connections"):
    fail(f"a 65th raw connection: {a!r}")
extra.close()
held.pop().close()
for _ in range(20):  # once the server has seen it go
    time.sleep(0.1)
    dt, r = brisk("bridge", timeout=10)
    if r is not None and r.returncode == 0:
        break
else:
    fail("brisk bridge after one connection closed: " + ("no answer" if r is None else r.stderr.strip()))
for s in held:
    s.close()

# ---------------------------------------------------------------- request size cap
big = connect()
try:
    big.sendall(b"x" * 70000)
except OSError:
    pass  # refused before all of it was read
a = answer_of(big, 5)
if a is None or not a.get("text", "").startswith("request too long"):
    fail(f"a 70000-byte request: {a!r}")
big.close()

sys.exit(1 if failures else 0)
EOF
pass "commands answered within the baseline + 100 ms beside 20 idle and one slow client"
pass "idle and slow clients answered 'request timed out' at the deadline"
pass "the 65th connection refused, served again after one closed; a 70000-byte request refused"

for i in 0 1 2 3 4; do
  bk tap delete "${TP}b$i" >/dev/null
  bk tap delete "${TP}s$i" >/dev/null
done
if our_host_devs | contains "^${TP}[bs]"; then fail "taps left behind"; fi
pass "taps deleted"
