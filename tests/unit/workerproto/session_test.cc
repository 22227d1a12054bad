#include "bridge/workerproto/session.h"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/common/logger.h"

namespace runner::workerproto {
namespace {

using common::Logger;
using common::LogLevel;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Result = RunnerSession::SendResult;

// Records what the session sends; can be told to fail, or to run a hook inside Send.
class FakeSink : public MessageSink {
 public:
  bool Send(const WorkerMessage& message) override {
    std::function<void()> hook;
    {
      absl::MutexLock lock(&mu_);
      lines_.push_back(EncodeLine(message));
      hook = on_send_;
    }
    if (hook) hook();
    absl::MutexLock lock(&mu_);
    return !fail_;
  }

  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  void set_on_send(std::function<void()> hook) {
    absl::MutexLock lock(&mu_);
    on_send_ = std::move(hook);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_send_ ABSL_GUARDED_BY(mu_);
};

class FakeHandler : public SessionHandler {
 public:
  void OnErrorReport(const ErrorReport& report) override { reports.push_back(report); }
  void OnShutdown() override { ++shutdowns; }
  void OnNegotiated(const Capabilities& usable) override {
    negotiated.push_back(usable.List());
    if (on_negotiated) on_negotiated();
  }

  std::vector<ErrorReport> reports;
  int shutdowns = 0;
  std::vector<std::vector<std::string>> negotiated;
  std::function<void()> on_negotiated;
};

// Routes the process logger into memory, without timestamps, for the life of the test.
class RunnerSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_unique<common::MemoryLogSink>();
    log_ = sink.get();
    old_sink_ = Logger::Default().SetSink(std::move(sink));
    Logger::Default().SetTimestamps(false);
  }
  void TearDown() override {
    Logger::Default().SetSink(std::move(old_sink_));
    Logger::Default().SetTimestamps(true);
    Logger::Default().SetMinLevel(LogLevel::kInfo);
  }

  std::vector<std::string> LogLines() const { return log_->lines(); }

  static std::string Hello(absl::string_view capabilities_json) {
    return absl::StrCat(R"(~{"type":"hello","capabilities":)", capabilities_json, "}");
  }

  FakeSink sink_;
  FakeHandler handler_;
  common::MemoryLogSink* log_ = nullptr;  // owned by the logger while the test runs

 private:
  std::unique_ptr<common::LogSink> old_sink_;
};

constexpr char kTerminate[] = "~{\"finish-tasks\":false,\"type\":\"graceful-termination\"}\n";

TEST_F(RunnerSessionTest, StartSendsWelcomeWithTheOfferedCapabilities) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  EXPECT_THAT(sink_.lines(),
              ElementsAre("~{\"capabilities\":[\"error-report\",\"graceful-termination\",\"log\","
                          "\"new-credentials\",\"shutdown\"],\"type\":\"welcome\"}\n"));
  EXPECT_FALSE(session.negotiated());
  EXPECT_TRUE(session.usable().empty());
}

TEST_F(RunnerSessionTest, CapabilityIsUsableOnlyWhenBothSidesHaveIt) {
  struct Case {
    bool runner_has;
    bool worker_has;
  };
  for (const Case& c :
       {Case{true, true}, Case{true, false}, Case{false, true}, Case{false, false}}) {
    SCOPED_TRACE(absl::StrCat("runner ", c.runner_has, " worker ", c.worker_has));
    Capabilities offered({"log"});
    if (c.runner_has) offered.Add(kCapGracefulTermination);
    FakeSink sink;
    FakeHandler handler;
    RunnerSession session(offered, &sink, &handler);
    session.Start();
    session.HandleLine(Hello(c.worker_has ? R"(["log","graceful-termination"])" : R"(["log"])"));

    bool usable = c.runner_has && c.worker_has;
    EXPECT_TRUE(session.negotiated());
    EXPECT_EQ(session.usable().Has(kCapGracefulTermination), usable);
    ASSERT_EQ(handler.negotiated.size(), 1u);
    EXPECT_EQ(handler.negotiated[0], session.usable().List());
    EXPECT_EQ(session.WaitCapable(kCapGracefulTermination, absl::ZeroDuration()), usable);
    EXPECT_EQ(session.SendGracefulTermination(false), usable ? Result::kSent : Result::kNotCapable);
    EXPECT_EQ(sink.lines().size(), usable ? 2u : 1u);
  }
}

