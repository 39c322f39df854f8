#include "bench/harness/measure.hpp"

#include <algorithm>

#include "bench/harness/proc.hpp"
#include "bench/harness/text.hpp"

namespace bench {

Bench::Bench(const Options& o, const Topology& t, BenchBpf& bpf,
             std::vector<std::unique_ptr<BenchBpf>>& far)
    : o_(o), t_(t), bpf_(bpf), far_(far) {
  place_ = GenPlace{t.gen_ns, t.gen_dev, t.gen_cpu, o.nice, make_template(t.sink_mac, kGenSrc)};
}

void Bench::attach_sink(const std::string& kind) {
  detach_sink();
  if (kind == "tc")
    tc_attach(t_.sink_ns, t_.sink_dev, bpf_.sink_tc_fd());
  else
    xdp_attach(t_.sink_ns, t_.sink_dev, bpf_.sink_fd());
  sink_ = kind;
  for (std::size_t i = 0; i < far_.size() && i < t_.mirror_devs.size(); ++i)
    xdp_attach(t_.mirror_ns, t_.mirror_devs[i], far_[i]->count_all_fd());
}

void Bench::detach_sink() noexcept {
  if (sink_ == "tc")
    tc_detach(t_.sink_ns, t_.sink_dev);
  else
    xdp_detach(t_.sink_ns, t_.sink_dev);
  sink_.clear();
}

double Bench::measure_ceiling() {
  xdp_attach(t_.sink_ns, t_.ceil_sink_dev, bpf_.sink_fd());
  GenPlace p = place_;
  p.dev = t_.ceil_gen_dev;
  Window w;
  try {
    w = window(nullptr, p, GenSettings{}, o_.duration);
  } catch (...) {
    xdp_detach(t_.sink_ns, t_.ceil_sink_dev);
    throw;
  }
  xdp_detach(t_.sink_ns, t_.ceil_sink_dev);
  ceiling_ = w.fps_offered;
  gen_cost_s_ = 0;
  if (gen_->kind() == GenKind::loop && w.fps_offered > 0)
    gen_cost_s_ = w.gen_cpu_softirq_s / (w.fps_offered * w.seconds);
  return ceiling_;
}

void Bench::learn() {
  int rc =
      run({"ip", "netns", "exec", t_.sink_ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", t_.gen_ip},
          nullptr, 10);
  if (rc != 0) log("warning: ping through the switch failed (exit " + std::to_string(rc) + ")");
}

double Bench::gen_softirq_s() const {
  auto si = softirq_s();
  return t_.gen_cpu >= 0 && static_cast<std::size_t>(t_.gen_cpu) < si.size() ? si[t_.gen_cpu] : 0;
}

double Bench::cpu_now(const SwitchUnderTest* sw) const {
  if (sw == nullptr) return 0;
  auto pids = sw->pids();
  double s = 0;
  for (pid_t p : pids) s += process_cpu_s(p);
  auto si = softirq_s();
  for (std::size_t c = 0; c < si.size(); ++c)
    if (pids.empty() || static_cast<int>(c) != t_.switch_cpu) s += si[c];
  return s;
}

Window Bench::window(const SwitchUnderTest* sw, const GenPlace& place, const GenSettings& what,
                     double seconds) {
  GenRun gen(*gen_, place, what);
  sleep_s(o_.warmup);
  std::uint64_t off0 = gen_->offered();
  BenchBpf::Sink s0 = bpf_.sink();
  double c0 = cpu_now(sw), g0 = gen_softirq_s(), t0 = now_s();
  sleep_s(seconds);
  std::uint64_t off1 = gen_->offered();
  BenchBpf::Sink s1 = bpf_.sink();
  double c1 = cpu_now(sw), g1 = gen_softirq_s(), t1 = now_s();
  if (std::string e = gen_->error(); !e.empty()) throw std::runtime_error(e);
  Window w;
  w.seconds = t1 - t0;
  double off = static_cast<double>(off1 - off0), got = static_cast<double>(s1.frames - s0.frames);
  w.fps_offered = off / w.seconds;
  w.fps_delivered = got / w.seconds;
  w.loss = off > 0 ? std::max(0.0, 1 - got / off) : NAN;
  w.gen_cpu_softirq_s = g1 - g0;
  // The loop generator runs in softirq, which cpu_now() counts: its own cost comes off.
  w.cpu_s = std::max(0.0, c1 - c0 - (sw != nullptr ? gen_cost_s_ * off : 0.0));
  w.hist.resize(kHistBuckets);
  for (std::uint32_t b = 0; b < kHistBuckets; ++b) w.hist[b] = s1.hist[b] - s0.hist[b];
  return w;
}

// ---------------------------------------------------------------------------- the tests

void test_fps(Bench& b, SwitchUnderTest& sw, Sample& s) {
  const Options& o = b.options();
  // The later sinks first, so the first one (which the other tests use) ends attached.
  for (std::size_t i = o.sinks.size(); i-- > 0;) {
    if (b.sink() != o.sinks[i]) {
      b.attach_sink(o.sinks[i]);
      sleep_s(1.0);  // the switch notices the sink device's XDP program come or go
      b.learn();
    }
    Window w = b.window(&sw, b.place(), GenSettings{1, 63, o.rate}, o.duration);
    s.sink_delivered[o.sinks[i]] = w.fps_delivered;
    if (i != 0) continue;
    s.offered = w.fps_offered;
    s.delivered = w.fps_delivered;
    s.loss = w.loss;
    s.cpu_ns = w.fps_delivered > 0 ? w.cpu_s * 1e9 / (w.fps_delivered * w.seconds) : NAN;
    s.cpu_pct = w.cpu_s / w.seconds * 100;
    s.ovl_p50 = hist_percentile_us(w.hist, 0.5);
    s.ovl_p99 = hist_percentile_us(w.hist, 0.99);
    if (b.ceiling() > 0) s.gen_share = w.fps_offered / b.ceiling();
  }
}

void test_macs(Bench& b, SwitchUnderTest& sw, Sample& s) {
  const Options& o = b.options();
  for (std::uint32_t n : o.macs)
    s.macs[n] = b.window(&sw, b.place(), GenSettings{n, 63, o.rate}, o.duration).fps_delivered;
}

void test_latency(Bench& b, SwitchUnderTest& sw, Sample& s) {
  const Options& o = b.options();
  Window w =
      b.window(&sw, b.place(), GenSettings{1, 0, o.latency_rate}, std::max(1.0, o.duration / 2));
  s.lat_p50 = hist_percentile_us(w.hist, 0.5);
  s.lat_p99 = hist_percentile_us(w.hist, 0.99);
  s.lat_delivered = w.fps_delivered;
}

const std::vector<CompareTest>& compare_tests() {
  static const std::vector<CompareTest> tests = {
      {"fps", test_fps},
      {"macs", test_macs},
      {"latency", test_latency},
      {"tcp", test_tcp},
  };
  return tests;
}

std::vector<std::string> test_names() {
  std::vector<std::string> v;
  for (const auto& t : compare_tests()) v.emplace_back(t.name);
  v.emplace_back("mirror");
  v.emplace_back("tcp-ports");
  return v;
}

Sample measure(Bench& b, SwitchUnderTest& sw) {
  Sample s;
  b.learn();
  for (const auto& t : compare_tests())
    if (b.options().has(t.name)) t.run(b, sw, s);
  return s;
}

}  // namespace bench
