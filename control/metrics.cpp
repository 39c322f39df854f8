#include "control/metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "datapath/afxdp_port.hpp"

namespace brisk {

namespace {

// Label values: backslash, double quote and newline escaped.
std::string esc(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

struct Family {
  std::string name, help, type;
  std::string samples;
};

void sample(Family& f, const std::string& labels, std::uint64_t v) {
  f.samples += f.name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) + "\n";
}

std::string render(const std::vector<Family>& fams) {
  std::string out;
  for (const auto& f : fams) {
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    out += f.samples;
  }
  return out;
}

}  // namespace

std::string metrics_text(const Switch& sw, const MetricsExtra& extra) {
  std::vector<Family> f = {
      {"brisk_port_rx_frames_total", "Frames received on the port.", "counter", ""},
      {"brisk_port_rx_bytes_total", "Bytes received on the port.", "counter", ""},
      {"brisk_port_tx_frames_total", "Frames sent on the port.", "counter", ""},
      {"brisk_port_tx_bytes_total", "Bytes sent on the port.", "counter", ""},
      {"brisk_port_tx_segmented_total",
       "GSO super-frames brisk cut into segments because the port cannot take them whole.",
       "counter", ""},
      {"brisk_port_tx_csum_completed_total",
       "Partial checksums brisk completed because the port cannot take them.", "counter", ""},
      {"brisk_port_mtu", "The MTU of the port's device (0: none).", "gauge", ""},
      {"brisk_port_drops_total", "Frames dropped, by the port charged and the reason.", "counter",
       ""},
      {"brisk_drops_total", "Frames dropped on all ports, by reason.", "counter", ""},
      {"brisk_port_xsk_total",
       "An AF_XDP port's kernel socket counters (XDP_STATISTICS), by counter; the lost frames "
       "among them are also in brisk_port_drops_total (reasons xsk_*).",
       "counter", ""},
      {"brisk_port_fastpath_frames_total",
       "Frames the XDP fast path carried for the port, by what it did: rx and tx (also in "
       "brisk_port_rx/tx_frames_total), encap and decap (a VXLAN tunnel's, also in tx and rx).",
       "counter", ""},
      {"brisk_fdb_entries", "Entries in the bridge's FDB.", "gauge", ""},
      {"brisk_fdb_limit", "Capacity limit of the bridge's FDB.", "gauge", ""},
      {"brisk_fdb_ageing_seconds", "FDB ageing time (0: hub mode).", "gauge", ""},
      {"brisk_ports", "Ports, by bridge and kind.", "gauge", ""},
      {"brisk_learn_requests_total", "Learn requests sent by the workers.", "counter", ""},
      {"brisk_learn_ring_full_total", "Learn requests lost to a full ring.", "counter", ""},
      {"brisk_learn_applied_total", "Learn requests applied to an FDB.", "counter", ""},
  };
  auto fam = [&](const char* n) -> Family& {
    for (auto& x : f)
      if (x.name == n) return x;
    throw std::logic_error(n);
  };
  std::array<std::uint64_t, kDropCount> total{};
  std::map<std::pair<std::string, std::string>, std::uint64_t> kinds;
  for (const auto& [name, p] : sw.ports()) {
    PortTotals t = sw.totals(p);
    std::string l = "port=\"" + esc(name) + "\",bridge=\"" + esc(p.bridge) + "\",kind=\"" +
                    std::string(port_kind_name(p.kind)) + "\"";
    sample(fam("brisk_port_rx_frames_total"), l, t.rx_frames);
    sample(fam("brisk_port_rx_bytes_total"), l, t.rx_bytes);
    sample(fam("brisk_port_tx_frames_total"), l, t.tx_frames);
    sample(fam("brisk_port_tx_bytes_total"), l, t.tx_bytes);
    sample(fam("brisk_port_tx_segmented_total"), l, t.tx_segmented);
    sample(fam("brisk_port_tx_csum_completed_total"), l, t.tx_csum_completed);
    sample(fam("brisk_port_mtu"), l, p.port ? p.port->mtu() : 0);
    for (std::size_t i = 0; i < kDropCount; ++i) {
      sample(fam("brisk_port_drops_total"),
             "port=\"" + esc(name) + "\",bridge=\"" + esc(p.bridge) + "\",reason=\"" +
                 std::string(kDropNames[i]) + "\"",
             t.drops[i]);
      total[i] += t.drops[i];
    }
    const FastpathCounters fc = sw.fastpath_counters(p);
    for (const auto& [what, v] : {std::pair{"rx", fc.rx_frames}, std::pair{"tx", fc.tx_frames},
                                  std::pair{"encap", fc.encap}, std::pair{"decap", fc.decap}})
      sample(fam("brisk_port_fastpath_frames_total"),
             "port=\"" + esc(name) + "\",path=\"" + what + "\"", v);
    if (const auto* x = dynamic_cast<const AfXdpPort*>(p.port.get())) {
      const AfXdpStats k = x->kernel_stats();
      const std::pair<const char*, std::uint64_t> xsk[] = {
          {"rx_dropped", k.rx_dropped},
          {"rx_ring_full", k.rx_ring_full},
          {"rx_fill_ring_empty", k.rx_fill_ring_empty},
          {"rx_invalid_descs", k.rx_invalid_descs},
          {"tx_invalid_descs", k.tx_invalid_descs},
          {"tx_ring_empty", k.tx_ring_empty}};
      for (const auto& [what, v] : xsk)
        sample(fam("brisk_port_xsk_total"), "port=\"" + esc(name) + "\",counter=\"" + what + "\"",
               v);
    }
    ++kinds[{p.bridge, std::string(port_kind_name(p.kind))}];
  }
  for (std::size_t i = 0; i < kDropCount; ++i)
    sample(fam("brisk_drops_total"), "reason=\"" + std::string(kDropNames[i]) + "\"", total[i]);
  for (const auto& [name, b] : sw.bridges()) {
    std::string l = "bridge=\"" + esc(name) + "\"";
    sample(fam("brisk_fdb_entries"), l, b.fdb->size());
    sample(fam("brisk_fdb_limit"), l, b.fdb_limit);
    sample(fam("brisk_fdb_ageing_seconds"), l, b.ageing);
  }
  for (const auto& [k, n] : kinds)
    sample(fam("brisk_ports"), "bridge=\"" + esc(k.first) + "\",kind=\"" + k.second + "\"", n);
  // Worker-wide learning figures, read the way `stats` reads them.
  nlohmann::json st = sw.show_stats("").data;
  sample(fam("brisk_learn_requests_total"), "", st.value("learn_requests", std::uint64_t{0}));
  sample(fam("brisk_learn_ring_full_total"), "", st.value("learn_ring_full", std::uint64_t{0}));
  sample(fam("brisk_learn_applied_total"), "", st.value("learn_applied", std::uint64_t{0}));
  std::string out = render(f);
  if (extra) out += extra();
  return out;
}

MetricsServer::~MetricsServer() {
  if (fd_ >= 0) ::close(fd_);
}

std::string MetricsServer::listen(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return "--metrics wants ADDRESS:PORT, e.g. 127.0.0.1:9480";
  std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return "--metrics: '" + host + "' is not an IPv4 address";
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return "--metrics: '" + port + "' is not a port (0-65535)";
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoul(port)));
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return std::string("metrics socket: ") + std::strerror(errno);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0 || ::listen(fd_, 16) < 0) {
    std::string e = "metrics: bind " + addr + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return e;
  }
  return "";
}

