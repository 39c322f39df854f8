// NetnsScope: runs the calling thread inside a named network namespace (/run/netns/<name>,
// as `ip netns add` creates them) until the scope ends, then returns it to the namespace it
// came from. setns(CLONE_NEWNET) moves only the calling thread, so other threads of the
// harness are unaffected. Used to attach XDP programs to devices inside a namespace and by
// the generator thread (BPF_PROG_TEST_RUN resolves ingress_ifindex in the caller's namespace).
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bench {

class NetnsScope {
 public:
  explicit NetnsScope(const std::string& name) {
    if (name.empty()) return;  // the current namespace
    back_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (back_ < 0) throw std::runtime_error("open own netns: " + std::string(strerror(errno)));
    int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      close(back_);
      throw std::runtime_error("enter netns " + name + ": " + strerror(e));
    }
    close(fd);
  }
  ~NetnsScope() {
    if (back_ >= 0) {
      (void)setns(back_, CLONE_NEWNET);
      close(back_);
    }
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int back_ = -1;
};

// ifindex of a device in namespace `ns` ("" = the current one); throws if it does not exist.
inline int ifindex_in(const std::string& ns, const std::string& dev) {
  NetnsScope scope(ns);
  unsigned idx = if_nametoindex(dev.c_str());
  if (idx == 0) throw std::runtime_error("no device " + dev + (ns.empty() ? "" : " in " + ns));
  return static_cast<int>(idx);
}

}  // namespace bench
