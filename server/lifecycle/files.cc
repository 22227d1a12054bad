#include "server/lifecycle/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#include "server/common/errno_status.h"
#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "files";
constexpr mode_t kDirectoryMode = 0755;
constexpr mode_t kNewFileMode = 0666;
// For archive members without a unix mode (archives made on other systems).
constexpr mode_t kDefaultMemberFileMode = 0644;
constexpr size_t kCopyChunk = 64 * 1024;

// One file entry of the run (worker-config spec §5); missing fields are empty.
struct FileEntry {
  std::string description;
  std::string path;
  std::string content;
  std::string encoding;
  std::string format;
};

// An archive member whose destination has been checked.
struct ZipMember {
  enum class Kind { kDirectory, kFile };
  zip_uint64_t index = 0;
  std::string name;    // as stored in the archive, for messages
  std::string target;  // normalised, inside the entry's path
  Kind kind = Kind::kFile;
  mode_t mode = 0;
};

// An entry that passed every check and is ready to be written.
struct PreparedEntry {
  std::string description;
  std::string path;
  std::string format;
  std::string data;                // the decoded content
  std::vector<ZipMember> members;  // zip only
};

absl::Status EntryError(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("extract file ", path, ": ", what));
}

absl::StatusOr<FileEntry> ReadEntry(const nlohmann::json& json, size_t index) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("extract file: entry ", index, " is a JSON ",
                                                   json.type_name(), ", not an object"));
  }
  FileEntry entry;
  std::pair<const char*, std::string*> fields[] = {
      {"path", &entry.path},       {"description", &entry.description},
      {"content", &entry.content}, {"encoding", &entry.encoding},
      {"format", &entry.format},
  };
  for (auto& [name, value] : fields) {
    auto it = json.find(name);
    if (it == json.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("extract file ", entry.path, ": entry ", index,
                                                     " field ", name, " is not a string"));
    }
    *value = it->get<std::string>();
  }
  return entry;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding; CR and LF anywhere are skipped, any other stray byte is an error.
std::optional<std::string> DecodeBase64(absl::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;

  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (size_t i = 0; i < clean.size(); i += 4) {
    // Padding may only close the last group.
    int padding = 0;
    if (i + 4 == clean.size() && clean[i + 3] == '=') padding = clean[i + 2] == '=' ? 2 : 1;

    uint32_t bits = 0;
    for (int j = 0; j < 4; ++j) {
      int value = j < 4 - padding ? Base64Value(clean[i + j]) : 0;
      if (value < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(value);
    }
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

// A path normalised without touching the file system: no empty or `.` components, and `..`
// only at the front of a relative path (at the root of an absolute one it is dropped).
struct CleanPath {
  bool absolute = false;
  std::vector<std::string> parts;

  std::string ToString() const {
    std::string joined = absl::StrJoin(parts, "/");
    if (absolute) return absl::StrCat("/", joined);
    return joined.empty() ? "." : joined;
  }
};

CleanPath Clean(absl::string_view path) {
  CleanPath clean;
  clean.absolute = absl::StartsWith(path, "/");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!clean.parts.empty() && clean.parts.back() != "..") {
        clean.parts.pop_back();
      } else if (!clean.absolute) {
        clean.parts.emplace_back(part);
      }
      continue;
    }
    clean.parts.emplace_back(part);
  }
  return clean;
}

// True when `target` is `root` or below it. Both are clean, so a `..` left after the common
// prefix means the target climbed out of `root`.
bool IsWithin(const CleanPath& root, const CleanPath& target) {
  if (root.absolute != target.absolute || target.parts.size() < root.parts.size()) return false;
  for (size_t i = 0; i < target.parts.size(); ++i) {
    if (i < root.parts.size() ? target.parts[i] != root.parts[i] : target.parts[i] == "..") {
      return false;
    }
  }
  return true;
}

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

std::string LowerZipError(zip_error_t* error) {
  return absl::AsciiStrToLower(zip_error_strerror(error));
}

// Opens `data` as a read-only archive. The archive reads `data` in place: it must outlive it.
absl::StatusOr<Archive> OpenArchive(const std::string& data) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(data.data(), data.size(), /*freep=*/0, &error);
  if (source == nullptr) {
    std::string message = LowerZipError(&error);
    zip_error_fini(&error);
    return absl::InternalError(absl::StrCat("read archive: ", message));
  }
  zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (archive == nullptr) {
    std::string message = LowerZipError(&error);
    zip_source_free(source);
    zip_error_fini(&error);
    return absl::InvalidArgumentError(absl::StrCat("not a usable zip archive: ", message));
  }
  zip_error_fini(&error);
  return Archive(archive);
}

