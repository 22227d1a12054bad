// worker-bridge: runs a stdin/stdout worker program and attaches it to a running start-worker.
#include <stdlib.h>

#include <iostream>
#include <string>
#include <vector>

#include "clients/worker_bridge/worker_bridge.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* from_env = getenv("WORKER_RUNNER_SOCKET");
  std::string socket =
      from_env != nullptr && from_env[0] != '\0' ? from_env : runner::worker_bridge::kDefaultSocket;
  return runner::worker_bridge::RunBridge(args, socket, std::cout, std::cerr);
}
