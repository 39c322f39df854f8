#include "datapath/worker.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

namespace brisk {

Datapath::Datapath(unsigned workers, std::vector<int> cpus, PollMode mode)
    : cpus_(std::move(cpus)), mode_(mode) {
  if (workers == 0 || workers > kMaxWorkers)
    throw std::invalid_argument("workers must be 1.." + std::to_string(kMaxWorkers));
  for (unsigned w = 0; w < workers; ++w) {
    ctx_.push_back(std::make_unique<WorkerContext>(w));
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    wake_fds_.push_back(fd);
  }
}

Datapath::~Datapath() {
  stop();
  for (int fd : wake_fds_) ::close(fd);
}

void Datapath::start() {
  stop_.store(false);
  for (unsigned w = 0; w < ctx_.size(); ++w) {
    threads_.emplace_back([this, w] { run(w); });
    if (!cpus_.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpus_[w % cpus_.size()], &set);
      pthread_setaffinity_np(threads_.back().native_handle(), sizeof(set), &set);
    }
    std::string name = "brisk-w" + std::to_string(w);
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
  }
}

void Datapath::stop() {
  stop_.store(true);
  for (unsigned w = 0; w < threads_.size(); ++w) wake(w);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Datapath::publish(std::unique_ptr<Snapshot> s) {
  snapshots_.publish(std::move(s));
  for (unsigned w = 0; w < ctx_.size(); ++w) wake(w);
}

void Datapath::wake(unsigned w) {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fds_[w], &one, sizeof(one));
}

void Datapath::run(unsigned w) {
  WorkerContext& ctx = *ctx_[w];
  unsigned idle = 0;
  // Per-port idle backoff: a port that had nothing is skipped for 1, 2, 4 ... up to
  // kMaxPortSkip loop rounds (reset by its next frame, and after every sleep). An idle tap
  // costs a read(2) per poll; without this, one idle tap next to a busy AF_XDP port took a
  // quarter of the worker's time. A busy port's ring absorbs the few rounds it is skipped.
  std::vector<std::uint8_t> skip(kMaxPorts, 0), backoff(kMaxPorts, 0);
  qsbr_.online(w);
  while (!stop_.load(std::memory_order_relaxed)) {
    const Snapshot* snap = snapshots_.current();
    ctx.now = clock_.load(std::memory_order_relaxed);
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
    ctx.now_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
                 static_cast<std::uint64_t>(ts.tv_nsec);
    std::uint32_t work = 0;
    pollfd fds[kMaxPorts + 1];
    nfds_t nfds = 0;
    bool can_sleep = mode_ == PollMode::kAdaptive;
    if (snap != nullptr && w < snap->rx_by_worker.size()) {
      for (PortId p : snap->rx_by_worker[w]) {
        Port* port = snap->ports[p].port;
        if (port->failed()) continue;
        if (skip[p] != 0) {
          --skip[p];
          continue;
        }
        std::uint32_t got = poll_port(ctx, *snap, p);
        if (got != 0) {
          backoff[p] = 0;
          work += got;
        } else {
          backoff[p] = static_cast<std::uint8_t>(
              std::min<unsigned>(kMaxPortSkip, backoff[p] == 0 ? 1u : 2u * backoff[p]));
          skip[p] = backoff[p];
        }
      }
      if (work == 0 && can_sleep && idle + 1 >= kIdleSpins) {
        for (PortId p : snap->rx_by_worker[w]) {
          Port* port = snap->ports[p].port;
          if (port->failed()) continue;
          int fd = port->wait_fd();
          if (fd < 0) can_sleep = false;
          fds[nfds++] = pollfd{fd, POLLIN, 0};
        }
      }
    }
    qsbr_.quiescent(w);  // `snap` must not be used past this point
    if (work != 0) {
      idle = 0;
      continue;
    }
    if (++idle < kIdleSpins || !can_sleep) {
      if (idle % 64 == 0) sched_yield();
      continue;
    }
    idle = 0;
    ctx.counters.worker.idle_sleeps.add(1);
    fds[nfds++] = pollfd{wake_fds_[w], POLLIN, 0};
    qsbr_.offline(w);
    ::poll(fds, nfds, 100);
    std::uint64_t v;
    [[maybe_unused]] ssize_t r = ::read(wake_fds_[w], &v, sizeof(v));
    qsbr_.online(w);
    std::fill(skip.begin(), skip.end(), 0);  // after a sleep, poll every port at once
    std::fill(backoff.begin(), backoff.end(), 0);
  }
  qsbr_.offline(w);
}

}  // namespace brisk
