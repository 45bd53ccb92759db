// The per-request state machine: HTTP dispatch errors, discovery, failover, health effects,
// deadlines, budgets and the response headers, driven through a Router with a fake clock.
#include "routing/exchange.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::as;
using testing::attempts_of;
using testing::backend_of;
using testing::http_status;
using testing::text_of;
using testing::fake_hash;
using testing::header;
using testing::reply_body;
using testing::RouterHarness;

nlohmann::json error_of(const Action& a) {
  auto body = nlohmann::json::parse(reply_body(a), nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << text_of(a);
  return body.is_object() && body.contains("error") ? body["error"] : nlohmann::json();
}

TEST(ExchangeDispatch, UnknownPathIs404) {
  RouterHarness h;
  h.backends(1);
  auto [e, a] = h.begin("GET", "/v2/whatever");
  EXPECT_EQ(kind(a), ActionKind::Reply);
  EXPECT_EQ(http_status(a), 404u);
  EXPECT_EQ(error_of(a)["type"], "not_found");
}

TEST(ExchangeDispatch, WrongMethodIs405WithAllow) {
  RouterHarness h;
  h.backends(1);
  struct Case { const char* method; const char* path; const char* allow; };
  for (Case c : {Case{"GET", "/v1/chat/completions", "POST"}, Case{"PUT", "/v1/embeddings", "POST"},
                 Case{"POST", "/v1/models", "GET"}, Case{"DELETE", "/healthz", "GET"}, Case{"POST", "/status", "GET"}}) {
    auto [e, a] = h.begin(c.method, c.path);
    EXPECT_EQ(http_status(a), 405u) << c.path;
    EXPECT_EQ(header(a, "allow"), c.allow);
    EXPECT_EQ(error_of(a)["type"], "invalid_request_error");
  }
}

TEST(ExchangeDispatch, HealthzNeedsNoKeyAndNoBackend) {
  RouterHarness h;
  h.configure({"BACKEND_A"}, "", {fake_hash('a')});
  auto [e, a] = h.begin("GET", "/healthz");
  EXPECT_EQ(kind(a), ActionKind::Reply);
  EXPECT_EQ(http_status(a), 200u);
  EXPECT_EQ(reply_body(a), R"({"status":"ok"})");
}

TEST(ExchangeDispatch, KeysAreRequiredWhenConfigured) {
  RouterHarness h;
  std::string out = h.configure({"BACKEND_A"}, "", {fake_hash('a'), fake_hash('b')});
  EXPECT_NE(out.find("\"authRequired\":true"), std::string::npos);
  h.describe({{"a", {"m"}}});
  for (std::string hash : {std::string(), fake_hash('c'), std::string("not-a-hash")}) {
    auto [e, a] = h.post(chat_body(), "/v1/chat/completions", hash);
    EXPECT_EQ(http_status(a), 401u);
    EXPECT_EQ(header(a, "www-authenticate"), "Bearer");
    EXPECT_EQ(error_of(a)["type"], "authentication_error");
  }
  // Either key works (rotation); hex case does not matter.
  auto [e1, ok1] = h.post(chat_body(), "/v1/chat/completions", fake_hash('b'));
  EXPECT_EQ(kind(ok1), ActionKind::Call);
  auto [e2, ok2] = h.post(chat_body(), "/v1/chat/completions", std::string(64, 'A'));
  EXPECT_EQ(kind(ok2), ActionKind::Call);
  auto [e3, models] = h.begin("GET", "/v1/models", "", "", "", fake_hash('c'));
  EXPECT_EQ(http_status(models), 401u);
}

TEST(ExchangeDispatch, StatusIsBehindTheAdminKeyWhenSet) {
  RouterHarness h;
  h.configure({"BACKEND_A"}, "", {fake_hash('a')}, fake_hash('d'));
  auto [e1, user] = h.begin("GET", "/status", "", "", "", fake_hash('a'));
  EXPECT_EQ(http_status(user), 401u) << "an API key is not the admin key";
  auto [e2, admin] = h.begin("GET", "/status", "", "", "", fake_hash('d'));
  EXPECT_EQ(http_status(admin), 200u);
  auto status = nlohmann::json::parse(reply_body(admin), nullptr, false);
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["backends"][0]["binding"], "BACKEND_A");
  EXPECT_EQ(status["policy"]["retry"]["maxAttempts"], 3);

  RouterHarness admin_only;
  std::string out = admin_only.configure({"BACKEND_A"}, "", {}, fake_hash('d'));
  EXPECT_NE(out.find("\"authRequired\":true"), std::string::npos) << "the shim must hash Authorization for /status";
  admin_only.describe({{"a", {"m"}}});
  EXPECT_EQ(kind(admin_only.post(chat_body()).second), ActionKind::Call) << "no API keys: /v1 is open";
  EXPECT_EQ(http_status(admin_only.begin("GET", "/status").second), 401u);

  RouterHarness open;
  open.configure({"BACKEND_A"}, "", {fake_hash('a')});
  auto [e3, no_admin] = open.begin("GET", "/status", "", "", "", fake_hash('a'));
  EXPECT_EQ(http_status(no_admin), 200u) << "without an admin key the API keys guard /status";
}

