#ifndef RUNNER_SERVER_LIFECYCLE_EXIT_CODES_H_
#define RUNNER_SERVER_LIFECYCLE_EXIT_CODES_H_

namespace runner::lifecycle {

// start-worker's exit codes, so a service manager or script can tell failures apart. Documented
// in the README; change them only together with it.
enum ExitCode : int {
  kExitOk = 0,            // the worker exited 0 and the exit steps ran
  kExitWorkerFailed = 1,  // the worker exited non-zero or was killed by a signal
  kExitUsage = 2,         // wrong command line
  kExitConfig = 3,        // the runner config could not be read or is invalid
  kExitStartup = 4,       // provider, registration, secrets, files or the local API failed
  kExitWorkerStart = 5,   // the worker could not be configured or started
  kExitStopped = 6,       // stopped by SIGTERM/SIGINT/SIGHUP
  kExitWorkerReboot = 7,  // the worker exited 67 (it reboots the host): not removed, cache kept
  kExitRemoveFailed = 8,  // clean worker exit, but removeWorker failed (shutdown.command ran)
};

// The worker's exit status that means "I am rebooting the host" (generic-worker).
inline constexpr int kWorkerRebootStatus = 67;

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_EXIT_CODES_H_