// Classifies member `index` and picks its mode. Unix-made archives carry st_mode in the high
// half of the external attributes; others do not, and get the defaults. Symlinks are written as
// regular files holding the link text, so they get a plain file mode rather than 0777.
ZipMember DescribeMember(zip_t* archive, zip_uint64_t index, std::string name) {
  ZipMember member;
  member.index = index;
  member.name = std::move(name);

  mode_t unix_mode = 0;
  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes) == 0 &&
      opsys == ZIP_OPSYS_UNIX) {
    unix_mode = static_cast<mode_t>(attributes >> 16);
  }

  bool directory = absl::EndsWith(member.name, "/") || S_ISDIR(unix_mode);
  member.kind = directory ? ZipMember::Kind::kDirectory : ZipMember::Kind::kFile;
  // Only permission bits are honoured: never setuid, setgid or sticky.
  mode_t permissions = unix_mode & 0777;
  if (directory) {
    // The owner must be able to create the members that follow inside it.
    member.mode = permissions != 0 ? (permissions | 0700) : kDirectoryMode;
  } else if (S_ISLNK(unix_mode) || permissions == 0) {
    member.mode = kDefaultMemberFileMode;
  } else {
    member.mode = permissions;
  }
  return member;
}

// Checks every member of the archive in `entry->data` and records where each one goes.
absl::Status PrepareZip(PreparedEntry* entry) {
  RUNNER_ASSIGN_OR_RETURN(Archive archive, OpenArchive(entry->data));
  CleanPath root = Clean(entry->path);

  zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_uint64_t index = static_cast<zip_uint64_t>(i);
    const char* raw_name = zip_get_name(archive.get(), index, ZIP_FL_ENC_GUESS);
    if (raw_name == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "member ", i, ": unreadable name: ", absl::AsciiStrToLower(zip_strerror(archive.get()))));
    }
    std::string name = raw_name;
    std::string shown = common::EscapeForLog(name);

    // The name is appended after a separator, so an absolute name lands below `root` (it is
    // re-rooted) and only `..` components can climb out.
    CleanPath target = Clean(absl::StrCat(entry->path, "/", name));
    if (!IsWithin(root, target)) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", shown, ": illegal file path in zip"));
    }

    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", shown, ": ", absl::AsciiStrToLower(zip_strerror(archive.get()))));
    }
    if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
      return absl::InvalidArgumentError(absl::StrCat("member ", shown, ": is encrypted"));
    }
    if ((stat.valid & ZIP_STAT_COMP_METHOD) &&
        !zip_compression_method_supported(stat.comp_method, /*compress=*/0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", shown, ": unsupported compression method ", stat.comp_method));
    }

    ZipMember member = DescribeMember(archive.get(), index, std::move(name));
    if (member.kind == ZipMember::Kind::kFile && target.parts.size() == root.parts.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", shown, ": file would replace the destination"));
    }
    member.target = target.ToString();
    entry->members.push_back(std::move(member));
  }
  return absl::OkStatus();
}

// Phase one: everything that can be checked without writing.
absl::StatusOr<PreparedEntry> Prepare(const nlohmann::json& json, size_t index) {
  RUNNER_ASSIGN_OR_RETURN(FileEntry entry, ReadEntry(json, index));
  if (entry.format != "file" && entry.format != "zip") {
    return EntryError(entry.path, absl::StrCat("unknown file format \"",
                                               common::EscapeForLog(entry.format), "\""));
  }
  if (entry.encoding != "base64") {
    return EntryError(entry.path, absl::StrCat("unsupported encoding \"",
                                               common::EscapeForLog(entry.encoding), "\""));
  }
  if (entry.path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("extract file: entry ", index, " has no path"));
  }
  std::optional<std::string> data = DecodeBase64(entry.content);
  if (!data.has_value()) return EntryError(entry.path, "content is not valid base64");

  PreparedEntry prepared;
  prepared.description = std::move(entry.description);
  prepared.path = std::move(entry.path);
  prepared.format = std::move(entry.format);
  prepared.data = std::move(*data);
  if (prepared.format == "zip") {
    RUNNER_RETURN_IF_ERROR(
        common::Annotate(PrepareZip(&prepared), absl::StrCat("extract file ", prepared.path)));
  }
  return prepared;
}

