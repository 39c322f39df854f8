#include "control/metrics.hpp"

#include <arpa/inet.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace brisk {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void sample(MetricFamily& f, Labels labels, std::uint64_t v) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter)
    m.counter.value = static_cast<double>(v);
  else
    m.gauge.value = static_cast<double>(v);
  f.metric.push_back(std::move(m));
}

// Per port: traffic, MTU, drops by reason, and the driver's own figures.
void port_families(const std::vector<PortView>& ports, std::vector<MetricFamily>& out) {
  using T = MetricType;
  MetricFamily rxf =
      family("brisk_port_rx_frames_total", "Frames received on the port.", T::Counter);
  MetricFamily rxb = family("brisk_port_rx_bytes_total", "Bytes received on the port.", T::Counter);
  MetricFamily txf = family("brisk_port_tx_frames_total", "Frames sent on the port.", T::Counter);
  MetricFamily txb = family("brisk_port_tx_bytes_total", "Bytes sent on the port.", T::Counter);
  MetricFamily seg =
      family("brisk_port_tx_segmented_total",
             "GSO super-frames brisk cut into segments because the port cannot take them whole.",
             T::Counter);
  MetricFamily csum =
      family("brisk_port_tx_csum_completed_total",
             "Partial checksums brisk completed because the port cannot take them.", T::Counter);
  MetricFamily mtu = family("brisk_port_mtu", "The MTU of the port's device (0: none).", T::Gauge);
  MetricFamily drops = family("brisk_port_drops_total",
                              "Frames dropped, by the port charged and the reason.", T::Counter);
  MetricFamily xsk =
      family("brisk_port_xsk_total",
             "An AF_XDP port's socket counters: the kernel's (XDP_STATISTICS), by counter, and the "
             "frames brisk's transmit refused (tx_refused); the lost frames among them are also in "
             "brisk_port_drops_total (reasons xsk_*).",
             T::Counter);
  MetricFamily fast = family(
      "brisk_port_fastpath_frames_total",
      "Frames the XDP fast path carried for the port, by what it did: rx and tx (also in "
      "brisk_port_rx/tx_frames_total), encap and decap (a VXLAN tunnel's, also in tx and rx).",
      T::Counter);
  MetricFamily drv =
      family("brisk_port_driver_total",
             "A port driver's own counters, by counter (the `port` listing's).", T::Counter);
  MetricFamily drvg = family("brisk_port_driver",
                             "A port driver's own gauges and flags (1: yes), by figure.", T::Gauge);
  for (const PortView& p : ports) {
    const PortTotals& t = p.totals;
    const Labels l = {
        {"port", p.name}, {"bridge", p.bridge}, {"kind", std::string(port_kind_name(p.kind))}};
    sample(rxf, l, t.rx_frames);
    sample(rxb, l, t.rx_bytes);
    sample(txf, l, t.tx_frames);
    sample(txb, l, t.tx_bytes);
    sample(seg, l, t.tx_segmented);
    sample(csum, l, t.tx_csum_completed);
    sample(mtu, l, p.mtu);
    for (std::size_t i = 0; i < kDropCount; ++i)
      sample(drops,
             {{"port", p.name}, {"bridge", p.bridge}, {"reason", std::string(kDropNames[i])}},
             t.drops[i]);
    const FastpathCounters& fc = p.fastpath;
    for (const auto& [what, v] : {std::pair{"rx", fc.rx_frames}, std::pair{"tx", fc.tx_frames},
                                  std::pair{"encap", fc.encap}, std::pair{"decap", fc.decap}})
      sample(fast, {{"port", p.name}, {"path", what}}, v);
    for (const DriverFigure& f : p.figures) {
      if (f.type == DriverFigure::Type::kText) continue;
      const std::string name = f.group.empty() ? f.name : f.group + "_" + f.name;
      if (f.group == "xsk")
        sample(xsk, {{"port", p.name}, {"counter", f.name}}, f.value);
      else if (f.type == DriverFigure::Type::kCounter)
        sample(drv, {{"port", p.name}, {"counter", name}}, f.value);
      else
        sample(drvg, {{"port", p.name}, {"figure", name}}, f.value);
    }
  }
  for (auto* f : {&rxf, &rxb, &txf, &txb, &seg, &csum, &mtu, &drops, &xsk, &fast, &drv, &drvg})
    out.push_back(std::move(*f));
}

// Switch-wide: drops by reason, FDBs, ports by kind, learning.
void switch_families(const MetricsSnapshot& s, std::vector<MetricFamily>& out) {
  using T = MetricType;
  MetricFamily drops =
      family("brisk_drops_total", "Frames dropped on all ports, by reason.", T::Counter);
  for (std::size_t i = 0; i < kDropCount; ++i)
    sample(drops, {{"reason", std::string(kDropNames[i])}}, s.stats.drops[i]);
  MetricFamily entries = family("brisk_fdb_entries", "Entries in the bridge's FDB.", T::Gauge);
  MetricFamily limit = family("brisk_fdb_limit", "Capacity limit of the bridge's FDB.", T::Gauge);
  MetricFamily ageing =
      family("brisk_fdb_ageing_seconds", "FDB ageing time (0: hub mode).", T::Gauge);
  for (const BridgeView& b : s.stats.bridges) {
    sample(entries, {{"bridge", b.name}}, b.fdb_entries);
    sample(limit, {{"bridge", b.name}}, b.fdb_limit);
    sample(ageing, {{"bridge", b.name}}, b.ageing);
  }
  MetricFamily kinds = family("brisk_ports", "Ports, by bridge and kind.", T::Gauge);
  std::map<std::pair<std::string, std::string_view>, std::uint64_t> n;
  for (const PortView& p : s.ports) ++n[{p.bridge, port_kind_name(p.kind)}];
  for (const auto& [k, count] : n)
    sample(kinds, {{"bridge", k.first}, {"kind", std::string(k.second)}}, count);
  MetricFamily lr =
      family("brisk_learn_requests_total", "Learn requests sent by the workers.", T::Counter);
  sample(lr, {}, s.stats.learn_requests);
  MetricFamily lrf =
      family("brisk_learn_ring_full_total", "Learn requests lost to a full ring.", T::Counter);
  sample(lrf, {}, s.stats.learn_ring_full);
  MetricFamily la =
      family("brisk_learn_applied_total", "Learn requests applied to an FDB.", T::Counter);
  sample(la, {}, s.stats.learn_applied);
  for (auto* f : {&drops, &entries, &limit, &ageing, &kinds, &lr, &lrf, &la})
    out.push_back(std::move(*f));
}

}  // namespace