TEST(ExchangeDispatch, NonJsonContentTypeIs415) {
  RouterHarness h;
  h.backends(1);
  for (const char* type : {"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data"}) {
    auto [e, a] = h.begin("POST", "/v1/chat/completions", type);
    EXPECT_EQ(http_status(a), 415u) << type;
  }
  for (const char* type : {"application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"}) {
    auto [e, a] = h.begin("POST", "/v1/chat/completions", type);
    EXPECT_EQ(kind(a), ActionKind::ReadBody) << type;
  }
}

TEST(ExchangeDispatch, OversizedBodyIs413BeforeAndWhileReading) {
  RouterHarness h;
  h.backends(1, R"({"limits":{"maxBodyBytes":100}})");
  auto [e1, by_length] = h.begin("POST", "/v1/chat/completions", "application/json", "101");
  EXPECT_EQ(http_status(by_length), 413u);
  auto [e2, read] = h.begin("POST", "/v1/chat/completions", "application/json", "100");
  ASSERT_EQ(kind(read), ActionKind::ReadBody);
  EXPECT_EQ(as<ReadBody>(read).byte_limit, 100) << "READ_BODY carries the byte limit";
  Action over = h.exchange(e2).body(std::string(50, ' '), BodyRead::OverLimit, h.now);
  EXPECT_EQ(http_status(over), 413u);
  EXPECT_EQ(error_of(over)["type"], "invalid_request_error");
}

TEST(ExchangeDispatch, BadBodiesAre400) {
  RouterHarness h;
  h.backends(1);
  for (std::string body : {std::string("{"), std::string("[]"), std::string(R"({"messages":[]})"),
                           std::string(R"({"model":5,"messages":[]})"), std::string("{\"model\":\"\xff\"}"),
                           std::string(70, '[') + std::string(70, ']')}) {
    auto [e, a] = h.post(body);
    EXPECT_EQ(http_status(a), 400u) << body;
    EXPECT_EQ(error_of(a)["type"], "invalid_request_error");
  }
  auto [e, missing] = h.post(R"({"messages":[]})");
  EXPECT_EQ(error_of(missing)["param"], "model");
}

TEST(ExchangeDispatch, RequestIdIsKeptWhenSaneElseGenerated) {
  RouterHarness h;
  h.backends(1);
  auto [e1, kept] = h.begin("GET", "/healthz", "", "", "abc-123_x.y:z");
  EXPECT_EQ(header(kept, "x-request-id"), "abc-123_x.y:z");
  for (std::string bad : {std::string("has space"), std::string(129, 'a'), std::string("<script>"), std::string()}) {
    auto [e, a] = h.begin("GET", "/healthz", "", "", bad);
    auto id = header(a, "x-request-id");
    ASSERT_TRUE(id.has_value());
    EXPECT_NE(*id, bad);
    EXPECT_EQ(id->size(), 32u);
  }
  // Generated ids differ between requests (different seeds).
  auto [e2, a2] = h.begin("GET", "/healthz");
  auto [e3, a3] = h.begin("GET", "/healthz");
  EXPECT_NE(header(a2, "x-request-id"), header(a3, "x-request-id"));
}

TEST(ExchangeDispatch, InvalidRouterConfigAnswers500NamingTheField) {
  RouterHarness h;
  std::string out = h.configure({"BACKEND_A"}, R"({"retry":{"maxAttempts":"three"}})");
  EXPECT_NE(out.find("retry.maxAttempts"), std::string::npos) << out;
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(http_status(a), 500u);
  EXPECT_EQ(error_of(a)["param"], "retry.maxAttempts");
  EXPECT_NE(h.router.drain_logs().find("invalid_router_config"), std::string::npos);
}

TEST(ExchangeDispatch, NotConfiguredAnswers500) {
  RouterHarness h;
  auto [e, a] = h.begin("GET", "/v1/models");
  EXPECT_EQ(http_status(a), 500u);
}

TEST(ExchangeDiscovery, DiscoversWhenTheCacheIsEmptyOrStale) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  auto [e, a] = h.post(chat_body("m2"));
  ASSERT_EQ(kind(a), ActionKind::Discover);
  EXPECT_EQ(as<Discover>(a).describe_timeout_ms, 5000) << "how long describe() may take";
  h.describe({{"a", {"m1"}}, {"b", {"m2"}}});
  Action call = h.exchange(e).resume(h.now);
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(backend_of(call), 1u);
  EXPECT_NE(text_of(call).find("\nm2\n/v1/chat/completions"), std::string::npos);
  h.answered(e, 200);
  h.end(e);
  h.now += 59999;
  EXPECT_EQ(kind(h.post(chat_body("m2")).second), ActionKind::Call);
  h.now += 1;
  EXPECT_EQ(kind(h.post(chat_body("m2")).second), ActionKind::Discover) << "TTL 60 s";
}

