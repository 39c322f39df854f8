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

#include "control/memory.hpp"
#include "control/socket_path.hpp"

namespace brisk {

std::uint32_t monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec);
}

namespace {

// Moved, not copied: a large answer (`fdb` of 65,536 entries) is tens of megabytes.
std::string reply_line(Reply&& r) {
  std::string answer;
  {
    nlohmann::json out = nlohmann::json::object();
    out["ok"] = r.ok;
    out["text"] = std::move(r.text);
    out["data"] = std::move(r.data);
    answer = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  answer += '\n';
  return answer;
}

// "5 s", or "300 ms" below a second.
std::string duration_text(ConnClock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms < 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s";
}

}  // namespace

std::optional<std::vector<std::string>> parse_request(std::string_view line) {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!req.is_object()) return std::nullopt;  // also a parse error (discarded)
  auto it = req.find("argv");
  if (it == req.end() || !it->is_array()) return std::nullopt;
  std::vector<std::string> argv;
  argv.reserve(it->size());
  for (const auto& word : *it) {
    if (!word.is_string()) return std::nullopt;
    argv.push_back(word.get<std::string>());
  }
  return argv;
}

Server::Server(Switch& sw, std::string socket_path)
    : sw_(sw), cmds_(sw), path_(std::move(socket_path)) {}

Server::~Server() {
  for (Client& c : clients_) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

std::string Server::listen() {
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) return "socket path too long: " + path_;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  if (std::string e = make_socket_dir(path_); !e.empty())
    return "refusing socket " + path_ + ": " + e;
  if (std::string e = claim_socket_path(path_); !e.empty()) return e;
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return std::string("socket: ") + std::strerror(errno);
  // bind() creates the socket file with 0777 & ~umask: 0660 from the start, whatever the umask.
  const mode_t umask_before = ::umask(0117);
  const int bound = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(umask_before);
  if (bound < 0 || ::listen(listen_fd_, 64) < 0) {
    std::string e = "bind " + path_ + ": " + std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return e;
  }
  ::chmod(path_.c_str(), 0660);
  serve(listen_fd_, control_service());
  return "";
}

Service Server::control_service() {
  Service s;
  s.name = "control socket " + path_;
  s.deadlines = control_deadlines;
  s.answer = [this](std::string_view request, const Caller& caller) {
    std::string out = handle(request, caller);
    sw_.tick(monotonic_seconds());
    return out;
  };
  s.refuse = [max = s.max_conns, wait = duration_text(s.deadlines.request)](Refusal why) {
    switch (why) {
      case Refusal::kTooLong:
        return reply_line(Reply::error("request too long: more than " +
                                       std::to_string(kMaxRequestBytes) +
                                       " bytes before the end of the line"));
      case Refusal::kTimedOut:
        return reply_line(Reply::error("request timed out: no complete request within " + wait +
                                       " of connecting"));
      case Refusal::kTooMany:
        break;
    }
    return reply_line(Reply::error("too many connections: briskd serves " + std::to_string(max) +
                                   " at once; try again"));
  };
  return s;
}

std::string Server::handle(std::string_view line, const Caller& caller) {
  Reply r;
  try {
    std::optional<std::vector<std::string>> argv = parse_request(line);
    if (!argv) return reply_line(Reply::error("malformed request: want {\"argv\": [words...]}"));
    if (before_command) before_command(*argv);
    std::optional<Reply> extra;
    if (extra_commands) extra = extra_commands(*argv);
    r = extra ? std::move(*extra) : cmds_.run(*argv, caller);
    if (r.ok && after_command) after_command(*argv, r);
  } catch (const std::exception& e) {
    r = Reply::error(std::string("internal error: ") + e.what());
  }
  std::string answer = reply_line(std::move(r));
  // Its documents are freed now: their memory goes back to the system (control/memory.hpp).
  if (answer.size() >= kLargeAnswerBytes) release_free_memory();
  return answer;
}

void Server::serve(int fd, Service service) {
  listeners_.push_back(Listener{fd, std::move(service)});
}

void Server::watch(int fd, std::function<void()> on_readable) {
  watch([fd] { return fd; }, std::move(on_readable));
}

void Server::watch(std::function<int()> fd, std::function<void()> on_readable) {
  watched_.emplace_back(std::move(fd), std::move(on_readable));
}

void Server::refuse_excess(Listener& l, int fd) {
  const std::string bytes = l.service.refuse(Refusal::kTooMany);
  // A fresh socket's buffer is empty: the short answer fits; if not, the peer gets none.
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
  ++l.refused;
  const ConnClock::time_point now = ConnClock::now();
  if (l.refused == 1 || now - l.last_warning >= std::chrono::seconds(10)) {
    syslog(LOG_WARNING, "%s: too many connections (%zu open): refused %llu so far",
           l.service.name.c_str(), l.service.max_conns, static_cast<unsigned long long>(l.refused));
    l.last_warning = now;
  }
}