// mkdir that accepts an existing directory (or a symlink to one).
absl::Status MakeDirectory(const std::string& dir, mode_t mode) {
  if (mkdir(dir.c_str(), mode) == 0) return absl::OkStatus();
  int error = errno;
  struct stat info;
  if (error == EEXIST && stat(dir.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return absl::OkStatus();
    error = ENOTDIR;
  }
  return common::ErrnoToStatus(error, absl::StrCat("create directory ", dir));
}

// Creates `dir` and any missing parents with `mode`.
absl::Status MakeDirectories(const CleanPath& dir, mode_t mode) {
  std::string current = dir.absolute ? "/" : "";
  for (const std::string& part : dir.parts) {
    current = current.empty() || current == "/" ? absl::StrCat(current, part)
                                                : absl::StrCat(current, "/", part);
    RUNNER_RETURN_IF_ERROR(MakeDirectory(current, mode));
  }
  return absl::OkStatus();
}

absl::Status MakeParentDirectories(const std::string& path) {
  CleanPath parent = Clean(path);
  if (!parent.parts.empty()) parent.parts.pop_back();
  return MakeDirectories(parent, kDirectoryMode);
}

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t written = write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoToStatus(errno, absl::StrCat("write ", path));
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Owns a file descriptor; Close() reports the close error, the destructor ignores it.
class OutputFile {
 public:
  static absl::StatusOr<OutputFile> Open(const std::string& path, mode_t mode) {
    // Truncating an existing file keeps its mode; `mode` (less the umask) applies to new files.
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return common::ErrnoToStatus(errno, absl::StrCat("open ", path));
    return OutputFile(fd);
  }
  OutputFile(OutputFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile() {
    if (fd_ >= 0) close(fd_);
  }

  int fd() const { return fd_; }
  absl::Status Close(const std::string& path) {
    int fd = std::exchange(fd_, -1);
    if (close(fd) != 0) return common::ErrnoToStatus(errno, absl::StrCat("close ", path));
    return absl::OkStatus();
  }

 private:
  explicit OutputFile(int fd) : fd_(fd) {}
  int fd_;
};

absl::Status WritePlainFile(const PreparedEntry& entry) {
  RUNNER_RETURN_IF_ERROR(MakeParentDirectories(entry.path));
  RUNNER_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Open(entry.path, kNewFileMode));
  RUNNER_RETURN_IF_ERROR(WriteAll(file.fd(), entry.data.data(), entry.data.size(), entry.path));
  return file.Close(entry.path);
}

struct MemberCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

absl::Status WriteMemberFile(zip_t* archive, const ZipMember& member) {
  std::unique_ptr<zip_file_t, MemberCloser> input(zip_fopen_index(archive, member.index, 0));
  if (input == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("read archive: ", absl::AsciiStrToLower(zip_strerror(archive))));
  }
  RUNNER_ASSIGN_OR_RETURN(OutputFile output, OutputFile::Open(member.target, member.mode));

  std::vector<char> buffer(kCopyChunk);
  while (true) {
    zip_int64_t read = zip_fread(input.get(), buffer.data(), buffer.size());
    if (read < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("read archive: ", absl::AsciiStrToLower(zip_file_strerror(input.get()))));
    }
    if (read == 0) break;
    RUNNER_RETURN_IF_ERROR(
        WriteAll(output.fd(), buffer.data(), static_cast<size_t>(read), member.target));
  }
  return output.Close(member.target);
}

absl::Status WriteZip(const PreparedEntry& entry) {
  RUNNER_RETURN_IF_ERROR(MakeDirectories(Clean(entry.path), kDirectoryMode));
  RUNNER_ASSIGN_OR_RETURN(Archive archive, OpenArchive(entry.data));

  for (const ZipMember& member : entry.members) {
    absl::Status status = MakeParentDirectories(member.target);
    if (status.ok()) {
      status = member.kind == ZipMember::Kind::kDirectory
                   ? MakeDirectory(member.target, member.mode)
                   : WriteMemberFile(archive.get(), member);
    }
    if (!status.ok()) {
      return common::Annotate(status, absl::StrCat("member ", common::EscapeForLog(member.name)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ExtractFiles(const nlohmann::json& files) {
  if (files.is_null()) return absl::OkStatus();
  if (!files.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("extract files: file list is a JSON ", files.type_name(), ", not an array"));
  }

  // Check everything first so that one bad entry leaves the disk untouched.
  std::vector<PreparedEntry> prepared;
  prepared.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    RUNNER_ASSIGN_OR_RETURN(PreparedEntry entry, Prepare(files[i], i));
    prepared.push_back(std::move(entry));
  }

  for (const PreparedEntry& entry : prepared) {
    absl::Status status = entry.format == "zip" ? WriteZip(entry) : WritePlainFile(entry);
    if (!status.ok()) return common::Annotate(status, absl::StrCat("extract file ", entry.path));
    common::LogInfo(
        kComponent, "extracted file",
        {{"path", entry.path}, {"format", entry.format}, {"description", entry.description}});
  }
  return absl::OkStatus();
}

}  // namespace runner::lifecycle