TEST_F(RunnerSessionTest, GatedMessagesWaitForHelloAndGoOutInOrder) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  EXPECT_EQ(session.SendNewCredentials("c", "a1", ""), Result::kQueued);
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kQueued);
  EXPECT_EQ(session.SendNewCredentials("c", "a2", "cert"), Result::kQueued);
  EXPECT_EQ(sink_.lines().size(), 1u) << "nothing gated before hello";

  session.HandleLine(Hello(R"(["graceful-termination","new-credentials"])"));
  EXPECT_THAT(sink_.lines(),
              ElementsAre(HasSubstr("welcome"),
                          "~{\"access-token\":\"a1\",\"certificate\":\"\",\"client-id\":\"c\","
                          "\"type\":\"new-credentials\"}\n",
                          kTerminate,
                          "~{\"access-token\":\"a2\",\"certificate\":\"cert\",\"client-id\":\"c\","
                          "\"type\":\"new-credentials\"}\n"));
}

TEST_F(RunnerSessionTest, QueuedMessagesTheWorkerCannotTakeAreDropped) {
  Logger::Default().SetMinLevel(LogLevel::kDebug);
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  EXPECT_EQ(session.SendNewCredentials("c", "secret-token", ""), Result::kQueued);
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kQueued);

  session.HandleLine(Hello(R"(["graceful-termination"])"));
  EXPECT_THAT(sink_.lines(), ElementsAre(HasSubstr("welcome"), kTerminate));
  EXPECT_THAT(LogLines(), testing::Contains(HasSubstr("DEBUG worker: dropped queued message, "
                                                      "worker lacks capability "
                                                      "type=new-credentials")));
}

TEST_F(RunnerSessionTest, SendsDuringTheFlushQueueBehindIt) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  ASSERT_EQ(session.SendGracefulTermination(true), Result::kQueued);

  // Sent from inside OnNegotiated and from inside the sink while the queue is going out.
  handler_.on_negotiated = [&] {
    EXPECT_EQ(session.SendNewCredentials("c", "from-handler", ""), Result::kQueued);
  };
  bool sent_from_sink = false;
  sink_.set_on_send([&] {
    if (sent_from_sink) return;
    sent_from_sink = true;
    EXPECT_EQ(session.SendGracefulTermination(false), Result::kQueued);
  });
  session.HandleLine(Hello(R"(["graceful-termination","new-credentials"])"));
  sink_.set_on_send(nullptr);

  std::vector<std::string> lines = sink_.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[1], HasSubstr("\"finish-tasks\":true"));
  EXPECT_THAT(lines[2], HasSubstr("from-handler"));
  EXPECT_EQ(lines[3], kTerminate);

  // Once the queue is empty, sends go straight out.
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kSent);
}

TEST_F(RunnerSessionTest, CloseDropsQueuedMessagesAndRefusesMore) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kQueued);
  session.Close();
  session.Close();  // idempotent
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kClosed);

  session.HandleLine(Hello(R"(["graceful-termination"])"));
  EXPECT_THAT(sink_.lines(), ElementsAre(HasSubstr("welcome")));
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kClosed);
  EXPECT_FALSE(session.WaitCapable(kCapGracefulTermination, absl::ZeroDuration()));
}

TEST_F(RunnerSessionTest, FailedSendIsReported) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(Hello(R"(["graceful-termination"])"));
  sink_.set_fail(true);
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kFailed);
  EXPECT_THAT(LogLines(), testing::Contains("WARNING worker: could not send message to worker "
                                            "type=graceful-termination"));
}

TEST_F(RunnerSessionTest, RepeatedHelloReplacesTheListOnly) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  session.HandleLine(Hello(R"(["log"])"));
  EXPECT_FALSE(session.usable().Has(kCapGracefulTermination));

  session.HandleLine(Hello(R"(["log","graceful-termination"])"));
  EXPECT_THAT(session.usable().List(), ElementsAre("graceful-termination", "log"));
  EXPECT_EQ(handler_.negotiated.size(), 1u) << "initialised once";
  EXPECT_THAT(LogLines(), testing::Contains(HasSubstr("WARNING worker: repeated hello")));
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kSent);
}

