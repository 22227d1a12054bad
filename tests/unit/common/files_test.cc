#include "server/common/files.h"

#include <dirent.h>

#include "gtest/gtest.h"

#include "tests/fakes/process_util.h"

namespace runner::common {
namespace {

int CountEntries(const std::string& dir) {
  DIR* handle = opendir(dir.c_str());
  int count = 0;
  while (struct dirent* entry = readdir(handle)) {
    if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..") ++count;
  }
  closedir(handle);
  return count;
}

TEST(WritePrivateFileAtomicallyTest, CreatesOwnerOnlyFileWithExactContent) {
  test_support::TempDir dir;
  std::string path = dir.File("config.json");
  ASSERT_TRUE(WritePrivateFileAtomically(path, "{\"a\":1}").ok());
  EXPECT_EQ(test_support::ReadFile(path), "{\"a\":1}");
  EXPECT_EQ(test_support::FileMode(path), 0600);
}

TEST(WritePrivateFileAtomicallyTest, ReplacesALooseExistingFileWithAPrivateOne) {
  test_support::TempDir dir;
  std::string path = dir.File("config.json");
  test_support::WriteFile(path, "old content that is longer", 0644);
  ASSERT_TRUE(WritePrivateFileAtomically(path, "new").ok());
  EXPECT_EQ(test_support::ReadFile(path), "new");
  EXPECT_EQ(test_support::FileMode(path), 0600);
  EXPECT_EQ(CountEntries(dir.path()), 1);  // no temporary file left
}

TEST(WritePrivateFileAtomicallyTest, MissingDirectoryIsNotFoundAndNamesThePath) {
  test_support::TempDir dir;
  std::string path = dir.File("missing/config.json");
  absl::Status status = WritePrivateFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(path), absl::string_view::npos);
}

}  // namespace
}  // namespace runner::common
