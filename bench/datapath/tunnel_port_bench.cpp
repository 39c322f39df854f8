// Tunnel port micro-benchmarks: the per-frame work of a TunnelPort (datapath/tunnel_port.hpp)
// around its socket calls, through the port's own TunnelFraming, without sockets.
//
//   BM_TunnelEncap/<variant>/<len>/<tag>  TunnelFraming::encap() on batches of 32 frames:
//        what tx_burst() does before sendmmsg(): per frame an mmsghdr and its iovecs
//        [header template][frame], or [header template][MACs][802.1Q tag][rest] when the tag
//        is pushed on the way out. No byte of the frame is copied.
//   BM_TunnelRx/<variant>/<len>/<tag>     rx_post() + rx_finish() on batches of 32 frames: what
//        rx_burst() does around recvmmsg(): take frames from the pool, post their buffers,
//        then decapsulate each in place (tunnel_decap(), Frame::data moves past the outer
//        headers). In place of recvmmsg() the benchmark writes each packet's first 96 bytes
//        (every header; the only bytes this path reads) into the posted buffer and sets the
//        message length to the whole packet: the kernel's copy of the packet belongs to
//        recvmmsg() and is measured by the system benchmark (brisk-bench --tests tunnel), not
//        here. The frames are then released as the pipeline releases them after transmit.
//
// <variant>: vxlan (VNI 42), gre (no key), gre_key (key 42). <len>: the frame's length in brisk's
// buffer (64 or 1500 bytes, FCS excluded). <tag>: encap: `tagged` pushes VLAN 10's tag on the
// way into the tunnel (the inner frame on the wire is len + 4), as for a frame of VLAN 10 (a
// tunnel is a trunk with native VLAN 0); rx: the received inner frame carries the tag (counted
// in len). Reported: items_per_second (frames/s) and ns_per_frame.
//
// Instructions per frame (callgrind): bench/datapath/callgrind_per_call.py, see docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/datapath/bench_common.hpp"
#include "bench/datapath/tunnel_packets.hpp"
#include "datapath/frame.hpp"
#include "datapath/tunnel_port.hpp"
#include "tests/support/mmsg_bytes.hpp"

namespace brisk::bench {
namespace {

void BM_TunnelEncap(benchmark::State& state, TunnelVariant v, std::uint32_t len, bool tagged) {
  const TunnelKey key = variant_key(v);
  const TunnelFraming framing(key);
  FramePool pool(kBatchSize);
  TxItem items[kBatchSize];
  std::vector<Bytes> inner;
  for (std::uint32_t i = 0; i < kBatchSize; ++i) {
    Frame* f = pool.alloc();
    inner.push_back(inner_frame(len, false, i));
    f->reset(len);
    std::memcpy(f->data, inner.back().data(), len);
    items[i] = TxItem{f, tagged ? kTunnelVlan : VlanId{0}};
  }
  auto msgs = std::make_unique<TunnelFraming::TxMsgs>();

  // Prove once, outside the timed loop, that each message carries [UDP header (VXLAN)] +
  // tunnel header + (tagged) frame.
  framing.encap(items, kBatchSize, *msgs);
  std::uint8_t hdr[kMaxTunnelHeaderLen];
  const std::size_t hlen = tunnel_header(framing.key(), hdr);
  for (std::uint32_t i = 0; i < kBatchSize; ++i) {
    const Bytes tagged_inner = inner_frame(len + 4, true, i);
    const Bytes& in = tagged ? tagged_inner : inner[i];
    Bytes want;
    if (key.type == TunnelType::kVxlan) {  // brisk writes the UDP header: the flow's source port
      want.resize(8);
      vxlan_udp_header(want.data(), vxlan_source_port(inner[i].data(), inner[i].size()),
                       hlen + in.size());
    }
    want.insert(want.end(), hdr, hdr + hlen);
    want.insert(want.end(), in.begin(), in.end());
    if (test::mmsg_bytes(msgs->msgs[i]) != want || msgs->msgs[i].msg_hdr.msg_name != &framing.destination()) {
      state.SkipWithError("encap() built a wrong message");
      return;
    }
  }

  std::uint64_t n = 0;
  for (auto _ : state) {
    framing.encap(items, kBatchSize, *msgs);
    benchmark::DoNotOptimize(msgs->msgs);
    benchmark::ClobberMemory();
    n += kBatchSize;
  }
  report_items(state, n, "ns_per_frame");
}

constexpr std::size_t kRxWritten = 96;  // bytes of each packet written into the buffer

void BM_TunnelRx(benchmark::State& state, TunnelVariant v, std::uint32_t len, bool tagged) {
  const TunnelKey key = variant_key(v);
  const TunnelFraming framing(key);
  FramePool pool(4 * kBatchSize);
  std::vector<Bytes> pkts;
  for (std::uint32_t i = 0; i < kBatchSize; ++i)
    pkts.push_back(outer_packet(framing.key(), inner_frame(len, tagged, i)));
  auto m = std::make_unique<TunnelFraming::RxMsgs>();
  Frame* out[kBatchSize];
  Drop drops[kBatchSize];
  std::uint32_t ndrops = 0;

  auto receive = [&]() -> std::uint32_t {
    const std::uint32_t posted = framing.rx_post(pool, kBatchSize, *m);
    for (std::uint32_t i = 0; i < posted; ++i) {
      std::memcpy(m->iov[i].iov_base, pkts[i].data(), std::min(kRxWritten, pkts[i].size()));
      m->msgs[i].msg_len = static_cast<unsigned>(pkts[i].size());
    }
    return framing.rx_finish(pool, *m, posted, posted, out, drops, &ndrops);
  };

  // Prove once, outside the timed loop, that every frame comes out as the inner frame.
  const std::uint32_t got = receive();
  bool ok = got == kBatchSize && ndrops == 0;
  for (std::uint32_t i = 0; ok && i < got; ++i) {
    const Bytes want = inner_frame(len, tagged, i);
    ok = out[i]->len == len && std::memcmp(out[i]->data, want.data(), tagged ? 18 : 14) == 0;
  }
  for (std::uint32_t i = 0; i < got; ++i) pool.release(out[i]);
  if (!ok) {
    state.SkipWithError("rx_finish() did not deliver the inner frames");
    return;
  }

  std::uint64_t n = 0, iters = 0;
  for (auto _ : state) {
    const std::uint32_t k = receive();
    for (std::uint32_t i = 0; i < k; ++i) pool.release(out[i]);
    n += k;
    ++iters;
  }
  if (n != iters * kBatchSize || ndrops != 0) state.SkipWithError("frames were lost or dropped");
  if (pool.available() != pool.capacity()) state.SkipWithError("frame pool leaked");
  report_items(state, n, "ns_per_frame");
}

[[maybe_unused]] const bool kRegistered = [] {
  for (TunnelVariant v : kAllVariants)
    for (std::uint32_t len : kInnerLens)
      for (bool tagged : {false, true}) {
        benchmark::RegisterBenchmark(("BM_TunnelEncap/" + case_name(v, len, tagged)).c_str(),
                                     BM_TunnelEncap, v, len, tagged);
        benchmark::RegisterBenchmark(("BM_TunnelRx/" + case_name(v, len, tagged)).c_str(),
                                     BM_TunnelRx, v, len, tagged);
      }
  return true;
}();

}  // namespace
}  // namespace brisk::bench