namespace {

std::string http_response(const std::string& status, const std::string& type,
                          const std::string& body, bool head) {
  std::string out = "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (!head) out += body;
  return out;
}

}  // namespace

Service MetricsServer::service() {
  Service s;
  s.name = "metrics";
  s.framing = kHttpFraming;
  s.max_conns = 16;
  s.answer = [this](std::string_view request, const Caller&) { return answer(request); };
  s.refuse = [](Refusal why) {
    switch (why) {
      case Refusal::kTooLong:
        return http_response("431 Request Header Fields Too Large", "text/plain",
                             "request header over 8 KiB\n", false);
      case Refusal::kTimedOut:
        return http_response("408 Request Timeout", "text/plain", "no request within 5 s\n", false);
      case Refusal::kTooMany:
        break;
    }
    return http_response("503 Service Unavailable", "text/plain", "too many connections\n", false);
  };
  return s;
}

std::string MetricsServer::answer(std::string_view request) const {
  const std::string line(request.substr(0, request.find_first_of("\r\n")));
  const bool head = line.rfind("HEAD ", 0) == 0;
  if (line.rfind("GET ", 0) != 0 && !head)
    return http_response("405 Method Not Allowed", "text/plain", "GET /metrics\n", false);
  std::string path = line.substr(line.find(' ') + 1);
  path = path.substr(0, path.find(' '));
  if (path != "/metrics" && path != "/")
    return http_response("404 Not Found", "text/plain", "brisk serves /metrics\n", head);
  return http_response("200 OK", "text/plain; version=0.0.4; charset=utf-8",
                       metrics_text(sw_, extra_), head);
}

}  // namespace brisk
