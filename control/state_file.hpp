// The state file on disk: bounded reading and parsing, atomic writing. What the document holds
// is in control/state.hpp; what StateStore does with a file that cannot be used (moves it
// aside, starts empty) is there too.
//
// Reading accepts what briskd itself could have written and nothing that could hurt it:
//   * a regular file, opened without following a symbolic link and without blocking (a FIFO
//     or a device at the path is "not a regular file", a symlink "a symbolic link");
//   * at most kStateMaxBytes (checked with fstat and again while reading);
//   * JSON whose arrays and objects nest at most kStateMaxDepth deep, checked on the bytes
//     before parsing: nlohmann::json parses deep input iteratively, but copying, comparing
//     and printing a document recurse once per level, and a file nested 100,000 deep
//     overflowed the stack at every start;
//   * an object with an integer "brisk_state" >= 1.
// Anything else is a problem, reported as one phrase ("nested more than 32 deep", ...).
//
// Writing (write_state_file): the document goes to a new file made by mkostemp() in the state
// file's directory (FILE.tmp-XXXXXX: a fresh name created with O_EXCL, so a file or symlink
// planted at a predictable name is never opened), is fsync'ed, renamed over FILE, and the
// directory is fsync'ed, so FILE is always either the old or the new document. A document
// longer than kStateMaxBytes is not written (briskd would refuse to read it back): the caller
// gets the error like any other failed write. A temporary file left by a crash mid-write is
// removed by remove_stale_temp_files() when the next briskd takes the state file's lock.
//
// Thread-safety: none needed (plain functions; the control thread calls them).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace brisk {

// Largest state file briskd reads or writes: about 150,000 static FDB entries, far above any
// configuration a host runs (a tap entry is ~150 bytes, an FDB entry ~110, pretty-printed).
inline constexpr std::size_t kStateMaxBytes = std::size_t{16} << 20;
// Deepest nesting of arrays and objects accepted; brisk writes at most 5 (document, section,
// entry, security bindings, a binding's addresses).
inline constexpr int kStateMaxDepth = 32;

struct StateParse {
  nlohmann::json doc;   // valid when problem is empty
  std::string problem;  // "" or why the text is not a usable state document
};
// Check and parse a state document's text (size, depth, JSON, "brisk_state").
StateParse parse_state_text(std::string_view text);

// The deepest nesting of arrays and objects in `text` (strings are skipped), counting no
// further than `limit + 1`.
int json_nesting_depth(std::string_view text, int limit);

struct StateRead {
  bool missing = false;  // the file does not exist (not a problem)
  nlohmann::json doc;
  std::string problem;  // "" or why the file cannot be used
};
StateRead read_state_file(const std::string& path);

// The text write_state_file() writes for `doc`.
std::string state_text(const nlohmann::json& doc);
// Atomically replace `path` with `doc`. Returns "" or the error.
std::string write_state_file(const std::string& path, const nlohmann::json& doc);
// Remove temporary files (FILE.tmp-XXXXXX) a briskd killed mid-write left; returns how many.
// Call only while holding the state file's lock.
std::size_t remove_stale_temp_files(const std::string& path);

}  // namespace brisk
