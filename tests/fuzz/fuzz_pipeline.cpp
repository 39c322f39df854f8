// libFuzzer target: arbitrary frames into the real pipeline (vlan ingress, port security,
// learning, forwarding, storm control, egress tagging) through in-memory ports of a real
// Switch, as tests/support/harness.hpp drives it in the unit tests.
//
// Input: a sequence of records  [ctl]([offload: 6 bytes])[len_hi][len_lo][len bytes of frame]
//   ctl & 7        ingress port (index into kPorts)
//   ctl & 0x08     the frame comes with offload metadata (datapath/frame.hpp), 6 bytes:
//                  flags, gso_type, gso_size (2, big-endian), csum_start, csum_offset
//   ctl & 0x80     advance the clock one second first (ageing, storm buckets, log limits)
//   len            0..16383 (runts, jumbo frames, super-frames), cut at the input's end
// The switch (set up once per process): access ports on VLAN 10 with an IP binding (s0), a
// MAC-only binding with a MAC limit and storm control (s1), flooding off (p2), VLAN 20 (p3),
// two trunks (t4 all VLANs, t5 10,20 native 10), the bridge's own port and a dot1q-tunnel
// (QinQ) port of service VLAN 10 (q7). p2 and t4 take every offload (as taps do), t5 has MTU
// 1500, the others take nothing (as AF_XDP): super-frames are cut and checksums completed
// for them.
// Checked after every input, beyond the sanitizers:
//   * every frame was received (rx counters grew by the number injected)
//   * every frame went back to the pool (no leaked reference)
//   * every transmitted frame is at least 14 bytes and at most its port's limit (t5: MTU 1500
//     + 18; others: a big buffer + one pushed tag), and carries no offload its port cannot take
//   * every big buffer went back to its pool
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
    x->port("p2").set_caps(brisk::txcap::kAll);
    x->port("t4").set_caps(brisk::txcap::kAll);
    x->port("t5").set_mtu(1500);
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
    brisk::Offload off;
    if ((ctl & 0x08) != 0 && size - pos >= 6) {
      off.flags = data[pos];
      off.gso_type = data[pos + 1];
      off.gso_size = static_cast<std::uint16_t>((data[pos + 2] << 8) | data[pos + 3]);
      off.csum_start = data[pos + 4];
      off.csum_offset = data[pos + 5];
      pos += 6;
    }
    std::size_t len = 0;
    if (pos < size) len = std::size_t{data[pos++]} << 8;
    if (pos < size) len |= data[pos++];
    len &= 0x3fff;
    if (len > size - pos) len = size - pos;
    if ((ctl & 0x80) != 0) {
      h.pump();
      h.advance(1);
    }
    std::vector<std::uint8_t> frame(data + pos, data + pos + len);
    pos += len;
    ++records;
    if (!h.port(kPorts[ctl & 7]).inject(std::move(frame), off)) {
      h.pump();
      die("memory port queue full");
    }
    ++injected;
  }
  h.pump();
  if (total_rx(h) - rx0 != injected) die("received frames != injected frames");
  brisk::WorkerContext& ctx = h.dp().context(0);
  if (ctx.pool.available() != ctx.pool.capacity()) die("a frame was not returned to its pool");
  if (ctx.pool.big_available() != ctx.pool.big_capacity()) die("a big buffer was not returned");
  for (const char* name : kPorts) {
    brisk::MemoryPort& p = h.port(name);
    const std::size_t limit = p.mtu() != 0 ? brisk::wire_limit(p.mtu()) : brisk::kMaxBigFrameLen + 4;
    for (const auto& o : p.take_sent_offloads()) {
      if (o.partial() && (p.tx_caps() & brisk::txcap::kCsum) == 0) die("partial checksum to a port without checksum offload");
      if (o.gso() && (p.tx_caps() & brisk::txcap::kTso4) == 0) die("super-frame to a port without TSO");
    }
    for (const auto& f : p.take_sent())
      if (f.size() < 14 || f.size() > limit) die("transmitted frame of impossible length");
  }
  // Forget learned addresses so inputs stay independent (limits and bindings remain).
  h.cmd("fdb flush fzbr");
  return 0;
}
