// The state file on disk (control/state_file.hpp) and what the store does with a file it
// cannot use: bounded depth and size, files that are not regular files, sections and entries
// of the wrong type, the temporary file that is never a planted one.
#include "control/state_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control/state.hpp"
#include "support/harness.hpp"
#include "support/temp_dir.hpp"

namespace brisk::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string nested(int depth, const std::string& section = "taps") {
  return "{\"brisk_state\": 1, \"" + section + "\": " + std::string(depth, '[') +
         std::string(depth, ']') + "}";
}

// Loads `path` into a fresh switch; the file must have been moved aside with `why` in the
// report. Returns the file moved aside.
fs::path expect_moved_aside(const fs::path& dir, const std::string& path, const std::string& why) {
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  EXPECT_EQ(store.load(h.sw(), rep), "");
  EXPECT_EQ(rep.errors.size(), 1u);
  if (!rep.errors.empty()) {
    EXPECT_NE(rep.errors[0].find(why), std::string::npos) << rep.errors[0];
    EXPECT_NE(rep.errors[0].find("moved to " + path + ".corrupt-"), std::string::npos)
        << rep.errors[0];
  }
  fs::path aside;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().starts_with("state.json.corrupt-")) aside = e.path();
  EXPECT_FALSE(aside.empty()) << "not moved aside";
  EXPECT_FALSE(fs::exists(fs::symlink_status(path))) << "still at " << path;
  // Life goes on: the next change writes a new state file.
  EXPECT_TRUE(h.cmd("tap create 5 name c1").ok);
  EXPECT_EQ(store.sync(h.sw()), "");
  EXPECT_EQ(json::parse(slurp(path))["taps"][0]["name"], "c1");
  return aside;
}

TEST(StateFile, NestingDepthIsCountedOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("{}", 32), 1);
  EXPECT_EQ(json_nesting_depth(R"({"a": [[{"b": 1}]]})", 32), 4);
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{"})", 32), 1);
  EXPECT_EQ(json_nesting_depth(R"({"a": "\"[[[[", "b": []})", 32), 2);
  EXPECT_EQ(json_nesting_depth(std::string(100000, '['), 32), 33)
      << "stops counting past the limit";
}

TEST(StateFile, ParseBoundsDepthAndSize) {
  EXPECT_EQ(parse_state_text(nested(30)).problem, "");
  EXPECT_EQ(parse_state_text(nested(33)).problem, "nested more than 32 deep");
  EXPECT_EQ(parse_state_text(nested(100000)).problem, "nested more than 32 deep");
  std::string big = "{\"brisk_state\": 1, \"x\": \"" + std::string(kStateMaxBytes, 'a') + "\"}";
  EXPECT_EQ(parse_state_text(big).problem, "larger than 16 MiB");
  EXPECT_NE(parse_state_text("{\"brisk_state\": 0}").problem, "");
  EXPECT_NE(parse_state_text("{\"brisk_state\": \"1\"}").problem, "");
  EXPECT_NE(parse_state_text("[]").problem, "");
  EXPECT_NE(parse_state_text("{\"brisk_state\": 1,").problem.find("not valid JSON"),
            std::string::npos);
}

TEST(StateFile, DeepFileIsMovedAsideAndBriskStarts) {
  for (const char* section : {"taps", "unknown_section"}) {
    TempDir t("brisk-state-file");
    std::string path = (t.dir / "state.json").string();
    std::string text = nested(100000, section);
    { std::ofstream(path) << text; }
    fs::path aside = expect_moved_aside(t.dir, path, "nested more than 32 deep");
    EXPECT_EQ(slurp(aside), text) << "the file is kept as it was";
  }
}

TEST(StateFile, HugeFileIsMovedAside) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  {
    std::ofstream out(path);
    out << "{\"brisk_state\": 1}";
  }
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(kStateMaxBytes) + 1), 0);  // sparse
  expect_moved_aside(t.dir, path, "larger than 16 MiB");
}

