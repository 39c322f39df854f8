// Where brisk's compiled BPF objects (bpf/: brisk_xdp.o, brisk_bench.o) are found at run time.
//
// Every program that loads one of them (briskd's AF_XDP ports and XDP fast path, the test
// executables, the benchmark harness) asks find_bpf_object() and nothing else, so a build
// tree, an installed system and a relocated copy all behave the same way.
//
// Search order (the first directory that holds a readable <name> wins):
//   1. $BRISK_BPF_DIR, when set and not empty. It is then the ONLY place searched: an explicit
//      override that silently fell back to another copy would load an object the user did
//      not ask for (libxdp treats LIBXDP_OBJECT_PATH the same way).
//   2. <exe dir>/bpf: next to the binary, the build tree's layout (build/briskd and
//      build/bpf/; tests/CMakeLists.txt links build/tests/bpf to it for the test executables).
//   3. <exe dir>/<the install's path from sbin/ to its BPF directory>, e.g.
//      <exe dir>/../lib/x86_64-linux-gnu/brisk/bpf (BRISK_BPF_EXE_RELDIR, compiled in): the
//      installed layout seen from an installed binary (briskd in sbin/, brisk-bench in bin/,
//      the same depth). An install made with `cmake --install --prefix P`, into a DESTDIR,
//      or moved elsewhere as a whole finds its own objects.
//   4. The configured install directory, ${CMAKE_INSTALL_FULL_LIBDIR}/brisk/bpf, compiled in
//      (BRISK_BPF_INSTALL_DIR).
// <exe dir> is the directory of /proc/self/exe (symbolic links resolved). Directories that
// are the same path after normalisation are searched once.
//
// Thread-safety: the functions read the environment and the file system and keep no state;
// call them from control paths (construction of ports), never from workers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace brisk {

// The objects bpf/CMakeLists.txt builds.
inline constexpr std::string_view kXdpObject = "brisk_xdp.o";      // briskd's XDP program and maps
inline constexpr std::string_view kBenchObject = "brisk_bench.o";  // brisk-bench's generator and sink

// The directories searched, in order (see above).
std::vector<std::string> bpf_object_dirs();

// The outcome of looking for one object.
struct BpfObjectSearch {
  std::string name;                // e.g. "brisk_xdp.o"
  std::string path;                // the object found; empty when none was
  std::vector<std::string> tried;  // every place looked at, with the reason it was passed over
  bool env_override = false;       // only $BRISK_BPF_DIR was searched
  bool found() const { return !path.empty(); }
  // One line naming the object and every place tried, with a hint (empty when found).
  std::string error() const;
};

// Looks for `name` in bpf_object_dirs(). Never throws.
BpfObjectSearch search_bpf_object(std::string_view name);

// The path of `name`, or throws std::system_error(ENOENT) with search_bpf_object()'s error().
std::string find_bpf_object(std::string_view name);

}  // namespace brisk