TEST(ExchangeDiscovery, UnknownModelIs404ModelNotFound) {
  RouterHarness h;
  h.backends(2);
  auto [e, a] = h.post(chat_body("nope"));
  EXPECT_EQ(http_status(a), 404u);
  EXPECT_EQ(error_of(a)["code"], "model_not_found");
  EXPECT_EQ(error_of(a)["type"], "invalid_request_error");
}

TEST(ExchangeDiscovery, WildcardAndOverridesDecideWhoServes) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B", "BACKEND_C"},
              R"({"backends":{"BACKEND_A":{"enabled":false},"BACKEND_C":{"models":["special"]}}})");
  h.describe({{"a", {"*"}}, {"b", {"*"}}, {"c", {"*"}}});
  for (int i = 0; i < 6; ++i) {
    auto [e, a] = h.post(chat_body("x"));
    ASSERT_EQ(kind(a), ActionKind::Call);
    EXPECT_EQ(backend_of(a), 1u) << "A is disabled, C only serves 'special'";
    h.answered(e, 200);
    h.end(e);
  }
  auto [e, special] = h.post(chat_body("special"));
  EXPECT_EQ(kind(special), ActionKind::Call);
}

TEST(ExchangeDiscovery, FailedDiscoveryIs503NotModelNotFound) {
  RouterHarness h;
  h.configure({"BACKEND_A"});
  ASSERT_EQ(h.router.describe(R"([{"error":"boom"}])", h.now), 0);
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(http_status(a), 503u);
  EXPECT_TRUE(header(a, "retry-after").has_value());
  h.now += BackendSet::kFailedDescribeRetryMs;
  EXPECT_EQ(kind(h.post(chat_body()).second), ActionKind::Discover) << "a failed describe is retried sooner";
}

TEST(ExchangeDiscovery, NoBackendsIs503) {
  RouterHarness h;
  h.configure({"AI", "ROUTER_CONFIG"});
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(http_status(a), 503u);
  EXPECT_EQ(error_of(a)["type"], "service_unavailable");
  EXPECT_EQ(header(a, "retry-after").has_value(), true);
}

TEST(ExchangeModels, ListsTheUnionOfModels) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  auto [e, first] = h.begin("GET", "/v1/models");
  ASSERT_EQ(kind(first), ActionKind::Discover);
  h.describe({{"alpha", {"m1", "m2"}}, {"beta", {"m2", "m3", "*"}}});
  Action a = h.exchange(e).resume(h.now);
  ASSERT_EQ(http_status(a), 200u);
  auto list = nlohmann::json::parse(reply_body(a), nullptr, false);
  ASSERT_TRUE(list.is_object());
  EXPECT_EQ(list["object"], "list");
  std::vector<std::string> ids;
  for (auto& m : list["data"]) {
    ids.push_back(m["id"]);
    EXPECT_EQ(m["object"], "model");
    EXPECT_TRUE(m["created"].is_number_integer());
    EXPECT_TRUE(m["owned_by"].is_string());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(header(a, "x-router-attempts"), "0");
}

TEST(ExchangeRouting, FailsOverToAnUntriedBackendAndForwards) {
  RouterHarness h;
  h.backends(3);
  auto [e, call1] = h.post(chat_body());
  ASSERT_EQ(kind(call1), ActionKind::Call);
  EXPECT_EQ(attempts_of(call1), 1u);
  Action call2 = h.threw(e);
  ASSERT_EQ(kind(call2), ActionKind::Call);
  EXPECT_NE(backend_of(call2), backend_of(call1));
  h.now += 10;
  Action call3 = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(call3), ActionKind::Call);
  EXPECT_NE(backend_of(call3), backend_of(call1));
  EXPECT_NE(backend_of(call3), backend_of(call2));
  Action fwd = h.answered(e, 200);
  ASSERT_EQ(kind(fwd), ActionKind::Forward);
  EXPECT_EQ(http_status(fwd), 200u);
  EXPECT_EQ(backend_of(fwd), backend_of(call3));
  EXPECT_EQ(header(fwd, "x-router-backend"), "BACKEND_" + std::to_string(backend_of(call3)));
  EXPECT_EQ(header(fwd, "x-router-attempts"), "3");
  EXPECT_EQ(header(fwd, "content-type"), "application/json");
  EXPECT_TRUE(header(fwd, "x-request-id").has_value());
  EXPECT_EQ(h.end(e), "");
}

