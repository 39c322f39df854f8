// xdp_traffic: the harness's BPF side, the programs of bpf/brisk_bench.c (see its header for
// what each program does; the frame layout is bpf/brisk_bench_abi.h).
//
// BenchBpf   loads the object once; its programs and maps are shared by the generator and
//            the sink (a program fd is not tied to a namespace; attaching is).
// LiveFramesGenerator  the "live" TrafficGenerator (generator.hpp): a thread pinned to one
//            CPU, inside the generator namespace, calling
//            BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on bench_gen in a loop: each
//            call runs the program `repeat` times on fresh copies of the 60-byte template and
//            transmits the frames out of the generator veth (XDP_TX). Unpaced (rate 0) it
//            offers as much as one CPU can produce; paced, it runs rate/1000 frames per
//            millisecond. The offered count is the program's own sequence counter.
// SinkCounters  snapshots of the sink's per-CPU counters and latency histogram; windows are
//            differences of two snapshots, so nothing is ever reset.
//
// Threads: the main thread owns BenchBpf and reads the maps; the generator thread only calls
// BPF_PROG_TEST_RUN and reads its atomics (stop_, rate_). Map reads race benignly with the
// programs' per-CPU increments (a snapshot may miss frames in flight, never double counts).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/generator.hpp"
#include "bpf/brisk_bench_abi.h"

struct bpf_object;

namespace bench {

constexpr std::uint32_t kHistBuckets = BENCH_HIST_BUCKETS;

class BenchBpf {
 public:
  explicit BenchBpf(const std::string& object_path);
  ~BenchBpf();
  BenchBpf(const BenchBpf&) = delete;
  BenchBpf& operator=(const BenchBpf&) = delete;

  int gen_fd() const { return gen_fd_; }
  int sink_fd() const { return sink_fd_; }
  int pass_fd() const { return pass_fd_; }
  int drop_fd() const { return drop_fd_; }
  int sink_tc_fd() const { return sink_tc_fd_; }
  int loop_fd() const { return loop_fd_; }
  int loop_back_fd() const { return loop_back_fd_; }
  int loop_devs_fd() const { return loop_devs_map_; }
  int count_all_fd() const { return count_all_fd_; }

  void set_gen_config(std::uint32_t nmacs, std::uint32_t stamp_mask);
  // Pacing of bench_gen: frames/s, 0 = unpaced. Kept across set_gen_config().
  void set_gen_rate(double fps);
  // bench_loop: true drops the circulating frames. Kept across the other setters.
  void set_loop_stop(bool stop);
  std::uint64_t offered() const;  // frames bench_gen produced, summed over CPUs

  struct Sink {
    std::uint64_t frames = 0, bytes = 0, stamped = 0;
    std::vector<std::uint64_t> hist = std::vector<std::uint64_t>(kHistBuckets);
  };
  Sink sink() const;
  // Frames bench_count_all counted (every frame, summed over CPUs).
  std::uint64_t counted_all() const;

 private:
  std::uint64_t percpu_sum(int map_fd, std::uint32_t key) const;
  bpf_object* obj_ = nullptr;
  int gen_fd_ = -1, sink_fd_ = -1, pass_fd_ = -1, drop_fd_ = -1, sink_tc_fd_ = -1,
      count_all_fd_ = -1, loop_fd_ = -1, loop_back_fd_ = -1, loop_devs_map_ = -1;
  int cfg_map_ = -1, st_map_ = -1, cnt_map_ = -1, hist_map_ = -1;
  int ncpus_ = 1;
  void write_gen_config();
  std::uint32_t nmacs_ = 1, stamp_mask_ = 63;
  std::uint64_t gap256_ = 0;
  std::uint32_t loop_stop_ = 0;
};

// Latency percentile (0..1) in microseconds from a histogram window; NaN when empty.
double hist_percentile_us(const std::vector<std::uint64_t>& hist, double q);

// Attach/detach an XDP program in native mode on a device inside namespace ns ("" = here).
void xdp_attach(const std::string& ns, const std::string& dev, int prog_fd);
void xdp_detach(const std::string& ns, const std::string& dev) noexcept;
// Attach a tc program (direct action) to the ingress of a device inside namespace ns, on a
// clsact qdisc made for it; tc_detach removes the qdisc, and with it the program.
void tc_attach(const std::string& ns, const std::string& dev, int prog_fd);
void tc_detach(const std::string& ns, const std::string& dev) noexcept;

// Pins the calling thread to cpu (-1: leaves it) and sets its nice value (0: leaves it).
void pin_thread(int cpu, int nice);

// The 60-byte UDP template: dst/src MAC, 198.18.0.1 -> 198.18.0.2, UDP 9 -> 9.
std::vector<std::uint8_t> make_template(const std::uint8_t dst_mac[6],
                                        const std::uint8_t src_mac[6]);

// The "live" generator. Each run is a thread pinned to the place's CPU inside its namespace;
// it stays inside ONE BPF_PROG_TEST_RUN call for the whole run (a repeat count it never
// reaches) and stop() ends it with SIGUSR1, which the kernel's test loop checks between
// batches (-EINTR). Short calls would leave the CPU idle: with repeat > 1 every call installs
// the program in the XDP dispatcher and removes it again, and each change waits for an RCU
// grace period (bpf_dispatcher_change_prog -> synchronize_rcu, 5-25 ms on the 2-core VMs
// here): with 65536 frames per call that was ~45% of the generator CPU's time spent idle.
// Paced, the generator's CPU spins (bench_gen drops the iterations whose frame is not due).
class LiveFramesGenerator final : public TrafficGenerator {
 public:
  explicit LiveFramesGenerator(BenchBpf& bpf) : bpf_(bpf) {}
  ~LiveFramesGenerator() override { stop(); }
  std::string name() const override { return "XDP live frames"; }
  GenKind kind() const override { return GenKind::live; }
  void start(const GenPlace& where, const GenSettings& what) override;
  void stop() noexcept override;
  std::string error() const override { return thread_.error(); }
  std::uint64_t offered() const override { return bpf_.offered(); }

 private:
  void loop(GenThread& t, const GenPlace& where);
  BenchBpf& bpf_;
  GenThread thread_;
};

}  // namespace bench
