#include "server/config/private_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/common/logger.h"
#include "server/config/runner_config.h"

namespace runner::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uid_t kOtherUid = 65534;  // "nobody" on Debian and most Linux systems

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "private_file_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;

    auto sink = std::make_unique<common::MemoryLogSink>();
    log_ = sink.get();
    previous_sink_ = common::Logger::Default().SetSink(std::move(sink));
  }

  void TearDown() override {
    common::Logger::Default().SetSink(std::move(previous_sink_));
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Writes `content` to a new file in the temp dir and sets `mode` exactly (umask aside).
  std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << std::strerror(errno);
    return path;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << std::strerror(errno);
    return st.st_mode & 07777;
  }

  std::filesystem::path dir_;
  common::MemoryLogSink* log_ = nullptr;  // not owned

 private:
  std::unique_ptr<common::LogSink> previous_sink_;
};

TEST_F(PrivateFileTest, TightensAGroupOrOtherReadableFileTo0600) {
  for (mode_t mode : {0644, 0604, 0640, 0666, 0755, 0777}) {
    SCOPED_TRACE(absl::StrCat("mode ", mode));
    const std::string path = WriteFile("loose.yaml", "content", mode);

    absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_TRUE(file->tightened);
    EXPECT_EQ(file->data, "content");
    EXPECT_EQ(ModeOf(path), 0600u);
  }
}

TEST_F(PrivateFileTest, LogsAWarningWhenItTightens) {
  const std::string path = WriteFile("loose.yaml", "x", 0644);
  ASSERT_TRUE(ReadPrivateFile(path, "runner config").ok());
  const std::vector<std::string> lines = log_->lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("WARNING"));
  EXPECT_THAT(lines[0], HasSubstr("config: tightened permissions of runner config"));
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat("file=", path)));
}

TEST_F(PrivateFileTest, LeavesOwnerOnlyModesUntouched) {
  for (mode_t mode : {0400, 0500, 0600, 0700}) {
    SCOPED_TRACE(absl::StrCat("mode ", mode));
    const std::string path = WriteFile("private.yaml", "secret: x\n", mode);

    absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_FALSE(file->tightened);
    EXPECT_EQ(file->data, "secret: x\n");
    EXPECT_EQ(ModeOf(path), mode);
  }
  EXPECT_TRUE(log_->lines().empty());
}

TEST_F(PrivateFileTest, ReadsAnEmptyFile) {
  const std::string path = WriteFile("empty.yaml", "", 0600);
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->data, "");
}

TEST_F(PrivateFileTest, ReadsBinaryContentWhole) {
  std::string content(200000, 'a');
  content[7] = '\0';
  const std::string path = WriteFile("big.yaml", content, 0600);
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->data, content);
}

TEST_F(PrivateFileTest, RefusesAFileWithoutTheOwnerReadBit) {
  for (mode_t mode : {0200, 0000, 0244, 0300}) {
    SCOPED_TRACE(absl::StrCat("mode ", mode));
    const std::string path = WriteFile("unreadable.yaml", "x", mode);

    absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(file.status().message(),
              absl::StrCat("read runner config ", path, ": owner-read bit must be set"));
    EXPECT_EQ(ModeOf(path), mode);
  }
}

TEST_F(PrivateFileTest, RefusesAFifoWithoutBlocking) {
  const std::string path = Path("fifo.yaml");
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);

  // Without O_NONBLOCK this open would wait forever for a writer.
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(file.status().message(),
            absl::StrCat("read runner config ", path, ": not a regular file"));
}

TEST_F(PrivateFileTest, RefusesADirectory) {
  const std::string path = Path("dir.yaml");
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0) << std::strerror(errno);
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(": not a regular file"));
}

TEST_F(PrivateFileTest, RefusesAUnixSocket) {
  const std::string path = Path("socket.yaml");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);

  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  close(fd);

  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(file.status().message(),
            absl::StrCat("read runner config ", path, ": not a regular file"));
}

TEST_F(PrivateFileTest, RefusesASymlinkAndLeavesItsTargetAlone) {
  const std::string target = WriteFile("target.yaml", "x", 0644);
  const std::string link = Path("link.yaml");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << std::strerror(errno);

  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(link, "runner config");

  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(file.status().message(), absl::StrCat("read runner config ", link,
                                                  ": is a symbolic link, which is not followed"));
  EXPECT_EQ(ModeOf(target), 0644u);
}

TEST_F(PrivateFileTest, ReportsAMissingFileAsNotFound) {
  const std::string path = Path("missing.yaml");
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(file.status().message(),
            absl::StrCat("read runner config ", path, ": no such file or directory"));
}

TEST_F(PrivateFileTest, RefusesAFileTooLargeForAConfig) {
  const std::string path = WriteFile("huge.yaml", "", 0600);
  ASSERT_EQ(truncate(path.c_str(), kMaxPrivateFileSize + 1), 0) << std::strerror(errno);
  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("larger than"));
}

// Changing a file's owner needs root; elsewhere these cases are skipped.
TEST_F(PrivateFileTest, RefusesALooseFileOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  const std::string path = WriteFile("theirs.yaml", "x", 0644);
  ASSERT_EQ(chown(path.c_str(), kOtherUid, kOtherUid), 0) << std::strerror(errno);

  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(file.status().message()),
              StartsWith(absl::StrCat("read runner config ", path, ": ")));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("owned by another user"));
  EXPECT_EQ(ModeOf(path), 0644u);
}

TEST_F(PrivateFileTest, RefusesAPrivateFileOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  const std::string path = WriteFile("theirs.yaml", "x", 0400);
  ASSERT_EQ(chown(path.c_str(), kOtherUid, kOtherUid), 0) << std::strerror(errno);

  absl::StatusOr<PrivateFileContents> file = ReadPrivateFile(path, "runner config");

  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(file.status().message(),
            absl::StrCat("read runner config ", path, ": owned by another user"));
}

TEST_F(PrivateFileTest, LoadRunnerConfigMakesTheFilePrivateAndParsesIt) {
  const std::string path = WriteFile(
      "runner.yaml", "provider: {providerType: aws}\r\nworker: {implementation: dummy}\r\n", 0644);

  absl::StatusOr<RunnerConfig> config = LoadRunnerConfig(path);

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->file, path);
  EXPECT_EQ(config->provider.provider_type, "aws");
  EXPECT_EQ(ModeOf(path), 0600u);

  // A second read finds nothing to tighten.
  absl::StatusOr<PrivateFileContents> again = ReadPrivateFile(path, "runner config");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->tightened);
}

TEST_F(PrivateFileTest, LoadRunnerConfigReportsAccessErrors) {
  const std::string path = Path("absent.yaml");
  absl::StatusOr<RunnerConfig> config = LoadRunnerConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(),
            absl::StrCat("read runner config ", path, ": no such file or directory"));
}

TEST_F(PrivateFileTest, LoadRunnerConfigReportsContentErrorsWithThePath) {
  const std::string path =
      WriteFile("bad.yaml", "provider: {providerType: aws}\nworker: 5\n", 0600);
  absl::StatusOr<RunnerConfig> config = LoadRunnerConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      config.status().message(),
      absl::StrCat("runner config ", path, ": line 2: worker: expected a mapping, got an integer"));
}

}  // namespace
}  // namespace runner::config
