#include "server/taskcluster/worker_manager.h"

#include <cstdint>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/taskcluster/url.h"

namespace runner::taskcluster {
namespace {

constexpr char kWorkerManager[] = "worker-manager";
constexpr char kSecrets[] = "secrets";

// A non-empty string member of `object`, or nullptr when it is absent, ill-typed or empty.
const std::string* StringMember(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  const std::string& value = it->get_ref<const std::string&>();
  return value.empty() ? nullptr : &value;
}

absl::Status Missing(absl::string_view what, absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat(what, " response: missing ", field));
}

// Reads credentials, expiry and secret out of a registerWorker or reregisterWorker response.
// `what` names the call in error messages, which never carry the values themselves.
absl::StatusOr<IssuedCredentials> ParseIssuedCredentials(absl::string_view what,
                                                         const nlohmann::json& response) {
  auto credentials = response.is_object() ? response.find("credentials") : response.end();
  if (!response.is_object() || credentials == response.end() || !credentials->is_object()) {
    return Missing(what, "credentials");
  }
  const std::string* client_id = StringMember(*credentials, "clientId");
  if (client_id == nullptr) return Missing(what, "credentials.clientId");
  const std::string* access_token = StringMember(*credentials, "accessToken");
  if (access_token == nullptr) return Missing(what, "credentials.accessToken");

  IssuedCredentials issued;
  issued.credentials.client_id = *client_id;
  issued.credentials.access_token = *access_token;

  // The certificate is optional; when present it has to be usable for signing later on.
  auto certificate = credentials->find("certificate");
  if (certificate != credentials->end() && !certificate->is_null()) {
    bool is_object = false;
    if (certificate->is_string()) {
      const std::string& text = certificate->get_ref<const std::string&>();
      is_object = text.empty() ||
                  nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false).is_object();
      issued.credentials.certificate = text;
    }
    if (!is_object) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " response: certificate is not a JSON object"));
    }
  }

  const std::string* expires = StringMember(response, "expires");
  if (expires == nullptr) return Missing(what, "expires");
  absl::StatusOr<absl::Time> expiry = ParseTaskclusterTime(*expires);
  if (!expiry.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " response: missing expires: not an RFC 3339 time"));
  }
  issued.expires = *expiry;

  const std::string* secret = StringMember(response, "secret");
  if (secret == nullptr) return Missing(what, "secret");
  issued.secret = *secret;

  // From here on these may sit in memory next to log calls; make sure no line can carry them.
  common::Logger& logger = common::Logger::Default();
  logger.AddSecret(issued.credentials.access_token);
  logger.AddSecret(issued.credentials.certificate);
  logger.AddSecret(issued.secret);
  return issued;
}

std::string WorkerPath(const WorkerIdentity& worker) {
  return absl::StrCat("workers/", EscapePathSegment(worker.worker_pool_id), "/",
                      EscapePathSegment(worker.worker_group), "/",
                      EscapePathSegment(worker.worker_id));
}

}  // namespace

absl::StatusOr<IssuedCredentials> WorkerManager::RegisterWorker(
    const WorkerIdentity& worker, const std::string& provider_id,
    const nlohmann::json& identity_proof, std::optional<absl::Time> system_boot_time) {
  nlohmann::json body = {
      {"workerPoolId", worker.worker_pool_id}, {"providerId", provider_id},
      {"workerGroup", worker.worker_group},    {"workerId", worker.worker_id},
      {"workerIdentityProof", identity_proof},
  };
  if (system_boot_time.has_value()) {
    // Whole seconds: the boot time is only known to the second, and upstream sends it so.
    absl::Time whole = absl::FromUnixSeconds(absl::ToUnixSeconds(*system_boot_time));
    body["systemBootTime"] = FormatTaskclusterTime(whole);
  }

  ApiRequest request{"POST", kWorkerManager, "worker/register", std::move(body),
                     /*credentials=*/nullptr};
  absl::StatusOr<nlohmann::json> response = client_->Call(request);
  if (!response.ok()) return common::Annotate(response.status(), "registerWorker");

  RUNNER_ASSIGN_OR_RETURN(IssuedCredentials issued,
                          ParseIssuedCredentials("registerWorker", *response));
  auto config = response->find("workerConfig");
  if (config != response->end()) issued.worker_config = *config;
  return issued;
}

absl::StatusOr<IssuedCredentials> WorkerManager::ReregisterWorker(const Credentials& current,
                                                                  const WorkerIdentity& worker,
                                                                  const std::string& secret) {
  nlohmann::json body = {
      {"workerPoolId", worker.worker_pool_id},
      {"workerGroup", worker.worker_group},
      {"workerId", worker.worker_id},
      {"secret", secret},
  };
  ApiRequest request{"POST", kWorkerManager, "worker/reregister", std::move(body), &current};
  absl::StatusOr<nlohmann::json> response = client_->Call(request);
  if (!response.ok()) return common::Annotate(response.status(), "reregisterWorker");
  return ParseIssuedCredentials("reregisterWorker", *response);
}

absl::Status WorkerManager::RemoveWorker(const Credentials& current, const WorkerIdentity& worker) {
  ApiRequest request{"DELETE", kWorkerManager, WorkerPath(worker), std::nullopt, &current};
  return common::Annotate(client_->Call(request).status(), "removeWorker");
}

absl::Status WorkerManager::ReportWorkerError(const Credentials& current,
                                              const WorkerIdentity& worker,
                                              const WorkerErrorReport& report) {
  nlohmann::json body = {
      {"workerGroup", worker.worker_group},
      {"workerId", worker.worker_id},
      {"kind", report.kind},
      {"title", report.title},
      {"description", report.description},
      {"extra", report.extra},
  };
  ApiRequest request{"POST", kWorkerManager,
                     absl::StrCat("worker-pool-errors/", EscapePathSegment(worker.worker_pool_id)),
                     std::move(body), &current};
  return common::Annotate(client_->Call(request).status(), "reportWorkerError");
}

absl::StatusOr<nlohmann::json> SecretsClient::GetSecret(const Credentials& credentials,
                                                        const std::string& name) {
  std::string what = absl::StrCat("get secret ", name);
  ApiRequest request{"GET", kSecrets, absl::StrCat("secret/", EscapePathSegment(name)),
                     std::nullopt, &credentials};
  absl::StatusOr<nlohmann::json> response = client_->Call(request);
  if (!response.ok()) return common::Annotate(response.status(), what);

  auto secret = response->is_object() ? response->find("secret") : response->end();
  if (!response->is_object() || secret == response->end()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " response: missing secret"));
  }
  return std::move(*secret);
}

std::optional<absl::Time> SystemBootTime() {
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "btime ")) continue;
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &seconds) || seconds <= 0) {
      return std::nullopt;
    }
    return absl::FromUnixSeconds(seconds);
  }
  return std::nullopt;
}

std::string FormatTaskclusterTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseTaskclusterTime(absl::string_view text) {
  // absl::ParseTime also accepts surrounding spaces and the words "infinite-future" and
  // "infinite-past"; neither is RFC 3339, so both are refused up front.
  bool plain = !text.empty() && absl::ascii_isdigit(static_cast<unsigned char>(text.front())) &&
               !absl::ascii_isspace(static_cast<unsigned char>(text.back()));
  absl::Time time;
  std::string error;
  if (!plain || !absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError("parse time: not an RFC 3339 timestamp");
  }
  return time;
}

}  // namespace runner::taskcluster
