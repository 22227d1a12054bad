#include "tests/fakes/azure/fake_azure_metadata.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace runner::fakes {
namespace {

using nlohmann::json;

HttpResponse BadRequest(const std::string& message) {
  return HttpResponse{400,
                      {{"Content-Type", "application/json"}},
                      json({{"error", message}}).dump(),
                      absl::ZeroDuration(),
                      false};
}

}  // namespace

json FakeAzureEvent::ToJson() const {
  json event = {{"EventId", event_id},
                {"EventType", event_type},
                {"ResourceType", "VirtualMachine"},
                {"Resources", resources},
                {"EventStatus", event_status},
                {"NotBefore", not_before},
                {"Description", description},
                {"EventSource", event_source}};
  if (duration_seconds >= 0) event["DurationInSeconds"] = duration_seconds;
  return event;
}

std::map<std::string, std::string> FakeAzureMetadata::DefaultTags(const std::string& root_url) {
  return {{"root-url", root_url},
          {"worker-pool-id", "proj-azure/win2022"},
          {"provider-id", "azure-east"},
          {"worker-group", "westeurope"}};
}

FakeAzureMetadata::FakeAzureMetadata()
    : server_([this](const HttpRequest& request) { return Handle(request); }) {
  absl::MutexLock lock(&mu_);
  instance_ = {{"compute",
                {{"location", "westeurope"},
                 {"name", kVmName},
                 {"vmId", kVmId},
                 {"vmSize", "Standard_D4s_v5"},
                 {"osType", "Windows"},
                 {"tagsList", json::array()}}},
               {"network",
                {{"interface",
                  {{{"ipv4",
                     {{"ipAddress",
                       {{{"privateIpAddress", "10.0.0.4"}, {"publicIpAddress", "20.30.40.50"}}}},
                      {"subnet", {{{"address", "10.0.0.0"}, {"prefix", "24"}}}}}},
                    {"macAddress", "000D3AF806EC"}}}}}}};
  attested_ = {{"encoding", "pkcs7"}, {"signature", kSignature}};
  for (const auto& [name, value] : DefaultTags("http://127.0.0.1:9")) {
    instance_["compute"]["tagsList"].push_back({{"name", name}, {"value", value}});
  }
}

FakeAzureMetadata::~FakeAzureMetadata() { Stop(); }

absl::Status FakeAzureMetadata::Start() { return server_.Start(); }

void FakeAzureMetadata::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  server_.Stop();
}

void FakeAzureMetadata::SetInstance(const json& instance) {
  absl::MutexLock lock(&mu_);
  instance_ = instance;
}

json FakeAzureMetadata::instance() const {
  absl::MutexLock lock(&mu_);
  return instance_;
}

void FakeAzureMetadata::SetTags(const std::map<std::string, std::string>& tags) {
  absl::MutexLock lock(&mu_);
  json list = json::array();
  for (const auto& [name, value] : tags) list.push_back({{"name", name}, {"value", value}});
  instance_["compute"]["tagsList"] = list;
}

void FakeAzureMetadata::SetInterfaces(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& interfaces) {
  absl::MutexLock lock(&mu_);
  json list = json::array();
  for (const auto& addresses : interfaces) {
    json entries = json::array();
    for (const auto& [private_ip, public_ip] : addresses) {
      entries.push_back({{"privateIpAddress", private_ip}, {"publicIpAddress", public_ip}});
    }
    list.push_back({{"ipv4", {{"ipAddress", entries}}}});
  }
  instance_["network"]["interface"] = list;
}

void FakeAzureMetadata::SetAttested(const json& attested) {
  absl::MutexLock lock(&mu_);
  attested_ = attested;
}

void FakeAzureMetadata::SetAnswer(Endpoint endpoint, std::optional<ScriptedAnswer> answer) {
  absl::MutexLock lock(&mu_);
  if (answer.has_value()) {
    answers_[endpoint] = *std::move(answer);
  } else {
    answers_.erase(endpoint);
  }
}

void FakeAzureMetadata::SetScheduledEventsDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  events_delay_ = delay;
}

absl::Time FakeAzureMetadata::PublishEvent(const FakeAzureEvent& event) {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  events_.push_back({event, now});
  return now;
}

