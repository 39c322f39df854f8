#include "control/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace brisk {

using json = nlohmann::json;

namespace {

std::string errno_text(int e) { return std::strerror(e); }

// The directory of `path` (".": a bare file name).
std::string dir_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  return dir.empty() ? "." : dir.string();
}

bool fsync_dir(const std::string& path) {
  int fd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string human_bytes(std::size_t n) {
  return n % (1u << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes";
}

// Write all of `text` to `fd`; "" or the errno text.
std::string write_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_text(errno);
    if (n == 0) return "short write";
    off += static_cast<std::size_t>(n);
  }
  return "";
}

}  // namespace

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

StateParse parse_state_text(std::string_view text) {
  StateParse r;
  if (text.size() > kStateMaxBytes) {
    r.problem = "larger than " + human_bytes(kStateMaxBytes);
    return r;
  }
  if (json_nesting_depth(text, kStateMaxDepth) > kStateMaxDepth) {
    r.problem = "nested more than " + std::to_string(kStateMaxDepth) + " deep";
    return r;
  }
  try {
    r.doc = json::parse(text);
  } catch (const json::exception& e) {
    r.problem = std::string("not valid JSON: ") + e.what();
    r.doc = json();
    return r;
  }
  if (!r.doc.is_object() || !r.doc.contains("brisk_state") ||
      !r.doc["brisk_state"].is_number_integer())
    r.problem = "not a brisk state document (no \"brisk_state\" version)";
  else if (r.doc["brisk_state"].get<long long>() < 1)
    r.problem = "unsupported state format " + r.doc["brisk_state"].dump();
  if (!r.problem.empty()) r.doc = json();
  return r;
}

StateRead read_state_file(const std::string& path) {
  StateRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      r.missing = true;
    } else if (errno == ELOOP) {
      r.problem = "it is a symbolic link";
    } else {
      r.problem = "cannot read it: " + errno_text(errno);
    }
    return r;
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0) {
    r.problem = "cannot read it: " + errno_text(errno);
  } else if (!S_ISREG(st.st_mode)) {
    r.problem = "not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > kStateMaxBytes) {
    r.problem = "larger than " + human_bytes(kStateMaxBytes) + " (" + std::to_string(st.st_size) +
                " bytes)";
  } else {
    // Read at most one byte more than the limit: a file growing meanwhile is still bounded.
    text.resize(kStateMaxBytes + 1);
    std::size_t got = 0;
    while (got < text.size()) {
      ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        r.problem = "cannot read it: " + errno_text(errno);
        break;
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (!r.problem.empty()) return r;
  StateParse p = parse_state_text(text);
  r.doc = std::move(p.doc);
  r.problem = std::move(p.problem);
  return r;
}

std::string state_text(const json& doc) {
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string write_state_file(const std::string& path, const json& doc) {
  std::string text = state_text(doc);
  if (text.size() > kStateMaxBytes)
    return "the state document would be " + std::to_string(text.size()) + " bytes, more than the " +
           human_bytes(kStateMaxBytes) + " briskd reads back; not written";
  std::error_code ec;
  std::filesystem::create_directories(dir_of(path), ec);
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return "cannot create a temporary file in " + dir_of(path) + ": " + errno_text(errno);
  std::string err = write_all(fd, text);
  if (!err.empty()) {
    err = "cannot write " + tmp + ": " + err;
  } else if (::fsync(fd) != 0) {
    err = "cannot fsync " + tmp + ": " + errno_text(errno);
  }
  if (::close(fd) != 0 && err.empty()) err = "cannot write " + tmp + ": " + errno_text(errno);
  if (err.empty() && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = "cannot rename " + tmp + " to " + path + ": " + errno_text(errno);
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    return err;
  }
  if (!fsync_dir(path))
    return "cannot fsync the directory " + dir_of(path) + ": " + errno_text(errno);
  return "";
}

std::size_t remove_stale_temp_files(const std::string& path) {
  std::error_code ec;
  const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp-";
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_of(path), ec)) {
    std::string name = e.path().filename().string();
    // mkostemp's names: the prefix and six characters.
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (::unlink(e.path().c_str()) == 0) ++n;  // a symlink is removed, never followed
  }
  return n;
}

}  // namespace brisk
