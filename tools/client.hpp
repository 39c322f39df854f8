// A minimal client of briskd's socket protocol (control/server.hpp), shared by brisk and the
// ovs-ofctl front end: one request per connection, one JSON line each way.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/socket_path.hpp"

namespace brisk::client {

inline std::string default_socket() {
  const char* env = std::getenv("BRISK_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/brisk/brisk.sock";
}

struct Answer {
  bool reached = false;  // false: briskd not reachable (text says why)
  bool ok = false;
  std::string text;
  nlohmann::json data;
};

// Run one command. timeout_s == 0: wait as long as it takes. A socket that breaks the rule of
// control/socket_path.hpp (a directory others can write, an owner that is neither root nor
// the caller) is not talked to.
inline Answer run(const std::string& socket, const std::vector<std::string>& argv,
                  unsigned timeout_s = 0) {
  Answer a;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(addr.sun_path)) {
    a.text = "socket path too long: " + socket;
    return a;
  }
  if (std::string e = check_socket(socket); !e.empty()) {
    a.text = "refusing to talk to briskd at " + socket + ": " + e;
    return a;
  }
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    a.text = std::string("socket: ") + std::strerror(errno);
    return a;
  }
  if (timeout_s != 0) {
    timeval tv{static_cast<time_t>(timeout_s), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    a.text = "cannot reach briskd at " + socket + ": " + std::strerror(errno);
    ::close(fd);
    return a;
  }
  // A failed write is not the end: briskd may have answered and closed before reading the
  // request ("too many connections"); that answer is read below.
  std::string req = nlohmann::json{{"argv", argv}}.dump() + "\n";
  std::string write_error;
  for (std::size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_error = "write to briskd at " + socket + " failed: " + std::strerror(errno);
      break;
    }
    off += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      a.text = "timeout waiting for briskd at " + socket;
      ::close(fd);
      return a;
    }
    if (n <= 0) break;  // end of the reply (or the connection reset after it)
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  try {
    auto r = nlohmann::json::parse(reply);
    a.reached = true;
    a.ok = r.value("ok", false);
    a.text = r.value("text", "");
    a.data = r.contains("data") ? r["data"] : nlohmann::json();
  } catch (const std::exception&) {
    a.text = !write_error.empty() ? write_error : "unreadable reply from briskd at " + socket;
  }
  return a;
}

// briskd refused the command because it does not know it (a feature this build lacks).
inline bool unknown_command(const Answer& a) {
  return a.reached && !a.ok && a.text.rfind("unknown ", 0) == 0 &&
         a.text.find("command") != std::string::npos;
}

}  // namespace brisk::client