TEST_F(RunnerSessionTest, MalformedCapabilitiesCountAsNone) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  EXPECT_EQ(session.SendGracefulTermination(false), Result::kQueued);
  session.HandleLine(R"(~{"type":"hello","capabilities":"graceful-termination"})");

  EXPECT_TRUE(session.negotiated());
  EXPECT_TRUE(session.usable().empty());
  ASSERT_EQ(handler_.negotiated.size(), 1u);
  EXPECT_THAT(handler_.negotiated[0], IsEmpty());
  EXPECT_THAT(sink_.lines(), ElementsAre(HasSubstr("welcome")));
  EXPECT_THAT(LogLines(), testing::Contains(HasSubstr(
                              "WARNING worker: worker sent malformed capabilities, treating them "
                              "as none problem=\"property 'capabilities' is string")));
}

TEST_F(RunnerSessionTest, HelloPassedAsMessageNegotiates) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  WorkerMessage hello;
  hello.mutable_hello()->add_capabilities(kCapShutdown);
  session.HandleMessage(hello);
  EXPECT_TRUE(session.negotiated());
  EXPECT_THAT(session.usable().List(), ElementsAre("shutdown"));
}

TEST_F(RunnerSessionTest, LogRecordsAreForwardedAsText) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  // Before hello on purpose: log messages are honoured regardless of negotiation.
  session.HandleLine(R"(~{"type":"log","body":{"textPayload":"claimed task 7","taskId":"abc"}})");
  session.HandleLine(R"(~{"type":"log","body":{"number":4,"bool":false,"array":[1,2]}})");
  session.HandleLine(R"(~{"type":"log"})");
  session.HandleLine(R"(~{"type":"log","body":["uh","oh"]})");
  session.HandleLine(R"(~{"type":"log","body":"just text"})");
  session.HandleLine(R"(~{"type":"log","body":{"line":"a\nb"}})");
  EXPECT_THAT(LogLines(),
              ElementsAre("INFO worker: claimed task 7; taskId: abc",
                          "INFO worker: array: [1,2]; bool: false; number: 4",
                          "WARNING worker: received log message from worker lacking 'body' "
                          "property",
                          "INFO worker: [\"uh\",\"oh\"]", "INFO worker: \"just text\"",
                          "INFO worker: line: a\\nb"));
}

TEST_F(RunnerSessionTest, PlainTextIsRelayedAndBlankLinesSkipped) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine("panic: something printed without the tilde\r");
  session.HandleLine("");
  session.HandleLine("   ");
  session.HandleLine("~{\"type\":\"log\",");
  session.HandleLine("tab\there");
  EXPECT_THAT(LogLines(),
              ElementsAre("INFO worker: panic: something printed without the tilde",
                          "INFO worker: ~{\"type\":\"log\",", "INFO worker: tab\\there"));
}

TEST_F(RunnerSessionTest, OversizeLineIsLoggedCut) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleOversizeLine("the start", 5000000);
  EXPECT_THAT(LogLines(),
              ElementsAre("WARNING worker: cut oversize line from worker bytes=5000000 kept=9",
                          "INFO worker: the start"));

  std::string huge(Logger::kMaxRelayedText + 10, 'x');
  session.HandleOversizeLine(huge, 2 * huge.size());
  std::vector<std::string> lines = LogLines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "INFO worker: " + std::string(Logger::kMaxRelayedText, 'x'));
}

TEST_F(RunnerSessionTest, ErrorReportGoesToTheHandlerWithExactValues) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(
      R"(~{"type":"error-report","kind":"worker-error","title":"generic-worker error",)"
      R"("description":"disk too small","extra":{"free":"1G","count":10}})");
  ASSERT_EQ(handler_.reports.size(), 1u);
  const ErrorReport& report = handler_.reports[0];
  EXPECT_EQ(report.kind, "worker-error");
  EXPECT_EQ(report.title, "generic-worker error");
  EXPECT_EQ(report.description, "disk too small");
  EXPECT_EQ(report.extra.dump(), R"({"count":10,"free":"1G"})");
}

