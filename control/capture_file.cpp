#include "control/capture_file.hpp"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace brisk {

namespace {

// For its lifetime the calling thread's filesystem identity is the caller's. The raw
// setgroups syscall changes this thread only (glibc's setgroups() changes every thread).
class AsCaller {
 public:
  explicit AsCaller(const Caller& c) {
    if (::geteuid() != 0 || c.uid == 0) return;  // not root: nothing to switch; root caller: as is
    long n = ::syscall(SYS_getgroups, 0, nullptr);
    groups_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (n > 0 && ::syscall(SYS_getgroups, n, groups_.data()) != n) groups_.clear();
    gid_t g = c.gid;
    ok_ = ::syscall(SYS_setgroups, 1, &g) == 0;
    ::setfsgid(c.gid);
    ::setfsuid(c.uid);
    // setfsuid() and setfsgid() say nothing on failure: ask for the current values.
    ok_ = ok_ && static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == c.uid &&
          static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == c.gid;
    active_ = true;
  }
  ~AsCaller() {
    if (!active_) return;
    ::setfsuid(::geteuid());
    ::setfsgid(::getegid());
    ::syscall(SYS_setgroups, groups_.size(), groups_.data());
  }
  AsCaller(const AsCaller&) = delete;
  AsCaller& operator=(const AsCaller&) = delete;
  // false: the identity could not be taken (nothing may be opened).
  bool ok() const { return !active_ || ok_; }

 private:
  bool active_ = false, ok_ = false;
  std::vector<gid_t> groups_;
};

CaptureFileOpen failed(std::string msg) { return CaptureFileOpen{-1, std::move(msg)}; }

// `path` exists: open it for overwriting if it is a regular file of the caller's.
CaptureFileOpen open_existing(const std::string& path, const Caller& caller) {
  // lstat() for a clear message (a FIFO, a device, a directory); fstat() below decides.
  struct stat pre {};
  if (::lstat(path.c_str(), &pre) == 0 && !S_ISREG(pre.st_mode))
    return failed("capture file " + path +
                  (S_ISLNK(pre.st_mode) ? " is a symbolic link: not followed"
                                        : " is not a regular file: not overwritten"));
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) return failed("capture file " + path + " is a symbolic link: not followed");
    return failed("cannot open capture file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string err;
  if (::fstat(fd, &st) != 0) {
    err = "cannot open capture file " + path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    err = "capture file " + path + " is not a regular file: not overwritten";
  } else if (st.st_uid != caller.uid) {
    err = "capture file " + path + " belongs to uid " + std::to_string(st.st_uid) +
          ", not to the caller (uid " + std::to_string(caller.uid) + "): not overwritten";
  } else if (::ftruncate(fd, 0) != 0) {
    err = "cannot truncate capture file " + path + ": " + std::strerror(errno);
  }
  if (!err.empty()) {
    ::close(fd);
    return failed(err);
  }
  return CaptureFileOpen{fd, ""};
}

}  // namespace

CaptureFileOpen open_capture_file(const std::string& path, bool overwrite, const Caller& caller) {
  if (path.empty() || path[0] != '/')
    return failed("capture file must be an absolute path: " + path);
  AsCaller as(caller);
  if (!as.ok())
    return failed("cannot take the identity of uid " + std::to_string(caller.uid) +
                  " to open capture file " + path);
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd >= 0) return CaptureFileOpen{fd, ""};
  if (errno != EEXIST)
    return failed("cannot create capture file " + path + ": " + std::strerror(errno));
  if (overwrite) return open_existing(path, caller);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    return failed("capture file " + path + " is a symbolic link: not followed");
  return failed("capture file " + path + " exists: add overwrite to replace it (a regular file " +
                "of yours)");
}

}  // namespace brisk
