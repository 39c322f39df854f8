// Metrics: Prometheus metrics over HTTP (`briskd --metrics ADDR:PORT`, off by default), served
// at /metrics by prometheus-cpp's Exposer (civetweb): per-port counters, drops by reason (per
// port and in total), the drivers' own figures (Port::describe(): AF_XDP socket counters,
// vhost-user offloads, ...), FDB sizes and limits, learning and state-store figures. Every
// figure comes from the typed views (control/views.hpp), as the `port` and `stats` listings do.
//
// Threads, and who owns what:
//   * The Exposer's threads (civetweb's; kMetricsThreads of them) accept and serve HTTP, one
//     connection per thread at a time. A slow or stuck scraper holds one of them (civetweb's
//     request timeout: kMetricsRequestTimeoutMs) and no one else: not the workers, not the
//     control thread, not another scraper while a thread is free. Unknown paths get civetweb's
//     404.
//   * A scrape calls MetricsCollector::Collect() on an Exposer thread. It needs the Switch, which
//     only the control thread may read, so it asks the control thread through the
//     MetricsChannel: under the channel's mutex it numbers its request and writes the channel's
//     eventfd, which the control thread's loop watches (Server::watch, the same loop that serves
//     the control socket and the OVSDB client); then it waits on the channel's condition
//     variable, at most kCollectTimeout. The control thread, between two commands, reads the
//     eventfd, builds a MetricsSnapshot (the views: copies of figures, relaxed loads of the
//     workers' counters as `stats` does) without holding the mutex, then stores it (a
//     shared_ptr to an immutable snapshot) and the number of the newest request it answers under
//     the mutex and wakes the waiters. The scrape turns the snapshot into metric families on its
//     own thread. So the Switch is only ever read by the control thread, the workers take no lock
//     and see no difference, and formatting and sending cost the control thread nothing.
//   * A request not answered within kCollectTimeout (the control thread busy with a long
//     command) is served without the switch's families: brisk_metrics_snapshot 0 says so.
//   * Debian's civetweb formats the Date header of its answers with gmtime() (a static buffer):
//     two Exposer threads answering at once may garble each other's Date (ThreadSanitizer builds
//     suppress that race of civetweb's, metrics.cpp). Nothing of brisk's is shared there.
//   * Shutdown (control thread): MetricsServer's destructor closes the channel (waiters return at
//     once, later requests get no snapshot), then stops the Exposer (joins its threads), then
//     frees the collector; the loop no longer serves the eventfd by then.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "control/switch.hpp"
#include "control/views.hpp"

namespace prometheus {
class Exposer;
struct MetricFamily;
}  // namespace prometheus

namespace brisk {

inline constexpr std::size_t kMetricsThreads = 4;
inline constexpr int kMetricsRequestTimeoutMs = 5000;
inline constexpr std::chrono::milliseconds kCollectTimeout{5000};

// A figure briskd adds to the switch's (the state store's).
struct ExtraMetric {
  std::string name, help;
  bool counter = false;  // else a gauge
  std::uint64_t value = 0;
};
// Control thread: the extra figures now.
using MetricsExtra = std::function<std::vector<ExtraMetric>()>;

// What one scrape shows, copied from the switch by the control thread.
struct MetricsSnapshot {
  std::vector<PortView> ports;
  StatsView stats;  // switch-wide: drops, learning, FDBs
  std::vector<ExtraMetric> extra;
};

// Control thread: the snapshot of `sw` now (no walk of the fast path's FDB map).
MetricsSnapshot metrics_snapshot(const Switch& sw, const MetricsExtra& extra = nullptr);
// Any thread: the metric families of a snapshot (nullptr: none came), and their exposition text.
std::vector<prometheus::MetricFamily> metric_families(const MetricsSnapshot* s);
std::string metrics_text(const MetricsSnapshot& s);

// The scrapes' way to the control thread (see the header comment).
class MetricsChannel {
 public:
  // `build` runs on the control thread, in serve().
  explicit MetricsChannel(std::function<MetricsSnapshot()> build);
  ~MetricsChannel();
  MetricsChannel(const MetricsChannel&) = delete;
  MetricsChannel& operator=(const MetricsChannel&) = delete;

  // The eventfd the control thread's loop polls; serve() when it is readable.
  int fd() const { return fd_; }
  // Control thread: answer every request made so far with a new snapshot.
  void serve();
  // Control thread: no more snapshots; waiting requests return nullptr now.
  void close();
  // Any thread but the control thread: a snapshot made after this call, or nullptr after
  // `timeout` or once closed.
  std::shared_ptr<const MetricsSnapshot> request(std::chrono::milliseconds timeout);

 private:
  std::function<MetricsSnapshot()> build_;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::uint64_t requested_ = 0;  // requests numbered so far
  std::uint64_t served_ = 0;     // the newest request snapshot_ answers
  std::shared_ptr<const MetricsSnapshot> snapshot_;
  bool closed_ = false;
};

class MetricsServer {
 public:
  // The snapshot is built from `sw` (and `extra`) on the control thread.
  MetricsServer(const Switch& sw, MetricsExtra extra);
  ~MetricsServer();
  // Listen on "127.0.0.1:9480" (an IPv4 address and a port; 0 picks one). Returns "" or an
  // error.
  std::string listen(const std::string& addr);
  // The TCP port listened on (0: not listening).
  int port() const;
  // The control thread's loop serves this: Server::watch(channel().fd(), [&] { serve(); }).
  MetricsChannel& channel() { return *channel_; }

 private:
  struct Collector;
  std::unique_ptr<MetricsChannel> channel_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace brisk
