// Metrics: a Prometheus text-format endpoint (`briskd --metrics 127.0.0.1:PORT`, off by
// default) with per-port counters, per-drop-reason counters (per port and in total), FDB
// sizes and limits, learning and state-store figures.
//
// Threading: served from the control thread (Server::watch on the listening socket), because
// the port names and bridges live in the Switch, which only the control thread may read. The
// counters are read exactly like `stats` reads them (relaxed loads of the workers' counters,
// summed): workers take no lock and see no difference. A scrape is bounded: the request must
// arrive within 200 ms and the answer is written with a 500 ms send timeout, so a stuck
// client delays the control loop by well under a second, once.
//
// HTTP: GET /metrics (or /) answers 200 with `text/plain; version=0.0.4`; other paths 404;
// one request per connection (HTTP/1.0 style, Connection: close).
#pragma once

#include <functional>
#include <string>

#include "control/switch.hpp"

namespace brisk {

// Extra lines (already in exposition format) appended to the Switch's metrics.
using MetricsExtra = std::function<std::string()>;

// The exposition text for the switch's current counters.
std::string metrics_text(const Switch& sw, const MetricsExtra& extra = nullptr);

class MetricsServer {
 public:
  MetricsServer(const Switch& sw, MetricsExtra extra) : sw_(sw), extra_(std::move(extra)) {}
  ~MetricsServer();
  // "127.0.0.1:9480" (IPv4 address and port). Returns "" or an error.
  std::string listen(const std::string& addr);
  int fd() const { return fd_; }
  // Accept and answer the waiting connections (control thread).
  void serve();

 private:
  void answer(int c);
  const Switch& sw_;
  MetricsExtra extra_;
  int fd_ = -1;
};

}  // namespace brisk
