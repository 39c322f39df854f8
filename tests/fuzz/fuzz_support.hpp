// What the fuzz targets share: how a violated invariant ends the run, and the Switch they
// drive (tests/support/harness.hpp).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/harness.hpp"

namespace brisk::fuzz {

// Print "<target>: invariant violated: <what>" and abort (libFuzzer saves the input).
[[noreturn]] inline void die(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: invariant violated: %s\n", target, what.c_str());
  std::abort();
}

// One Switch for the whole run, bridge "fzbr", with memory ports and no bridge interfaces
// (`tap create ... ip|dhcp` touches nothing on the host). A small FDB (fdb-limit 256) keeps
// listings and the `nuke` after every input cheap; the default 65536 costs ~130k slot visits
// each time.
inline test::Harness& harness() {
  static test::Harness* h = new test::Harness("fzbr", 1, [](SwitchOptions& o) {
    o.bridge_interface = false;
    o.fdb_limit = 256;
  });
  return *h;
}

}  // namespace brisk::fuzz
