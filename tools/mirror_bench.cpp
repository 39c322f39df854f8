// brisk_mirror_bench: the cost of port mirrors on the forwarding path, in ns/frame.
//
// Runs the real pipeline (process_batch) on one thread over in-process null ports: batches of
// 32 learned-unicast 64-byte frames A -> B on one VLAN, with 0, 1 and 4 mirrors of A (each to
// its own destination port), and with one pcap capture of A (written to /dev/null by the
// writer thread). Frames are "received" by copying a template into pool frames, as a driver
// would. Prints the median of several runs per configuration and the cost relative to none.
//
//   build/brisk_mirror_bench [frames per run, default 4000000] [runs, default 5] [config 0-3]
//
// With a config index only that configuration runs, once, without warm-up: for instruction
// counts, run it under `valgrind --tool=callgrind` with two frame counts and divide the
// difference of the totals by the difference of the frames.
//
// Not a test: a measurement tool (no assertions; the machine is noisy).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "datapath/capture.hpp"
#include "datapath/pipeline.hpp"
#include "datapath/snapshot.hpp"

namespace {

using namespace brisk;

// Accepts everything, keeps nothing.
class NullPort final : public Port {
 public:
  explicit NullPort(std::string name) : Port(std::move(name), PortKind::kMemory) {}
  std::uint32_t rx_burst(FramePool&, Frame**, std::uint32_t) noexcept override { return 0; }
  std::uint32_t tx_burst(const TxItem*, std::uint32_t n) noexcept override {
    sent += n;
    return n;
  }
  std::uint64_t sent = 0;
};

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr PortId kA = 0, kB = 1, kD0 = 2;
constexpr VlanId kVlan = 10;
const std::uint8_t kMacA[6] = {2, 0, 0, 0, 0, 0xa};
const std::uint8_t kMacB[6] = {2, 0, 0, 0, 0, 0xb};

struct Setup {
  std::vector<std::shared_ptr<NullPort>> ports;
  std::shared_ptr<MacTable> fdb = std::make_shared<MacTable>();
  std::shared_ptr<Capture> capture;
  std::unique_ptr<Snapshot> snap = std::make_unique<Snapshot>();
};

// mirrors: mirrors of A to D0..D(n-1); capture: one pcap capture of A.
std::unique_ptr<Setup> make_setup(unsigned mirrors, bool capture) {
  auto s = std::make_unique<Setup>();
  const char* names[] = {"a", "b", "d0", "d1", "d2", "d3"};
  for (const char* n : names) s->ports.push_back(std::make_shared<NullPort>(n));
  s->fdb->learn(fdb_key(kVlan, kMacA), kA, 1);
  s->fdb->learn(fdb_key(kVlan, kMacB), kB, 1);
  Snapshot& sn = *s->snap;
  BridgeConf bc;
  bc.name = "bench";
  bc.fdb = s->fdb.get();
  bc.flood_offs.assign(kVlanCount + 1, 0);
  for (std::size_t v = kVlan + 1; v <= kVlanCount; ++v) bc.flood_offs[v] = 2;
  bc.flood_ports = {kA, kB};
  for (PortId p = 0; p < s->ports.size(); ++p) {
    PortConf& pc = sn.ports[p];
    pc.port = s->ports[p].get();
    pc.mode = VlanMode::kAccess;
    pc.access_vlan = kVlan;
  }
  for (unsigned m = 0; m < mirrors; ++m) {
    MirrorConf mc;
    mc.src = kA;
    mc.dst = static_cast<PortId>(kD0 + m);
    mc.tag_as = mc.dst;
    mc.slot = static_cast<std::uint16_t>(m);
    sn.ports[mc.dst].mirror_dst = true;
    sn.ports[mc.dst].mirror_slot = mc.slot;
    bc.mirrors.push_back(mc);
  }
  if (capture) {
    s->capture = std::make_shared<Capture>("/dev/null", kCaptureDefaultSnaplen, 1);
    MirrorConf mc;
    mc.src = kA;
    mc.capture = s->capture.get();
    mc.tag_as = kA;
    mc.slot = 8;
    bc.mirrors.push_back(mc);
  }
  sn.bridges.push_back(std::move(bc));
  return s;
}

// ns/frame of `frames` frames through process_batch.
double run(const Setup& s, std::uint64_t frames) {
  WorkerContext ctx(0);
  ctx.now = 1;
  std::uint8_t tmpl[64] = {};
  std::memcpy(tmpl, kMacB, 6);
  std::memcpy(tmpl + 6, kMacA, 6);
  tmpl[12] = 0x08;
  Batch b;
  const std::uint64_t batches = frames / kBatchSize;
  const std::uint64_t t0 = now_ns();
  for (std::uint64_t k = 0; k < batches; ++k) {
    ctx.now_ns = t0;
    for (unsigned i = 0; i < kBatchSize; ++i) {
      Frame* f = ctx.pool.alloc();
      f->reset(64);
      std::memcpy(f->data, tmpl, 64);
      b.f[i] = f;
    }
    b.n = kBatchSize;
    process_batch(ctx, *s.snap, kA, b);
  }
  const std::uint64_t t1 = now_ns();
  return static_cast<double>(t1 - t0) / static_cast<double>(batches * kBatchSize);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t frames = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 4000000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  int only = argc > 3 ? std::atoi(argv[3]) : -1;
  if (frames < kBatchSize || runs < 1 || only > 3) {
    std::fprintf(stderr, "usage: brisk_mirror_bench [frames per run] [runs] [config 0-3]\n");
    return 2;
  }
  struct Config {
    const char* name;
    unsigned mirrors;
    bool capture;
  };
  const Config configs[] = {{"0 mirrors", 0, false},
                            {"1 mirror", 1, false},
                            {"4 mirrors", 4, false},
                            {"1 capture", 0, true}};
  if (only >= 0) {
    auto s1 = make_setup(configs[only].mirrors, configs[only].capture);
    std::unique_ptr<CaptureWriter> w;
    if (s1->capture) {
      w = std::make_unique<CaptureWriter>();
      w->add(s1->capture);
    }
    double v = run(*s1, frames);
    if (w) w->close(s1->capture);
    std::printf("%s: %.2f ns/frame\n", configs[only].name, v);
    return 0;
  }
  // Interleave the configurations run by run so that noise hits them alike.
  std::vector<std::unique_ptr<Setup>> setups;
  for (const auto& c : configs) setups.push_back(make_setup(c.mirrors, c.capture));
  std::unique_ptr<CaptureWriter> writer = std::make_unique<CaptureWriter>();
  writer->add(setups[3]->capture);
  std::vector<std::vector<double>> ns(std::size(configs));
  run(*setups[0], frames / 4);  // warm up
  for (int r = 0; r < runs; ++r)
    for (std::size_t c = 0; c < std::size(configs); ++c) ns[c].push_back(run(*setups[c], frames));
  writer->close(setups[3]->capture);
  const double base = median(ns[0]);
  std::printf("%-10s | %9s | %11s | %8s | %s\n", "config", "ns/frame", "Mframes/s", "vs none", "delivered");
  for (std::size_t c = 0; c < std::size(configs); ++c) {
    double m = median(ns[c]);
    std::uint64_t delivered = 0;
    for (PortId p = kD0; p < kD0 + 4; ++p) delivered += setups[c]->ports[p]->sent;
    if (configs[c].capture) delivered = setups[c]->capture->written();
    std::printf("%-10s | %9.2f | %11.2f | %+7.1f%% | %llu mirrored copies delivered (%llu dropped)\n",
                configs[c].name, m, 1000.0 / m, (m / base - 1.0) * 100.0,
                static_cast<unsigned long long>(delivered),
                static_cast<unsigned long long>(configs[c].capture ? setups[c]->capture->ring_full() : 0));
  }
  return 0;
}
