#include "datapath/bpf_objects.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

// Compiled in by CMakeLists.txt (target brisk_bpf_objects); empty: that place is not searched.
#ifndef BRISK_BPF_INSTALL_DIR  // absolute: ${CMAKE_INSTALL_FULL_LIBDIR}/brisk/bpf
#define BRISK_BPF_INSTALL_DIR ""
#endif
#ifndef BRISK_BPF_EXE_RELDIR  // the same, relative to the installed briskd's directory
#define BRISK_BPF_EXE_RELDIR ""
#endif

namespace brisk {

namespace {

constexpr const char* kEnvDir = "BRISK_BPF_DIR";

const char* env_dir() {
  const char* d = std::getenv(kEnvDir);
  return d != nullptr && *d != '\0' ? d : nullptr;
}

// The directory of the running executable (symbolic links resolved), or empty.
std::filesystem::path exe_dir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

void add_unique(std::vector<std::string>& dirs, const std::filesystem::path& dir) {
  std::string d = dir.lexically_normal().string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  if (d.empty()) return;
  for (const std::string& e : dirs)
    if (e == d) return;
  dirs.push_back(std::move(d));
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "nowhere" : out;
}

}  // namespace

std::vector<std::string> bpf_object_dirs() {
  std::vector<std::string> dirs;
  if (const char* d = env_dir()) {
    dirs.emplace_back(d);
    return dirs;
  }
  if (std::filesystem::path exe = exe_dir(); !exe.empty()) {
    add_unique(dirs, exe / "bpf");
    if (*BRISK_BPF_EXE_RELDIR != '\0') add_unique(dirs, exe / BRISK_BPF_EXE_RELDIR);
  }
  if (*BRISK_BPF_INSTALL_DIR != '\0') add_unique(dirs, BRISK_BPF_INSTALL_DIR);
  return dirs;
}

BpfObjectSearch search_bpf_object(std::string_view name) {
  BpfObjectSearch s;
  s.name = name;
  s.env_override = env_dir() != nullptr;
  for (const std::string& dir : bpf_object_dirs()) {
    std::string path = dir + "/" + s.name;
    if (::access(path.c_str(), R_OK) == 0) {
      s.path = std::move(path);
      break;
    }
    s.tried.push_back(path + " (" + std::strerror(errno) + ")");
  }
  return s;
}

std::string BpfObjectSearch::error() const {
  if (found()) return {};
  if (env_override)
    return "cannot find BPF object " + name + " in $" + kEnvDir + ": tried " + join(tried) +
           "; unset " + kEnvDir + " to search next to the binary and in the install directory";
  return "cannot find BPF object " + name + ": tried " + join(tried) + "; set " + kEnvDir +
         " to the directory that holds it";
}

std::string find_bpf_object(std::string_view name) {
  BpfObjectSearch s = search_bpf_object(name);
  if (!s.found()) throw std::system_error(ENOENT, std::generic_category(), s.error());
  return s.path;
}

}  // namespace brisk
