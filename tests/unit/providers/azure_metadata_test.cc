#include "server/providers/metadata/azure_metadata.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/unit/providers/azure_test_support.h"

namespace runner::providers::metadata {
namespace {

using fakes::FakeAzureMetadata;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kInstanceEndpoint[] = "/metadata/instance";

TEST(AzureParseTest, ReadsInstanceFieldsTagsAndAddresses) {
  std::string body = R"({"compute":{"location":"eastus","name":"vm1","vmId":"id-1",
      "vmSize":"Standard_B2s","tagsList":[{"name":"a","value":"1"},{"name":"b","value":""}]},
      "network":{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"10.1.0.5",
      "publicIpAddress":""},{"privateIpAddress":"10.1.0.6","publicIpAddress":"52.1.2.3"}]}},
      {"ipv6":{"ipAddress":[]}}]}})";
  auto instance = ParseAzureInstance(kInstanceEndpoint, body);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->location, "eastus");
  EXPECT_EQ(instance->name, "vm1");
  EXPECT_EQ(instance->vm_id, "id-1");
  EXPECT_EQ(instance->vm_size, "Standard_B2s");
  EXPECT_THAT(instance->tags, ElementsAre(Pair("a", "1"), Pair("b", "")));
  ASSERT_EQ(instance->interfaces.size(), 2u);
  ASSERT_EQ(instance->interfaces[0].size(), 2u);
  EXPECT_EQ(instance->interfaces[0][0].private_ip, "10.1.0.5");
  EXPECT_EQ(instance->interfaces[0][0].public_ip, "");
  EXPECT_EQ(instance->interfaces[0][1].public_ip, "52.1.2.3");
  EXPECT_TRUE(instance->interfaces[1].empty());
}

TEST(AzureParseTest, NamesTheEndpointAndFieldOfBadInstanceDocuments) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::string compute = R"("location":"l","name":"n","vmId":"i","vmSize":"s")";
  for (const Case& c : std::vector<Case>{
           {"<html>oops</html>", "azure metadata /metadata/instance: response is not valid JSON"},
           {"[1]", "azure metadata /metadata/instance: response is not a JSON object"},
           {"{}", "azure metadata /metadata/instance: missing object field compute"},
           {R"({"compute":{"location":"l","vmId":"i","vmSize":"s"}})",
            "missing string field compute.name"},
           {R"({"compute":{"location":7,"name":"n","vmId":"i","vmSize":"s"}})",
            "compute.location is not a string"},
           {"{\"compute\":{" + compute + ",\"tagsList\":\"a:b\"}}",
            "compute.tagsList is not an array"},
           {"{\"compute\":{" + compute + ",\"tagsList\":[{\"name\":\"x\"}]}}",
            "missing string field compute.tagsList[0].value"},
           {"{\"compute\":{" + compute + "},\"network\":{\"interface\":[{\"ipv4\":[]}]}}",
            "network.interface[0].ipv4 is not an object"},
       }) {
    SCOPED_TRACE(c.body);
    auto instance = ParseAzureInstance(kInstanceEndpoint, c.body);
    ASSERT_FALSE(instance.ok());
    EXPECT_EQ(instance.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(instance.status().message()), HasSubstr(c.message));
    EXPECT_THAT(std::string(instance.status().message()), HasSubstr("/metadata/instance"));
  }
}

TEST(AzureParseTest, AttestedDocumentMustBePkcs7Json) {
  auto good = ParseAzureAttestedDocument("/metadata/attested/document",
                                         R"({"encoding":"pkcs7","signature":"MIIx+/="})");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->signature, "MIIx+/=");

  struct Case {
    std::string body;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"MIIx", "response is not valid JSON"},
           {R"({"signature":"x"})", "missing string field encoding"},
           {R"({"encoding":"base64","signature":"x"})", "encoding is not pkcs7"},
           {R"({"encoding":"pkcs7","signature":""})", "signature is empty"},
       }) {
    SCOPED_TRACE(c.body);
    auto parsed = ParseAzureAttestedDocument("/metadata/attested/document", c.body);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(),
              "azure metadata /metadata/attested/document: " + c.message);
  }
}

