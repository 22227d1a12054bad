// GrpcTransport against a real gRPC client over a Unix socket in a temporary directory: the
// runner's side of the worker channel feeding a real RunnerSession.
#include "bridge/adapter/grpc_transport.h"

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

#include "proto/worker_channel.grpc.pb.h"
#include "tests/fakes/log_capture.h"
#include "tests/fakes/process_util.h"

namespace runner::adapter {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using workerrunner::v1::SignalWorker;

class RecordingHandler : public workerproto::SessionHandler {
 public:
  void OnErrorReport(const workerproto::ErrorReport& report) override {
    absl::MutexLock lock(&mu_);
    error_titles_.push_back(report.title);
  }
  void OnShutdown() override {
    absl::MutexLock lock(&mu_);
    ++shutdowns_;
  }
  void OnNegotiated(const workerproto::Capabilities& usable) override {
    absl::MutexLock lock(&mu_);
    negotiated_ = usable.List();
  }
  bool WaitNegotiated() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return negotiated_.has_value(); };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
  }
  std::vector<std::string> negotiated() {
    absl::MutexLock lock(&mu_);
    return negotiated_.value_or(std::vector<std::string>{});
  }
  std::vector<std::string> error_titles() {
    absl::MutexLock lock(&mu_);
    return error_titles_;
  }
  int shutdowns() {
    absl::MutexLock lock(&mu_);
    return shutdowns_;
  }

 private:
  absl::Mutex mu_;
  std::optional<std::vector<std::string>> negotiated_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> error_titles_ ABSL_GUARDED_BY(mu_);
  int shutdowns_ ABSL_GUARDED_BY(mu_) = 0;
};

// Serves each Attach as the runner does: a session over a GrpcTransport, fed until the stream
// ends. Lets the test reach the live transport.
class TestChannelService final : public workerrunner::v1::WorkerChannel::Service {
 public:
  grpc::Status Attach(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<ChannelFrame, ChannelFrame>* stream) override {
    GrpcTransport transport(stream, context);
    workerproto::RunnerSession session(workerproto::Capabilities::RunnerDefaults(), &transport,
                                       &handler_);
    {
      absl::MutexLock lock(&mu_);
      transport_ = &transport;
      session_ = &session;
    }
    session.Start();
    GrpcTransport::Ending ending =
        transport.ReadAll(&session, [this](int64_t pid, const std::string& program) {
          absl::MutexLock lock(&mu_);
          started_ = absl::StrCat(program, ":", pid);
        });
    absl::MutexLock lock(&mu_);
    // Writes after the handler returns would be on a finished call; the test's calls wait.
    transport_ = nullptr;
    session_ = nullptr;
    ending_ = ending;
    return grpc::Status::OK;
  }

  // Runs `action` on the live transport and session; false when no stream is being served.
  template <typename Fn>
  bool WithTransport(Fn action) {
    absl::MutexLock lock(&mu_);
    if (transport_ == nullptr) return false;
    action(transport_, session_);
    return true;
  }

  std::optional<GrpcTransport::Ending> WaitEnding() {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ending_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(10));
    return ending_;
  }

  std::string started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }

  RecordingHandler handler_;

 private:
  absl::Mutex mu_;
  GrpcTransport* transport_ ABSL_GUARDED_BY(mu_) = nullptr;
  workerproto::RunnerSession* session_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::optional<GrpcTransport::Ending> ending_ ABSL_GUARDED_BY(mu_);
  std::string started_ ABSL_GUARDED_BY(mu_);
};

ChannelFrame MessageFrame(const std::string& line) {
  workerproto::DecodedLine decoded = workerproto::DecodeLine(line);
  EXPECT_EQ(decoded.kind, workerproto::DecodedLine::Kind::kMessage) << line;
  ChannelFrame frame;
  *frame.mutable_message() = decoded.message;
  return frame;
}

ChannelFrame LineFrame(const std::string& text, uint64_t oversize_length = 0) {
  ChannelFrame frame;
  frame.mutable_line()->set_text(text);
  frame.mutable_line()->set_oversize_length(oversize_length);
  return frame;
}

ChannelFrame ExitedFrame(int status, const std::string& start_error = "") {
  ChannelFrame frame;
  frame.mutable_exited()->set_status(status);
  frame.mutable_exited()->set_start_error(start_error);
  return frame;
}

class GrpcTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string address = absl::StrCat("unix:", dir_.File("channel.sock"));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = workerrunner::v1::WorkerChannel::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    // A test that goes wrong fails at the deadline instead of hanging.
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    stream_ = stub_->Attach(&context_);
  }
  void TearDown() override {
    context_.TryCancel();
    server_->Shutdown();
    server_->Wait();
  }

  // Reads frames until one of `kind` arrives.
  ChannelFrame ReadUntil(ChannelFrame::FrameCase kind) {
    ChannelFrame frame;
    while (stream_->Read(&frame)) {
      if (frame.frame_case() == kind) return frame;
    }
    ADD_FAILURE() << "stream ended before a frame of kind " << kind;
    return frame;
  }

  // Says hello (with `capabilities`) after the welcome.
  void Negotiate(const std::string& capabilities) {
    ChannelFrame welcome = ReadUntil(ChannelFrame::kMessage);
    ASSERT_TRUE(welcome.message().has_welcome());
    ASSERT_TRUE(stream_->Write(
        MessageFrame(absl::StrCat(R"(~{"type":"hello","capabilities":[)", capabilities, "]}"))));
    ASSERT_TRUE(service_.handler_.WaitNegotiated());
  }

  // Ends the worker's side cleanly and waits for the runner side to finish.
  GrpcTransport::Ending EndWith(std::optional<ChannelFrame> last) {
    if (last.has_value()) {
      EXPECT_TRUE(stream_->Write(*last));
    }
    stream_->WritesDone();
    ChannelFrame ignored;
    while (stream_->Read(&ignored)) {
    }
    EXPECT_TRUE(stream_->Finish().ok());
    std::optional<GrpcTransport::Ending> ending = service_.WaitEnding();
    EXPECT_TRUE(ending.has_value());
    return ending.value_or(GrpcTransport::Ending{});
  }

  test_support::TempDir dir_;
  TestChannelService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<workerrunner::v1::WorkerChannel::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<ChannelFrame, ChannelFrame>> stream_;
};

TEST_F(GrpcTransportTest, WelcomeComesFirstAndHelloNegotiatesTheIntersection) {
  ChannelFrame first;
  ASSERT_TRUE(stream_->Read(&first));
  ASSERT_TRUE(first.has_message());
  ASSERT_TRUE(first.message().has_welcome());
  EXPECT_THAT(
      first.message().welcome().capabilities(),
      ElementsAre("error-report", "graceful-termination", "log", "new-credentials", "shutdown"));

  ASSERT_TRUE(stream_->Write(
      MessageFrame(R"(~{"type":"hello","capabilities":["log","shutdown","no-such-thing"]})")));
  ASSERT_TRUE(service_.handler_.WaitNegotiated());
  EXPECT_THAT(service_.handler_.negotiated(), ElementsAre("log", "shutdown"));
  EndWith(ExitedFrame(0));
}

TEST_F(GrpcTransportTest, MessagesAndPlainLinesReachTheSessionLikeATextWorkersOutput) {
  test_support::LogCapture logs;
  Negotiate(R"("log","error-report","shutdown")");
  ASSERT_TRUE(
      stream_->Write(MessageFrame(R"(~{"type":"log","body":{"textPayload":"claimed task 7"}})")));
  ASSERT_TRUE(stream_->Write(LineFrame("panic: printed without the tilde")));
  // A protocol line that arrives as a plain line still counts as the message it is.
  ASSERT_TRUE(stream_->Write(LineFrame(
      R"(~{"type":"error-report","kind":"k","title":"disk full","description":"d","extra":{}})")));
  // A malformed one is dropped with a warning, as for a text worker.
  ASSERT_TRUE(stream_->Write(LineFrame(R"(~{"type":"error-report","kind":"k"})")));
  ASSERT_TRUE(stream_->Write(MessageFrame(R"(~{"type":"shutdown"})")));
  GrpcTransport::Ending ending = EndWith(ExitedFrame(0));

  EXPECT_THAT(logs.LinesContaining("worker: claimed task 7"), SizeIs(1));
  EXPECT_THAT(logs.LinesContaining("worker: panic: printed without the tilde"), SizeIs(1));
  EXPECT_THAT(logs.LinesContaining("dropped malformed message from worker"), SizeIs(1));
  EXPECT_THAT(service_.handler_.error_titles(), ElementsAre("disk full"));
  EXPECT_EQ(service_.handler_.shutdowns(), 1);
  EXPECT_EQ(ending.exit_status, 0);
}

