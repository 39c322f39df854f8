#include "bench/harness/xdp_traffic.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "bench/harness/netns.hpp"

namespace bench {
namespace {

int prog_fd(bpf_object* obj, const char* name) {
  bpf_program* p = bpf_object__find_program_by_name(obj, name);
  if (p == nullptr) throw std::runtime_error(std::string("BPF program missing: ") + name);
  return bpf_program__fd(p);
}
int map_fd(bpf_object* obj, const char* name) {
  bpf_map* m = bpf_object__find_map_by_name(obj, name);
  if (m == nullptr) throw std::runtime_error(std::string("BPF map missing: ") + name);
  return bpf_map__fd(m);
}

std::uint16_t csum16(const std::uint8_t* p, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

}  // namespace

BenchBpf::BenchBpf(const std::string& path) {
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (obj_ == nullptr || libbpf_get_error(obj_) != 0) {
    obj_ = nullptr;
    throw std::runtime_error("cannot open BPF object " + path);
  }
  if (int rc = bpf_object__load(obj_); rc != 0) {
    bpf_object__close(obj_);
    obj_ = nullptr;
    throw std::runtime_error("cannot load BPF object " + path + ": " + strerror(-rc));
  }
  gen_fd_ = prog_fd(obj_, "bench_gen");
  sink_fd_ = prog_fd(obj_, "bench_sink");
  pass_fd_ = prog_fd(obj_, "bench_pass");
  drop_fd_ = prog_fd(obj_, "bench_drop");
  sink_tc_fd_ = prog_fd(obj_, "bench_sink_tc");
  loop_fd_ = prog_fd(obj_, "bench_loop");
  loop_back_fd_ = prog_fd(obj_, "bench_loop_back");
  loop_devs_map_ = map_fd(obj_, "bench_loop_devs");
  count_all_fd_ = prog_fd(obj_, "bench_count_all");
  cfg_map_ = map_fd(obj_, "bench_gen_cfg");
  st_map_ = map_fd(obj_, "bench_gen_st");
  cnt_map_ = map_fd(obj_, "bench_sink_cnt");
  hist_map_ = map_fd(obj_, "bench_lat_hist");
  ncpus_ = libbpf_num_possible_cpus();
  if (ncpus_ <= 0) ncpus_ = 1;
  set_gen_config(1, 63);
}

BenchBpf::~BenchBpf() {
  if (obj_ != nullptr) bpf_object__close(obj_);
}

void BenchBpf::set_gen_config(std::uint32_t nmacs, std::uint32_t stamp_mask) {
  nmacs_ = nmacs == 0 ? 1 : nmacs;
  stamp_mask_ = stamp_mask;
  write_gen_config();
}

void BenchBpf::set_gen_rate(double fps) {
  gap256_ = fps > 0 ? static_cast<std::uint64_t>(std::llround(256e9 / fps)) : 0;
  if (fps > 0 && gap256_ == 0) gap256_ = 1;
  write_gen_config();
}

void BenchBpf::set_loop_stop(bool stop) {
  loop_stop_ = stop ? 1 : 0;
  write_gen_config();
}

void BenchBpf::write_gen_config() {
  bench_gen_cfg c{nmacs_, stamp_mask_, gap256_, loop_stop_, 0};
  std::uint32_t k = 0;
  if (bpf_map_update_elem(cfg_map_, &k, &c, BPF_ANY) != 0)
    throw std::runtime_error("generator config update: " + std::string(strerror(errno)));
}

std::uint64_t BenchBpf::offered() const {
  std::vector<bench_gen_state> v(static_cast<std::size_t>(ncpus_));
  std::uint32_t k = 0;
  if (bpf_map_lookup_elem(st_map_, &k, v.data()) != 0) return 0;
  std::uint64_t s = 0;
  for (const auto& x : v) s += x.seq;
  return s;
}

std::uint64_t BenchBpf::percpu_sum(int fd, std::uint32_t key) const {
  std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpus_));
  if (bpf_map_lookup_elem(fd, &key, v.data()) != 0) return 0;
  std::uint64_t s = 0;
  for (auto x : v) s += x;
  return s;
}

BenchBpf::Sink BenchBpf::sink() const {
  Sink s;
  s.frames = percpu_sum(cnt_map_, BENCH_CNT_FRAMES);
  s.bytes = percpu_sum(cnt_map_, BENCH_CNT_BYTES);
  s.stamped = percpu_sum(cnt_map_, BENCH_CNT_STAMPED);
  for (std::uint32_t b = 0; b < kHistBuckets; ++b) s.hist[b] = percpu_sum(hist_map_, b);
  return s;
}

std::uint64_t BenchBpf::counted_all() const { return percpu_sum(cnt_map_, BENCH_CNT_ALL); }

double hist_percentile_us(const std::vector<std::uint64_t>& hist, double q) {
  std::uint64_t total = 0;
  for (auto c : hist) total += c;
  if (total == 0) return std::nan("");
  auto target = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  if (target == 0) target = 1;
  std::uint64_t acc = 0;
  for (std::uint32_t b = 0; b < hist.size(); ++b) {
    acc += hist[b];
    if (acc >= target) {
      if (b < 8) return b / 1000.0;
      std::uint32_t m = b / 8, sub = b % 8;
      double lo = std::ldexp(8.0 + sub, static_cast<int>(m) - 3);
      double width = std::ldexp(1.0, static_cast<int>(m) - 3);
      return (lo + width / 2) / 1000.0;  // bucket midpoint, ns -> us
    }
  }
  return std::nan("");
}