TEST(AzureParseTest, ReadsScheduledEvents) {
  auto parsed = ParseAzureScheduledEvents("/metadata/scheduledevents", R"({
      "DocumentIncarnation": 5, "Events": [{"EventId": "E-1", "EventType": "Preempt",
      "ResourceType": "VirtualMachine", "Resources": ["vm1", "vm2"], "EventStatus": "Scheduled",
      "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT", "Description": "spot eviction",
      "EventSource": "Platform", "DurationInSeconds": -1}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->document_incarnation, 5);
  ASSERT_EQ(parsed->events.size(), 1u);
  const AzureScheduledEvent& event = parsed->events[0];
  EXPECT_EQ(event.event_id, "E-1");
  EXPECT_EQ(event.event_type, "Preempt");
  EXPECT_EQ(event.resource_type, "VirtualMachine");
  EXPECT_THAT(event.resources, ElementsAre("vm1", "vm2"));
  EXPECT_EQ(event.event_status, "Scheduled");
  EXPECT_EQ(event.not_before, "Mon, 19 Sep 2016 18:29:47 GMT");
  EXPECT_EQ(event.event_source, "Platform");
  EXPECT_EQ(event.duration_seconds, -1);

  auto none = ParseAzureScheduledEvents("/metadata/scheduledevents",
                                        R"({"DocumentIncarnation":0,"Events":[]})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->events.empty());

  auto bad = ParseAzureScheduledEvents("/metadata/scheduledevents",
                                       R"({"Events":[{"EventId":"E","EventType":3}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "azure metadata /metadata/scheduledevents: Events[0].EventType is not a string");
}

TEST(AzureParseTest, ParsesNotBeforeAsRfc1123) {
  auto time = ParseAzureEventTime("Mon, 19 Sep 2016 18:29:47 GMT");
  ASSERT_TRUE(time.ok()) << time.status();
  ASSERT_TRUE(time->has_value());
  EXPECT_EQ(**time, absl::FromUnixSeconds(1474309787));
  auto empty = ParseAzureEventTime("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
  EXPECT_FALSE(ParseAzureEventTime("2016-09-19T18:29:47Z").ok());
}

TEST(AzureParseTest, BootstrapNeedsEveryTagInOrderAndDropsTrailingSlash) {
  AzureInstance instance;
  instance.tags = {{"worker-group", "g"},
                   {"provider-id", "p"},
                   {"worker-pool-id", "a/b"},
                   {"root-url", "https://tc.example.com//"}};
  auto bootstrap = BootstrapFromTags(instance);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->root_url, "https://tc.example.com");
  EXPECT_EQ(bootstrap->worker_pool_id, "a/b");
  EXPECT_EQ(bootstrap->provider_id, "p");
  EXPECT_EQ(bootstrap->worker_group, "g");

  // With a tag and every later one missing, the error names that tag: the checking order.
  const std::vector<std::string> order = {"root-url", "worker-pool-id", "provider-id",
                                          "worker-group"};
  for (size_t missing = 0; missing < order.size(); ++missing) {
    AzureInstance partial;
    for (size_t i = 0; i < missing; ++i) partial.tags.push_back({order[i], "v"});
    // An empty value counts as missing.
    partial.tags.push_back({order[missing], ""});
    auto result = BootstrapFromTags(partial);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(),
              "azure metadata /metadata/instance: compute.tagsList: missing or empty tag " +
                  order[missing]);
  }
}

class AzureMetadataTest : public AzureFakeTest {};

TEST_F(AzureMetadataTest, SendsMetadataHeaderAndExactApiVersions) {
  auto client = AzureMetadata::Create(FakeOptions());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_EQ((*client)->base_url(), fake_.url());

  ASSERT_TRUE((*client)->Instance().ok());
  auto attested = (*client)->AttestedDocument();
  ASSERT_TRUE(attested.ok()) << attested.status();
  EXPECT_EQ(attested->signature, FakeAzureMetadata::kSignature);
  ASSERT_TRUE((*client)->ScheduledEventsOnce(absl::Seconds(5)).ok());

  auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/metadata/instance?api-version=2025-04-07");
  EXPECT_EQ(requests[1].target, "/metadata/attested/document?api-version=2025-04-07");
  EXPECT_EQ(requests[2].target, "/metadata/scheduledevents?api-version=2020-07-01");
  for (const auto& request : requests) {
    EXPECT_EQ(request.method, "GET");
    ASSERT_NE(request.FindHeader("Metadata"), nullptr);
    EXPECT_EQ(*request.FindHeader("Metadata"), "true");
  }
}

TEST_F(AzureMetadataTest, ServerErrorsForeverEndInUnavailableNamingTheEndpoint) {
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kInstance,
                  FakeAzureMetadata::ScriptedAnswer{500, "busy", absl::ZeroDuration()});
  auto client = AzureMetadata::Create(FakeOptions());
  ASSERT_TRUE(client.ok());
  auto instance = (*client)->Instance();
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(instance.status().message()),
              HasSubstr("metadata GET /metadata/instance: http status 500"));
  EXPECT_THAT(std::string(instance.status().message()), HasSubstr("gave up after"));
  // Retried within the budget, not once.
  EXPECT_GT(fake_.requests().size(), 2u);
}

