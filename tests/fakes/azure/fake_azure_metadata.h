#ifndef RUNNER_TESTS_FAKES_AZURE_FAKE_AZURE_METADATA_H_
#define RUNNER_TESTS_FAKES_AZURE_FAKE_AZURE_METADATA_H_

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/http/fake_http_server.h"

namespace runner::fakes {

// A scheduled event as the fake publishes it (field names as in the service's JSON).
struct FakeAzureEvent {
  std::string event_id;
  std::string event_type = "Preempt";
  std::vector<std::string> resources;
  std::string not_before;  // "" when the event has no start time
  std::string event_status = "Scheduled";
  std::string description = "fake event";
  std::string event_source = "Platform";
  int duration_seconds = -1;

  nlohmann::json ToJson() const;
};

// A fake Azure Instance Metadata Service on 127.0.0.1 (port chosen by the kernel), built on
// FakeHttpServer. Like the real one it answers 400 to requests without `Metadata: true` or with
// an api-version other than the endpoint's, and 404 to unknown paths. Tests script the instance
// and attested documents, replace any endpoint's answer (status, raw body, delay), and publish
// scheduled events now, after a delay, or withdraw them. Every request is recorded, and the
// number of scheduled-events requests in flight at once is tracked. Thread-safe.
class FakeAzureMetadata {
 public:
  enum class Endpoint { kInstance, kAttested, kScheduledEvents };

  // Scripted answer that replaces the endpoint's normal one.
  struct ScriptedAnswer {
    int status = 200;
    std::string body;
    absl::Duration delay = absl::ZeroDuration();
  };

  // Starts with a VM named kVmName in westeurope (tags from DefaultTags), one interface with
  // private 10.0.0.4 and public 20.30.40.50, and a pkcs7 attested document signed kSignature.
  FakeAzureMetadata();
  ~FakeAzureMetadata();  // stops

  absl::Status Start();
  // Ends delayed answers at once (unanswered), then stops the server. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  std::string url() const { return server_.url(); }

  static constexpr char kVmName[] = "vm-azure-7";
  static constexpr char kVmId[] = "13f56399-bd52-4150-9748-7190aae1ff21";
  static constexpr char kSignature[] =
      "MIIKpQYJKoZIhvcNAQcCoIIKljCCCpICAQExDzANBglghkgBZQMEAgEFADCB";

  // Bootstrap tags pointing at `root_url`: root-url, worker-pool-id (proj-azure/win2022),
  // provider-id (azure-east), worker-group (westeurope).
  static std::map<std::string, std::string> DefaultTags(const std::string& root_url);

  // The instance document served (a JSON object); tests edit it before the runner reads it.
  void SetInstance(const nlohmann::json& instance) ABSL_LOCKS_EXCLUDED(mu_);
  nlohmann::json instance() const ABSL_LOCKS_EXCLUDED(mu_);
  // Sets compute.tagsList from (name, value) pairs.
  void SetTags(const std::map<std::string, std::string>& tags) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets network.interface to `interfaces`, each a list of (private, public) pairs; an empty
  // public address is served as "".
  void SetInterfaces(
      const std::vector<std::vector<std::pair<std::string, std::string>>>& interfaces)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SetAttested(const nlohmann::json& attested) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces (or with nullopt restores) the normal answer of `endpoint`.
  void SetAnswer(Endpoint endpoint, std::optional<ScriptedAnswer> answer) ABSL_LOCKS_EXCLUDED(mu_);
  // Delays every scheduled-events answer (with the normal body) by `delay`.
  void SetScheduledEventsDelay(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);

  // Publishes `event` now (bumping DocumentIncarnation) and returns the time it became visible.
  absl::Time PublishEvent(const FakeAzureEvent& event) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes `event` appear `after` from now, without a caller having to wait.
  void PublishEventAfter(const FakeAzureEvent& event, absl::Duration after)
      ABSL_LOCKS_EXCLUDED(mu_);
  void WithdrawEvent(const std::string& event_id) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<HttpRequest> requests() const { return server_.requests(); }
  // Waits until at least `count` requests (of any kind) arrived; false on timeout.
  bool WaitForRequests(size_t count, absl::Duration timeout) const {
    return server_.WaitForRequests(count, timeout);
  }
  // Scheduled-events requests answered so far.
  size_t scheduled_event_polls() const ABSL_LOCKS_EXCLUDED(mu_);
  // The most scheduled-events requests that were in flight at the same time.
  int max_scheduled_events_in_flight() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until at least `count` scheduled-events answers were sent; false on timeout.
  bool WaitForPolls(size_t count, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until an answer carrying `event_id` was served; false on timeout.
  bool WaitForEventServed(const std::string& event_id, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Published {
    FakeAzureEvent event;
    absl::Time visible_from;
  };

  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse AnswerFor(Endpoint endpoint) ABSL_LOCKS_EXCLUDED(mu_);
  std::string EventsBodyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits `delay` unless Stop() comes first; false when stopped.
  bool DelayLocked(absl::Duration delay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  nlohmann::json instance_ ABSL_GUARDED_BY(mu_);
  nlohmann::json attested_ ABSL_GUARDED_BY(mu_);
  std::map<Endpoint, ScriptedAnswer> answers_ ABSL_GUARDED_BY(mu_);
  absl::Duration events_delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::vector<Published> events_ ABSL_GUARDED_BY(mu_);
  int incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  size_t polls_answered_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> served_ids_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  FakeHttpServer server_;  // last: its threads call Handle until it stops
};

}  // namespace runner::fakes

#endif  // RUNNER_TESTS_FAKES_AZURE_FAKE_AZURE_METADATA_H_
