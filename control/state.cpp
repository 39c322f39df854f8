#include "control/state.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "control/state_file.hpp"
#include "control/validate.hpp"

namespace brisk {

using json = nlohmann::json;

namespace {

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof(b), "%Y%m%dT%H%M%S", &tm);
  return b;
}

// "an object", "a number", ... (log lines about a section of the wrong type).
std::string a_type(const json& j) {
  std::string t = j.type_name();
  return (t == "object" || t == "array" ? "an " : "a ") + t;
}

}  // namespace

StateStore::StateStore(std::string path) : path_(std::move(path)) {}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

ReplayReport StateStore::replay(Switch& sw, const json& doc) {
  ReplayReport rep;
  std::set<std::string> known;
  for (const auto& s : state_sections()) {
    known.insert(s.name);
    if (!doc.contains(s.name)) continue;
    const json& arr = doc.at(s.name);
    if (!arr.is_array()) {
      std::string err = "section '" + s.name + "' is " + a_type(arr) + ", not a list; ignored";
      rep.errors.push_back(err);
      syslog(LOG_ERR, "state: %s (nothing of it is restored, and it is not written back)",
             err.c_str());
      continue;
    }
    for (const auto& e : arr) {
      std::string err;
      try {
        err = s.apply(sw, e);
      } catch (const std::exception& ex) {
        err = ex.what();
      }
      if (err.empty()) {
        ++rep.applied;
        continue;
      }
      std::string key = s.key(e);
      rep.errors.push_back(s.name + " " + key + ": " + err);
      syslog(LOG_ERR,
             "state: cannot restore %s %s: %s (kept in the state file; `state retry` "
             "replays it)",
             s.name.c_str(), printable(key).c_str(), printable(err).c_str());
      json kept = e;
      if (kept.is_object()) kept.erase("pending");
      pending_.push_back({s.name, kept, err});
    }
  }
  for (auto& [name, v] : doc.items()) {
    if (known.count(name) || name == "brisk_state" || name == "written") continue;
    unknown_[name] = v;
    syslog(LOG_WARNING, "state: section '%s' is unknown to this briskd; kept as it is",
           name.c_str());
  }
  return rep;
}

