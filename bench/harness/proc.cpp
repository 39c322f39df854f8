#include "bench/harness/proc.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

extern char** environ;

namespace bench {
namespace {

volatile sig_atomic_t g_interrupted = 0;
bool g_ignore = false;
std::set<pid_t> g_children;  // spawned, not yet reaped

void on_signal(int) { g_interrupted = 1; }

}  // namespace

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool interrupted() { return g_interrupted != 0 && !g_ignore; }
void ignore_interrupts() { g_ignore = true; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: blocking calls return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void sleep_s(double seconds) {
  double end = now_s() + seconds;
  for (;;) {
    if (interrupted()) throw Interrupted();
    double left = end - now_s();
    if (left <= 0) return;
    double step = std::min(left, 0.05);
    timespec ts{static_cast<time_t>(step),
                static_cast<long>((step - static_cast<time_t>(step)) * 1e9)};
    nanosleep(&ts, nullptr);
  }
}

pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& opts) {
  if (argv.empty()) throw std::runtime_error("spawn: empty command");
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const auto& e : opts.env) envs.push_back(e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    if (opts.nice != 0) (void)setpriority(PRIO_PROCESS, 0, opts.nice);
    signal(SIGPIPE, SIG_DFL);
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    int in = open("/dev/null", O_RDONLY);
    int out = open(opts.log.empty() ? "/dev/null" : opts.log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                   0644);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!write(errpipe[1], &e, sizeof(e));
    _exit(127);
  }
  close(errpipe[1]);
  int e = 0;
  ssize_t n;
  do {
    n = read(errpipe[0], &e, sizeof(e));
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == sizeof(e)) {
    waitpid(pid, nullptr, 0);
    throw std::runtime_error("cannot run " + argv[0] + ": " + strerror(e));
  }
  g_children.insert(pid);
  return pid;
}

bool alive(pid_t pid, int* status) {
  int st = 0;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == 0) return true;
  if (r == pid) {
    g_children.erase(pid);
    if (status != nullptr) *status = st;
  }
  return false;
}

bool wait_exit(pid_t pid, double timeout_s, int* status) {
  double end = now_s() + timeout_s;
  while (alive(pid, status)) {
    if (now_s() >= end) return false;
    timespec ts{0, 10'000'000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

void stop(pid_t pid, double grace_s) {
  if (pid <= 0 || !alive(pid)) return;
  kill(pid, SIGTERM);
  if (wait_exit(pid, grace_s)) return;
  kill(pid, SIGKILL);
  wait_exit(pid, 5);
}

void stop_all() noexcept {
  std::vector<pid_t> pids(g_children.begin(), g_children.end());
  for (pid_t p : pids) {
    try {
      stop(p, 3);
    } catch (...) {
    }
  }
}

int run(const std::vector<std::string>& argv, std::string* out, double timeout_s,
        const std::vector<std::string>& env) {
  char tmpl[] = "/tmp/brisk-bench-out.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp: " + std::string(strerror(errno)));
  close(fd);
  SpawnOptions so;
  so.log = tmpl;
  so.env = env;
  pid_t pid;
  try {
    pid = spawn(argv, so);
  } catch (...) {
    unlink(tmpl);
    throw;
  }
  int st = 0;
  double end = now_s() + timeout_s;
  int rc;
  for (;;) {
    if (!alive(pid, &st)) {
      rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (interrupted()) {
      stop(pid, 2);
      unlink(tmpl);
      throw Interrupted();
    }
    if (now_s() >= end) {
      stop(pid, 2);
      rc = -1;
      break;
    }
    timespec ts{0, 2'000'000};
    nanosleep(&ts, nullptr);
  }
  if (out != nullptr) {
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
  }
  unlink(tmpl);
  return rc;
}

std::string run_ok(const std::vector<std::string>& argv, double timeout_s,
                   const std::vector<std::string>& env) {
  std::string out;
  int rc = run(argv, &out, timeout_s, env);
  if (rc != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    throw std::runtime_error("'" + cmd + "' failed (" +
                             (rc == -1 ? std::string("timeout") : "exit " + std::to_string(rc)) +
                             ")" + (out.empty() ? "" : ": " + out));
  }
  return out;
}

double process_cpu_s(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream is(s.substr(rp + 2));
  // Fields after "(comm)": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15).
  std::string tok;
  double utime = 0, stime = 0;
  for (int field = 3; field <= 15 && is >> tok; ++field) {
    if (field == 14) utime = std::stod(tok);
    if (field == 15) stime = std::stod(tok);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

// The lines of /proc/stat that start with "cpu": the name ("cpu" for the machine's total,
// "cpu<N>" per CPU) and its times in seconds, in the file's order (user nice system idle
// iowait irq softirq steal ...).
template <typename F>
void for_each_cpu_line(F&& f) {
  std::ifstream stat("/proc/stat");
  std::string line;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  while (std::getline(stat, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream is(line);
    std::string name;
    double v[8] = {};
    is >> name;
    for (double& x : v) {
      if (!(is >> x)) x = 0;
      x /= hz;
    }
    f(name, v);
  }
}

}  // namespace

std::vector<double> softirq_s() {
  std::vector<double> out;
  for_each_cpu_line([&](const std::string& name, const double* v) {
    if (name.size() < 4) return;  // the total
    unsigned cpu = static_cast<unsigned>(std::stoul(name.substr(3)));
    if (out.size() <= cpu) out.resize(cpu + 1);
    out[cpu] = v[6];
  });
  return out;
}

double busy_cpu_s() {
  double busy = 0;
  for_each_cpu_line([&](const std::string& name, const double* v) {
    if (name == "cpu") busy = v[0] + v[1] + v[2] + v[5] + v[6];  // user nice system irq softirq
  });
  return busy;
}

}  // namespace bench
