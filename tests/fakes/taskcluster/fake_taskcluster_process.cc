#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace runner::fakes {
namespace {

const std::string kSourceDir = RUNNER_SOURCE_DIR;
constexpr char kScenario[] = "scenario.json";
constexpr char kRecord[] = "record.jsonl";
constexpr char kStdout[] = "stdout";
constexpr char kStderr[] = "stderr";

// The absolute path of `node` on $PATH (posix_spawn does not search), or "".
std::string FindNode() {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/node");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct StartupWatch {
  pid_t pid;
};

// True once the first stdout line is complete, or once the child has exited (without reaping it,
// so the caller still collects its status).
bool FirstLineOrExit(const std::string& content, const void* arg) {
  if (content.find('\n') != std::string::npos) return true;
  siginfo_t info = {};
  pid_t pid = static_cast<const StartupWatch*>(arg)->pid;
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeTaskclusterProcess>> FakeTaskclusterProcess::Start(
    const nlohmann::json& scenario) {
  std::string hawk = kSourceDir + "/tests/fakes/hawk/node_modules/@hapi/hawk/package.json";
  if (access(hawk.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(
        "fake taskcluster: tests/fakes/hawk/node_modules lacks @hapi/hawk: run "
        "scripts/install-node-deps.sh");
  }
  std::string node = FindNode();
  if (node.empty()) {
    return absl::FailedPreconditionError(
        "fake taskcluster: node not found on PATH: install Node.js, then run "
        "scripts/install-node-deps.sh");
  }

  std::unique_ptr<FakeTaskclusterProcess> fake(new FakeTaskclusterProcess());
  absl::Status written = fake->SetScenario(scenario);
  if (!written.ok()) return written;
  absl::Status launched = fake->Launch(node);
  if (!launched.ok()) return launched;
  return fake;
}

absl::Status FakeTaskclusterProcess::Launch(const std::string& node) {
  std::string script = kSourceDir + "/tests/fakes/taskcluster/fake_taskcluster.js";
  pid_ = test_support::StartProcess({node, script, dir_.File(kScenario), dir_.File(kRecord)},
                                    /*extra_env=*/{}, dir_.File(kStdout), dir_.File(kStderr));
  if (pid_ < 0) return absl::UnavailableError(absl::StrCat("fake taskcluster: cannot run ", node));

  StartupWatch watch = {pid_};
  bool ready = test_support::WaitForFileContent(dir_.File(kStdout), absl::Seconds(30),
                                                &FirstLineOrExit, &watch);
  std::string out = test_support::ReadFile(dir_.File(kStdout));
  absl::string_view first = absl::string_view(out).substr(0, out.find('\n'));
  if (!ready || !absl::ConsumePrefix(&first, "port=") || !absl::SimpleAtoi(first, &port_) ||
      port_ <= 0) {
    test_support::KillProcess(pid_);
    pid_ = -1;
    return absl::UnavailableError(
        absl::StrCat("fake taskcluster: no port reported; stderr: ", Stderr()));
  }
  return absl::OkStatus();
}

FakeTaskclusterProcess::~FakeTaskclusterProcess() { test_support::KillProcess(pid_); }

std::string FakeTaskclusterProcess::root_url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

absl::Status FakeTaskclusterProcess::SetScenario(const nlohmann::json& scenario) {
  if (!scenario.is_object()) {
    return absl::InvalidArgumentError("fake taskcluster: scenario is not a JSON object");
  }
  // Written beside and renamed over, so the fake never reads half a file.
  std::string next = dir_.File("scenario.next");
  test_support::WriteFile(next, scenario.dump());
  if (rename(next.c_str(), dir_.File(kScenario).c_str()) != 0) {
    return absl::InternalError("fake taskcluster: cannot replace the scenario file");
  }
  return absl::OkStatus();
}

std::vector<nlohmann::json> FakeTaskclusterProcess::Requests() const {
  std::vector<nlohmann::json> requests;
  std::string text = test_support::ReadFile(dir_.File(kRecord));
  // Only complete lines: one may be in the middle of being appended.
  size_t end = text.rfind('\n');
  if (end == std::string::npos) return requests;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text).substr(0, end), '\n')) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    requests.push_back(std::move(parsed));
  }
  return requests;
}

std::string FakeTaskclusterProcess::Stderr() const {
  return test_support::ReadFile(dir_.File(kStderr));
}

}  // namespace runner::fakes
