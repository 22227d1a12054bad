// example-worker: a stand-in for generic-worker used by the demo. Started by start-worker as
// `example-worker run --config <file> --with-worker-runner`, it reads the config start-worker
// wrote, answers the runner's welcome, "works" through a few pretend tasks while sending log
// records, and exits 0. A graceful-termination from the runner makes it stop early.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

#include "bridge/workerproto/capabilities.h"
#include "bridge/workerproto/codec.h"

namespace {

using runner::workerproto::DecodedLine;
using runner::workerproto::WorkerMessage;

std::mutex mu;
std::condition_variable changed;
bool welcomed = false;
bool terminate_requested = false;

void Send(const WorkerMessage& message) {
  std::string line = runner::workerproto::EncodeLine(message);
  std::lock_guard<std::mutex> lock(mu);
  ssize_t ignored = write(STDOUT_FILENO, line.data(), line.size());
  (void)ignored;
}

void Log(const nlohmann::json& body) {
  WorkerMessage message;
  *message.mutable_log()->mutable_body() = runner::workerproto::JsonToValue(body);
  Send(message);
}

void ReadRunner() {
  std::string line;
  while (std::getline(std::cin, line)) {
    DecodedLine decoded = runner::workerproto::DecodeLine(line);
    if (decoded.kind != DecodedLine::Kind::kMessage) continue;
    std::lock_guard<std::mutex> lock(mu);
    if (decoded.message.has_welcome()) welcomed = true;
    if (decoded.message.has_graceful_termination()) terminate_requested = true;
    changed.notify_all();
  }
}

// Waits up to `seconds`; true when the runner asked us to stop meanwhile.
bool WaitOrStop(int seconds) {
  std::unique_lock<std::mutex> lock(mu);
  return changed.wait_for(lock, std::chrono::seconds(seconds), [] { return terminate_requested; });
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--config") config_path = argv[i + 1];
  }
  nlohmann::json config =
      nlohmann::json::parse(std::ifstream(config_path), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) {
    std::cerr << "example-worker: cannot read config " << config_path << "\n";
    return 2;
  }

  std::thread(ReadRunner).detach();
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!changed.wait_for(lock, std::chrono::seconds(10), [] { return welcomed; })) {
      std::cerr << "example-worker: no welcome from the runner\n";
      return 3;
    }
  }
  WorkerMessage hello;
  for (const std::string& name : runner::workerproto::Capabilities::RunnerDefaults().List()) {
    hello.mutable_hello()->add_capabilities(name);
  }
  Send(hello);

  std::string worker = config.value("workerGroup", "") + "/" + config.value("workerId", "");
  Log({{"textPayload", "example-worker ready"},
       {"worker", worker},
       {"workerType", config.value("provisionerId", "") + "/" + config.value("workerType", "")}});
  // Something that is not a protocol line: the runner logs it as plain text.
  std::cout << "example-worker: plain output is relayed as text" << std::endl;

  const int kTasks = 4;
  for (int task = 1; task <= kTasks; ++task) {
    Log({{"textPayload", "claimed task"}, {"task", task}, {"of", kTasks}});
    if (WaitOrStop(3)) {
      Log({{"textPayload", "graceful-termination received; stopping"}});
      return 0;
    }
    Log({{"textPayload", "resolved task"}, {"task", task}, {"result", "completed"}});
  }
  Log({{"textPayload", "no more work; exiting"}});
  return 0;
}
