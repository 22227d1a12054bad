#include "clients/worker_bridge/worker_bridge.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "bridge/adapter/subprocess.h"
#include "bridge/adapter/text_transport.h"
#include "bridge/workerproto/codec.h"
#include "clients/worker_bridge/output_pump.h"
#include "proto/worker_channel.grpc.pb.h"
#include "server/common/logger.h"
#include "server/common/stop_signals.h"

namespace runner::worker_bridge {
namespace {

using workerrunner::v1::ChannelFrame;
using ClientStream = grpc::ClientReaderWriter<ChannelFrame, ChannelFrame>;

constexpr char kComponent[] = "bridge";

constexpr char kHelp[] =
    "usage: worker-bridge [--socket PATH] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM, a worker speaking the worker protocol on its stdin and stdout, and attaches\n"
    "it to the start-worker already running with worker.implementation external. PROGRAM is\n"
    "started once the runner has accepted it; its `~{json}` lines travel to the runner and the\n"
    "runner's messages arrive on its stdin, as if the runner had started it. PROGRAM's stderr\n"
    "is left alone. SIGTERM, SIGINT and SIGHUP are passed on to PROGRAM. If the runner goes\n"
    "away, PROGRAM keeps running and its output goes to stderr.\n"
    "\n"
    "options:\n"
    "  --socket PATH   the runner's socket (default: $WORKER_RUNNER_SOCKET, else\n"
    "                  /run/worker-runner/api.sock)\n"
    "  -h, --help      this help\n"
    "\n"
    "exit status: PROGRAM's (its exit code, or 128 + the signal that ended it); otherwise\n"
    "2 usage, 120 no runner on the socket, 121 access denied, 122 the runner refused the\n"
    "worker (one is already attached, or the runner starts its own), 123 the runner ended\n"
    "the channel with another error, 127 PROGRAM could not be started.\n";

// After the worker exits, how long to wait for the rest of its output, and for the runner to
// end the stream once it has heard the exit status.
constexpr absl::Duration kOutputDrainTimeout = absl::Seconds(2);
constexpr absl::Duration kRunnerFinishTimeout = absl::Seconds(30);

struct Options {
  std::string socket;
  std::vector<std::string> argv;
  bool help = false;
};

std::string ParseArgs(const std::vector<std::string>& args, Options* options) {
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-h" || arg == "--help") {
      options->help = true;
    } else if (arg == "--socket") {
      if (i + 1 >= args.size()) return "--socket needs a value";
      options->socket = args[++i];
    } else if (arg.rfind("--socket=", 0) == 0) {
      options->socket = arg.substr(9);
    } else if (!arg.empty() && arg[0] == '-') {
      return absl::StrCat("unknown option ", arg);
    } else {
      break;  // the program, without a `--` before it
    }
  }
  options->argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (!options->help && options->argv.empty()) return "no worker program given";
  if (!options->help && options->argv[0].empty()) return "the worker program name is empty";
  return "";
}

// Checks the socket before dialling, for a clearer one-line error than gRPC's.
int CheckSocket(const std::string& socket, std::ostream& err) {
  struct stat info;
  if (stat(socket.c_str(), &info) != 0) {
    int error = errno;
    if (error == EACCES) {
      err << "worker-bridge: access denied to " << socket << ": " << strerror(error) << "\n";
      return kAccessDenied;
    }
    err << "worker-bridge: no runner at " << socket << ": " << strerror(error) << "\n";
    return kNoRunner;
  }
  if (!S_ISSOCK(info.st_mode)) {
    err << "worker-bridge: no runner at " << socket << ": not a socket\n";
    return kNoRunner;
  }
  if (access(socket.c_str(), R_OK | W_OK) != 0) {
    err << "worker-bridge: access denied to " << socket << ": " << strerror(errno) << "\n";
    return kAccessDenied;
  }
  return 0;
}

// Turns the status of a channel that ended before the worker ran into a one-line error.
int ReportEndedChannel(const grpc::Status& status, const std::string& socket, std::ostream& err) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      err << "worker-bridge: no runner answering at " << socket << ": " << status.error_message()
          << "\n";
      return kNoRunner;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      err << "worker-bridge: access denied by the runner at " << socket << ": "
          << status.error_message() << "\n";
      return kAccessDenied;
    case grpc::StatusCode::FAILED_PRECONDITION:
      err << "worker-bridge: the runner at " << socket
          << " refused the worker: " << status.error_message() << "\n";
      return kRefused;
    case grpc::StatusCode::UNIMPLEMENTED:
      err << "worker-bridge: the runner at " << socket << " has no worker channel\n";
      return kRefused;
    default:
      err << "worker-bridge: the runner at " << socket << " ended the channel: "
          << (status.ok() ? "before sending welcome" : status.error_message()) << "\n";
      return kChannelFailed;
  }
}

