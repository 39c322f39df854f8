// Tunnel codec micro-benchmarks (datapath/tunnel_codec.hpp): the VXLAN / GRE header writer and
// the decapsulation check, the functions a TunnelPort calls.
//
//   BM_TunnelHeader/<variant>                tunnel_header(): writes the 8-byte VXLAN or the
//                                            4/8-byte GRE header. A TunnelPort calls it once,
//                                            when it is created (its header template); per
//                                            frame the port only points an iovec at the
//                                            template (BM_TunnelEncap in tunnel_port_bench.cpp).
//   BM_TunnelDecap/<variant>/<len>/<tag>     tunnel_decap() on outer IPv4 packets as the raw
//                                            socket delivers them: 32 distinct packets, each
//                                            checked once per iteration.
//
// <variant>: vxlan (VNI 42), gre (no key), gre_key (key 42). <len>: inner frame length in bytes
// (64 or 1500, FCS excluded, an 802.1Q tag included). <tag>: untagged or tagged (VLAN 10 inside
// the tunnel). The codec reads only headers, so length and tag should not change the cost:
// the cases show that they do not.
// Reported: items_per_second (frames/s) and ns_per_frame.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/datapath/bench_common.hpp"
#include "bench/datapath/tunnel_packets.hpp"
#include "datapath/tunnel_codec.hpp"

namespace brisk::bench {
namespace {

void BM_TunnelHeader(benchmark::State& state, TunnelVariant v) {
  const TunnelKey key = variant_key(v);
  std::uint8_t hdr[kMaxTunnelHeaderLen];
  std::uint64_t n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tunnel_header(key, hdr));
    benchmark::ClobberMemory();
    ++n;
  }
  report_items(state, n, "ns_per_frame");
}

void BM_TunnelDecap(benchmark::State& state, TunnelVariant v, std::uint32_t len, bool tagged) {
  const TunnelKey key = variant_key(v);
  std::vector<Bytes> pkts;
  for (std::uint32_t i = 0; i < kBatchSize; ++i)
    pkts.push_back(outer_packet(key, inner_frame(len, tagged, i)));
  // Prove the decapsulation once, outside the timed loop.
  for (const Bytes& p : pkts) {
    DecapResult d = tunnel_decap(key, p.data(), p.size());
    if (d.status != DecapStatus::kOk || p.size() - d.offset != len) {
      state.SkipWithError("tunnel_decap did not find the inner frame");
      return;
    }
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    for (const Bytes& p : pkts) {
      DecapResult d = tunnel_decap(key, p.data(), p.size());
      benchmark::DoNotOptimize(d);
    }
    n += pkts.size();
  }
  report_items(state, n, "ns_per_frame");
}

// Readable names ("BM_TunnelDecap/vxlan/64/untagged") need runtime registration; this runs
// before benchmark_main's main().
[[maybe_unused]] const bool kRegistered = [] {
  for (TunnelVariant v : kAllVariants)
    benchmark::RegisterBenchmark((std::string("BM_TunnelHeader/") + variant_name(v)).c_str(),
                                 BM_TunnelHeader, v);
  for (TunnelVariant v : kAllVariants)
    for (std::uint32_t len : kInnerLens)
      for (bool tagged : {false, true})
        benchmark::RegisterBenchmark(("BM_TunnelDecap/" + case_name(v, len, tagged)).c_str(),
                                     BM_TunnelDecap, v, len, tagged);
  return true;
}();

}  // namespace
}  // namespace brisk::bench
