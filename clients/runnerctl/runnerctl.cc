#include "clients/runnerctl/runnerctl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "clients/runnerctl/events_format.h"
#include "clients/runnerctl/status_format.h"
#include "proto/runner.grpc.pb.h"

namespace runner::runnerctl {
namespace {

constexpr char kHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] COMMAND [OPTIONS]\n"
    "\n"
    "Asks a running start-worker about its worker over its local API socket.\n"
    "\n"
    "commands:\n"
    "  status     who the worker is, the runner's state, the worker process, negotiated\n"
    "             capabilities, credential expiry and any interruption notice\n"
    "  config     the worker configuration, every secret value redacted\n"
    "  events     the runner's recent events; --follow to keep watching\n"
    "  drain      ask the worker to terminate gracefully, as an interruption would\n"
    "\n"
    "options:\n"
    "  --socket PATH   the runner's socket (default: $WORKER_RUNNER_SOCKET, else\n"
    "                  /run/worker-runner/api.sock)\n"
    "  -o, --output    text (default) or json (the protobuf JSON mapping)\n"
    "  -h, --help      this help; `runnerctl COMMAND --help` for a command\n"
    "\n"
    "exit status: 0 ok, 1 the call failed, 2 usage, 3 no runner on the socket,\n"
    "4 access denied\n";

constexpr char kStatusHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] status\n"
    "\n"
    "Prints the runner's state, the worker's identity and location, the worker process,\n"
    "the negotiated protocol capabilities, credential expiry and any interruption notice.\n"
    "\n"
    "exit status: 0 ok, 1 the call failed, 2 usage, 3 no runner, 4 access denied\n";

constexpr char kConfigHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] config\n"
    "\n"
    "Prints the configuration the runner gave the worker. Credentials, the static secret,\n"
    "certificates and every value that came from the secrets service read \"[redacted]\";\n"
    "the last line lists where (JSON pointers). Fails until the configuration is final.\n"
    "\n"
    "exit status: 0 ok, 1 the call failed (or not final yet), 2 usage, 3 no runner,\n"
    "4 access denied\n";

constexpr char kEventsHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] events [--follow] [--since N]\n"
    "                 [--kind K[,K...]]\n"
    "\n"
    "Prints the current state, then the events the runner still keeps, one per line\n"
    "(sequence number, local time, kind, what happened); with -o json one JSON object per\n"
    "line.\n"
    "\n"
    "  -f, --follow    keep watching and print events as they happen, until the runner stops\n"
    "  --since N       only events after sequence number N (resume where you left off)\n"
    "  --kind K        only these kinds (repeatable, or comma-separated): runner-state,\n"
    "                  worker-state, interruption, advisory, credentials, error-report,\n"
    "                  shutdown-request, drain, runner-stopping\n"
    "\n"
    "exit status: 0 ok (also when the runner stops while following), 1 the call failed\n"
    "(N no longer kept, or a follower too slow), 2 usage, 3 no runner, 4 access denied\n";

constexpr char kDrainHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] drain [--finish-tasks]\n"
    "\n"
    "Asks the worker to terminate gracefully, exactly as an interruption would (the worker\n"
    "is told at most once per run), and says what happened: sent, queued until the worker's\n"
    "hello, the worker cannot be told, or no worker running. Allowed to root and the\n"
    "runner's own user only.\n"
    "\n"
    "  --finish-tasks  let the worker finish its running tasks first\n"
    "\n"
    "exit status: 0 the request was handled (see the outcome), 1 the call failed, 2 usage,\n"
    "3 no runner, 4 access denied\n";

struct Options {
  std::string socket;
  std::string output = "text";
  std::string command;
  bool help = false;
  bool follow = false;
  std::optional<uint64_t> since;
  std::vector<workerrunner::v1::EventKind> kinds;
  bool finish_tasks = false;
};

