// runnerctl: asks a running start-worker what is going on.
#include <stdlib.h>

#include <iostream>
#include <string>
#include <vector>

#include "clients/runnerctl/runnerctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* from_env = getenv("WORKER_RUNNER_SOCKET");
  std::string socket =
      from_env != nullptr && from_env[0] != '\0' ? from_env : runner::runnerctl::kDefaultSocket;
  return runner::runnerctl::RunCommand(args, socket, std::cout, std::cerr);
}