TEST(ExchangeRouting, AnAnswerWithoutAValidStatusIsAFailedAttempt) {
  RouterHarness h;
  h.backends(2);
  for (uint32_t bad : {0u, 99u, 600u, 70000u}) {
    auto [e, call1] = h.post(chat_body());
    ASSERT_EQ(kind(call1), ActionKind::Call);
    Action call2 = h.answered(e, bad);
    ASSERT_EQ(kind(call2), ActionKind::Call) << bad;
    EXPECT_NE(backend_of(call2), backend_of(call1));
    Action fwd = h.answered(e, 200);
    EXPECT_EQ(kind(fwd), ActionKind::Forward);
    EXPECT_EQ(header(fwd, "x-router-attempts"), "2");
    h.end(e);
  }
}

TEST(ExchangeRouting, NonRetriableAnswersPassThrough) {
  RouterHarness h;
  h.backends(2);
  for (uint32_t status : {400u, 404u, 409u, 413u, 422u}) {
    auto [e, call] = h.post(chat_body());
    Action fwd = h.answered(e, status, "7");
    ASSERT_EQ(kind(fwd), ActionKind::Forward) << status;
    EXPECT_EQ(http_status(fwd), status);
    EXPECT_EQ(attempts_of(fwd), 1u);
    EXPECT_EQ(header(fwd, "retry-after"), "7") << "the backend's Retry-After is passed on";
    h.end(e);
  }
  auto [e, call] = h.post(chat_body());
  Action fwd = h.answered(e, 400, "soon\r\nx-evil: 1\xc3\xa9");
  EXPECT_FALSE(header(fwd, "retry-after").has_value()) << "an unsafe header value is dropped";
  EXPECT_FALSE(header(fwd, "x-evil").has_value());
}

TEST(ExchangeRouting, AllAttemptsFailingIs502WithATrace) {
  RouterHarness h;
  h.backends(2);
  auto [e, c1] = h.post(chat_body());
  ASSERT_EQ(kind(h.answered(e, 503)), ActionKind::Call);
  Action next = h.threw(e);
  // Both backends tried: the third attempt revisits after a backoff wait.
  ASSERT_EQ(kind(next), ActionKind::Wait);
  EXPECT_GE(as<Wait>(next).until, h.now);
  EXPECT_LE(as<Wait>(next).until, h.now + 25);
  h.now = as<Wait>(next).until;
  Action c3 = h.exchange(e).resume(h.now);
  ASSERT_EQ(kind(c3), ActionKind::Call);
  EXPECT_EQ(attempts_of(c3), 3u);
  Action fail = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(fail), ActionKind::Reply);
  EXPECT_EQ(http_status(fail), 502u);
  auto err = error_of(fail);
  EXPECT_EQ(err["type"], "upstream_error");
  std::string message = err["message"];
  EXPECT_NE(message.find("answered 503"), std::string::npos) << message;
  EXPECT_NE(message.find("threw"), std::string::npos) << message;
  EXPECT_NE(message.find("timed out"), std::string::npos) << message;
  EXPECT_NE(message.find("BACKEND_"), std::string::npos) << message;
  EXPECT_EQ(header(fail, "x-router-attempts"), "3");
  EXPECT_FALSE(header(fail, "x-router-backend").has_value()) << "no backend produced this answer";
}

TEST(ExchangeRouting, ResumingAWaitEarlyKeepsWaiting) {
  RouterHarness h;
  h.backends(1, R"({"health":{"maxEjectionPercent":100}})");
  auto [e, c1] = h.post(chat_body());
  Action wait = h.answered(e, 503, "2");
  ASSERT_EQ(kind(wait), ActionKind::Wait);
  EXPECT_GE(as<Wait>(wait).until, h.now + 2000) << "Retry-After 2 s on the only backend";
  Action again = h.exchange(e).resume(h.now + 1000);
  EXPECT_EQ(kind(again), ActionKind::Wait);
  EXPECT_EQ(as<Wait>(again).until, as<Wait>(wait).until);
}