MetricsSnapshot metrics_snapshot(const Switch& sw, const MetricsExtra& extra) {
  MetricsSnapshot s;
  s.ports = sw.port_views();
  s.stats = sw.stats_view("", /*fastpath_fdb=*/false);
  if (extra) s.extra = extra();
  return s;
}

std::vector<MetricFamily> metric_families(const MetricsSnapshot* s) {
  std::vector<MetricFamily> out;
  MetricFamily up = family("brisk_metrics_snapshot",
                           "1: the control thread answered this scrape; 0: it did not within "
                           "5 s (busy), and the switch's figures are left out.",
                           MetricType::Gauge);
  sample(up, {}, s != nullptr ? 1 : 0);
  out.push_back(std::move(up));
  if (s == nullptr) return out;
  port_families(s->ports, out);
  switch_families(*s, out);
  for (const ExtraMetric& e : s->extra) {
    MetricFamily f = family(e.name, e.help, e.counter ? MetricType::Counter : MetricType::Gauge);
    sample(f, {}, e.value);
    out.push_back(std::move(f));
  }
  return out;
}

std::string metrics_text(const MetricsSnapshot& s) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metric_families(&s));
  return out.str();
}

// ------------------------------------------------------------------ the channel

MetricsChannel::MetricsChannel(std::function<MetricsSnapshot()> build) : build_(std::move(build)) {
  fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "metrics: eventfd");
}

MetricsChannel::~MetricsChannel() { ::close(fd_); }

void MetricsChannel::serve() {
  std::uint64_t n = 0;
  (void)::read(fd_, &n, sizeof(n));  // resets the count; a spurious wakeup reads nothing
  std::uint64_t target = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || requested_ == served_) return;
    target = requested_;
  }
  auto snap = std::make_shared<const MetricsSnapshot>(build_());  // the mutex is not held
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snap);
    served_ = target;
  }
  cv_.notify_all();
}

void MetricsChannel::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    snapshot_.reset();
  }
  cv_.notify_all();
}

std::shared_ptr<const MetricsSnapshot> MetricsChannel::request(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return nullptr;
  const std::uint64_t mine = ++requested_;
  const std::uint64_t one = 1;
  // Cannot fail but by overflowing the counter (2^64 - 1 writes unread): then it is readable.
  (void)::write(fd_, &one, sizeof(one));
  if (!cv_.wait_for(lock, timeout, [&] { return closed_ || served_ >= mine; }) || closed_)
    return nullptr;
  return snapshot_;
}

// ------------------------------------------------------------------ the HTTP side

struct MetricsServer::Collector : prometheus::Collectable {
  explicit Collector(MetricsChannel& c) : channel(c) {}
  // An Exposer thread, at each scrape (prometheus-cpp serialises them).
  std::vector<MetricFamily> Collect() const override {
    const std::shared_ptr<const MetricsSnapshot> s = channel.request(kCollectTimeout);
    return metric_families(s.get());
  }
  MetricsChannel& channel;
};

MetricsServer::MetricsServer(const Switch& sw, MetricsExtra extra)
    : channel_(std::make_unique<MetricsChannel>(
          [&sw, extra = std::move(extra)] { return metrics_snapshot(sw, extra); })),
      collector_(std::make_shared<Collector>(*channel_)) {}

MetricsServer::~MetricsServer() {
  channel_->close();
  exposer_.reset();
}

std::string MetricsServer::listen(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return "--metrics wants ADDRESS:PORT, e.g. 127.0.0.1:9480";
  const std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) != 1)
    return "--metrics: '" + host + "' is not an IPv4 address";
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return "--metrics: '" + port + "' is not a port (0-65535)";
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", host + ":" + std::to_string(std::stoul(port)),
                                 "num_threads", std::to_string(kMetricsThreads),
                                 "request_timeout_ms", std::to_string(kMetricsRequestTimeoutMs)});
  } catch (const std::exception& e) {  // civetweb: the address is taken, not ours, ...
    return "metrics: cannot listen on " + addr + ": " + e.what();
  }
  exposer_->RegisterCollectable(collector_);
  return "";
}

int MetricsServer::port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace brisk

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer builds: Debian's civetweb (1.15) writes the HTTP Date header with gmtime(),
// whose result is one static buffer for every thread (civetweb issue #563: REENTRANT_TIME is not
// set in Debian's build), so two Exposer threads answering at once race on it (at worst a
// garbled Date header). That race is inside civetweb; it alone is suppressed.
extern "C" const char* __tsan_default_suppressions() { return "race:gmtime\n"; }
#endif
