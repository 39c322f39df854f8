// libFuzzer target: arbitrary frames into the real pipeline (vlan ingress, port security,
// learning, forwarding, storm control, egress tagging) through in-memory ports of a real
// Switch, as tests/support/harness.hpp drives it in the unit tests.
//
// Input: a sequence of records  [ctl][len_hi][len_lo][len bytes of frame]
//   ctl & 7        ingress port (index into kPorts)
//   ctl & 0x80     advance the clock one second first (ageing, storm buckets, log limits)
//   len            0..4095 (runts, giants above the 1920-byte buffer), cut at the input's end
// The switch (set up once per process): access ports on VLAN 10 with an IP binding (s0), a
// MAC-only binding with a MAC limit and storm control (s1), flooding off (p2), VLAN 20 (p3),
// two trunks (t4 all VLANs, t5 10,20 native 10), the bridge's own port and a dot1q-tunnel
// (QinQ) port of service VLAN 10 (q7).
// Checked after every input, beyond the sanitizers:
//   * every frame was received (rx counters grew by the number injected)
//   * every frame went back to the pool (no leaked reference)
//   * every transmitted frame is 14..1924 bytes long (1920 + one pushed tag; an access port
//     may pop a customer tag, never below 14)
#include <syslog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <vector>

#include "support/harness.hpp"

namespace {

using brisk::test::Harness;

constexpr const char* kPorts[8] = {"s0", "s1", "p2", "p3", "t4", "t5", "fzbr", "q7"};
constexpr std::size_t kMaxRecords = 512;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_pipeline: invariant violated: %s\n", what);
  std::abort();
}

Harness& setup() {
  static Harness* h = [] {
    auto* x = new Harness("fzbr");
    const char* cmds[] = {
        "tap create 10 name s0",
        "port security s0 mac 02:00:00:00:00:01 ip 198.18.60.1,2001:db8::1",
        "tap create 10 name s1",
        "port security s1 mac 02:00:00:00:00:02",
        "port security s1 mac 02:00:00:00:00:12 ip 198.18.60.2",
        "port security s1 limit 4",
        "port storm s1 50",
        "tap create 10 name p2",
        "port flood p2 off",
        "tap create 20 name p3",
        "port add t4 trunk",
        "port add t5 trunk 10,20 native 10",
        "bridge config fzbr fdb-limit=64",
        "tap create 10 name q7",
        "port vlan q7 dot1q-tunnel 10",
    };
    for (const char* c : cmds) {
      brisk::Reply r = x->cmd(c);
      if (!r.ok) {
        std::fprintf(stderr, "fuzz_pipeline: setup '%s' failed: %s\n", c, r.text.c_str());
        std::abort();
      }
    }
    return x;
  }();
  return *h;
}

std::uint64_t total_rx(Harness& h) {
  std::uint64_t n = 0;
  for (const auto& [name, p] : h.sw().ports()) n += h.totals(name).rx_frames;
  return n;
}

}  // namespace

// The switch logs through syslog (DENY lines, taps created...); millions of runs must not
// flood the host's log, so only LOG_EMERG (never used) would pass. The code paths still run.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setlogmask(LOG_MASK(LOG_EMERG));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness& h = setup();
  const std::uint64_t rx0 = total_rx(h);
  std::uint64_t injected = 0;
  std::size_t pos = 0, records = 0;
  while (pos < size && records < kMaxRecords) {
    const std::uint8_t ctl = data[pos++];
    std::size_t len = 0;
    if (pos < size) len = std::size_t{data[pos++]} << 8;
    if (pos < size) len |= data[pos++];
    len &= 0xfff;
    if (len > size - pos) len = size - pos;
    if ((ctl & 0x80) != 0) {
      h.pump();
      h.advance(1);
    }
    std::vector<std::uint8_t> frame(data + pos, data + pos + len);
    pos += len;
    ++records;
    if (!h.port(kPorts[ctl & 7]).inject(std::move(frame))) {
      h.pump();
      die("memory port queue full");
    }
    ++injected;
  }
  h.pump();
  if (total_rx(h) - rx0 != injected) die("received frames != injected frames");
  brisk::WorkerContext& ctx = h.dp().context(0);
  if (ctx.pool.available() != ctx.pool.capacity()) die("a frame was not returned to its pool");
  for (auto& [name, frames] : h.sent())
    for (const auto& f : frames)
      if (f.size() < 14 || f.size() > brisk::kMaxFrameLen + 4) die("transmitted frame of impossible length");
  // Forget learned addresses so inputs stay independent (limits and bindings remain).
  h.cmd("fdb flush fzbr");
  return 0;
}