// After a wait for a backend already tried, one never tried that came back meanwhile goes first
// (contract section 4: untried backends before a retry of a tried one).
TEST(ExchangeRouting, AfterAWaitAnUntriedBackendThatCameBackGoesFirst) {
  RouterHarness h;
  h.backends(3, R"({"retry":{"maxAttempts":3},"health":{"maxEjectionPercent":100}})");
  // One backend cools down for 1 s (a 429 on an earlier request, which fails over and succeeds).
  auto [warm, first] = h.post(chat_body());
  ASSERT_EQ(kind(first), ActionKind::Call);
  const uint32_t cooled = backend_of(first);
  ASSERT_EQ(kind(h.answered(warm, 429, "1")), ActionKind::Call);
  ASSERT_EQ(kind(h.answered(warm, 200)), ActionKind::Forward);
  h.end(warm);
  // The next request meets the two others, both asking for 3 s before a retry.
  auto [e, c1] = h.post(chat_body());
  ASSERT_EQ(kind(c1), ActionKind::Call);
  ASSERT_NE(backend_of(c1), cooled);
  Action c2 = h.answered(e, 503, "3");
  ASSERT_EQ(kind(c2), ActionKind::Call);
  ASSERT_NE(backend_of(c2), cooled);
  ASSERT_NE(backend_of(c2), backend_of(c1));
  Action wait = h.answered(e, 503, "3");
  ASSERT_EQ(kind(wait), ActionKind::Wait) << "every available backend tried: wait for a Retry-After";
  ASSERT_GE(as<Wait>(wait).until, h.now + 1000) << "longer than the cooldown";
  h.now = as<Wait>(wait).until;
  Action c3 = h.exchange(e).resume(h.now);
  ASSERT_EQ(kind(c3), ActionKind::Call);
  EXPECT_EQ(backend_of(c3), cooled) << "the backend that came back was never tried by this request";
  EXPECT_EQ(attempts_of(c3), 3u);
}

TEST(ExchangeRouting, DeadlineIs504AndBoundsTimeouts) {
  RouterHarness h;
  h.backends(2, R"({"timeouts":{"requestMs":1000,"perTryMs":800}})");
  auto [e, c1] = h.post(chat_body());
  ASSERT_EQ(kind(c1), ActionKind::Call);
  EXPECT_EQ(as<Call>(c1).timeout_ms, 800);
  EXPECT_EQ(as<Call>(c1).deadline, h.now + 1000);
  h.now += 700;
  Action c2 = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(c2), ActionKind::Call);
  EXPECT_EQ(as<Call>(c2).timeout_ms, 300) << "clamped to what is left of the deadline";
  h.now += 300;
  Action late = h.outcome(e, AttemptOutcome::TimedOut);
  EXPECT_EQ(http_status(late), 504u);
  EXPECT_EQ(error_of(late)["type"], "timeout");
}

TEST(ExchangeRouting, RetryAfterPastTheDeadlineIsNotWaitedOn) {
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":3000},"health":{"maxEjectionPercent":100}})");
  auto [e, c1] = h.post(chat_body());
  Action a = h.answered(e, 429, "10");
  EXPECT_EQ(kind(a), ActionKind::Reply);
  EXPECT_EQ(http_status(a), 502u);
}

TEST(ExchangeRouting, StreamingUsesTheFirstByteTimeoutAndEndsWithAnSseError) {
  RouterHarness h;
  h.backends(2, R"({"timeouts":{"firstByteMs":1500}})");
  auto [e, call] = h.post(chat_body("m", true));
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_TRUE(as<Call>(call).stream);
  EXPECT_EQ(as<Call>(call).timeout_ms, 1500);
  Action fwd = h.answered(e, 200);
  EXPECT_EQ(header(fwd, "content-type"), "text/event-stream");
  EXPECT_EQ(as<Forward>(fwd).stream_idle_ms, 60000) << "the longest gap between chunks: timeouts.streamIdleMs";
  std::string tail = h.end(e, EndHow::StreamFailed);
  EXPECT_EQ(tail.rfind("data: {\"error\":{", 0), 0u) << tail;
  EXPECT_EQ(tail.substr(tail.size() - 2), "\n\n");
  EXPECT_EQ(tail.find("[DONE]"), std::string::npos);
  auto status = nlohmann::json::parse(h.router.status_json(h.now), nullptr, false);
  EXPECT_EQ(status["backends"][backend_of(call)]["failures"], 1) << "a broken stream counts as a failure";
  EXPECT_EQ(status["backends"][backend_of(call)]["consecutiveFailures"], 1);
  EXPECT_EQ(status["backends"][backend_of(call)]["inFlight"], 0);
}

// A backend that answers a success in the wrong shape broke the RPC contract: the client could not
// read it (JSON labelled text/event-stream, or a stream where JSON was asked for).
TEST(ExchangeRouting, ASuccessInTheWrongShapeIsAFailedAttempt) {
  for (const bool stream : {true, false}) {
    RouterHarness h;
    h.backends(2);
    auto [e, c1] = h.post(chat_body("m", stream));
    ASSERT_EQ(kind(c1), ActionKind::Call);
    Action c2 = h.exchange(e).outcome(AttemptOutcome::Answered, 200, stream ? AnswerBody::Json : AnswerBody::Stream, "", "", h.now);
    ASSERT_EQ(kind(c2), ActionKind::Call) << "stream " << stream;
    EXPECT_NE(backend_of(c2), backend_of(c1));
    const std::string logs = h.router.drain_logs();
    EXPECT_NE(logs.find("\"event\":\"backend_answer_shape\""), std::string::npos) << logs;
    Action fwd = h.exchange(e).outcome(AttemptOutcome::Answered, 200, stream ? AnswerBody::Stream : AnswerBody::Json, "", "", h.now);
    ASSERT_EQ(kind(fwd), ActionKind::Forward);
    EXPECT_EQ(header(fwd, "content-type"), stream ? "text/event-stream" : "application/json");
    EXPECT_EQ(header(fwd, "x-router-attempts"), "2");
  }
  // Errors carry a JSON body whatever was asked: passed through as they are.
  RouterHarness h;
  h.backends(2);
  auto [e, c1] = h.post(chat_body("m", true));
  Action fwd = h.exchange(e).outcome(AttemptOutcome::Answered, 400, AnswerBody::Json, "", "", h.now);
  EXPECT_EQ(kind(fwd), ActionKind::Forward);
  EXPECT_EQ(header(fwd, "content-type"), "application/json");
}

