#include "clients/runnerctl/runnerctl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "clients/runnerctl/status_format.h"
#include "proto/runner.grpc.pb.h"

namespace runner::runnerctl {
namespace {

constexpr char kHelp[] =
    "usage: runnerctl [--socket PATH] [-o text|json] COMMAND\n"
    "\n"
    "Asks a running start-worker about its worker over its local API socket.\n"
    "\n"
    "commands:\n"
    "  status     who the worker is, the runner's state, the worker process, negotiated\n"
    "             capabilities, credential expiry and any interruption notice\n"
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
    "the negotiated protocol capabilities, credential expiry and any interruption notice.\n";

struct Options {
  std::string socket;
  std::string output = "text";
  std::string command;
  bool help = false;
};

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
      problem = absl::StrCat("unknown option ", arg);
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
      err << "runnerctl: no runner answering at " << socket << ": " << status.error_message()
          << "\n";
      return kNoRunner;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      err << "runnerctl: access denied by the runner at " << socket << ": "
          << status.error_message() << "\n";
      return kAccessDenied;
    default:
      err << "runnerctl: call failed: " << status.error_message() << "\n";
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

int Status(const Options& options, std::ostream& out, std::ostream& err) {
  auto channel = grpc::CreateChannel(absl::StrCat("unix:", options.socket),
                                     grpc::InsecureChannelCredentials());
  auto stub = workerrunner::v1::Runner::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  workerrunner::v1::GetStatusRequest request;
  workerrunner::v1::RunnerStatus status;
  grpc::Status result = stub->GetStatus(&context, request, &status);
  if (!result.ok()) return ReportCallError(result, options.socket, err);

  if (options.output == "json") {
    out << FormatStatusJson(status);
  } else {
    out << FormatStatusText(status, absl::Now(), absl::LocalTimeZone());
  }
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
  if (options.command != "status") {
    err << "runnerctl: unknown command " << options.command << " (see runnerctl --help)\n";
    return kUsage;
  }
  if (options.help) {
    out << kStatusHelp;
    return kOk;
  }
  if (options.socket.empty()) options.socket = default_socket;

  int ready = CheckSocket(options.socket, err);
  if (ready != kOk) return ready;
  return Status(options, out, err);
}

}  // namespace runner::runnerctl