// One attached worker: the stream, the child, and the relays between them.
class Bridge {
 public:
  Bridge(std::unique_ptr<ClientStream> stream, grpc::ClientContext* context)
      : stream_(std::move(stream)), context_(context) {}

  // Sends a frame to the runner; false once the runner is gone. Any thread.
  bool Write(const ChannelFrame& frame) ABSL_LOCKS_EXCLUDED(write_mu_) {
    absl::MutexLock lock(&write_mu_);
    if (runner_gone_) return false;
    if (stream_->Write(frame)) return true;
    runner_gone_ = true;
    return false;
  }

  // Runner -> worker until the runner ends the stream.
  void RelayFromRunner(adapter::TextTransport* to_worker, adapter::Subprocess* worker) {
    ChannelFrame frame;
    while (stream_->Read(&frame)) Deliver(frame, to_worker, worker);
    if (!worker_exited_.load()) {
      common::LogWarning(kComponent,
                         "lost the runner; the worker keeps running and its output goes to "
                         "stderr");
    }
    absl::MutexLock lock(&write_mu_);
    runner_gone_ = true;
  }

  void Deliver(const ChannelFrame& frame, adapter::TextTransport* to_worker,
               adapter::Subprocess* worker) {
    switch (frame.frame_case()) {
      case ChannelFrame::kMessage:
        if (!to_worker->Send(frame.message())) {
          common::LogWarning(kComponent, "could not pass a message to the worker",
                             {{"type", workerproto::MessageType(frame.message())}});
        }
        break;
      case ChannelFrame::kSignal: {
        int signal = frame.signal().signal() == workerrunner::v1::SignalWorker::SIGNAL_KILL
                         ? SIGKILL
                         : SIGTERM;
        common::LogWarning(kComponent, "the runner asked to signal the worker",
                           {{"signal", signal == SIGKILL ? "SIGKILL" : "SIGTERM"}});
        worker->Signal(signal);
        break;
      }
      default:
        common::LogDebug(kComponent, "ignored frame from the runner",
                         {{"frame", static_cast<int>(frame.frame_case())}});
        break;
    }
  }

  // One line of the worker's stdout: protocol messages as messages, the rest as lines the
  // runner logs. Once the runner is gone, lines go to our stderr instead.
  void RelayLine(absl::string_view line, bool oversize) {
    ChannelFrame frame;
    if (oversize) {
      frame.mutable_line()->set_text(std::string(line));
      frame.mutable_line()->set_oversize_length(line.size());
    } else {
      workerproto::DecodedLine decoded = workerproto::DecodeLine(line);
      if (decoded.kind == workerproto::DecodedLine::Kind::kMessage) {
        if (!decoded.problem.empty()) {
          common::LogWarning(
              kComponent, "worker message tolerated",
              {{"type", workerproto::MessageType(decoded.message)}, {"problem", decoded.problem}});
        }
        *frame.mutable_message() = std::move(decoded.message);
      } else {
        frame.mutable_line()->set_text(std::string(line));
      }
    }
    if (Write(frame)) return;
    std::string text = absl::StrCat(line, "\n");
    if (write(STDERR_FILENO, text.data(), text.size()) < 0) {
      // Nowhere left to report it.
    }
  }

  void set_worker_exited() { worker_exited_ = true; }
  ClientStream* stream() { return stream_.get(); }
  grpc::ClientContext* context() { return context_; }

 private:
  std::unique_ptr<ClientStream> stream_;
  grpc::ClientContext* const context_;  // not owned
  std::atomic<bool> worker_exited_{false};

  // gRPC allows one write at a time; the pump and the main thread both write.
  absl::Mutex write_mu_;
  bool runner_gone_ ABSL_GUARDED_BY(write_mu_) = false;
};

// Passes SIGTERM/SIGINT/SIGHUP to the worker, or, before it runs, cancels the attach.
class SignalForwarder {
 public:
  explicit SignalForwarder(grpc::ClientContext* context)
      : context_(context), thread_([this](int signal) { Forward(signal); }) {}
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

  void set_worker(adapter::Subprocess* worker) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    worker_ = worker;
  }

  // The signal that cancelled the attach before the worker ran, or 0.
  int cancelled_by() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return cancelled_by_;
  }

 private:
  void Forward(int signal) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (worker_ != nullptr) {
      common::LogInfo(kComponent, "passing signal to the worker", {{"signal", signal}});
      worker_->Signal(signal);
    } else if (cancelled_by_ == 0) {
      cancelled_by_ = signal;
      context_->TryCancel();
    }
  }

  grpc::ClientContext* const context_;  // not owned
  absl::Mutex mu_;
  adapter::Subprocess* worker_ ABSL_GUARDED_BY(mu_) = nullptr;  // not owned
  int cancelled_by_ ABSL_GUARDED_BY(mu_) = 0;
  // Last: it calls Forward() as soon as it exists, and stops before the rest goes away.
  common::StopSignalThread thread_;
};

