// proc: child processes and commands of the benchmark harness, and CPU accounting.
//
// Every process the harness starts goes through spawn() or run(): it is put in its own process
// group (so a Ctrl-C on the terminal reaches only the harness, which then stops its children in
// order), its PID is recorded, and stop_all() terminates exactly those PIDs (SIGTERM, then
// SIGKILL after a grace period). Nothing is ever killed by name.
//
// Interruption: the harness's SIGINT/SIGTERM handler only sets interrupted(); every wait in
// this file polls it and throws Interrupted, so the caller's cleanup path runs.
//
// Single-threaded: only the harness's main thread calls these functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Set by the signal handler; polled by every wait.
bool interrupted();
// From now on interrupted() is false: the cleanup path must run its commands to the end
// (each still bounded by its timeout), also when the user presses Ctrl-C again.
void ignore_interrupts();
void install_signal_handlers();
// Sleep, throwing Interrupted when a signal arrives meanwhile.
void sleep_s(double seconds);
// Seconds on the monotonic clock (steady_clock).
double now_s();

struct SpawnOptions {
  std::string log;               // stdout and stderr go here ("" = /dev/null)
  std::vector<std::string> env;  // extra NAME=value entries
  int nice = 0;                  // nice value of the process (and threads it makes)
};

// Starts argv[0] (looked up in PATH) with argv; returns its PID. Throws on failure to fork/exec
// (exec failure is detected through a close-on-exec pipe).
pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& opts = {});

// Runs a command to completion, capturing stdout+stderr into *out (if given). Kills it after
// timeout_s. Returns the exit status (128+signal when killed by a signal, -1 on timeout).
int run(const std::vector<std::string>& argv, std::string* out = nullptr, double timeout_s = 30,
        const std::vector<std::string>& env = {});
// run(), throwing std::runtime_error with the output when the status is not 0.
std::string run_ok(const std::vector<std::string>& argv, double timeout_s = 30,
                   const std::vector<std::string>& env = {});

// True while the process runs (reaps it when it has exited; *status gets its wait status).
bool alive(pid_t pid, int* status = nullptr);
// Waits up to timeout_s for the process to exit; returns false if it still runs.
bool wait_exit(pid_t pid, double timeout_s, int* status = nullptr);
// SIGTERM, wait up to grace_s, SIGKILL, reap. Only for PIDs from spawn().
void stop(pid_t pid, double grace_s = 5);
// stop() every process spawn() started that still runs (cleanup path; never throws).
void stop_all() noexcept;

// CPU time (user + system) of a process and all its threads, in seconds (/proc/<pid>/stat).
double process_cpu_s(pid_t pid);
// Per-CPU softirq time in seconds from /proc/stat (index = CPU number).
std::vector<double> softirq_s();
// Busy CPU time of the whole machine in seconds, every CPU summed: user + nice + system + irq +
// softirq of /proc/stat's total line (not idle, iowait or steal; guest time is inside user).
double busy_cpu_s();

}  // namespace bench
