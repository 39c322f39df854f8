// TempDir: a fresh directory under /tmp for one test, removed with everything in it (the
// directory's mode is restored first, so a test may make it read-only). slurp(): a file's bytes.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace brisk::test {

struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const char* name = "brisk-test") {
    std::string tmpl = std::string("/tmp/") + name + ".XXXXXX";
    dir = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace brisk::test
