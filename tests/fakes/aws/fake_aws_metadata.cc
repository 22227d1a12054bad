#include "tests/fakes/aws/fake_aws_metadata.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace runner::fakes {
namespace {

constexpr char kLatest[] = "/latest";

HttpResponse Plain(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = {{"Content-Type", "text/plain"}};
  return response;
}

}  // namespace

FakeAwsInstance FakeAwsInstance::Typical(const std::string& root_url) {
  FakeAwsInstance instance;
  instance.user_data = absl::StrCat(
      R"({"workerPoolId":"proj-aws/linux","providerId":"aws-spot","workerGroup":"us-west-2",)",
      R"("rootUrl":")", root_url,
      R"(","workerConfig":{"fromUserData":true},"launchConfigId":"lc-1"})");
  // Pretty-printed, with a trailing newline, as EC2 gives it: re-serialising would change it.
  instance.identity_document =
      "{\n  \"accountId\" : \"123456789012\",\n  \"availabilityZone\" : \"us-west-2b\",\n"
      "  \"imageId\" : \"ami-0abcdef1234567890\",\n  \"instanceId\" : \"i-0123456789abcdef0\",\n"
      "  \"instanceType\" : \"m5.large\",\n  \"privateIp\" : \"10.0.1.12\",\n"
      "  \"region\" : \"us-west-2\",\n  \"version\" : \"2017-09-30\"\n}\n";
  instance.signature = "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==\nc2Vjb25kIGxpbmU=";
  instance.public_hostname = "ec2-54-1-2-3.us-west-2.compute.amazonaws.com";
  instance.public_ipv4 = "54.1.2.3";
  return instance;
}

FakeAwsMetadata::FakeAwsMetadata(const FakeAwsInstance& instance)
    : server_([this](const HttpRequest& request) { return Handle(request); }) {
  Set("/user-data", instance.user_data);
  Set("/dynamic/instance-identity/document", instance.identity_document);
  Set("/dynamic/instance-identity/signature", instance.signature);
  if (instance.public_hostname.has_value()) {
    Set("/meta-data/public-hostname", *instance.public_hostname);
  }
  if (instance.public_ipv4.has_value()) Set("/meta-data/public-ipv4", *instance.public_ipv4);
}

FakeAwsMetadata::~FakeAwsMetadata() { Stop(); }

absl::Status FakeAwsMetadata::Start() { return server_.Start(); }

void FakeAwsMetadata::Stop() { server_.Stop(); }

void FakeAwsMetadata::Set(const std::string& path, const std::string& body,
                          absl::Time visible_from) {
  absl::MutexLock lock(&mu_);
  SetLocked(path, body, visible_from);
}

void FakeAwsMetadata::SetLocked(const std::string& path, const std::string& body,
                                absl::Time visible_from) {
  Entry& entry = entries_[path];
  entry = Entry();
  entry.body = body;
  entry.visible_from = visible_from;
}

void FakeAwsMetadata::SetStatus(const std::string& path, int status, const std::string& body,
                                absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[path];
  entry = Entry();
  entry.status = status;
  entry.body = body;
  entry.delay = delay;
}

void FakeAwsMetadata::Remove(const std::string& path) {
  absl::MutexLock lock(&mu_);
  entries_.erase(path);
}

void FakeAwsMetadata::RejectIssuedTokens() {
  absl::MutexLock lock(&mu_);
  valid_tokens_.clear();
}

void FakeAwsMetadata::SetSpotInstanceAction(const std::string& action, const std::string& time,
                                            absl::Time visible_from) {
  // Both appear at once, as on EC2, so a poll never sees only one of them.
  absl::MutexLock lock(&mu_);
  SetLocked("/meta-data/spot/instance-action",
            absl::StrCat(R"({"action":")", action, R"(","time":")", time, R"("})"), visible_from);
  SetLocked("/meta-data/spot/termination-time", time, visible_from);
}

void FakeAwsMetadata::SetSpotTerminationTime(const std::string& time) {
  Set("/meta-data/spot/termination-time", time);
}

void FakeAwsMetadata::SetRebalanceRecommendation(const std::string& notice_time) {
  Set("/meta-data/events/recommendations/rebalance",
      absl::StrCat(R"({"noticeTime":")", notice_time, R"("})"));
}

void FakeAwsMetadata::SetScheduledMaintenance(const std::string& events_json) {
  Set("/meta-data/events/maintenance/scheduled", events_json);
}

int FakeAwsMetadata::Count(absl::string_view method, absl::string_view prefix) const {
  int count = 0;
  for (const HttpRequest& request : server_.requests()) {
    if (request.method == method && absl::StartsWith(request.target, prefix)) ++count;
  }
  return count;
}

bool FakeAwsMetadata::WaitForCount(absl::string_view method, absl::string_view prefix, int count,
                                   absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  // The server signals new requests by count; wait for each next one and check again.
  for (size_t seen = server_.requests().size();; ++seen) {
    if (Count(method, prefix) >= count) return true;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    server_.WaitForRequests(seen + 1, left);
    seen = server_.requests().size() - 1;
  }
}

int FakeAwsMetadata::tokens_issued() const {
  absl::MutexLock lock(&mu_);
  return tokens_issued_;
}

HttpResponse FakeAwsMetadata::Handle(const HttpRequest& request) {
  absl::MutexLock lock(&mu_);
  if (request.method == "PUT" && request.target == "/latest/api/token") {
    const std::string* ttl = request.FindHeader("X-aws-ec2-metadata-token-ttl-seconds");
    if (ttl == nullptr || ttl->empty()) return Plain(400, "missing ttl");
    std::string token = absl::StrCat("fake-imds-token-", ++tokens_issued_, "-AbCdEfGh");
    valid_tokens_.insert(token);
    return Plain(200, token);
  }
  if (request.method != "GET" || !absl::StartsWith(request.target, kLatest)) {
    return Plain(405, "");
  }
  const std::string* token = request.FindHeader("X-aws-ec2-metadata-token");
  if (token == nullptr || valid_tokens_.count(*token) == 0) return Plain(401, "");

  auto it = entries_.find(request.target.substr(sizeof(kLatest) - 1));
  if (it == entries_.end() || absl::Now() < it->second.visible_from) return Plain(404, "");
  HttpResponse response = Plain(it->second.status, it->second.body);
  response.delay = it->second.delay;
  return response;
}

}  // namespace runner::fakes
