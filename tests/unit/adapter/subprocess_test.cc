#include "bridge/adapter/subprocess.h"

#include <signal.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace runner::adapter {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

TEST(SubprocessTest, PipesStdinToStdoutAndReportsExitCode) {
  auto child = Subprocess::Spawn({"sh", "-c", "read line; echo got:$line; exit 7"});
  ASSERT_TRUE(child.ok()) << child.status();
  int in = (*child)->TakeStdinFd();
  int out = (*child)->TakeStdoutFd();
  ASSERT_EQ(write(in, "hi\n", 3), 3);
  close(in);
  EXPECT_EQ(ReadAll(out), "got:hi\n");
  close(out);
  EXPECT_EQ((*child)->Wait(), 7);
  EXPECT_EQ((*child)->Wait(), 7);  // stable after reaping
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  auto child = Subprocess::Spawn({"/nonexistent/worker-binary"});
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("/nonexistent/worker-binary"), absl::string_view::npos);
}

TEST(SubprocessTest, ChildStartsWithDefaultSignalsEvenWhenParentBlocksThem) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  auto child = Subprocess::Spawn({"sleep", "30"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(child.ok());
  (*child)->Signal(SIGTERM);
  EXPECT_EQ((*child)->Wait(), 128 + SIGTERM);
}

TEST(SubprocessTest, WaitForTimesOutThenSeesTheExit) {
  auto child = Subprocess::Spawn({"sleep", "30"});
  ASSERT_TRUE(child.ok());
  EXPECT_FALSE((*child)->WaitFor(absl::Milliseconds(50)).has_value());
  (*child)->Signal(SIGKILL);
  EXPECT_EQ((*child)->WaitFor(absl::Seconds(10)), 128 + SIGKILL);
}

TEST(SubprocessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid;
  {
    auto child = Subprocess::Spawn({"sleep", "30"});
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
  }
  EXPECT_NE(kill(pid, 0), 0);  // gone and reaped
}

}  // namespace
}  // namespace runner::adapter
