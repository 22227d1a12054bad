#include "server/lifecycle/files.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/process_util.h"

namespace runner::lifecycle {
namespace {

using ::nlohmann::json;
using test_support::FileMode;
using test_support::PathExists;
using test_support::ReadFile;
using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

mode_t CurrentUmask() {
  mode_t mask = umask(022);
  umask(mask);
  return mask;
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (struct dirent* entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(handle);
  return names;
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

json Entry(const std::string& path, const std::string& format, const std::string& content,
           const std::string& encoding = "base64") {
  return {{"description", "test entry"},
          {"path", path},
          {"format", format},
          {"encoding", encoding},
          {"content", content}};
}

json FileEntry(const std::string& path, const std::string& bytes) {
  return Entry(path, "file", absl::Base64Escape(bytes));
}

struct Member {
  Member(std::string member_name, std::string member_content)
      : name(std::move(member_name)), content(std::move(member_content)) {}

  std::string name;
  std::string content;
  bool directory = false;
  // Written as unix external attributes (st_mode << 16) when set.
  std::optional<uint32_t> unix_mode;
  bool dos_attributes = false;  // MS-DOS attributes without a unix mode
};

Member UnixMember(std::string name, std::string content, uint32_t mode) {
  Member member(std::move(name), std::move(content));
  member.directory = S_ISDIR(mode);
  member.unix_mode = mode;
  return member;
}

Member DosMember(std::string name, bool directory) {
  Member member(std::move(name), "d");
  member.directory = directory;
  member.dos_attributes = true;
  return member;
}

// Builds a zip archive in memory with libzip.
std::string BuildZip(const std::vector<Member>& members) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (buffer == nullptr) {
    ADD_FAILURE() << "zip_source_buffer_create failed";
    return "";
  }
  zip_source_keep(buffer);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    ADD_FAILURE() << "zip_open_from_source failed: " << zip_error_strerror(&error);
    zip_source_free(buffer);
    return "";
  }
  for (const Member& member : members) {
    zip_int64_t index;
    if (member.directory) {
      index = zip_dir_add(archive, member.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      zip_source_t* data =
          zip_source_buffer(archive, member.content.data(), member.content.size(), 0);
      index = zip_file_add(archive, member.name.c_str(), data, ZIP_FL_ENC_UTF_8);
    }
    if (index < 0) {
      ADD_FAILURE() << "cannot add " << member.name << ": " << zip_strerror(archive);
      continue;
    }
    if (member.unix_mode.has_value()) {
      zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_UNIX,
                                       *member.unix_mode << 16);
    } else if (member.dos_attributes) {
      zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_DOS,
                                       0);
    }
  }
  if (zip_close(archive) != 0) {
    ADD_FAILURE() << "zip_close failed: " << zip_strerror(archive);
    zip_discard(archive);
    zip_source_free(buffer);
    return "";
  }

