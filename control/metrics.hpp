// Metrics: a Prometheus text-format endpoint (`briskd --metrics 127.0.0.1:PORT`, off by
// default) with per-port counters, per-drop-reason counters (per port and in total), FDB
// sizes and limits, learning and state-store figures.
//
// Threading: served from the control thread, by its loop (Server::serve with service()),
// because the port names and bridges live in the Switch, which only the control thread may
// read. The counters are read exactly like `stats` reads them (relaxed loads of the workers'
// counters, summed): workers take no lock and see no difference. Connections are served like
// the control socket's (control/server.hpp): non-blocking, many at once, so a slow or stuck
// scraper delays no one; a request must arrive within 5 s (else 408), its headers are at
// most 8 KiB (else 431), at most 16 scrapes are open at once (else 503), and an answer not
// taken within 10 s is dropped.
//
// HTTP: GET /metrics (or /) answers 200 with `text/plain; version=0.0.4`; other paths 404;
// one request per connection (HTTP/1.0 style, Connection: close).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "control/server.hpp"
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
  // How the control thread's loop serves the listening socket: Server::serve(fd(), service()).
  Service service();
  // The HTTP response to one request's header (without the blank line that ends it).
  std::string answer(std::string_view request) const;

 private:
  const Switch& sw_;
  MetricsExtra extra_;
  int fd_ = -1;
};

}  // namespace brisk