std::string StateStore::load(Switch& sw, ReplayReport& report) {
  if (!enabled()) return "";
  std::error_code ec;
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string lock = path_ + ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return "cannot open " + lock + ": " + std::strerror(errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return "state file " + path_ + " is in use by another briskd (" + lock + " is locked)";
  if (std::size_t n = remove_stale_temp_files(path_); n > 0)
    syslog(LOG_NOTICE, "state: removed %zu temporary file(s) a previous briskd left in %s", n,
           dir.empty() ? "." : dir.c_str());

  StateRead in = read_state_file(path_);
  if (in.missing) {
    syslog(LOG_INFO, "state: %s does not exist yet; starting with an empty configuration",
           path_.c_str());
    return "";
  }
  if (!in.problem.empty()) {
    std::string aside = path_ + ".corrupt-" + timestamp();
    if (::rename(path_.c_str(), aside.c_str()) != 0)
      return "state file " + path_ + " is unusable (" + in.problem +
             ") and cannot be moved aside (" + std::strerror(errno) +
             "); fix or remove it, or start with --state elsewhere";
    load_warning_ = "state file " + path_ + " was unusable (" + in.problem + "); moved to " +
                    aside + "; started with an empty configuration";
    syslog(LOG_ERR, "state: %s", load_warning_.c_str());
    report.errors.push_back(load_warning_);
    return "";
  }
  const json& doc = in.doc;
  if (doc["brisk_state"].get<long long>() > kStateFormat)
    syslog(LOG_WARNING,
           "state: %s has format %lld, newer than this briskd's %d; restoring what it "
           "knows",
           path_.c_str(), doc["brisk_state"].get<long long>(), kStateFormat);
  ReplayReport r = replay(sw, doc);
  report.applied += r.applied;
  report.errors.insert(report.errors.end(), r.errors.begin(), r.errors.end());
  syslog(LOG_INFO, "state: restored %zu entries from %s (%zu failed)", r.applied, path_.c_str(),
         r.errors.size());
  // The file as read is what is on disk: the next sync compares against it.
  last_written_ = doc;
  return "";
}

json StateStore::compose(const Switch& sw) const {
  json doc = dump_state(sw);
  // Pending entries (failed at replay) stay until the live configuration has the same key.
  for (const auto& s : state_sections()) {
    std::set<std::string> live;
    for (const auto& e : doc[s.name]) live.insert(s.key(e));
    for (const auto& p : pending_) {
      if (p.section != s.name || live.count(s.key(p.entry))) continue;
      json e = p.entry;
      if (e.is_object()) e["pending"] = p.error;
      doc[s.name].push_back(e);
    }
  }
  for (auto& [name, v] : unknown_.items()) doc[name] = v;
  return doc;
}

std::string StateStore::sync(const Switch& sw, bool force_compare) {
  if (!enabled()) return "";
  if (!force_compare) {
    // A failed write is retried once a second, not on every loop iteration.
    if (!last_error_.empty() && sw.now() == last_attempt_) return last_error_;
    if (sw.config_version() == last_version_ && last_error_.empty()) return "";
  }
  last_attempt_ = sw.now();
  last_version_ = sw.config_version();
  json doc = compose(sw);
  if (doc == last_written_ && last_error_.empty()) return "";
  std::string err = write_state_file(path_, doc);
  if (!err.empty()) {
    if (err != last_error_) syslog(LOG_ERR, "state: %s", err.c_str());
    last_error_ = err;
    // What is on disk is not known any more (a write can fail after its rename): the next
    // attempt writes whatever the configuration is then.
    last_written_ = json();
    return err;
  }
  last_error_.clear();
  last_written_ = std::move(doc);
  ++writes_;
  return "";
}

StateStore::Checkpoint StateStore::checkpoint(const Switch& sw) const {
  if (!enabled()) return {};
  return Checkpoint{dump_state(sw), pending_};
}

std::string StateStore::commit(Switch& sw, const Checkpoint& before) {
  if (!enabled()) return "";
  std::string err = sync(sw);
  if (err.empty()) return "";
  if (pending_ == before.pending && dump_state(sw) == before.live) return "";  // not this command's
  // Undo the command: the configuration and the pending entries as they were.
  pending_ = before.pending;
  std::string text = err;
  std::vector<ReconcileFailure> failed = reconcile_state(sw, before.live);
  for (const auto& f : failed) {
    std::string key;
    for (const auto& s : state_sections())
      if (s.name == f.section) key = s.key(f.entry);
    syslog(LOG_ERR, "state: undoing a command: cannot %s %s %s: %s",
           f.withdrawing ? "remove" : "restore", f.section.c_str(), key.c_str(), f.error.c_str());
    text += "; undo could not " + std::string(f.withdrawing ? "remove " : "restore ") + f.section +
            " " + key + " (" + f.error + ")";
    if (!f.withdrawing) pending_.push_back({f.section, f.entry, f.error});
  }
  syslog(LOG_WARNING, "state: a command was undone: the state file cannot be written: %s",
         err.c_str());
  sync(sw);  // the configuration as it is now; retried by the periodic sync when it fails
  return text;
}

std::size_t StateStore::pending_count() const { return pending_.size(); }

Reply StateStore::show() const {
  std::string text = "file: " + (enabled() ? path_ : std::string("(none: --no-state)")) + "\n";
  if (!load_warning_.empty()) text += "warning: " + load_warning_ + "\n";
  if (!last_error_.empty()) text += "last write failed: " + last_error_ + "\n";
  json pend = json::array();
  for (const auto& p : pending_) {
    const StateSection* s = nullptr;
    for (const auto& x : state_sections())
      if (x.name == p.section) s = &x;
    std::string key = s ? s->key(p.entry) : "?";
    text += "pending " + p.section + " " + key + ": " + p.error + "\n";
    pend.push_back({{"section", p.section}, {"key", key}, {"error", p.error}, {"entry", p.entry}});
  }
  json data{{"file", path_},   {"enabled", enabled()},     {"writes", writes_},
            {"pending", pend}, {"warning", load_warning_}, {"last_error", last_error_}};
  return Reply::okay(text, data);
}

Reply StateStore::retry(Switch& sw) {
  std::vector<Pending> todo = std::move(pending_);
  pending_.clear();
  json doc = json::object();
  for (const auto& s : state_sections()) doc[s.name] = json::array();
  for (const auto& p : todo) doc[p.section].push_back(p.entry);
  ReplayReport r = replay(sw, doc);
  std::string text = "restored " + std::to_string(r.applied) + ", still pending " +
                     std::to_string(pending_.size());
  for (const auto& e : r.errors) text += "\n" + e;
  return Reply::okay(text, json{{"restored", r.applied}, {"pending", pending_.size()}});
}

Reply StateStore::forget(const std::string& key) {
  std::size_t before = pending_.size();
  std::erase_if(pending_, [&](const Pending& p) {
    if (key == "all") return true;
    for (const auto& s : state_sections())
      if (s.name == p.section) return s.key(p.entry) == key;
    return false;
  });
  if (pending_.size() == before) return Reply::error("no pending state entry " + key);
  return Reply::okay("forgot " + std::to_string(before - pending_.size()) + " entries");
}

}  // namespace brisk
