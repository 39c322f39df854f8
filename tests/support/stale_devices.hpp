// What a killed test process left behind. The root fixtures of the driver tests name the
// namespaces and interfaces they create <prefix><pid><suffix> and remove them in TearDown, but
// a process that is killed (a ctest timeout sends SIGKILL) or aborts (a sanitizer's
// halt_on_error) never gets there. remove_stale() runs `remove + name` for every entry of `dir`
// named `prefix` followed by the pid of a process that no longer exists; a live pid (this
// process, or a reused one) is left alone.
//   remove_stale("/run/netns", "bxns", "ip netns del ");
//   remove_stale("/sys/class/net", "bxa", "ip link del ");
#pragma once

#include <signal.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace brisk::test {

inline void remove_stale(const std::string& dir, const std::string& prefix, const std::string& remove) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0 ||
        !std::isdigit(static_cast<unsigned char>(n[prefix.size()])))
      continue;
    const long pid = std::strtol(n.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      (void)std::system((remove + n + " >/dev/null 2>&1").c_str());
  }
}

}  // namespace brisk::test
