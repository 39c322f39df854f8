// Capture files (control/capture_file.hpp): created new, never through a symlink, an existing
// file only with `overwrite` and only a regular file of the caller's; with the caller's
// identity when briskd is root.
#include "control/capture_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/harness.hpp"
#include "support/temp_dir.hpp"

namespace brisk::test {
namespace {

namespace fs = std::filesystem;

// Opens and closes; returns the error ("" when opened).
std::string try_open(const std::string& path, bool overwrite, const Caller& c = Caller::self()) {
  CaptureFileOpen f = open_capture_file(path, overwrite, c);
  if (f.fd >= 0) ::close(f.fd);
  EXPECT_EQ(f.fd >= 0, f.error.empty());
  return f.error;
}

TEST(CaptureFile, NewFilesOnlyUnlessOverwrite) {
  TempDir t("brisk-capture-file");
  std::string path = (t.dir / "a.pcap").string();
  EXPECT_EQ(try_open(path, false), "");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  { std::ofstream(path) << "earlier capture"; }
  EXPECT_NE(try_open(path, false).find("exists: add overwrite"), std::string::npos);
  EXPECT_EQ(slurp(path), "earlier capture");
  EXPECT_EQ(try_open(path, true), "");
  EXPECT_EQ(fs::file_size(path), 0u) << "overwrite truncates";
  EXPECT_NE(try_open("relative.pcap", false).find("absolute path"), std::string::npos);
  EXPECT_NE(try_open((t.dir / "no" / "dir.pcap").string(), false).find("cannot create"),
            std::string::npos);
}

TEST(CaptureFile, SymlinksAreNeverFollowed) {
  TempDir t("brisk-capture-file");
  std::string victim = (t.dir / "victim").string();
  std::string link = (t.dir / "a.pcap").string();
  std::string dangling = (t.dir / "b.pcap").string();
  { std::ofstream(victim) << "precious"; }
  fs::create_symlink(victim, link);
  fs::create_symlink(t.dir / "would-be-created", dangling);
  for (bool overwrite : {false, true}) {
    EXPECT_NE(try_open(link, overwrite).find("is a symbolic link"), std::string::npos);
    EXPECT_NE(try_open(dangling, overwrite).find("is a symbolic link"), std::string::npos);
  }
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_FALSE(fs::exists(t.dir / "would-be-created"));
}

TEST(CaptureFile, OverwriteTakesOnlyARegularFileOfTheCallers) {
  TempDir t("brisk-capture-file");
  std::string fifo = (t.dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(try_open(fifo, true).find("not a regular file"), std::string::npos);  // no blocking
  EXPECT_NE(try_open(t.dir.string(), true).find("capture file"), std::string::npos);
  std::string mine = (t.dir / "mine.pcap").string();
  { std::ofstream(mine) << "x"; }
  Caller other{::geteuid() + 1, ::getegid()};
  if (::geteuid() != 0) {
    // Not root: the file belongs to us, not to `other`.
    EXPECT_NE(try_open(mine, true, other).find("not to the caller"), std::string::npos);
    EXPECT_EQ(slurp(mine), "x");
  }
}

// As root, the file is opened with the caller's identity.
TEST(CaptureFile, RootOpensWithTheCallersIdentity) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (briskd's case)";
  TempDir t("brisk-capture-file");
  const Caller nobody{65534, 65534};
  fs::permissions(t.dir, fs::perms::owner_all | fs::perms::others_exec);
  fs::path theirs = t.dir / "theirs", roots = t.dir / "roots";
  fs::create_directory(theirs);
  fs::create_directory(roots);
  ASSERT_EQ(::chown(theirs.c_str(), nobody.uid, nobody.gid), 0);
  // A new file in a directory the caller may write: created, and the caller's.
  std::string ok = (theirs / "a.pcap").string();
  EXPECT_EQ(try_open(ok, false, nobody), "");
  struct stat st {};
  ASSERT_EQ(::stat(ok.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody.uid);
  EXPECT_EQ(st.st_gid, nobody.gid);
  EXPECT_EQ(try_open(ok, true, nobody), "") << "the caller's own file may be overwritten";
  // Not where the caller could not create a file itself.
  EXPECT_NE(try_open((roots / "a.pcap").string(), false, nobody).find("Permission denied"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(roots / "a.pcap"));
  // Not a file of root's, even in the caller's directory and even when it may write it.
  std::string root_file = (theirs / "root.pcap").string();
  { std::ofstream(root_file) << "root's"; }
  ::chmod(root_file.c_str(), 0666);
  EXPECT_NE(try_open(root_file, true, nobody).find("belongs to uid 0"), std::string::npos);
  EXPECT_EQ(slurp(root_file), "root's");
  // The control thread is root again afterwards.
  std::string after = (roots / "b.pcap").string();
  EXPECT_EQ(try_open(after, false), "");
  ASSERT_EQ(::stat(after.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST(CaptureFile, CommandTakesOverwrite) {
  TempDir t("brisk-capture-file");
  Harness h("cfbr");
  ASSERT_TRUE(h.cmd("tap create 10 name cf_a").ok);
  std::string path = (t.dir / "a.pcap").string();
  { std::ofstream(path) << "earlier"; }
  Reply r = h.cmd("capture pcap tap cf_a " + path);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.text.find("exists"), std::string::npos) << r.text;
  EXPECT_EQ(slurp(path), "earlier");
  r = h.cmd("capture pcap tap cf_a " + path + " overwrite snaplen 128");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_TRUE(h.cmd("clear capture").ok);
  EXPECT_EQ(fs::file_size(path), 24u) << "a pcap header";
  EXPECT_FALSE(h.cmd("capture pcap tap cf_a " + path + " overwrite overwrite").ok);
  EXPECT_FALSE(h.cmd("capture pcap tap cf_a " + path + " snaplen").ok);
}

}  // namespace
}  // namespace brisk::test