void xdp_attach(const std::string& ns, const std::string& dev, int fd) {
  NetnsScope scope(ns);
  int idx = ifindex_in("", dev);  // inside the namespace, which the call below needs too
  if (int rc = bpf_xdp_attach(idx, fd, XDP_FLAGS_DRV_MODE, nullptr); rc != 0)
    throw std::runtime_error("attach XDP to " + dev + ": " + strerror(-rc));
}

void xdp_detach(const std::string& ns, const std::string& dev) noexcept {
  try {
    NetnsScope scope(ns);
    int idx = static_cast<int>(if_nametoindex(dev.c_str()));
    if (idx == 0) return;
    bpf_xdp_detach(idx, XDP_FLAGS_DRV_MODE, nullptr);
    bpf_xdp_detach(idx, XDP_FLAGS_SKB_MODE, nullptr);
  } catch (...) {
  }
}

void tc_attach(const std::string& ns, const std::string& dev, int fd) {
  NetnsScope scope(ns);
  int idx = ifindex_in("", dev);  // inside the namespace, which the call below needs too
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = BPF_TC_INGRESS);
  if (int rc = bpf_tc_hook_create(&hook); rc != 0 && rc != -EEXIST)
    throw std::runtime_error("clsact qdisc on " + dev + ": " + strerror(-rc));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd);
  if (int rc = bpf_tc_attach(&hook, &opts); rc != 0)
    throw std::runtime_error("attach tc program to " + dev + ": " + strerror(-rc));
}

void tc_detach(const std::string& ns, const std::string& dev) noexcept {
  try {
    NetnsScope scope(ns);
    int idx = static_cast<int>(if_nametoindex(dev.c_str()));
    if (idx == 0) return;
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx,
                .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    bpf_tc_hook_destroy(&hook);
  } catch (...) {
  }
}

std::vector<std::uint8_t> make_template(const std::uint8_t dst[6], const std::uint8_t src[6]) {
  std::vector<std::uint8_t> f(BENCH_FRAME_LEN, 0);
  std::memcpy(&f[0], dst, 6);
  std::memcpy(&f[6], src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  std::uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[3] = 46;  // total length: 20 + 8 + 18
  ip[8] = 64;  // TTL
  ip[9] = 17;  // UDP
  const std::uint8_t sip[4] = {198, 18, 0, 1}, dip[4] = {198, 18, 0, 2};
  std::memcpy(ip + 12, sip, 4);
  std::memcpy(ip + 16, dip, 4);
  std::uint16_t c = csum16(ip, 20);
  ip[10] = static_cast<std::uint8_t>(c >> 8);
  ip[11] = static_cast<std::uint8_t>(c);
  std::uint8_t* udp = &f[34];
  udp[1] = BENCH_UDP_PORT;  // source port: discard too
  udp[3] = BENCH_UDP_PORT;
  udp[5] = 26;  // UDP length: 8 + 18; checksum 0 (none)
  return f;
}

namespace {

// One BPF_PROG_TEST_RUN call in live-frames mode on `frame`, as if received on ifindex.
struct LiveFramesCall {
  xdp_md ctx{};
  bpf_test_run_opts opts{};
  LiveFramesCall(const std::vector<std::uint8_t>& frame, int ifindex) {
    ctx.data_end = static_cast<std::uint32_t>(frame.size());
    ctx.ingress_ifindex = static_cast<std::uint32_t>(ifindex);
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<std::uint32_t>(frame.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    opts.batch_size = 64;
  }
  // 0, or -1 with errno.
  int run(int prog_fd, std::uint32_t repeat) {
    opts.repeat = repeat;
    return bpf_prog_test_run_opts(prog_fd, &opts);
  }
};

}  // namespace

std::string live_frames_refusal(const BenchBpf& bpf, const std::string& ns,
                                const std::string& dev) {
  NetnsScope scope(ns);
  int idx = ifindex_in("", dev);  // inside the namespace, which the call below needs too
  std::vector<std::uint8_t> frame(BENCH_FRAME_LEN, 0);
  LiveFramesCall call(frame, idx);
  if (call.run(bpf.drop_fd(), 1) != 0) return strerror(errno);
  return {};
}

void LiveFramesGenerator::start(const GenPlace& where, const GenSettings& what) {
  stop();
  bpf_.set_gen_config(what.nmacs, what.stamp_mask);
  bpf_.set_gen_rate(what.rate_fps);
  // SIGUSR1 interrupts the generator thread's BPF_PROG_TEST_RUN (see the header). No
  // SA_RESTART: the call must return EINTR, not restart.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
  });
  thread_.start([this, where](GenThread& t) { loop(t, where); });
}

void LiveFramesGenerator::stop() noexcept {
  // Signal until the thread has left: one sent between its stopping() check and its next
  // call would be lost, and the call would then run for its whole repeat count.
  thread_.stop([](std::thread& t) { pthread_kill(t.native_handle(), SIGUSR1); });
}

void LiveFramesGenerator::loop(GenThread& t, const GenPlace& where) {
  NetnsScope scope(where.ns);
  pin_thread(where.cpu, where.nice);
  int idx = ifindex_in("", where.dev);  // throws: GenThread reports it
  LiveFramesCall call(where.frame, idx);
  bool first = true;
  while (!t.stopping()) {
    // A short first call reports errors (and the start) at once; then one call for the rest
    // of the run, ended by stop()'s signal.
    if (call.run(bpf_.gen_fd(), first ? 64 : 0xffffffffu) != 0) {
      if (errno == EINTR) continue;  // stop()'s signal (or a stray one): stopping() decides
      return t.fail("BPF_PROG_TEST_RUN (live frames) on " + where.dev + ": " + strerror(errno));
    }
    if (first) {
      first = false;
      t.running();
    }
  }
  if (first) t.running();
}

void pin_thread(int cpu, int nice) {
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  if (nice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
}

}  // namespace bench