  std::string bytes;
  if (zip_source_open(buffer) == 0) {
    zip_source_seek(buffer, 0, SEEK_END);
    zip_int64_t size = zip_source_tell(buffer);
    zip_source_seek(buffer, 0, SEEK_SET);
    bytes.resize(static_cast<size_t>(size));
    zip_source_read(buffer, bytes.data(), bytes.size());
    zip_source_close(buffer);
  }
  zip_source_free(buffer);
  return bytes;
}

json ZipEntry(const std::string& path, const std::vector<Member>& members) {
  return Entry(path, "zip", absl::Base64Escape(BuildZip(members)));
}

// Calls ExtractFiles with a JSON array of `entries` (a braced single entry would otherwise be
// taken as the object itself).
absl::Status Extract(std::vector<json> entries) { return ExtractFiles(json(std::move(entries))); }

TEST(ExtractFilesTest, WritesDecodedFile) {
  TempDir dir;
  std::string path = dir.File("hello.txt");
  ASSERT_TRUE(Extract({Entry(path, "file", "SGVsbG8sIFdvcmxk")}).ok());
  EXPECT_EQ(ReadFile(path), "Hello, World");
  EXPECT_EQ(FileMode(path), static_cast<int>(0666 & ~CurrentUmask()));
}

TEST(ExtractFilesTest, CreatesMissingParentDirectories) {
  TempDir dir;
  std::string path = dir.File("a/b/c/hello.txt");
  ASSERT_TRUE(Extract({FileEntry(path, "Hello, World")}).ok());
  EXPECT_EQ(ReadFile(path), "Hello, World");
  EXPECT_EQ(FileMode(dir.File("a/b")), static_cast<int>(0755 & ~CurrentUmask()));
}

TEST(ExtractFilesTest, ExistingFileIsTruncatedAndKeepsItsMode) {
  TempDir dir;
  std::string path = dir.File("existing");
  test_support::WriteFile(path, "old content that is longer than the new one", 0600);
  ASSERT_TRUE(Extract({FileEntry(path, "new")}).ok());
  EXPECT_EQ(ReadFile(path), "new");
  EXPECT_EQ(FileMode(path), 0600);
}

TEST(ExtractFilesTest, EmptyOrNullListDoesNothing) {
  EXPECT_TRUE(ExtractFiles(json::array()).ok());
  EXPECT_TRUE(ExtractFiles(json()).ok());
  EXPECT_EQ(ExtractFiles(json::object()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExtractFilesTest, Base64WithLineBreaksIsAccepted) {
  TempDir dir;
  std::string path = dir.File("wrapped");
  ASSERT_TRUE(Extract({Entry(path, "file", "SGVs\r\nbG8s\nIFdv\rcmxk\n")}).ok());
  EXPECT_EQ(ReadFile(path), "Hello, World");
}

TEST(ExtractFilesTest, InvalidBase64IsRefusedAndNothingWritten) {
  const char* contents[] = {
      "SGVsbG8",      // length not a multiple of four
      "SGVsbG8sIFd",  // likewise
      "SGVs bG8s",    // space
      "SGVs\tbG8s",   // tab
      "SG=sbG8s",     // padding in the middle of a group
      "SGVs=G8s",     // padding before the last group
      "Zg==Zg==",     // padding followed by more data
      "Z===",         // three padding characters
      "SGVsbG8-",     // URL-safe alphabet
      "SGVsbG8_",
  };
  for (const char* content : contents) {
    SCOPED_TRACE(content);
    TempDir dir;
    std::string path = dir.File("out/file");
    absl::Status status = Extract({Entry(path, "file", content)});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(path));
    EXPECT_THAT(status.message(), HasSubstr("base64"));
    EXPECT_THAT(status.message(), Not(HasSubstr(content)));
    EXPECT_TRUE(Entries(dir.path()).empty());
  }
}

TEST(ExtractFilesTest, PaddedBase64OfEveryLengthDecodes) {
  TempDir dir;
  for (std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    SCOPED_TRACE(text);
    std::string path = dir.File("f");
    ASSERT_TRUE(Extract({FileEntry(path, text)}).ok());
    EXPECT_EQ(ReadFile(path), text);
  }
}

TEST(ExtractFilesTest, UnknownFormatIsRefused) {
  for (const char* format : {"tar", "", "ZIP", "File"}) {
    SCOPED_TRACE(format);
    TempDir dir;
    std::string path = dir.File("x");
    absl::Status status = Extract({Entry(path, format, "eA==")});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("unknown file format"));
    EXPECT_THAT(status.message(), HasSubstr(path));
    EXPECT_FALSE(PathExists(path));
  }
}

TEST(ExtractFilesTest, FormatIsCheckedBeforeEncoding) {
  absl::Status status = Extract({Entry("/nonexistent/x", "tar", "eA==", "hex")});
  EXPECT_THAT(status.message(), HasSubstr("unknown file format"));
}

TEST(ExtractFilesTest, UnknownEncodingIsRefused) {
  for (const char* encoding : {"hex", "", "BASE64", "base64url"}) {
    SCOPED_TRACE(encoding);
    TempDir dir;
    std::string path = dir.File("x");
    absl::Status status = Extract({Entry(path, "file", "eA==", encoding)});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("unsupported encoding"));
    EXPECT_THAT(status.message(), HasSubstr(path));
    EXPECT_FALSE(PathExists(path));
  }
}