void FakeAzureMetadata::PublishEventAfter(const FakeAzureEvent& event, absl::Duration after) {
  absl::MutexLock lock(&mu_);
  events_.push_back({event, absl::Now() + after});
}

void FakeAzureMetadata::WithdrawEvent(const std::string& event_id) {
  absl::MutexLock lock(&mu_);
  auto removed = std::remove_if(events_.begin(), events_.end(), [&](const Published& published) {
    return published.event.event_id == event_id;
  });
  if (removed != events_.end()) ++incarnation_;
  events_.erase(removed, events_.end());
}

size_t FakeAzureMetadata::scheduled_event_polls() const {
  absl::MutexLock lock(&mu_);
  return polls_answered_;
}

int FakeAzureMetadata::max_scheduled_events_in_flight() const {
  absl::MutexLock lock(&mu_);
  return max_in_flight_;
}

bool FakeAzureMetadata::WaitForPolls(size_t count, absl::Duration timeout) const {
  auto enough = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return polls_answered_ >= count; };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool FakeAzureMetadata::WaitForEventServed(const std::string& event_id,
                                           absl::Duration timeout) const {
  auto served = [this, &event_id]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return served_ids_.count(event_id) > 0; };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&served), timeout);
}

HttpResponse FakeAzureMetadata::Handle(const HttpRequest& request) {
  size_t query = request.target.find('?');
  std::string path = request.target.substr(0, query);
  std::string args = query == std::string::npos ? "" : request.target.substr(query + 1);

  const std::string* metadata = request.FindHeader("Metadata");
  if (metadata == nullptr || *metadata != "true") {
    return BadRequest("Bad request. Required metadata header not specified");
  }
  struct Route {
    const char* path;
    const char* api_version;
    Endpoint endpoint;
  };
  for (const Route& route :
       {Route{"/metadata/instance", "2025-04-07", Endpoint::kInstance},
        Route{"/metadata/attested/document", "2025-04-07", Endpoint::kAttested},
        Route{"/metadata/scheduledevents", "2020-07-01", Endpoint::kScheduledEvents}}) {
    if (path != route.path) continue;
    if (args != std::string("api-version=") + route.api_version) {
      return BadRequest("Bad request. api-version is invalid or was not specified");
    }
    return AnswerFor(route.endpoint);
  }
  return HttpResponse{404, {}, json({{"error", "Not found"}}).dump(), absl::ZeroDuration(), false};
}

HttpResponse FakeAzureMetadata::AnswerFor(Endpoint endpoint) {
  absl::MutexLock lock(&mu_);
  bool events = endpoint == Endpoint::kScheduledEvents;
  if (events) {
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
  }

  // Delays are served here rather than by FakeHttpServer so that "in flight" covers them.
  HttpResponse response{
      200, {{"Content-Type", "application/json"}}, "", absl::ZeroDuration(), false};
  auto scripted = answers_.find(endpoint);
  absl::Duration delay = events ? events_delay_ : absl::ZeroDuration();
  if (scripted != answers_.end()) delay = scripted->second.delay;
  bool answered = DelayLocked(delay);

  // The body reflects the state when the answer leaves, as the real service's would.
  scripted = answers_.find(endpoint);
  if (scripted != answers_.end()) {
    response.status = scripted->second.status;
    response.body = scripted->second.body;
  } else if (endpoint == Endpoint::kInstance) {
    response.body = instance_.dump();
  } else if (endpoint == Endpoint::kAttested) {
    response.body = attested_.dump();
  } else {
    response.body = EventsBodyLocked();
  }
  if (events) {
    --in_flight_;
    if (answered) ++polls_answered_;
  }
  if (!answered) response.close_connection = true;
  return response;
}

std::string FakeAzureMetadata::EventsBodyLocked() {
  absl::Time now = absl::Now();
  json list = json::array();
  int visible = 0;
  for (const Published& published : events_) {
    if (published.visible_from > now) continue;
    list.push_back(published.event.ToJson());
    served_ids_.insert(published.event.event_id);
    ++visible;
  }
  return json({{"DocumentIncarnation", incarnation_ + visible}, {"Events", list}}).dump();
}

bool FakeAzureMetadata::DelayLocked(absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) return !stopping_;
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
  return !stopping_;
}

}  // namespace runner::fakes