// Tells the runner the program never started, and lets it close the stream.
void ReportStartFailure(Bridge* bridge, const std::string& error) {
  ChannelFrame frame;
  frame.mutable_exited()->set_status(kCannotStart);
  frame.mutable_exited()->set_start_error(error);
  bridge->Write(frame);
  bridge->stream()->WritesDone();
  ChannelFrame ignored;
  while (bridge->stream()->Read(&ignored)) {
  }
  bridge->stream()->Finish().IgnoreError();  // the runner's answer changes nothing now
}

// Runs the worker for an accepted attach; returns its exit status.
int RunWorker(Bridge* bridge, const ChannelFrame& welcome, const Options& options,
              SignalForwarder* signals, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<adapter::Subprocess>> spawned =
      adapter::Subprocess::Spawn(options.argv);
  if (!spawned.ok()) {
    std::string error(spawned.status().message());
    ReportStartFailure(bridge, error);
    err << "worker-bridge: cannot start " << options.argv[0] << ": " << error << "\n";
    return kCannotStart;
  }
  std::unique_ptr<adapter::Subprocess> worker = std::move(spawned).value();
  signals->set_worker(worker.get());
  common::LogInfo(kComponent, "worker started",
                  {{"program", options.argv[0]}, {"pid", worker->pid()}});

  ChannelFrame started;
  started.mutable_started()->set_pid(worker->pid());
  started.mutable_started()->set_program(options.argv[0]);
  bridge->Write(started);

  adapter::TextTransport to_worker(/*read_fd=*/-1, worker->TakeStdinFd());
  bridge->Deliver(welcome, &to_worker, worker.get());
  absl::Notification runner_done;
  std::thread from_runner([&] {
    bridge->RelayFromRunner(&to_worker, worker.get());
    runner_done.Notify();
  });
  OutputPump pump(worker->TakeStdoutFd(), [bridge](absl::string_view line, bool oversize) {
    bridge->RelayLine(line, oversize);
  });

  int status = worker->Wait();
  bridge->set_worker_exited();
  signals->set_worker(nullptr);
  common::LogInfo(kComponent, "worker exited", {{"status", status}});
  if (!pump.WaitForEof(kOutputDrainTimeout)) {
    common::LogWarning(kComponent, "worker output still open after exit; not waiting for it");
  }
  pump.Stop();

  ChannelFrame exited;
  exited.mutable_exited()->set_status(status);
  bridge->Write(exited);
  bridge->stream()->WritesDone();
  if (!runner_done.WaitForNotificationWithTimeout(kRunnerFinishTimeout)) {
    common::LogWarning(kComponent, "the runner did not end the channel; closing it");
    bridge->context()->TryCancel();
  }
  from_runner.join();
  grpc::Status finished = bridge->stream()->Finish();
  if (!finished.ok()) {
    common::LogDebug(
        kComponent, "channel ended",
        {{"code", static_cast<int>(finished.error_code())}, {"error", finished.error_message()}});
  }
  return status;
}

}  // namespace

int RunBridge(const std::vector<std::string>& args, const std::string& default_socket,
              std::ostream& out, std::ostream& err) {
  Options options;
  std::string problem = ParseArgs(args, &options);
  if (!problem.empty()) {
    err << "worker-bridge: " << problem << " (see worker-bridge --help)\n";
    return kUsage;
  }
  if (options.help) {
    out << kHelp;
    return 0;
  }
  if (options.socket.empty()) options.socket = default_socket;
  int ready = CheckSocket(options.socket, err);
  if (ready != 0) return ready;

  // Before any thread starts, so that only the forwarder receives them; a worker that has gone
  // makes writes fail instead of ending the bridge.
  common::BlockStopSignals();

  auto channel = grpc::CreateChannel(absl::StrCat("unix:", options.socket),
                                     grpc::InsecureChannelCredentials());
  auto stub = workerrunner::v1::WorkerChannel::NewStub(channel);
  grpc::ClientContext context;
  SignalForwarder signals(&context);
  Bridge bridge(stub->Attach(&context), &context);

  // The runner answers an accepted attach with welcome, once it is ready for the worker.
  common::LogInfo(kComponent, "attaching to the runner", {{"socket", options.socket}});
  ChannelFrame welcome;
  if (!bridge.stream()->Read(&welcome)) {
    grpc::Status status = bridge.stream()->Finish();
    if (int signal = signals.cancelled_by(); signal != 0) {
      err << "worker-bridge: stopped by signal " << signal << " before the worker started\n";
      return 128 + signal;
    }
    return ReportEndedChannel(status, options.socket, err);
  }
  return RunWorker(&bridge, welcome, options, &signals, err);
}

}  // namespace runner::worker_bridge
