#include "control/qos.hpp"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

extern char** environ;

namespace brisk {

namespace {

// Run tc with `args`; "" on success, else its first line of error output.
std::string tc(const std::vector<std::string>& args) {
  const char* candidates[] = {"/usr/sbin/tc", "/sbin/tc"};
  const char* bin = nullptr;
  for (const char* c : candidates)
    if (::access(c, X_OK) == 0) bin = c;
  if (bin == nullptr) return "no tc (Debian package iproute2)";
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return "pipe failed";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, bin, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return "cannot run tc";
  }
  std::string err;
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0 && err.size() < 4096) err.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  err = err.substr(0, err.find('\n'));
  return "tc " + args[0] + " " + args[1] + ": " + (err.empty() ? "failed" : err);
}

std::string bits(std::uint64_t v) { return std::to_string(v) + "bit"; }

}  // namespace

std::shared_ptr<Policer> make_egress_limiter(const EgressQos& q) {
  const std::uint64_t rate = std::max<std::uint64_t>(q.max_rate / 8, 1);
  const std::uint64_t depth = std::max({q.burst / 8, rate / 10, kPolicerMinDepth});
  return std::make_shared<Policer>(rate, depth);
}

std::shared_ptr<Policer> make_ingress_policer(std::uint64_t kbit, std::uint64_t burst_kbit) {
  return std::make_shared<Policer>(
      ovs_policing_rate_bytes(kbit),
      std::max(ovs_policing_burst_bytes(burst_kbit), kPolicerMinDepth));
}

std::string install_htb(const std::string& dev, const EgressQos& q) {
  const std::uint64_t max = q.max_rate;
  const std::uint64_t min = q.min_rate == 0 || q.min_rate > max ? max : q.min_rate;
  std::vector<std::string> burst;
  if (q.burst != 0)
    burst = {"burst", std::to_string(std::max<std::uint64_t>(q.burst / 8, 1)) + "b"};
  if (std::string e =
          tc({"qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "1"});
      !e.empty())
    return e;
  std::vector<std::string> top = {"class",   "replace", "dev",    dev,   "parent",
                                  "1:",      "classid", "1:fffe", "htb", "rate",
                                  bits(max), "ceil",    bits(max)};
  std::vector<std::string> q0 = {"class",   "replace", "dev",    dev,   "parent",
                                 "1:fffe",  "classid", "1:1",    "htb", "rate",
                                 bits(min), "ceil",    bits(max)};
  top.insert(top.end(), burst.begin(), burst.end());
  q0.insert(q0.end(), burst.begin(), burst.end());
  std::string e = tc(top);
  if (e.empty()) e = tc(q0);
  if (!e.empty()) remove_root_qdisc(dev);
  return e;
}

std::string remove_root_qdisc(const std::string& dev) {
  return tc({"qdisc", "del", "dev", dev, "root"});
}

}  // namespace brisk
