// generator: the harness's traffic generators behind one interface. A generator sends the
// 64-byte UDP frames of bpf/brisk_bench_abi.h out of a veth end inside a namespace, from a
// thread pinned to one CPU, unpaced (as fast as that CPU goes) or paced to a frame rate; the
// sink (bench_sink, XDP or tc) counts them at the other end of the topology.
//
//   live   XDP live frames: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on bench_gen
//          (xdp_traffic.hpp). The fastest (the kernel builds and transmits frames without a
//          syscall per batch), but some kernels refuse the mode (EPERM).
//   loop   an XDP loop (gen_loop.cpp): a few frames circulate between the two ends of a veth
//          pair of the generator namespace, in the kernel's softirq on the generator CPU; each
//          turn writes the frame as bench_gen does and broadcasts it (a devmap with
//          BPF_F_BROADCAST) back into the loop and out of the generator device. No live
//          frames, no syscalls per frame.
//   afxdp  AF_XDP transmit (gen_afxdp.cpp): a TX-only XDP socket in copy mode on the veth end,
//          frames written in a UMEM by the thread and handed to the kernel 32 per sendto().
//          Needs nothing but AF_XDP, which briskd itself needs.
//
// GenKind::automatic picks live when the kernel allows it (live_frames_refusal() probes it
// with one test run), else loop, else afxdp (the loop's first run fails when the kernel
// cannot broadcast); the harness prints the reason once.
//
// Threads: the harness's main thread calls every method; each generator runs one thread of
// its own between start() and stop(). offered() may be read while it runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace bench {

class BenchBpf;

enum class GenKind { automatic, live, loop, afxdp };
// "auto", "live", "loop", "afxdp" <-> GenKind; parse_gen_kind throws std::invalid_argument.
GenKind parse_gen_kind(const std::string& s);
const char* gen_kind_name(GenKind k);

// Where a generator sends from: a device inside namespace ns, from a thread pinned to cpu
// (-1: not pinned) with this nice value, the template `frame` (make_template()).
struct GenPlace {
  std::string ns, dev;
  int cpu = -1;
  int nice = 0;
  std::vector<std::uint8_t> frame;
};

// What one run sends: source MACs cycled through, which frames carry a timestamp
// ((seq & stamp_mask) == 0; 0 = every frame), and the rate (0 = unpaced).
struct GenSettings {
  std::uint32_t nmacs = 1;
  std::uint32_t stamp_mask = 63;
  double rate_fps = 0;
};

class TrafficGenerator {
 public:
  virtual ~TrafficGenerator() = default;
  // For reports: "XDP live frames", "AF_XDP TX (copy mode)".
  virtual std::string name() const = 0;
  virtual GenKind kind() const = 0;
  // Starts a run; throws std::runtime_error when the first frames cannot be sent. At most
  // one run at a time.
  virtual void start(const GenPlace& where, const GenSettings& what) = 0;
  // Ends the run (joins its thread); a no-op when none runs.
  virtual void stop() noexcept = 0;
  // Non-empty once the running (or last) run has failed: the first error.
  virtual std::string error() const = 0;
  // Frames handed to the device so far, over every run of this generator (windows are
  // differences of two readings).
  virtual std::uint64_t offered() const = 0;
};

// The thread of one run, for the generators that send from a thread of their own (live,
// afxdp). start() runs body on a new thread and returns once the body has called running(),
// or throws "generator: <error>" once it has called fail() (or returned without either).
// stop() raises stopping(), calls nudge every 2 ms until the body has returned (the live
// generator signals its thread out of a system call), and joins.
// Ordering: error_ is written by the thread before state_ = failed (release) and read after
// an acquire load; stop_ is a flag with no data behind it (relaxed).
class GenThread {
 public:
  GenThread() = default;
  ~GenThread() { stop(); }
  GenThread(const GenThread&) = delete;
  GenThread& operator=(const GenThread&) = delete;

  void start(std::function<void(GenThread&)> body);
  void stop(const std::function<void(std::thread&)>& nudge = {}) noexcept;
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  void running() { state_.store(kRunning, std::memory_order_release); }
  void fail(const std::string& e);
  // The first error of the current (or last) run, or "".
  std::string error() const;

 private:
  enum : int { kStarting, kRunning, kFailed };
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};  // the body has returned (release)
  std::atomic<int> state_{kStarting};
  std::string error_;
  std::thread thread_;
};

// A run for the length of a scope.
class GenRun {
 public:
  GenRun(TrafficGenerator& g, const GenPlace& where, const GenSettings& what) : g_(g) {
    g_.start(where, what);
  }
  ~GenRun() { g_.stop(); }
  GenRun(const GenRun&) = delete;
  GenRun& operator=(const GenRun&) = delete;

 private:
  TrafficGenerator& g_;
};

// Empty when the kernel runs XDP live frames on `dev` in `ns`; else why not (strerror). One
// test run of bench_drop: nothing is sent.
std::string live_frames_refusal(const BenchBpf& bpf, const std::string& ns, const std::string& dev);

// The loop generator's veth pair: both ends in namespace ns, made by the testbed.
struct LoopDevs {
  std::string ns, a, b;  // bench_loop_back on a, bench_loop on b
};

// The generator of kind k (automatic must have been resolved by the caller).
std::unique_ptr<TrafficGenerator> make_generator(GenKind k, BenchBpf& bpf, const LoopDevs& loop);

}  // namespace bench
