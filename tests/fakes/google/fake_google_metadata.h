#ifndef RUNNER_TESTS_FAKES_GOOGLE_FAKE_GOOGLE_METADATA_H_
#define RUNNER_TESTS_FAKES_GOOGLE_FAKE_GOOGLE_METADATA_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "tests/fakes/http/fake_http_server.h"

namespace runner::fakes {

// A fake Compute Engine metadata service on 127.0.0.1, port chosen by the kernel. Requests
// without `Metadata-Flavor: Google` get 403. Values live in a table by path under
// /computeMetadata/v1 (the query is not part of the key; the identity path answers only when its
// audience matches). `/instance/preempted` is special: "FALSE" until flipped (on demand or from
// a given time), and `?wait_for_change=true` hangs until the value changes or the fake stops.
// Every request is recorded. Thread-safe.
class FakeGoogleMetadata {
 public:
  static constexpr char kPrefix[] = "/computeMetadata/v1";

  // A plausible instance in pool "proj-gcp/linux" of `root_url`, with an external address.
  explicit FakeGoogleMetadata(const std::string& root_url);
  ~FakeGoogleMetadata();  // stops

  absl::Status Start();
  // Releases hanging requests, then stops the server. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  std::string url() const { return server_.url(); }  // for WORKER_RUNNER_METADATA_URL

  // Scripts GET <prefix><path> to answer 200 with `body`.
  void Set(const std::string& path, const std::string& body) ABSL_LOCKS_EXCLUDED(mu_);
  // Scripts GET <prefix><path> to answer `status` forever.
  void SetStatus(const std::string& path, int status) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);

  // Flips `preempted` to TRUE now, or from `when` on; hanging requests return at that moment.
  void Preempt() ABSL_LOCKS_EXCLUDED(mu_);
  void PreemptAt(absl::Time when) ABSL_LOCKS_EXCLUDED(mu_);
  // Every preempted request (plain and hanging) answers `status` instead, at once.
  void FailPreempted(int status) ABSL_LOCKS_EXCLUDED(mu_);

  // Hanging requests currently held.
  int hanging() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until hanging() >= count; false on timeout.
  bool WaitForHanging(int count, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);
  // Hanging requests received so far (held or answered).
  int hanging_received() const ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<HttpRequest> requests() const { return server_.requests(); }
  // Requests whose target starts with kPrefix + `path_prefix`.
  int Count(absl::string_view path_prefix) const;

 private:
  struct Entry {
    int status = 200;
    std::string body;
  };

  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse HandlePreempted(bool wait) ABSL_LOCKS_EXCLUDED(mu_);
  bool PreemptedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string root_url_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool preempted_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time preempt_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  int preempted_failure_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none
  int hanging_ ABSL_GUARDED_BY(mu_) = 0;
  int hanging_received_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  FakeHttpServer server_;
};

}  // namespace runner::fakes

#endif  // RUNNER_TESTS_FAKES_GOOGLE_FAKE_GOOGLE_METADATA_H_
