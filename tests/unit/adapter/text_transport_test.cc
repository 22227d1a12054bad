#include "bridge/adapter/text_transport.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <memory>

#include "gtest/gtest.h"

#include "server/common/logger.h"

namespace runner::adapter {
namespace {

class NullHandler : public workerproto::SessionHandler {
 public:
  void OnErrorReport(const workerproto::ErrorReport&) override {}
  void OnShutdown() override { ++shutdowns; }
  void OnNegotiated(const workerproto::Capabilities&) override { ++negotiations; }
  int shutdowns = 0;
  int negotiations = 0;
};

class TextTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(pipe2(worker_stdout_, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(worker_stdin_, O_CLOEXEC), 0);
    transport_ = std::make_unique<TextTransport>(worker_stdout_[0], worker_stdin_[1],
                                                 absl::Milliseconds(100));
    session_ = std::make_unique<workerproto::RunnerSession>(
        workerproto::Capabilities::RunnerDefaults(), transport_.get(), &handler_);
  }
  void TearDown() override {
    transport_->Stop();
    for (int fd : {worker_stdout_[1], worker_stdin_[0]}) {
      if (fd >= 0) close(fd);
    }
  }

  void WorkerWrites(const std::string& text) {
    ASSERT_EQ(write(worker_stdout_[1], text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }

  std::string WorkerReadsLine() {
    std::string line;
    char c;
    while (read(worker_stdin_[0], &c, 1) == 1 && c != '\n') line += c;
    return line;
  }

  int worker_stdout_[2];
  int worker_stdin_[2];
  NullHandler handler_;
  std::unique_ptr<TextTransport> transport_;
  std::unique_ptr<workerproto::RunnerSession> session_;
};

TEST_F(TextTransportTest, WelcomeGoesOutAndLinesComeIn) {
  session_->Start();
  transport_->Start(session_.get());
  EXPECT_EQ(
      WorkerReadsLine(),
      R"(~{"capabilities":["error-report","graceful-termination","log","new-credentials","shutdown"],"type":"welcome"})");

  WorkerWrites("~{\"type\":\"hello\",\"capabilities\":[\"shutdown\"]}\n~{\"type\":\"shutdown\"}\n");
  close(worker_stdout_[1]);
  worker_stdout_[1] = -1;
  EXPECT_TRUE(transport_->WaitForEof(absl::Seconds(10)));
  EXPECT_EQ(handler_.negotiations, 1);
  EXPECT_EQ(handler_.shutdowns, 1);
}

TEST_F(TextTransportTest, StopReturnsWhileSomeoneStillHoldsThePipeOpen) {
  transport_->Start(session_.get());
  // worker_stdout_[1] stays open, as a worker's background child would keep it.
  EXPECT_FALSE(transport_->WaitForEof(absl::Milliseconds(50)));
  transport_->Stop();
  SUCCEED();
}

TEST_F(TextTransportTest, SendToAGoneWorkerFailsQuietly) {
  close(worker_stdin_[0]);
  worker_stdin_[0] = -1;
  workerproto::WorkerMessage message;
  message.mutable_graceful_termination()->set_finish_tasks(false);
  EXPECT_FALSE(transport_->Send(message));
}

TEST_F(TextTransportTest, SendToAWorkerThatNeverReadsDoesNotBlockForever) {
  // Fill the pipe so the next write would block.
  int flags = fcntl(worker_stdin_[1], F_GETFL);
  EXPECT_NE(flags & O_NONBLOCK, 0);  // the transport made it non-blocking
  std::string chunk(65536, 'x');
  while (write(worker_stdin_[1], chunk.data(), chunk.size()) > 0) {
  }
  workerproto::WorkerMessage message;
  message.mutable_graceful_termination()->set_finish_tasks(false);
  EXPECT_FALSE(transport_->Send(message));
}

}  // namespace
}  // namespace runner::adapter