// Applies a command's own option; returns an error text, or "" when handled. `*used` says
// whether `arg` was one of them.
std::string CommandOption(const std::vector<std::string>& args, size_t* i, Options* options,
                          bool* used) {
  const std::string& arg = args[*i];
  *used = true;
  std::string value;
  auto take = [&](const std::string& flag) -> std::string {
    if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0) {
      value = arg.substr(flag.size() + 1);
      return "";
    }
    if (*i + 1 >= args.size()) return absl::StrCat(flag, " needs a value");
    value = args[++*i];
    return "";
  };
  if (options->command == "events" && (arg == "-f" || arg == "--follow")) {
    options->follow = true;
  } else if (options->command == "events" && (arg == "--since" || arg.rfind("--since=", 0) == 0)) {
    std::string problem = take("--since");
    if (!problem.empty()) return problem;
    uint64_t since = 0;
    if (!absl::SimpleAtoi(value, &since)) {
      return absl::StrCat("--since takes a sequence number, not ", value);
    }
    options->since = since;
  } else if (options->command == "events" && (arg == "--kind" || arg.rfind("--kind=", 0) == 0)) {
    std::string problem = take("--kind");
    if (!problem.empty()) return problem;
    for (absl::string_view name : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      auto kind = EventKindFromName(name);
      if (!kind.has_value()) {
        return absl::StrCat("unknown event kind ", name, " (kinds: ", EventKindNames(), ")");
      }
      options->kinds.push_back(*kind);
    }
  } else if (options->command == "drain" && arg == "--finish-tasks") {
    options->finish_tasks = true;
  } else {
    *used = false;
  }
  return "";
}

// Fills `options` from `args`; returns an error text for a bad command line.
std::string ParseArgs(const std::vector<std::string>& args, Options* options) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](const std::string& flag, std::string* into) -> std::string {
      if (i + 1 >= args.size()) return absl::StrCat(flag, " needs a value");
      *into = args[++i];
      return "";
    };
    std::string problem;
    bool used = false;
    if (!options->command.empty()) problem = CommandOption(args, &i, options, &used);
    if (!problem.empty()) return problem;
    if (used) continue;
    if (arg == "-h" || arg == "--help") {
      options->help = true;
    } else if (arg == "--socket") {
      problem = value(arg, &options->socket);
    } else if (arg.rfind("--socket=", 0) == 0) {
      options->socket = arg.substr(9);
    } else if (arg == "-o" || arg == "--output") {
      problem = value(arg, &options->output);
    } else if (arg.rfind("--output=", 0) == 0) {
      options->output = arg.substr(9);
    } else if (!arg.empty() && arg[0] == '-') {
      problem = options->command.empty()
                    ? absl::StrCat("unknown option ", arg)
                    : absl::StrCat("unknown option ", arg, " for ", options->command);
    } else if (options->command.empty()) {
      options->command = arg;
    } else {
      problem = absl::StrCat("unexpected argument ", arg);
    }
    if (!problem.empty()) return problem;
  }
  if (options->output != "text" && options->output != "json") {
    return absl::StrCat("-o takes text or json, not ", options->output);
  }
  return "";
}

// Turns a failed call into runnerctl's one-line error and exit code.
int ReportCallError(const grpc::Status& status, const std::string& socket, std::ostream& err) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      err << "runnerctl: no runner answering at " << socket << ": "
          << Printable(status.error_message()) << "\n";
      return kNoRunner;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      err << "runnerctl: access denied by the runner at " << socket << ": "
          << Printable(status.error_message()) << "\n";
      return kAccessDenied;
    default:
      err << "runnerctl: call failed: " << Printable(status.error_message()) << "\n";
      return kCallFailed;
  }
}

// Checks the socket before dialling, for a clearer message than gRPC's.
int CheckSocket(const std::string& socket, std::ostream& err) {
  struct stat info;
  if (stat(socket.c_str(), &info) != 0) {
    int error = errno;
    if (error == EACCES) {
      err << "runnerctl: access denied to " << socket << ": " << strerror(error) << "\n";
      return kAccessDenied;
    }
    err << "runnerctl: no runner at " << socket << ": " << strerror(error) << "\n";
    return kNoRunner;
  }
  if (!S_ISSOCK(info.st_mode)) {
    err << "runnerctl: no runner at " << socket << ": not a socket\n";
    return kNoRunner;
  }
  if (access(socket.c_str(), R_OK | W_OK) != 0) {
    err << "runnerctl: access denied to " << socket << ": " << strerror(errno) << "\n";
    return kAccessDenied;
  }
  return kOk;
}

