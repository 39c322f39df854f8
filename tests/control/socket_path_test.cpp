// Where the control socket may live (control/socket_path.hpp): directories made 0750 whatever
// the umask, directories others can write refused, and only a stale socket replaced.
#include "control/socket_path.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace brisk {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/brisk-socket-path-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

unsigned mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A Unix socket bound at `path`: listening (live) or closed at once (stale).
int bind_at(const std::string& path, bool listen) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  if (listen) {
    EXPECT_EQ(::listen(fd, 4), 0);
    return fd;
  }
  ::close(fd);
  return -1;
}

TEST(SocketPath, DirectoryOf) {
  EXPECT_EQ(socket_dir_of("/run/brisk/brisk.sock"), "/run/brisk");
  EXPECT_EQ(socket_dir_of("/brisk.sock"), "/");
  EXPECT_EQ(socket_dir_of("brisk.sock"), ".");
  EXPECT_EQ(socket_dir_of("run/brisk.sock"), "run");
}

TEST(SocketPath, MadeDirectoriesAre0750WhateverTheUmask) {
  TempDir t;
  const mode_t before = ::umask(0);
  std::string err = make_socket_dir(t.path + "/a/b/brisk.sock");
  ::umask(before);
  EXPECT_EQ(err, "");
  EXPECT_EQ(mode_of(t.path + "/a"), 0750u);
  EXPECT_EQ(mode_of(t.path + "/a/b"), 0750u);
  EXPECT_EQ(make_socket_dir(t.path + "/a/b/brisk.sock"), "") << "an existing good one is fine";
}

TEST(SocketPath, DirectoriesOthersCanWriteAreRefused) {
  TempDir t;
  const std::string open = t.path + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0700), 0);
  for (mode_t m : {0777, 0770, 0757, 01777}) {
    ASSERT_EQ(::chmod(open.c_str(), m), 0);
    std::string err = make_socket_dir(open + "/brisk.sock");
    EXPECT_TRUE(has(err, "socket directory " + open + " is writable by group or others")) << err;
    EXPECT_EQ(check_socket_dir(open + "/brisk.sock"), err);
    EXPECT_EQ(check_socket(open + "/brisk.sock"), err) << "clients apply the same rule";
  }
  // Above the socket's directory: a sticky directory (like /tmp) is fine, another is not.
  ASSERT_EQ(::chmod(open.c_str(), 01777), 0);
  EXPECT_EQ(make_socket_dir(open + "/sub/brisk.sock"), "");
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
  std::string err = check_socket_dir(open + "/sub/brisk.sock");
  EXPECT_TRUE(
      has(err, "directory " + open + " is writable by group or others (mode 0777, not sticky)"))
      << err;
  err = make_socket_dir(open + "/new/brisk.sock");
  EXPECT_NE(err, "");
  EXPECT_FALSE(fs::exists(open + "/new")) << "nothing is made where it would be refused";
}

TEST(SocketPath, ClientsLeaveAMissingSocketToConnect) {
  TempDir t;
  EXPECT_EQ(check_socket(t.path + "/brisk.sock"), "") << "no socket: connect() says so";
  EXPECT_EQ(check_socket(t.path + "/run/brisk/brisk.sock"), "") << "no directory either";
  const std::string open = t.path + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
  EXPECT_NE(check_socket(open + "/run/brisk.sock"), "")
      << "but not where others could make the directory first";
}

TEST(SocketPath, DirectoriesOfAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory away";
  TempDir t;
  const std::string theirs = t.path + "/theirs";
  ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  std::string err = make_socket_dir(theirs + "/brisk.sock");
  EXPECT_EQ(err, "socket directory " + theirs + " is owned by uid 65534, not by root or uid 0");
  // The socket itself, in a good directory, owned by someone else: clients refuse it.
  const std::string sock = t.path + "/brisk.sock";
  int live = bind_at(sock, true);
  ASSERT_EQ(::lchown(sock.c_str(), 65534, 65534), 0);
  EXPECT_EQ(check_socket(sock), "socket " + sock + " is owned by uid 65534, not by root or uid 0");
  ::close(live);
}

TEST(SocketPath, OnlyAStaleSocketIsReplaced) {
  TempDir t;
  const std::string p = t.path + "/brisk.sock";
  EXPECT_EQ(claim_socket_path(p), "") << "nothing there";

  {
    std::ofstream(p) << "precious\n";
    std::string err = claim_socket_path(p);
    EXPECT_EQ(err, p + " exists and is a regular file, not a socket; briskd leaves it alone "
                       "(remove it or choose another --socket)");
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "precious") << "left untouched";
    EXPECT_TRUE(has(check_socket(p), "is a regular file, not a socket"));
    fs::remove(p);
  }
  ASSERT_EQ(::mkdir(p.c_str(), 0700), 0);
  EXPECT_TRUE(has(claim_socket_path(p), "exists and is a directory"));
  EXPECT_TRUE(fs::is_directory(p));
  fs::remove(p);

  fs::create_symlink(t.path + "/victim", p);
  EXPECT_TRUE(has(claim_socket_path(p), "exists and is a symbolic link"));
  EXPECT_TRUE(fs::is_symlink(p));
  fs::remove(p);

  int live = bind_at(p, true);
  EXPECT_TRUE(has(claim_socket_path(p), "another program (another briskd?) answers on " + p));
  EXPECT_TRUE(fs::is_socket(p)) << "a live socket is left alone";
  ::close(live);

  // Now nobody listens: stale, replaced.
  EXPECT_EQ(claim_socket_path(p), "");
  EXPECT_FALSE(fs::exists(fs::symlink_status(p)));
  bind_at(p, false);
  EXPECT_EQ(claim_socket_path(p), "");
  EXPECT_FALSE(fs::exists(fs::symlink_status(p)));
}

}  // namespace
}  // namespace brisk
