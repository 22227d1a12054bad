#ifndef RUNNER_CLIENTS_RUNNERCTL_RUNNERCTL_H_
#define RUNNER_CLIENTS_RUNNERCTL_RUNNERCTL_H_

#include <ostream>
#include <string>
#include <vector>

namespace runner::runnerctl {

// runnerctl's exit codes (documented in its --help).
enum ExitCode : int {
  kOk = 0,
  kCallFailed = 1,    // the runner answered with an error
  kUsage = 2,         // wrong command line
  kNoRunner = 3,      // no runner on the socket (missing, refused, not answering)
  kAccessDenied = 4,  // the socket or the call is not allowed for this user
};

// Runs runnerctl with `args` (without the program name). `default_socket` applies when no
// --socket is given (main passes $WORKER_RUNNER_SOCKET or the built-in default). Output goes to
// `out`, the one-line errors to `err`.
int RunCommand(const std::vector<std::string>& args, const std::string& default_socket,
               std::ostream& out, std::ostream& err);

inline constexpr char kDefaultSocket[] = "/run/worker-runner/api.sock";

}  // namespace runner::runnerctl

#endif  // RUNNER_CLIENTS_RUNNERCTL_RUNNERCTL_H_
