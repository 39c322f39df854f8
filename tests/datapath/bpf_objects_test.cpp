// find_bpf_object(): $BRISK_BPF_DIR as the only place when set, the build tree's bpf/ next to
// the test binary (build/tests/bpf links to build/bpf), and an error naming every place tried.
// The install-layout and install-directory places are covered by tests/integration/install.sh.
#include "datapath/bpf_objects.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

namespace brisk {
namespace {

namespace fs = std::filesystem;

// Sets (or unsets) BRISK_BPF_DIR for one test and restores it afterwards.
class BpfDirEnv {
 public:
  explicit BpfDirEnv(const std::optional<std::string>& value) {
    if (const char* v = std::getenv("BRISK_BPF_DIR")) saved_ = v;
    if (value)
      ::setenv("BRISK_BPF_DIR", value->c_str(), 1);
    else
      ::unsetenv("BRISK_BPF_DIR");
  }
  ~BpfDirEnv() {
    if (saved_)
      ::setenv("BRISK_BPF_DIR", saved_->c_str(), 1);
    else
      ::unsetenv("BRISK_BPF_DIR");
  }

 private:
  std::optional<std::string> saved_;
};

fs::path temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "brisk-bpf-objects.XXXXXX").string();
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(BpfObjects, EnvironmentDirectoryIsTheOnlyPlaceWhenSet) {
  fs::path dir = temp_dir();
  std::ofstream(dir / "brisk_xdp.o") << "not really ELF";
  {
    BpfDirEnv env(dir.string());
    ASSERT_EQ(bpf_object_dirs(), std::vector<std::string>{dir.string()});
    BpfObjectSearch s = search_bpf_object(kXdpObject);
    EXPECT_EQ(s.path, (dir / "brisk_xdp.o").string());
    EXPECT_EQ(s.error(), "");

    BpfObjectSearch missing = search_bpf_object(kBenchObject);
    EXPECT_FALSE(missing.found());
    EXPECT_TRUE(missing.env_override);
    ASSERT_EQ(missing.tried.size(), 1u) << "no fall back to the build tree or the install directory";
    EXPECT_NE(missing.error().find((dir / "brisk_bench.o").string()), std::string::npos) << missing.error();
    EXPECT_NE(missing.error().find("$BRISK_BPF_DIR"), std::string::npos) << missing.error();
  }
  fs::remove_all(dir);
}

TEST(BpfObjects, EmptyEnvironmentVariableCountsAsUnset) {
  BpfDirEnv env(std::string{});
  EXPECT_GT(bpf_object_dirs().size(), 1u);
  EXPECT_FALSE(search_bpf_object(kXdpObject).env_override);
}

TEST(BpfObjects, BuildTreeBpfDirectoryNextToTheBinary) {
  BpfDirEnv env(std::nullopt);
  fs::path exe_dir = fs::read_symlink("/proc/self/exe").parent_path();
  std::vector<std::string> dirs = bpf_object_dirs();
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], (exe_dir / "bpf").string());
  EXPECT_TRUE(fs::path(dirs.back()).is_absolute()) << "the configured install directory comes last";
  for (std::size_t i = 0; i < dirs.size(); ++i)
    for (std::size_t j = i + 1; j < dirs.size(); ++j) EXPECT_NE(dirs[i], dirs[j]) << "searched twice";
  EXPECT_EQ(find_bpf_object(kXdpObject), (exe_dir / "bpf" / "brisk_xdp.o").string());
}

TEST(BpfObjects, ErrorNamesEveryPlaceTried) {
  BpfDirEnv env(std::nullopt);
  try {
    find_bpf_object("no_such_object.o");
    FAIL() << "found an object that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    std::string what = e.what();
    for (const std::string& dir : bpf_object_dirs())
      EXPECT_NE(what.find(dir + "/no_such_object.o"), std::string::npos) << what;
    EXPECT_NE(what.find("BRISK_BPF_DIR"), std::string::npos) << "the hint: " << what;
  }
}

}  // namespace
}  // namespace brisk