TEST(StateFile, SymlinkAndFifoAreNotReadButMovedAside) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  std::string victim = (t.dir / "victim").string();
  { std::ofstream(victim) << "{\"brisk_state\": 1, \"taps\": []}"; }
  fs::create_symlink(victim, path);
  fs::path aside = expect_moved_aside(t.dir, path, "a symbolic link");
  EXPECT_TRUE(fs::is_symlink(aside)) << "the link itself is moved, not its target";
  EXPECT_EQ(slurp(victim), "{\"brisk_state\": 1, \"taps\": []}");
  fs::remove(aside);
  fs::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  expect_moved_aside(t.dir, path, "not a regular file");  // and load() did not block
}

TEST(StateFile, SectionsAndEntriesOfTheWrongTypeAreNamedNotFatal) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  {
    std::ofstream(path) << R"({"brisk_state": 1, "fdb": [5, "x", null, {"vlan": "ten"}],
        "taps": {"name": "t1"}, "bridges": "stbr", "ports": [[1]], "security": [true],
        "aliases": [{"alias": 5, "vlan": []}], "mirrors": 7, "vhosts": [{"name": {}}],
        "tunnels": [{"name": "x", "key": "k"}]})";
  }
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "") << "a file with bad types does not stop briskd";
  std::string all;
  for (const auto& e : rep.errors) all += e + "\n";
  for (const char* s : {"section 'taps' is an object", "section 'bridges' is a string",
                        "section 'mirrors' is a number", "fdb ?/?/?", "fdb ?/?/?"})
    EXPECT_NE(all.find(s), std::string::npos) << s << " in\n" << all;
  // Every wrong entry is kept pending; the store still writes.
  EXPECT_EQ(store.sync(h.sw()), "");
  Reply reply = store.show();
  ASSERT_TRUE(reply.ok);
  EXPECT_NE(reply.text.find("pending fdb"), std::string::npos) << reply.text;
}

TEST(StateFile, PlantedTmpSymlinkIsNeverFollowed) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  std::string victim = (t.dir / "victim").string();
  { std::ofstream(victim) << "precious"; }
  fs::create_symlink(victim, path + ".tmp");  // the fixed name earlier briskds used
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "");
  ASSERT_TRUE(h.cmd("tap create 5 name p1").ok);
  ASSERT_EQ(store.sync(h.sw()), "");
  ASSERT_TRUE(h.cmd("tap create 6 name p2").ok);
  ASSERT_EQ(store.sync(h.sw()), "");
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
  EXPECT_EQ(json::parse(slurp(path))["taps"].size(), 2u);
  for (auto& e : fs::directory_iterator(t.dir))
    EXPECT_FALSE(e.path().filename().string().starts_with("state.json.tmp-")) << e.path();
}

TEST(StateFile, PlantedLockSymlinkIsNotFollowed) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  std::string victim = (t.dir / "nologin").string();  // a file whose mere existence matters
  fs::create_symlink(victim, path + ".lock");
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  EXPECT_NE(store.load(h.sw(), rep), "");
  EXPECT_FALSE(fs::exists(victim)) << "the lock was created through the symlink";
}

TEST(StateFile, TemporaryFilesOfACrashedWriteAreRemovedAtLoad) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  { std::ofstream(path + ".tmp-a1B2c3") << "{\"brisk_state\": 1, \"ta"; }
  { std::ofstream(path + ".tmp-keepme-not-ours") << "x"; }
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "");
  EXPECT_FALSE(fs::exists(path + ".tmp-a1B2c3"));
  EXPECT_TRUE(fs::exists(path + ".tmp-keepme-not-ours"));
}

TEST(StateFile, ADocumentOverTheLimitIsNotWritten) {
  TempDir t("brisk-state-file");
  std::string path = (t.dir / "state.json").string();
  json doc{{"brisk_state", 1}, {"x", std::string(kStateMaxBytes, 'a')}};
  EXPECT_NE(write_state_file(path, doc).find("more than the 16 MiB"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(write_state_file(path, json{{"brisk_state", 1}}), "");
  EXPECT_EQ(json::parse(slurp(path)), (json{{"brisk_state", 1}}));
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace
}  // namespace brisk::test
