#include "tests/fakes/google/fake_google_metadata.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace runner::fakes {
namespace {

constexpr char kIdentityPath[] = "/instance/service-accounts/default/identity";

HttpResponse Plain(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = {{"Content-Type", "application/text"}, {"Metadata-Flavor", "Google"}};
  return response;
}

}  // namespace

FakeGoogleMetadata::FakeGoogleMetadata(const std::string& root_url)
    : root_url_(root_url), server_([this](const HttpRequest& request) { return Handle(request); }) {
  Set("/instance/id", "4520031799277581759");
  Set("/instance/attributes/taskcluster",
      absl::StrCat(R"({"workerPoolId":"proj-gcp/linux","providerId":"gcp-pool",)",
                   R"("workerGroup":"us-east1","rootUrl":")", root_url,
                   R"(","workerConfig":{"fromAttributes":true}})"));
  Set("/project/project-id", "proj-gcp-123");
  Set("/instance/image", "projects/proj-gcp-123/global/images/worker-image-7");
  Set("/instance/machine-type", "projects/1234567/machineTypes/n2-standard-4");
  Set("/instance/zone", "projects/1234567/zones/us-east1-b");
  Set("/instance/hostname", "worker-1.us-east1-b.c.proj-gcp-123.internal");
  Set("/instance/network-interfaces/0/access-configs/0/external-ip", "35.1.2.3");
  Set("/instance/network-interfaces/0/ip", "10.128.0.7");
  Set(kIdentityPath, "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJmYWtlIn0.ZmFrZS1nY3Atc2lnbmF0dXJl");
}

FakeGoogleMetadata::~FakeGoogleMetadata() { Stop(); }

absl::Status FakeGoogleMetadata::Start() { return server_.Start(); }

void FakeGoogleMetadata::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  server_.Stop();
}

void FakeGoogleMetadata::Set(const std::string& path, const std::string& body) {
  absl::MutexLock lock(&mu_);
  entries_[path] = Entry{200, body};
}

void FakeGoogleMetadata::SetStatus(const std::string& path, int status) {
  absl::MutexLock lock(&mu_);
  entries_[path] = Entry{status, ""};
}

void FakeGoogleMetadata::Remove(const std::string& path) {
  absl::MutexLock lock(&mu_);
  entries_.erase(path);
}

void FakeGoogleMetadata::Preempt() {
  absl::MutexLock lock(&mu_);
  preempted_ = true;
}

void FakeGoogleMetadata::PreemptAt(absl::Time when) {
  absl::MutexLock lock(&mu_);
  preempt_at_ = when;
}

void FakeGoogleMetadata::FailPreempted(int status) {
  absl::MutexLock lock(&mu_);
  preempted_failure_ = status;
}

int FakeGoogleMetadata::hanging() const {
  absl::MutexLock lock(&mu_);
  return hanging_;
}

int FakeGoogleMetadata::hanging_received() const {
  absl::MutexLock lock(&mu_);
  return hanging_received_;
}

bool FakeGoogleMetadata::WaitForHanging(int count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return hanging_ >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

int FakeGoogleMetadata::Count(absl::string_view path_prefix) const {
  std::string prefix = absl::StrCat(kPrefix, path_prefix);
  int count = 0;
  for (const HttpRequest& request : server_.requests()) {
    if (absl::StartsWith(request.target, prefix)) ++count;
  }
  return count;
}

bool FakeGoogleMetadata::PreemptedLocked() const {
  return preempted_ || absl::Now() >= preempt_at_;
}

HttpResponse FakeGoogleMetadata::Handle(const HttpRequest& request) {
  const std::string* flavor = request.FindHeader("Metadata-Flavor");
  if (flavor == nullptr || *flavor != "Google") return Plain(403, "missing Metadata-Flavor");
  if (request.method != "GET" || !absl::StartsWith(request.target, kPrefix)) {
    return Plain(405, "");
  }
  std::string target = request.target.substr(sizeof(kPrefix) - 1);
  size_t question = target.find('?');
  std::string path = target.substr(0, question);
  std::string query = question == std::string::npos ? "" : target.substr(question + 1);

  if (path == "/instance/preempted") {
    return HandlePreempted(absl::StrContains(query, "wait_for_change=true"));
  }
  if (path == kIdentityPath && query != absl::StrCat("audience=", root_url_, "&format=full")) {
    return Plain(400, "unexpected audience or format");
  }
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(path);
  if (it == entries_.end()) return Plain(404, "");
  return Plain(it->second.status, it->second.body);
}

HttpResponse FakeGoogleMetadata::HandlePreempted(bool wait) {
  absl::MutexLock lock(&mu_);
  if (preempted_failure_ != 0) return Plain(preempted_failure_, "");
  if (wait) {
    ++hanging_;
    ++hanging_received_;
    const bool before = PreemptedLocked();
    auto changed = [this, before]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || PreemptedLocked() != before;
    };
    // A flip at a set time changes no state, so wake up for it.
    while (!changed()) {
      mu_.AwaitWithDeadline(absl::Condition(&changed),
                            before ? absl::InfiniteFuture() : preempt_at_);
    }
    --hanging_;
    if (stopping_) return Plain(503, "");
  }
  return Plain(200, PreemptedLocked() ? "TRUE" : "FALSE");
}

}  // namespace runner::fakes