std::unique_ptr<workerrunner::v1::Runner::Stub> Connect(const Options& options) {
  return workerrunner::v1::Runner::NewStub(grpc::CreateChannel(
      absl::StrCat("unix:", options.socket), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

int Status(const Options& options, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(&context);
  workerrunner::v1::RunnerStatus status;
  grpc::Status result = Connect(options)->GetStatus(&context, {}, &status);
  if (!result.ok()) return ReportCallError(result, options.socket, err);

  if (options.output == "json") {
    out << FormatStatusJson(status);
  } else {
    out << FormatStatusText(status, absl::Now(), absl::LocalTimeZone());
  }
  return kOk;
}

int Config(const Options& options, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(&context);
  workerrunner::v1::WorkerConfig config;
  grpc::Status result = Connect(options)->GetConfig(&context, {}, &config);
  if (!result.ok()) return ReportCallError(result, options.socket, err);
  out << (options.output == "json" ? FormatConfigJson(config) : FormatConfigText(config));
  return kOk;
}

int Events(const Options& options, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  // A follower waits as long as the runner runs; a one-off read is short.
  if (!options.follow) SetDeadline(&context);
  workerrunner::v1::WatchEventsRequest request;
  request.set_follow(options.follow);
  if (options.since.has_value()) request.set_since(*options.since);
  for (workerrunner::v1::EventKind kind : options.kinds) request.add_kinds(kind);
  auto reader = Connect(options)->WatchEvents(&context, request);
  workerrunner::v1::Event event;
  while (reader->Read(&event)) {
    out << (options.output == "json" ? FormatEventJson(event)
                                     : FormatEventText(event, absl::Now(), absl::LocalTimeZone()));
    out.flush();
  }
  grpc::Status result = reader->Finish();
  if (!result.ok()) return ReportCallError(result, options.socket, err);
  return kOk;
}

int Drain(const Options& options, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(&context);
  workerrunner::v1::DrainRequest request;
  request.set_finish_tasks(options.finish_tasks);
  workerrunner::v1::DrainResponse response;
  grpc::Status result = Connect(options)->Drain(&context, request, &response);
  if (!result.ok()) return ReportCallError(result, options.socket, err);
  out << (options.output == "json" ? FormatDrainJson(response) : FormatDrainText(response));
  return kOk;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args, const std::string& default_socket,
               std::ostream& out, std::ostream& err) {
  Options options;
  std::string problem = ParseArgs(args, &options);
  if (!problem.empty()) {
    err << "runnerctl: " << problem << " (see runnerctl --help)\n";
    return kUsage;
  }
  if (options.command.empty()) {
    if (options.help) {
      out << kHelp;
      return kOk;
    }
    err << kHelp;
    return kUsage;
  }
  struct Command {
    const char* name;
    const char* help;
    int (*run)(const Options&, std::ostream&, std::ostream&);
  };
  static constexpr Command kCommands[] = {
      {"status", kStatusHelp, Status},
      {"config", kConfigHelp, Config},
      {"events", kEventsHelp, Events},
      {"drain", kDrainHelp, Drain},
  };
  const Command* command = nullptr;
  for (const Command& candidate : kCommands) {
    if (options.command == candidate.name) command = &candidate;
  }
  if (command == nullptr) {
    err << "runnerctl: unknown command " << Printable(options.command)
        << " (see runnerctl --help)\n";
    return kUsage;
  }
  if (options.help) {
    out << command->help;
    return kOk;
  }
  if (options.socket.empty()) options.socket = default_socket;

  int ready = CheckSocket(options.socket, err);
  if (ready != kOk) return ready;
  return command->run(options, out, err);
}

}  // namespace runner::runnerctl
