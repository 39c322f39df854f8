#include "control/server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace brisk {

std::uint32_t monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec);
}

Server::Server(Switch& sw, std::string socket_path)
    : sw_(sw), cmds_(sw), path_(std::move(socket_path)) {}

Server::~Server() {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

std::string Server::listen() {
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) return "socket path too long: " + path_;
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  // A live daemon on the socket keeps it; a stale socket file is replaced.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(probe);
    if (live) return "another briskd is serving " + path_;
  }
  ::unlink(path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return std::string("socket: ") + std::strerror(errno);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 ||
      ::listen(listen_fd_, 64) < 0) {
    std::string e = "bind " + path_ + ": " + std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return e;
  }
  ::chmod(path_.c_str(), 0660);
  return "";
}

std::string Server::handle(const std::string& line, const Caller& caller) {
  Reply r;
  try {
    auto req = nlohmann::json::parse(line);
    std::vector<std::string> argv = req.at("argv").get<std::vector<std::string>>();
    if (before_command) before_command(argv);
    std::optional<Reply> extra;
    if (extra_commands) extra = extra_commands(argv);
    if (extra) {
      r = std::move(*extra);
    } else {
      r = cmds_.run(argv, caller);
      if (r.ok && !argv.empty() && argv[0] == "help" && !extra_help.empty()) r.text += extra_help;
    }
    if (r.ok && after_command) after_command(argv, r);
  } catch (const nlohmann::json::exception&) {
    r = Reply::error("malformed request: want {\"argv\": [words...]}");
  } catch (const std::exception& e) {
    r = Reply::error(std::string("internal error: ") + e.what());
  }
  nlohmann::json out{{"ok", r.ok}, {"text", r.text}, {"data", r.data}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void Server::serve_client(int fd) {
  // One request per connection, bounded in size and time so a stuck client cannot stall the
  // control loop for long.
  timeval tv{0, 500000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos && line.size() < 65536) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  // Who is asking: a capture file is opened with the client's identity. (An AF_UNIX stream
  // socket always has peer credentials; without them the client is treated as nobody.)
  ucred peer{};
  socklen_t peer_len = sizeof(peer);
  Caller caller{65534, 65534};
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) == 0)
    caller = {peer.uid, peer.gid};
  std::string reply = line.find('\n') == std::string::npos && line.size() >= 65536
                          ? handle("", caller)
                          : handle(line.substr(0, line.find('\n')), caller);
  std::size_t off = 0;
  while (off < reply.size()) {
    ssize_t n = ::write(fd, reply.data() + off, reply.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

void Server::watch(int fd, std::function<void()> on_readable) {
  watched_.emplace_back(fd, std::move(on_readable));
}

void Server::run(const std::atomic<bool>& stop) {
  std::vector<pollfd> fds;
  // Tick period: 200 us while there is work (workers' learn requests are applied within a
  // few hundred microseconds of a new address), doubling to 5 ms while there is none, so an
  // idle control thread does not take a core's worth of wakeups from the workers.
  constexpr long kBusyNs = 200000, kIdleNs = 5000000;
  long period_ns = kBusyNs;
  while (!stop.load()) {
    fds.assign(1, pollfd{listen_fd_, POLLIN, 0});
    for (auto& [fd, fn] : watched_) fds.push_back(pollfd{fd, POLLIN, 0});
    pollfd& p = fds[0];
    timespec ts{0, period_ns};
    int n = ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    for (std::size_t i = 1; n > 0 && i < fds.size(); ++i)
      if (fds[i].revents & POLLIN) watched_[i - 1].second();
    if (n > 0 && (p.revents & POLLIN)) {
      for (;;) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) break;
        serve_client(c);
        ::close(c);
        sw_.tick(monotonic_seconds());
      }
    }
    const bool busy = sw_.tick(monotonic_seconds());
    period_ns = busy || n > 0 ? kBusyNs : std::min(period_ns * 2, kIdleNs);
    if (on_tick) on_tick();
  }
}

}  // namespace brisk