TEST_F(AzureMetadataTest, TimeoutsForeverEndInUnavailableNamingTheEndpoint) {
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kAttested,
                  FakeAzureMetadata::ScriptedAnswer{200, "{}", absl::Seconds(30)});
  auto client = AzureMetadata::Create(FakeOptions());
  ASSERT_TRUE(client.ok());
  auto attested = (*client)->AttestedDocument();
  ASSERT_FALSE(attested.ok());
  EXPECT_EQ(attested.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(attested.status().message()),
              HasSubstr("metadata GET /metadata/attested/document"));
  EXPECT_THAT(std::string(attested.status().message()), HasSubstr("timed out"));
}

TEST_F(AzureMetadataTest, NonJsonDocumentIsAnErrorWithoutTheBody) {
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kAttested,
                  FakeAzureMetadata::ScriptedAnswer{200, "secret-ish text", absl::ZeroDuration()});
  auto client = AzureMetadata::Create(FakeOptions());
  ASSERT_TRUE(client.ok());
  auto attested = (*client)->AttestedDocument();
  ASSERT_FALSE(attested.ok());
  EXPECT_EQ(attested.status().message(),
            "azure metadata /metadata/attested/document: response is not valid JSON");
}

TEST_F(AzureMetadataTest, ScheduledEventsErrorStatusIsReported) {
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kScheduledEvents,
                  FakeAzureMetadata::ScriptedAnswer{404, "", absl::ZeroDuration()});
  auto client = AzureMetadata::Create(FakeOptions());
  ASSERT_TRUE(client.ok());
  auto events = (*client)->ScheduledEventsOnce(absl::Seconds(5));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(events.status().message(), "metadata GET /metadata/scheduledevents: http status 404");
}

TEST_F(AzureMetadataTest, FakeRefusesRequestsWithoutTheHeaderOrWithAnotherApiVersion) {
  // Guards the fake itself: a client that forgot the header would fail against it.
  auto client = MetadataClient::Create("http://169.254.169.254", FakeOptions());
  ASSERT_TRUE(client.ok());
  ASSERT_EQ((*client)->base_url(), fake_.url());
  auto no_header = (*client)->GetOnce(AzureMetadata::kInstancePath, {}, absl::Seconds(5));
  ASSERT_TRUE(no_header.ok());
  EXPECT_EQ(no_header->status, 400);
  auto old_version = (*client)->GetOnce("/metadata/instance?api-version=2021-02-01",
                                        {{"Metadata", "true"}}, absl::Seconds(5));
  ASSERT_TRUE(old_version.ok());
  EXPECT_EQ(old_version->status, 400);
}

}  // namespace
}  // namespace runner::providers::metadata
