#include "bench/harness/generator.hpp"

#include <time.h>

#include <stdexcept>

#include "bench/harness/gen_afxdp.hpp"
#include "bench/harness/gen_loop.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {

GenKind parse_gen_kind(const std::string& s) {
  if (s == "auto") return GenKind::automatic;
  if (s == "live") return GenKind::live;
  if (s == "loop") return GenKind::loop;
  if (s == "afxdp") return GenKind::afxdp;
  throw std::invalid_argument("unknown generator '" + s + "' (auto, live, loop, afxdp)");
}

const char* gen_kind_name(GenKind k) {
  switch (k) {
    case GenKind::automatic:
      return "auto";
    case GenKind::live:
      return "live";
    case GenKind::loop:
      return "loop";
    case GenKind::afxdp:
      return "afxdp";
  }
  return "?";
}

void GenThread::start(std::function<void(GenThread&)> body) {
  stop();
  stop_.store(false, std::memory_order_relaxed);
  done_.store(false, std::memory_order_relaxed);
  state_.store(kStarting, std::memory_order_relaxed);
  thread_ = std::thread([this, body = std::move(body)] {
    try {
      body(*this);
    } catch (const std::exception& e) {
      fail(e.what());
    }
    if (state_.load(std::memory_order_relaxed) == kStarting) fail("the generator thread ended");
    done_.store(true, std::memory_order_release);
  });
  while (state_.load(std::memory_order_acquire) == kStarting) {
    timespec ts{0, 1'000'000};
    nanosleep(&ts, nullptr);
  }
  if (state_.load(std::memory_order_acquire) == kFailed) {
    thread_.join();
    throw std::runtime_error("generator: " + error_);
  }
}

void GenThread::stop(const std::function<void(std::thread&)>& nudge) noexcept {
  stop_.store(true, std::memory_order_relaxed);
  if (!thread_.joinable()) return;
  while (nudge && !done_.load(std::memory_order_acquire)) {
    nudge(thread_);
    timespec ts{0, 2'000'000};
    nanosleep(&ts, nullptr);
  }
  thread_.join();
}

void GenThread::fail(const std::string& e) {
  if (state_.load(std::memory_order_relaxed) == kFailed) return;  // keep the first error
  error_ = e;
  state_.store(kFailed, std::memory_order_release);
}

std::string GenThread::error() const {
  return state_.load(std::memory_order_acquire) == kFailed ? error_ : std::string();
}

std::unique_ptr<TrafficGenerator> make_generator(GenKind k, BenchBpf& bpf, const LoopDevs& loop) {
  switch (k) {
    case GenKind::live:
      return std::make_unique<LiveFramesGenerator>(bpf);
    case GenKind::loop:
      return std::make_unique<LoopGenerator>(bpf, loop);
    case GenKind::afxdp:
      return std::make_unique<AfXdpGenerator>();
    case GenKind::automatic:
      break;
  }
  throw std::logic_error("make_generator: resolve GenKind::automatic first");
}

}  // namespace bench