TEST_F(GrpcTransportTest, OversizeLineIsLoggedAsCut) {
  test_support::LogCapture logs;
  Negotiate(R"("log")");
  ASSERT_TRUE(stream_->Write(LineFrame("the start of a very long line", 5 * 1024 * 1024)));
  EndWith(ExitedFrame(0));
  std::vector<std::string> cut = logs.LinesContaining("cut oversize line from worker");
  ASSERT_THAT(cut, SizeIs(1));
  EXPECT_THAT(cut[0], ::testing::HasSubstr("bytes=5242880"));
  EXPECT_THAT(logs.LinesContaining("worker: the start of a very long line"), SizeIs(1));
}

TEST_F(GrpcTransportTest, ExitStatusStartedAndStartErrorAreReported) {
  Negotiate(R"("log")");
  ChannelFrame started;
  started.mutable_started()->set_pid(4242);
  started.mutable_started()->set_program("/usr/bin/worker");
  ASSERT_TRUE(stream_->Write(started));
  GrpcTransport::Ending ending = EndWith(ExitedFrame(143));
  EXPECT_EQ(ending.exit_status, 143);
  EXPECT_EQ(ending.start_error, "");
  EXPECT_EQ(service_.started(), "/usr/bin/worker:4242");
}

TEST_F(GrpcTransportTest, ProgramThatNeverStartedCarriesItsError) {
  ReadUntil(ChannelFrame::kMessage);
  GrpcTransport::Ending ending = EndWith(ExitedFrame(127, "no such file: /nope"));
  EXPECT_EQ(ending.exit_status, 127);
  EXPECT_EQ(ending.start_error, "no such file: /nope");
}

TEST_F(GrpcTransportTest, FramesAfterExitAreIgnored) {
  test_support::LogCapture logs;
  Negotiate(R"("log")");
  ASSERT_TRUE(stream_->Write(ExitedFrame(3)));
  ASSERT_TRUE(stream_->Write(LineFrame("said after the exit")));
  GrpcTransport::Ending ending = EndWith(ExitedFrame(0));
  EXPECT_EQ(ending.exit_status, 3);
  EXPECT_THAT(logs.LinesContaining("said after the exit"), IsEmpty());
}

TEST_F(GrpcTransportTest, StreamEndingWithoutExitReportsNoStatus) {
  Negotiate(R"("log")");
  GrpcTransport::Ending ending = EndWith(std::nullopt);
  EXPECT_FALSE(ending.exit_status.has_value());
}

TEST_F(GrpcTransportTest, SignalsAndGatedMessagesReachTheAttacher) {
  Negotiate(R"("graceful-termination")");
  bool sent_term = false;
  bool sent_other = true;
  workerproto::RunnerSession::SendResult termination{};
  ASSERT_TRUE(
      service_.WithTransport([&](GrpcTransport* transport, workerproto::RunnerSession* session) {
        termination = session->SendGracefulTermination(/*finish_tasks=*/false);
        sent_term = transport->SignalWorker(SIGTERM);
        sent_other = transport->SignalWorker(SIGUSR1);
      }));
  // The handler hears of hello just before the session finishes it; queued means "sent as soon as
  // it has", and the frame below proves it went out either way.
  EXPECT_TRUE(termination == workerproto::RunnerSession::SendResult::kSent ||
              termination == workerproto::RunnerSession::SendResult::kQueued);
  EXPECT_TRUE(sent_term);
  EXPECT_FALSE(sent_other);  // only SIGTERM and SIGKILL travel

  // A queued graceful-termination goes out from the reader's flush, so the signal frame may
  // overtake it; take the two in either order.
  std::optional<ChannelFrame> graceful;
  std::optional<ChannelFrame> signal;
  ChannelFrame frame;
  while ((!graceful.has_value() || !signal.has_value()) && stream_->Read(&frame)) {
    if (frame.has_signal()) signal = frame;
    if (frame.has_message()) graceful = frame;
  }
  ASSERT_TRUE(graceful.has_value());
  ASSERT_TRUE(graceful->message().has_graceful_termination());
  EXPECT_FALSE(graceful->message().graceful_termination().finish_tasks());
  ASSERT_TRUE(signal.has_value());
  EXPECT_EQ(signal->signal().signal(), SignalWorker::SIGNAL_TERM);
  EndWith(ExitedFrame(143));
}

TEST_F(GrpcTransportTest, AbandonEndsTheReadOfAnAttacherThatKeepsTheStreamOpen) {
  Negotiate(R"("log")");
  ASSERT_TRUE(service_.WithTransport(
      [](GrpcTransport* transport, workerproto::RunnerSession*) { transport->Abandon(); }));
  std::optional<GrpcTransport::Ending> ending = service_.WaitEnding();
  ASSERT_TRUE(ending.has_value());
  EXPECT_FALSE(ending->exit_status.has_value());
}

}  // namespace
}  // namespace runner::adapter
