// A scripted worker for integration tests. It is started by start-worker like generic-worker
// (`fake-worker run --config <path> --with-worker-runner`) and follows the script named by
// $FAKE_WORKER_SCRIPT, one command per line:
//   hello [cap,cap,...]        send hello with these capabilities (none when omitted)
//   send <text>                write <text> and a newline to stdout (a protocol line or not)
//   stderr <text>              write <text> and a newline to stderr
//   wait-for <type> [ms]       wait until a message of <type> arrived on stdin (default 10 s;
//                              exit 90 on time-out)
//   wait-fifo <path>           block until someone writes to the FIFO at <path> and closes it
//   record-args <path>         write our argv, one per line, to <path>
//   flood <count>              send <count> log messages as fast as possible
//   background-holder          fork a child that keeps our stdout open for 60 s
//   ignore-sigterm             ignore SIGTERM from now on (only SIGKILL ends us)
//   exit <code>                exit with <code> (also the end of the script: exit 0)
// Every line read from stdin is appended to $FAKE_WORKER_STDIN_LOG when that is set.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace {

std::mutex mu;
std::condition_variable changed;
std::multiset<std::string> seen_types;

void WriteLine(int fd, const std::string& text) {
  std::string line = text + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(fd, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void ReadStdin() {
  const char* log_path = getenv("FAKE_WORKER_STDIN_LOG");
  std::string line;
  while (std::getline(std::cin, line)) {
    if (log_path != nullptr) {
      std::ofstream log(log_path, std::ios::app);
      log << line << "\n";
    }
    if (line.size() < 2 || line[0] != '~') continue;
    auto message = nlohmann::json::parse(line.substr(1), nullptr, /*allow_exceptions=*/false);
    if (!message.is_object() || !message.contains("type") || !message["type"].is_string()) continue;
    std::lock_guard<std::mutex> lock(mu);
    seen_types.insert(message["type"].get<std::string>());
    changed.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu);
  seen_types.insert("<eof>");
  changed.notify_all();
}

std::string Hello(const std::string& list) {
  nlohmann::json capabilities = nlohmann::json::array();
  std::stringstream parts(list);
  std::string name;
  while (std::getline(parts, name, ',')) {
    if (!name.empty()) capabilities.push_back(name);
  }
  return "~" + nlohmann::json({{"type", "hello"}, {"capabilities", capabilities}}).dump();
}

}  // namespace

int main(int argc, char** argv) {
  const char* script_path = getenv("FAKE_WORKER_SCRIPT");
  if (script_path == nullptr) {
    fprintf(stderr, "fake-worker: FAKE_WORKER_SCRIPT is not set\n");
    return 91;
  }
  std::ifstream script(script_path);
  if (!script) {
    fprintf(stderr, "fake-worker: cannot read %s\n", script_path);
    return 92;
  }
  std::thread(ReadStdin).detach();

  std::string line;
  while (std::getline(script, line)) {
    std::string command = line.substr(0, line.find(' '));
    std::string rest = line.size() > command.size() ? line.substr(command.size() + 1) : "";
    if (command == "hello") {
      WriteLine(STDOUT_FILENO, Hello(rest));
    } else if (command == "send") {
      WriteLine(STDOUT_FILENO, rest);
    } else if (command == "stderr") {
      WriteLine(STDERR_FILENO, rest);
    } else if (command == "wait-for") {
      std::stringstream words(rest);
      std::string type;
      int ms = 10000;
      words >> type >> ms;
      std::unique_lock<std::mutex> lock(mu);
      if (!changed.wait_for(lock, std::chrono::milliseconds(ms),
                            [&] { return seen_types.count(type) > 0; })) {
        fprintf(stderr, "fake-worker: timed out waiting for %s\n", type.c_str());
        _exit(90);
      }
    } else if (command == "wait-fifo") {
      int fd = open(rest.c_str(), O_RDONLY);
      char buffer[64];
      while (fd >= 0 && read(fd, buffer, sizeof(buffer)) > 0) {
      }
      if (fd >= 0) close(fd);
    } else if (command == "record-args") {
      std::ofstream out(rest);
      for (int i = 0; i < argc; ++i) out << argv[i] << "\n";
    } else if (command == "flood") {
      int count = atoi(rest.c_str());
      for (int i = 0; i < count; ++i) {
        WriteLine(STDOUT_FILENO, "~{\"type\":\"log\",\"body\":{\"textPayload\":\"flood " +
                                     std::to_string(i) + "\"}}");
      }
    } else if (command == "background-holder") {
      if (fork() == 0) {
        sleep(60);
        _exit(0);
      }
    } else if (command == "ignore-sigterm") {
      signal(SIGTERM, SIG_IGN);
    } else if (command == "exit") {
      _exit(atoi(rest.c_str()));
    } else if (!command.empty() && command[0] != '#') {
      fprintf(stderr, "fake-worker: unknown script command %s\n", command.c_str());
      _exit(93);
    }
  }
  _exit(0);
}