TEST(ExchangeRouting, ClientGoneReleasesEverything) {
  RouterHarness h;
  h.backends(2);
  auto [e, call] = h.post(chat_body());
  h.threw(e);  // now retrying: holds a retry and an attempt in flight
  EXPECT_EQ(h.router.budget().retries_in_flight(), 1u);
  h.end(e, EndHow::ClientGone);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 0u);
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(h.router.health()[i].in_flight, 0u);
  EXPECT_EQ(h.router.exchange(e), nullptr);
}

TEST(ExchangeHealth, EjectedBackendsAreSkippedUntilTheyReturn) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"maxAttempts":1}})");
  // Five failures in a row on backend 0 (each request has one attempt).
  h.eject_backend_0();
  EXPECT_EQ(h.router.health().state(0, h.now), BackendState::Ejected);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(h.serve_one(), 1u);
  h.now += 30000;
  std::set<uint32_t> seen;
  for (int i = 0; i < 4; ++i) seen.insert(h.serve_one());
  EXPECT_EQ(seen.size(), 2u) << "back after 30 s";
}

TEST(ExchangeHealth, RateLimitedBackendCoolsDown) {
  RouterHarness h;
  h.backends(2);
  auto [e, call] = h.post(chat_body());
  Action next = h.answered(e, 429);
  ASSERT_EQ(kind(next), ActionKind::Call);
  h.answered(e, 200);
  h.end(e);
  uint32_t limited = backend_of(call);
  EXPECT_EQ(h.router.health().state(limited, h.now), BackendState::Cooldown);
  for (int i = 0; i < 5; ++i) EXPECT_NE(h.serve_one(), limited);
  h.now += HealthTracker::kDefaultCooldownMs;
  std::set<uint32_t> seen;
  for (int i = 0; i < 4; ++i) seen.insert(h.serve_one());
  EXPECT_EQ(seen.size(), 2u);
}

TEST(ExchangeHealth, RetryAfterMsSetsTheCooldownCapped) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"retryAfterCapMs":5000}})");
  auto [e, call] = h.post(chat_body());
  h.outcome(e, AttemptOutcome::Answered, 429, "", "750");
  EXPECT_EQ(h.router.health().until(backend_of(call)), h.now + 750);
  h.answered(e, 200);
  h.end(e);
  auto [e2, call2] = h.post(chat_body());
  h.answered(e2, 429, "3600");
  EXPECT_EQ(h.router.health().until(backend_of(call2)), h.now + 5000) << "capped";
}

// Second guards (issue 10): a 500 is retried elsewhere but never held against the backend, and a
// Retry-After given as an HTTP date sets the cooldown.
TEST(ExchangeHealth, A500IsRetriedElsewhereAndNotHeldAgainstTheBackend) {
  RouterHarness h;
  h.backends(2, R"({"health":{"consecutiveFailures":1}})");
  auto [e, call] = h.post(chat_body());
  Action retry = h.answered(e, 500);
  ASSERT_EQ(kind(retry), ActionKind::Call);
  EXPECT_NE(backend_of(retry), backend_of(call));
  auto status = nlohmann::json::parse(h.router.status_json(h.now))["backends"][backend_of(call)];
  EXPECT_EQ(status["state"], "healthy");
  EXPECT_EQ(status["failures"], 0);
  EXPECT_EQ(status["consecutiveFailures"], 0);
  EXPECT_EQ(status["serverErrors"], 1);
}

TEST(ExchangeHealth, AnHttpDateRetryAfterSetsTheCooldown) {
  RouterHarness h;  // now = kT0 = Tue, 14 Nov 2023 22:13:20 GMT
  h.backends(2);
  auto [e, call] = h.post(chat_body());
  h.answered(e, 429, "Tue, 14 Nov 2023 22:13:23 GMT");
  EXPECT_EQ(h.router.health().state(backend_of(call), h.now), BackendState::Cooldown);
  EXPECT_EQ(h.router.health().until(backend_of(call)), h.now + 3000);
}