// Who is asking: a capture file is opened with the client's identity. (An AF_UNIX stream
// socket always has peer credentials; without them the client is treated as nobody.)
Caller Server::peer_of(int fd) {
  ucred peer{};
  socklen_t peer_len = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) == 0)
    return Caller{peer.uid, peer.gid};
  return Caller{65534, 65534};
}

void Server::accept_all(std::size_t listener) {
  // At most 64 per round, so a flood of connections cannot starve the periodic work.
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listeners_[listener].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // none waiting (or out of descriptors: the next round tries again)
    Listener& l = listeners_[listener];
    const auto open = static_cast<std::size_t>(std::count_if(
        clients_.begin(), clients_.end(), [&](const Client& c) { return c.listener == listener; }));
    if (open >= l.service.max_conns) {
      refuse_excess(l, fd);
      continue;
    }
    clients_.push_back(Client{
        fd, listener, Conn(l.service.framing, l.service.deadlines, ConnClock::now()), peer_of(fd)});
    read_from(clients_.back());  // the request is often there already
  }
}

void Server::read_from(Client& c) {
  char buf[16384];
  while (c.conn.phase() == Conn::Phase::kReading) {
    const ssize_t n = ::read(c.fd, buf, sizeof(buf));
    if (n > 0) {
      c.conn.received(std::string_view(buf, static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) < sizeof(buf)) return;  // drained for now
    } else if (n == 0) {
      c.conn.eof();
    } else if (errno != EINTR) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.conn.abort();
      return;
    }
  }
}

void Server::write_to(Client& c) {
  while (c.conn.phase() == Conn::Phase::kWriting) {
    const std::string_view out = c.conn.unsent();
    const ssize_t n = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.conn.sent(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.conn.abort();
      return;  // the socket is full: POLLOUT says when it takes more
    }
  }
}

void Server::answer(Client& c) {
  const Service& s = listeners_[c.listener].service;
  std::string bytes;
  try {
    switch (c.conn.why()) {
      case Conn::Why::kRequest:
        bytes = s.answer(c.conn.request(), c.caller);
        break;
      case Conn::Why::kTooLong:
        bytes = s.refuse(Refusal::kTooLong);
        break;
      case Conn::Why::kTimedOut:
        bytes = s.refuse(Refusal::kTimedOut);
        break;
      default:
        c.conn.abort();
        return;
    }
  } catch (const std::exception& e) {
    syslog(LOG_ERR, "%s: %s", s.name.c_str(), e.what());
    c.conn.abort();
    return;
  }
  c.conn.reply(std::move(bytes), ConnClock::now());
  write_to(c);  // most replies fit in the socket's buffer at once
}

void Server::close_finished() {
  std::erase_if(clients_, [](const Client& c) {
    if (c.conn.phase() != Conn::Phase::kClose) return false;
    ::close(c.fd);
    return true;
  });
}

void Server::run(const std::atomic<bool>& stop) {
  std::vector<pollfd> fds;
  // Tick period: 200 us while there is work (workers' learn requests are applied within a
  // few hundred microseconds of a new address), doubling to 5 ms while there is none, so an
  // idle control thread does not take a core's worth of wakeups from the workers.
  constexpr long kBusyNs = 200000, kIdleNs = 5000000;
  long period_ns = kBusyNs;
  while (!stop.load()) {
    fds.clear();
    for (const Listener& l : listeners_) fds.push_back(pollfd{l.fd, POLLIN, 0});
    for (auto& [fd, fn] : watched_) fds.push_back(pollfd{fd(), POLLIN, 0});  // < 0: ignored
    const std::size_t first_client = fds.size(), polled = clients_.size();
    for (const Client& c : clients_)
      fds.push_back(pollfd{
          c.fd, static_cast<short>(c.conn.phase() == Conn::Phase::kWriting ? POLLOUT : POLLIN), 0});
    timespec ts{0, period_ns};
    const int n = ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    if (n > 0) {
      for (std::size_t i = 0; i < watched_.size(); ++i)
        if (fds[listeners_.size() + i].revents & POLLIN) watched_[i].second();
      for (std::size_t i = 0; i < polled; ++i) {
        if (fds[first_client + i].revents == 0) continue;
        Client& c = clients_[i];
        if (c.conn.phase() == Conn::Phase::kReading) read_from(c);
        if (c.conn.phase() == Conn::Phase::kWriting) write_to(c);
      }
      for (std::size_t i = 0; i < listeners_.size(); ++i)
        if (fds[i].revents & POLLIN) accept_all(i);
    }
    const ConnClock::time_point now = ConnClock::now();
    for (Client& c : clients_) c.conn.expire(now);
    for (Client& c : clients_)
      if (c.conn.phase() == Conn::Phase::kAnswer) answer(c);
    close_finished();
    const bool busy = sw_.tick(monotonic_seconds());
    period_ns = busy || n > 0 ? kBusyNs : std::min(period_ns * 2, kIdleNs);
    if (on_tick) on_tick();
  }
}

}  // namespace brisk
