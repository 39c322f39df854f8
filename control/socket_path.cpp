#include "control/socket_path.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace brisk {
namespace {

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::string kind_of(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

bool trusted_owner(uid_t owner) { return owner == 0 || owner == ::geteuid(); }

std::string owner_problem(const std::string& what, uid_t owner) {
  return what + " is owned by uid " + std::to_string(owner) + ", not by root or uid " +
         std::to_string(::geteuid());
}

std::string parent_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// The deepest directory of `dir` and its parents that exists ("/" or "." at the end).
std::string deepest_existing(std::string dir) {
  struct stat st {};
  while (::stat(dir.c_str(), &st) < 0 && errno == ENOENT) {
    const auto slash = dir.rfind('/');
    if (slash == std::string::npos) return ".";
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return dir;
}

// The rule for the directory `dir` (its own: the socket's directory, or one above it) and
// for every directory above it.
std::string check_dirs(const std::string& dir, bool own) {
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr)
    return (own ? "socket directory " : "directory ") + dir + ": " + std::strerror(errno);
  for (std::string p = resolved;; p = parent_of(p), own = false) {
    struct stat st {};
    if (::stat(p.c_str(), &st) < 0) return "directory " + p + ": " + std::strerror(errno);
    const std::string what = (own ? "socket directory " : "directory ") + p;
    if (!S_ISDIR(st.st_mode)) return what + " is not a directory";
    if (!trusted_owner(st.st_uid)) return owner_problem(what, st.st_uid);
    const bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (others_write && (own || (st.st_mode & S_ISVTX) == 0))
      return what + " is writable by group or others (mode " + octal_mode(st.st_mode) +
             (own ? ")" : ", not sticky)");
    if (p == "/") return "";
  }
}

}  // namespace

std::string socket_dir_of(const std::string& socket_path) {
  auto slash = socket_path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : socket_path.substr(0, slash);
}

std::string check_socket_dir(const std::string& socket_path) {
  return check_dirs(socket_dir_of(socket_path), /*own=*/true);
}

std::string make_socket_dir(const std::string& socket_path) {
  const std::string dir = socket_dir_of(socket_path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return check_socket_dir(socket_path);
  if (errno != ENOENT) return "socket directory " + dir + ": " + std::strerror(errno);
  // First the rule for the deepest directory that exists, so nothing is made where it would
  // be refused; then each missing component in turn, mode 0750 whatever the umask (mkdir
  // applies the umask, chmod does not).
  if (std::string e = check_dirs(deepest_existing(dir), /*own=*/false); !e.empty()) return e;
  for (std::size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), kSocketDirMode) == 0) {
      if (::chmod(part.c_str(), kSocketDirMode) < 0)
        return "chmod " + part + ": " + std::strerror(errno);
    } else if (errno != EEXIST) {
      return "cannot create socket directory " + part + ": " + std::strerror(errno);
    }
    if (pos == std::string::npos) break;
  }
  return check_socket_dir(socket_path);
}

std::string claim_socket_path(const std::string& socket_path) {
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) < 0) {
    if (errno == ENOENT) return "";
    return "cannot examine " + socket_path + ": " + std::strerror(errno);
  }
  if (!S_ISSOCK(st.st_mode))
    return socket_path + " exists and is " + kind_of(st.st_mode) +
           ", not a socket; briskd leaves it alone (remove it or choose another --socket)";
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) return "socket path too long: " + socket_path;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  // Non-blocking: a listener whose backlog is full answers EAGAIN rather than stalling us.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return std::string("socket: ") + std::strerror(errno);
  const int rc = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = rc == 0 ? 0 : errno;
  ::close(probe);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS)
    return "another program (another briskd?) answers on " + socket_path +
           "; briskd leaves it alone (stop it or choose another --socket)";
  if (err != ECONNREFUSED)
    return "cannot tell whether " + socket_path + " is in use: " + std::strerror(err);
  // Stale: a socket nobody listens on (a briskd that was killed).
  if (::unlink(socket_path.c_str()) < 0 && errno != ENOENT)
    return "cannot remove the stale socket " + socket_path + ": " + std::strerror(errno);
  return "";
}

std::string check_socket(const std::string& socket_path) {
  const std::string dir = socket_dir_of(socket_path);
  struct stat st {};
  // No directory: nothing to talk to (connect() says so), unless someone makes it first, so
  // the rule holds for the directories that exist.
  if (::stat(dir.c_str(), &st) < 0 && errno == ENOENT)
    return check_dirs(deepest_existing(dir), /*own=*/false);
  if (std::string e = check_socket_dir(socket_path); !e.empty()) return e;
  if (::lstat(socket_path.c_str(), &st) < 0) return "";  // connect() will say why
  if (!S_ISSOCK(st.st_mode)) return socket_path + " is " + kind_of(st.st_mode) + ", not a socket";
  if (!trusted_owner(st.st_uid)) return owner_problem("socket " + socket_path, st.st_uid);
  return "";
}

}  // namespace brisk