TEST(ExchangeHealth, PanicRoutesToAllWhenNoneIsHealthy) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"maxAttempts":1},"health":{"maxEjectionPercent":100}})");
  for (int i = 0; i < 10; ++i) {
    auto [e, call] = h.post(chat_body());
    h.threw(e);
    h.end(e);
  }
  EXPECT_FALSE(h.router.health().healthy(0, h.now));
  EXPECT_FALSE(h.router.health().healthy(1, h.now));
  auto [e, call] = h.post(chat_body());
  EXPECT_EQ(kind(call), ActionKind::Call) << "panic: route to all eligible rather than refuse";
}

TEST(ExchangeHealth, WithoutPanicNoHealthyBackendIs503WithRetryAfter) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"maxAttempts":1},"health":{"maxEjectionPercent":100,"panicRouting":false}})");
  for (int i = 0; i < 10; ++i) {
    auto [e, call] = h.post(chat_body());
    h.threw(e);
    h.end(e);
  }
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(http_status(a), 503u);
  EXPECT_EQ(header(a, "retry-after"), "30");
}

TEST(ExchangeBudget, RetriesStopWhenTheBudgetIsExhausted) {
  RouterHarness h;
  h.backends(3);
  std::vector<uint32_t> live;
  for (int i = 0; i < 10; ++i) {
    auto [e, call] = h.post(chat_body());
    ASSERT_EQ(kind(call), ActionKind::Call);
    live.push_back(e);
  }
  // 10 requests in flight: 20% is 2, the minimum of 3 applies.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(kind(h.answered(live[i], 503)), ActionKind::Call) << i;
  Action refused = h.answered(live[3], 503);
  EXPECT_EQ(http_status(refused), 502u);
  EXPECT_EQ(error_of(refused)["code"], "retry_budget_exhausted");
  // A retry finishing frees its slot.
  h.answered(live[0], 200);
  EXPECT_EQ(kind(h.answered(live[4], 503)), ActionKind::Call);
}

TEST(ExchangeConcurrency, InterleavedExchangesDoNotInterfere) {
  RouterHarness h;
  h.backends(3);
  auto [a, ca] = h.post(chat_body());
  auto [b, cb] = h.post(chat_body("m", true));
  auto [c, cc] = h.begin("GET", "/healthz");
  EXPECT_EQ(http_status(cc), 200u);
  EXPECT_NE(backend_of(ca), backend_of(cb)) << "round-robin across requests";
  Action b2 = h.threw(b);
  EXPECT_TRUE(as<Call>(b2).stream);
  Action a_fwd = h.answered(a, 200);
  EXPECT_EQ(header(a_fwd, "x-router-attempts"), "1");
  EXPECT_EQ(header(a_fwd, "content-type"), "application/json");
  Action b_fwd = h.answered(b, 200);
  EXPECT_EQ(header(b_fwd, "x-router-attempts"), "2");
  EXPECT_EQ(header(b_fwd, "content-type"), "text/event-stream");
  EXPECT_NE(header(a_fwd, "x-request-id"), header(b_fwd, "x-request-id"));
  // Events for a finished phase are refused, not applied to someone else.
  EXPECT_EQ(kind(h.exchange(a).outcome(AttemptOutcome::Threw, 0, AnswerBody::Missing, "", "", h.now)), ActionKind::Error);
  EXPECT_EQ(kind(h.exchange(a).body("{}", BodyRead::Complete, h.now)), ActionKind::Error);
  h.end(a);
  h.end(b);
  h.end(c);
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
}

TEST(ExchangePhases, AnEventOutOfOrderBreaksTheExchangeForGood) {
  RouterHarness h;
  h.backends(2);
  auto [e, call] = h.post(chat_body());
  ASSERT_EQ(kind(call), ActionKind::Call);
  const uint32_t backend = backend_of(call);
  EXPECT_EQ(kind(h.exchange(e).resume(h.now)), ActionKind::Error) << "resume is not taken while a call is out";
  // Sticky: the outcome the CALL phase takes is refused too, and nothing moves.
  EXPECT_EQ(kind(h.exchange(e).outcome(AttemptOutcome::Answered, 200, AnswerBody::Json, "", "", h.now)),
            ActionKind::Error);
  EXPECT_EQ(h.router.health()[backend].in_flight, 1u) << "the attempt is still out until end()";
  h.end(e);
  EXPECT_EQ(h.router.health()[backend].in_flight, 0u) << "end() releases the attempt of a broken exchange";
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
  // Another exchange is untouched.
  auto [f, next] = h.post(chat_body());
  EXPECT_EQ(kind(h.answered(f, 200)), ActionKind::Forward);
  h.end(f);
}

