#ifndef RUNNER_CLIENTS_WORKER_BRIDGE_WORKER_BRIDGE_H_
#define RUNNER_CLIENTS_WORKER_BRIDGE_WORKER_BRIDGE_H_

#include <ostream>
#include <string>
#include <vector>

namespace runner::worker_bridge {

// worker-bridge's own exit codes (README, --help). Otherwise it exits with the worker's status
// (its exit code, or 128 + the signal that ended it).
enum ExitCode : int {
  kUsage = 2,            // wrong command line
  kNoRunner = 120,       // no runner on the socket (missing, not a socket, nobody answering)
  kAccessDenied = 121,   // the socket or the attach is not allowed for this user
  kRefused = 122,        // the runner refused the worker (one is attached, or it starts its own)
  kChannelFailed = 123,  // the runner ended the channel with another error before the worker ran
  kCannotStart = 127,    // the worker program could not be started
};

inline constexpr char kDefaultSocket[] = "/run/worker-runner/api.sock";

// Runs worker-bridge with `args` (without the program name): attaches to the runner at the
// socket (`--socket`, else `default_socket`), starts the worker program once the runner has
// accepted it, and relays the protocol both ways until the worker exits. One-line errors go to
// `err`; the running bridge logs to stderr. Blocks SIGTERM/SIGINT/SIGHUP in the calling thread
// (call it before starting other threads) and forwards them to the worker. Returns the exit code.
int RunBridge(const std::vector<std::string>& args, const std::string& default_socket,
              std::ostream& out, std::ostream& err);

}  // namespace runner::worker_bridge

#endif  // RUNNER_CLIENTS_WORKER_BRIDGE_WORKER_BRIDGE_H_
