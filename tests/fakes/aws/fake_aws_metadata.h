#ifndef RUNNER_TESTS_FAKES_AWS_FAKE_AWS_METADATA_H_
#define RUNNER_TESTS_FAKES_AWS_FAKE_AWS_METADATA_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "tests/fakes/http/fake_http_server.h"

namespace runner::fakes {

// The values an EC2 instance answers with at start-up.
struct FakeAwsInstance {
  std::string user_data;
  std::string identity_document;  // served byte for byte
  std::string signature;
  std::optional<std::string> public_hostname;  // nullopt: 404, as on an instance without one
  std::optional<std::string> public_ipv4;

  // A plausible instance in pool "proj-aws/linux" of `root_url`.
  static FakeAwsInstance Typical(const std::string& root_url);
};

// A fake EC2 instance metadata service (IMDSv2) on 127.0.0.1, port chosen by the kernel. Tokens
// come from PUT /latest/api/token (which must carry the TTL header); every GET must carry a
// token it issued and has not been told to reject, otherwise 401. Paths are answered from a
// table the test scripts: a value may appear at once or from a given time, answer with another
// status, or be delayed. Unknown paths answer 404. Every request is recorded. Thread-safe.
class FakeAwsMetadata {
 public:
  explicit FakeAwsMetadata(const FakeAwsInstance& instance);
  ~FakeAwsMetadata();  // stops

  absl::Status Start();
  void Stop();
  std::string url() const { return server_.url(); }  // for WORKER_RUNNER_METADATA_URL

  // Scripts GET /latest<path>: `body` with status 200 from `visible_from` on (404 before).
  void Set(const std::string& path, const std::string& body,
           absl::Time visible_from = absl::InfinitePast()) ABSL_LOCKS_EXCLUDED(mu_);
  // Scripts GET /latest<path> to answer `status` with `body`, after `delay`.
  void SetStatus(const std::string& path, int status, const std::string& body = "",
                 absl::Duration delay = absl::ZeroDuration()) ABSL_LOCKS_EXCLUDED(mu_);
  // GET /latest<path> answers 404 again.
  void Remove(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);
  // Every token issued so far is answered with 401 from now on.
  void RejectIssuedTokens() ABSL_LOCKS_EXCLUDED(mu_);

  // Shorthands for the notices (paths under /meta-data/).
  void SetSpotInstanceAction(const std::string& action, const std::string& time,
                             absl::Time visible_from = absl::InfinitePast());
  void SetSpotTerminationTime(const std::string& time);
  void SetRebalanceRecommendation(const std::string& notice_time);
  void SetScheduledMaintenance(const std::string& events_json);

  std::vector<HttpRequest> requests() const { return server_.requests(); }
  // Requests recorded so far with `method` and a target starting with `prefix`.
  int Count(absl::string_view method, absl::string_view prefix) const;
  // Waits until Count(method, prefix) >= count; false on timeout.
  bool WaitForCount(absl::string_view method, absl::string_view prefix, int count,
                    absl::Duration timeout) const;
  int tokens_issued() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    int status = 200;
    std::string body;
    absl::Time visible_from = absl::InfinitePast();
    absl::Duration delay = absl::ZeroDuration();
  };

  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  void SetLocked(const std::string& path, const std::string& body, absl::Time visible_from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);  // by path under /latest
  std::set<std::string> valid_tokens_ ABSL_GUARDED_BY(mu_);
  int tokens_issued_ ABSL_GUARDED_BY(mu_) = 0;
  FakeHttpServer server_;
};

}  // namespace runner::fakes

#endif  // RUNNER_TESTS_FAKES_AWS_FAKE_AWS_METADATA_H_