TEST_F(RunnerSessionTest, MalformedErrorReportIsLoggedAndDropped) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(
      R"(~{"type":"error-report","kind":"k","title":"secret-title","description":"d",)"
      R"("extra":null})");
  EXPECT_THAT(handler_.reports, IsEmpty());
  std::vector<std::string> lines = LogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "WARNING worker: dropped malformed message from worker type=error-report "
            "problem=\"property 'extra' is null, expected an object\"");
}

TEST_F(RunnerSessionTest, DeeplyNestedLogIsDroppedAsMalformed) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(R"(~{"type":"log","body":)" + std::string(10000, '[') +
                     std::string(10000, ']') + "}");
  EXPECT_THAT(LogLines(), ElementsAre("WARNING worker: dropped malformed message from worker "
                                      "type=log problem=\"nesting deeper than 64 levels\""));
}

TEST_F(RunnerSessionTest, ShutdownGoesToTheHandler) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(R"(~{"type":"shutdown"})");
  EXPECT_EQ(handler_.shutdowns, 1);
}

TEST_F(RunnerSessionTest, MessagesWithoutAHandlerAreLoggedAndSkipped) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.HandleLine(R"(~{"type":"welcome","capabilities":[]})");
  session.HandleLine(R"(~{"type":"graceful-termination","finish-tasks":false})");
  session.HandleLine(R"(~{"type":"new-credentials","client-id":"c","access-token":"tok"})");
  session.HandleLine(R"(~{"type":"mystery","x":1})");
  session.HandleLine(R"(~{"type":"shutdown"})");
  EXPECT_THAT(LogLines(),
              ElementsAre("WARNING worker: no handler for message type=welcome",
                          "WARNING worker: no handler for message type=graceful-termination",
                          "WARNING worker: no handler for message type=new-credentials",
                          "WARNING worker: no handler for message type=mystery"));
  EXPECT_EQ(handler_.shutdowns, 1) << "later messages are still handled";
}

TEST_F(RunnerSessionTest, WithoutHandlerRequestsAreLogged) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, /*handler=*/nullptr);
  session.HandleLine(R"(~{"type":"shutdown"})");
  session.HandleLine(
      R"(~{"type":"error-report","kind":"k","title":"t","description":"d","extra":{}})");
  session.HandleLine(Hello(R"(["log"])"));
  EXPECT_TRUE(session.negotiated());
  EXPECT_THAT(LogLines(),
              testing::Contains("WARNING worker: no handler for message type=shutdown"));
  EXPECT_THAT(LogLines(),
              testing::Contains("WARNING worker: no handler for message type=error-report"));
}

TEST_F(RunnerSessionTest, WaitCapableTimesOutBeforeHello) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  EXPECT_FALSE(session.WaitCapable(kCapLog, absl::Milliseconds(1)));
}

TEST_F(RunnerSessionTest, WaitCapableReturnsFalseWhenClosedFromAnotherThread) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  absl::Notification waiting;
  std::thread closer([&] {
    waiting.WaitForNotification();
    session.Close();
  });
  waiting.Notify();
  // A generous deadline: the answer must come from Close(), long before it.
  absl::Time start = absl::Now();
  EXPECT_FALSE(session.WaitCapable(kCapLog, absl::Seconds(60)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  closer.join();
}

TEST_F(RunnerSessionTest, WaitCapableReturnsTrueWhenHelloArrivesFromAnotherThread) {
  RunnerSession session(Capabilities::RunnerDefaults(), &sink_, &handler_);
  session.Start();
  std::thread reader([&] { session.HandleLine(Hello(R"(["log","shutdown"])")); });
  EXPECT_TRUE(session.WaitCapable(kCapShutdown, absl::Seconds(60)));
  EXPECT_FALSE(session.WaitCapable(kCapNewCredentials, absl::Seconds(60)));
  reader.join();
}

}  // namespace
}  // namespace runner::workerproto