TEST(ExtractFilesTest, MissingFieldsAreEmptyAndNonStringFieldsRefused) {
  // Only a description: the format is empty, hence unknown.
  absl::Status status = Extract({{{"description", "a file."}}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unknown file format"));

  json entry = Entry("/x", "file", "eA==");
  entry["content"] = 5;
  EXPECT_EQ(Extract({entry}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Extract({json("text")}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Extract({Entry("", "file", "eA==")}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExtractFilesTest, LaterInvalidEntryPreventsEarlierValidOne) {
  TempDir dir;
  std::string first = dir.File("first");
  std::string second = dir.File("second");
  absl::Status status = Extract({FileEntry(first, "valid"), Entry(second, "file", "not base64!")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(second));
  EXPECT_TRUE(Entries(dir.path()).empty());
}

TEST(ExtractFilesTest, EntriesAreWrittenInOrder) {
  TempDir dir;
  std::string path = dir.File("same");
  ASSERT_TRUE(Extract({FileEntry(path, "first"), FileEntry(path, "second")}).ok());
  EXPECT_EQ(ReadFile(path), "second");
}

TEST(ExtractFilesTest, UnpacksZipIntoNestedNewDirectory) {
  TempDir dir;
  std::string dest = dir.File("x/y/z");
  json entry = ZipEntry(dest, {{"hi", "hi\n"}, {"bye", "bye\n"}, {"dir/sub", "sub\n"}});
  ASSERT_TRUE(Extract({entry}).ok());
  EXPECT_EQ(ReadFile(dest + "/hi"), "hi\n");
  EXPECT_EQ(ReadFile(dest + "/bye"), "bye\n");
  EXPECT_EQ(ReadFile(dest + "/dir/sub"), "sub\n");
  EXPECT_EQ(Entries(dest), std::set<std::string>({"hi", "bye", "dir"}));
  EXPECT_EQ(FileMode(dir.File("x/y")), static_cast<int>(0755 & ~CurrentUmask()));
}

TEST(ExtractFilesTest, ZipModesComeFromTheArchiveWithoutSpecialBits) {
  TempDir dir;
  std::string dest = dir.File("out");
  mode_t mask = CurrentUmask();
  json entry = ZipEntry(
      dest, {UnixMember("tool", "#!/bin/sh\n", S_IFREG | 04755),
             UnixMember("private", "p", S_IFREG | 0600), DosMember("dos", /*directory=*/false),
             UnixMember("shared", "", S_IFDIR | 01775), DosMember("plain", /*directory=*/true)});
  ASSERT_TRUE(Extract({entry}).ok());
  EXPECT_EQ(FileMode(dest + "/tool"), static_cast<int>(0755 & ~mask));
  EXPECT_EQ(FileMode(dest + "/private"), 0600);
  EXPECT_EQ(FileMode(dest + "/dos"), static_cast<int>(0644 & ~mask));
  EXPECT_TRUE(IsDirectory(dest + "/shared"));
  EXPECT_EQ(FileMode(dest + "/shared"), static_cast<int>(0775 & ~mask));
  EXPECT_TRUE(IsDirectory(dest + "/plain"));
  EXPECT_EQ(FileMode(dest + "/plain"), static_cast<int>(0755 & ~mask));
}

TEST(ExtractFilesTest, ZipSymlinkMemberBecomesFileHoldingTheLinkText) {
  TempDir dir;
  std::string dest = dir.File("out");
  json entry = ZipEntry(dest, {UnixMember("link", "/etc/passwd", S_IFLNK | 0777)});
  ASSERT_TRUE(Extract({entry}).ok());
  struct stat info;
  ASSERT_EQ(lstat((dest + "/link").c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  EXPECT_EQ(ReadFile(dest + "/link"), "/etc/passwd");
}

// A member named `../evil` would be written beside the destination (zip slip). It must be
// refused before anything at all is created: not the destination, not the earlier members.
TEST(ExtractFilesTest, ZipMemberEscapingTheDestinationIsRefusedAndNothingWritten) {
  const char* names[] = {"../evil", "a/../../evil", "./../evil", "a/b/../../../evil"};
  for (const char* name : names) {
    SCOPED_TRACE(name);
    TempDir dir;
    std::string dest = dir.File("dest");
    json entry = ZipEntry(dest, {{"good", "good\n"}, {name, "evil\n"}});
    absl::Status status = Extract({FileEntry(dir.File("plain"), "x"), entry});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(dest));
    EXPECT_THAT(status.message(), HasSubstr(name));
    EXPECT_THAT(status.message(), HasSubstr("illegal file path"));
    EXPECT_TRUE(Entries(dir.path()).empty());
  }
}

TEST(ExtractFilesTest, ZipMemberClimbingBackInsideIsAllowed) {
  TempDir dir;
  std::string dest = dir.File("dest");
  ASSERT_TRUE(Extract({ZipEntry(dest, {{"a/../b", "b\n"}})}).ok());
  EXPECT_EQ(ReadFile(dest + "/b"), "b\n");
}

TEST(ExtractFilesTest, AbsoluteZipMemberIsReRootedUnderTheDestination) {
  TempDir dir;
  std::string dest = dir.File("dest");
  std::string outside = dir.File("outside");
  ASSERT_TRUE(Extract({ZipEntry(dest, {{outside, "rooted\n"}})}).ok());
  EXPECT_EQ(ReadFile(dest + outside), "rooted\n");
  EXPECT_FALSE(PathExists(outside));
}

TEST(ExtractFilesTest, ContentThatIsNotAZipIsRefusedAndNothingWritten) {
  TempDir dir;
  std::string dest = dir.File("dest");
  absl::Status status = Extract({FileEntry(dir.File("plain"), "x"),
                                 Entry(dest, "zip", absl::Base64Escape("not a zip archive"))});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(dest));
  EXPECT_TRUE(Entries(dir.path()).empty());
}

TEST(ExtractFilesTest, ErrorsNameThePathButNeverTheContent) {
  TempDir dir;
  // A parent that is a regular file makes the write fail after validation.
  std::string blocker = dir.File("blocker");
  test_support::WriteFile(blocker, "", 0644);
  std::string path = blocker + "/child";
  absl::Status status = Extract({FileEntry(path, "top secret payload")});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), Not(HasSubstr("top secret payload")));
  EXPECT_THAT(status.message(), Not(HasSubstr(absl::Base64Escape("top secret payload"))));
}

}  // namespace
}  // namespace runner::lifecycle