TEST(ExchangeLogs, NoKeysIsWarnedAndLogsHoldNoSecrets) {
  RouterHarness h;
  std::string out = h.configure({"BACKEND_A"});
  EXPECT_NE(out.find("no API keys configured"), std::string::npos);
  EXPECT_NE(h.router.drain_logs().find("\"event\":\"no_api_keys\""), std::string::npos);
  RouterHarness keyed;
  keyed.configure({"BACKEND_A"}, "", {fake_hash('7')}, fake_hash('8'));
  keyed.describe({{"a", {"m"}}});
  auto [e, call] = keyed.post(chat_body("m"), "/v1/chat/completions", fake_hash('7'));
  keyed.threw(e);
  std::string logs = keyed.router.drain_logs();
  EXPECT_EQ(logs.find(fake_hash('7')), std::string::npos);
  EXPECT_EQ(logs.find(fake_hash('8')), std::string::npos);
  EXPECT_EQ(logs.find("\"content\""), std::string::npos);
}

}  // namespace
}  // namespace router

namespace router {
namespace {

TEST(ExchangeHardening, GeneratedRequestIdsCarry128RandomBits) {
  RouterHarness h;
  h.backends(1);
  uint32_t handle = 77;
  Action a = h.router.begin(handle, RequestHead{"GET", "/healthz"}, h.now, 0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  EXPECT_EQ(header(a, "x-request-id"), "0123456789abcdeffedcba9876543210");
  h.end(handle);
}

TEST(ExchangeHardening, ASlowUploadEndsAtTheDeadline) {
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":1000}})");
  auto [e, read] = h.begin("POST", testing::kChatPath);
  ASSERT_EQ(kind(read), ActionKind::ReadBody);
  EXPECT_EQ(as<ReadBody>(read).due_by, h.now + 1000) << "the body must have arrived by the deadline";
  Action late = h.exchange(e).body("{\"model\":", BodyRead::TimedOut, h.now + 1000);
  EXPECT_EQ(http_status(late), 504u);
  EXPECT_EQ(error_of(late)["code"], "deadline_exceeded");
  h.end(e);
}

TEST(ExchangeHardening, TheBodysWakeUpTimeServesTheFirstAttemptToo) {
  for (const std::string& body : {chat_body(), chat_body("m", true)}) {
    RouterHarness h;
    h.backends(1, R"({"timeouts":{"perTryMs":5000,"firstByteMs":7000}})");
    auto [e, read] = h.begin("POST", testing::kChatPath);
    ASSERT_EQ(kind(read), ActionKind::ReadBody);
    EXPECT_EQ(as<ReadBody>(read).wake_by, h.now + 5000) << "the shorter of the per-try and first-byte timeouts";
    Action call = h.exchange(e).body(body, BodyRead::Complete, h.now + 40);
    ASSERT_EQ(kind(call), ActionKind::Call) << body;
    EXPECT_LE(as<ReadBody>(read).wake_by, as<Call>(call).attempt_deadline) << body;
    h.end(e);
  }
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":1000}})");
  auto [e, read] = h.begin("POST", testing::kChatPath);
  EXPECT_EQ(as<ReadBody>(read).wake_by, as<ReadBody>(read).due_by) << "never later than the body's own deadline";
  h.end(e);
}

TEST(ExchangeHardening, AnInternalErrorIsA500WithTheRequestIdAndNoHealthEffect) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(chat_body());
  ASSERT_EQ(kind(call), ActionKind::Call);
  Action reply = Reply{.text = h.end(e, EndHow::InternalError)};
  EXPECT_EQ(error_of(reply)["code"], "internal_error");
  EXPECT_EQ(header(reply, "x-request-id")->size(), 32u);
  auto status = nlohmann::json::parse(h.router.status_json(h.now));
  EXPECT_EQ(status["backends"][0]["failures"], 0);
  EXPECT_EQ(status["backends"][0]["inFlight"], 0);
  EXPECT_EQ(status["requestsInFlight"], 0);
  EXPECT_NE(h.router.drain_logs().find("\"event\":\"internal_error\""), std::string::npos);
}

TEST(ExchangeHardening, KeysSetButNoneUsableRefuseEveryRequest) {
  RouterHarness h;
  std::string output;
  const std::string input =
      R"({"routerConfig":null,"apiKeyHashes":[],"apiKeysSet":true,"adminKeyHash":null,"envNames":["BACKEND_A"]})";
  ASSERT_EQ(h.router.configure(input, h.now, output), 0);
  EXPECT_NE(output.find("invalid_api_keys"), std::string::npos) << output;
  for (const char* path : {"/v1/chat/completions", "/v1/models", "/healthz", "/status"}) {
    auto [e, a] = h.begin(std::string(path) == "/v1/chat/completions" ? "POST" : "GET", path);
    EXPECT_EQ(http_status(a), 500u) << path;
    EXPECT_EQ(error_of(a)["code"], "invalid_api_keys") << path;
  }
  const std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find("\"event\":\"invalid_api_keys\""), std::string::npos);
  EXPECT_EQ(logs.find("no_api_keys"), std::string::npos) << "never reported as an open router";
}

}  // namespace
}  // namespace router
