#include "control/ovsdb_rpc.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace brisk {

namespace {

bool parse_tcp(const std::string& rest, sockaddr_in& sa) {
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string ip = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return false;
  sa = sockaddr_in{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(p));
  return inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) == 1;
}

}  // namespace

std::string check_ovsdb_remote(const std::string& remote) {
  if (remote.rfind("unix:", 0) == 0) {
    const std::string path = remote.substr(5);
    if (path.empty()) return "ovsdb remote " + remote + ": no socket path";
    if (path.size() >= sizeof(sockaddr_un{}.sun_path))
      return "ovsdb remote " + remote + ": socket path too long";
    return "";
  }
  sockaddr_in sa{};
  if (remote.rfind("tcp:", 0) == 0 && parse_tcp(remote.substr(4), sa)) return "";
  return "ovsdb remote '" + remote + "': want unix:PATH or tcp:IP:PORT";
}

std::string split_json_stream(std::string& buf, std::vector<std::string>& out, std::size_t max) {
  std::size_t pos = 0, start = 0;
  int depth = 0;
  bool in_string = false, escape = false;
  for (; pos < buf.size(); ++pos) {
    const char c = buf[pos];
    if (depth > 0 && pos + 1 - start > max) return "message longer than the limit";
    if (depth == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{') return "unexpected byte outside a JSON-RPC message";
      start = pos;
      depth = 1;
      continue;
    }
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        out.push_back(buf.substr(start, pos + 1 - start));
        start = pos + 1;
      }
    }
  }
  buf.erase(0, depth == 0 ? buf.size() : start);
  return "";
}

OvsdbRpc::OvsdbRpc(std::string remote) : remote_(std::move(remote)) {}

OvsdbRpc::~OvsdbRpc() { close(); }

void OvsdbRpc::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connecting_ = false;
  in_.clear();
  out_.clear();
}

std::string OvsdbRpc::connect() {
  close();
  if (std::string e = check_ovsdb_remote(remote_); !e.empty()) return e;
  int rc;
  if (remote_.rfind("unix:", 0) == 0) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string path = remote_.substr(5);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in sa{};
    parse_tcp(remote_.substr(4), sa);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc < 0 && errno == EINPROGRESS) {
    connecting_ = true;
    return "";
  }
  if (rc < 0) {
    std::string e = std::strerror(errno);
    close();
    return e;
  }
  return "";
}

std::string OvsdbRpc::poll_connect() {
  if (!connecting_) return "";
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    close();
    return std::strerror(err);
  }
  // Connected once the peer address is known.
  sockaddr_storage peer{};
  socklen_t plen = sizeof(peer);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) connecting_ = false;
  return "";
}

void OvsdbRpc::send(const nlohmann::json& msg) {
  out_ += msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!connecting_) (void)flush();  // a failure shows again at the next flush or read
}

std::uint64_t OvsdbRpc::request(const std::string& method, nlohmann::json params) {
  const std::uint64_t id = next_id_++;
  send({{"method", method}, {"params", std::move(params)}, {"id", id}});
  return id;
}

void OvsdbRpc::reply(const nlohmann::json& id, nlohmann::json result) {
  send({{"result", std::move(result)}, {"error", nullptr}, {"id", id}});
}

std::string OvsdbRpc::flush() {
  while (fd_ >= 0 && !connecting_ && !out_.empty()) {
    const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return "";
    } else {
      return std::string("send: ") + std::strerror(errno);
    }
  }
  return "";
}

std::string OvsdbRpc::read(std::vector<nlohmann::json>& msgs) {
  if (fd_ < 0 || connecting_) return "";
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n > 0) {
      in_.append(buf, static_cast<std::size_t>(n));
      std::vector<std::string> texts;
      if (std::string e = split_json_stream(in_, texts); !e.empty()) return e;
      for (const std::string& t : texts) {
        nlohmann::json j = nlohmann::json::parse(t, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return "a message that is not valid JSON";
        msgs.push_back(std::move(j));
      }
      if (static_cast<std::size_t>(n) < sizeof(buf)) return "";
    } else if (n == 0) {
      return "connection closed by the server";
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return "";
    } else {
      return std::string("read: ") + std::strerror(errno);
    }
  }
}

}  // namespace brisk
