// Token usage (contract section 3, /status "tokens reported"): what a backend's answer reports,
// checked, and added up per backend, model and client key.
#include "routing/usage_ledger.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::fake_hash;
using testing::RouterHarness;

TEST(UsageLine, ThreeCountsOrAbsentOnes) {
  auto u = parse_usage_line("12 5 17");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt, 12u);
  EXPECT_EQ(u->completion, 5u);
  EXPECT_EQ(u->total, 17u);
  EXPECT_EQ(u->answers, 1u);
  auto no_total = parse_usage_line("12 5 ");
  ASSERT_TRUE(no_total);
  EXPECT_EQ(no_total->total, 17u) << "prompt + completion when the answer gave no total";
  auto embeddings = parse_usage_line("8  8");
  ASSERT_TRUE(embeddings);
  EXPECT_EQ(embeddings->completion, 0u);
}

TEST(UsageLine, AnythingElseIsRefused) {
  for (std::string_view bad : {"", "  ", "1 2", "1 2 3 4", "-1 2 3", "1.5 2 3", "a b c", "1 2 3\n", "99999999999999999 1 1"})
    EXPECT_FALSE(parse_usage_line(bad)) << bad;
}

TEST(UsageOfStreamTail, TheLastEventBeforeDone) {
  const std::string tail =
      "e\"}}]}\n\ndata: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,"
      "\"total_tokens\":13}}\n\ndata: [DONE]\n\n";
  auto u = usage_of_stream_tail(tail);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt, 9u);
  EXPECT_EQ(u->total, 13u);
}

TEST(UsageOfStreamTail, NoUsageOrACutEventIsNothing) {
  EXPECT_FALSE(usage_of_stream_tail("data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\ndata: [DONE]\n\n"));
  EXPECT_FALSE(usage_of_stream_tail("ompt_tokens\":9,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n"))
      << "the event's start fell before the tail";
  EXPECT_FALSE(usage_of_stream_tail("data: {\"usage\":{\"prompt_tokens\":-3}}\n\ndata: [DONE]\n\n"));
  EXPECT_FALSE(usage_of_stream_tail("data: {\"usage\":{\"prompt_tokens\":3}}\n\n")) << "no [DONE]: a broken stream";
}

TEST(KeyId, AHashPrefixNeverTheKey) {
  EXPECT_EQ(key_id(fake_hash('a')), "key-aaaaaaaaaaaa");
  EXPECT_EQ(key_id(""), "none");
  EXPECT_EQ(key_id("not a hash"), "none");
}

TEST(UsageLedger, ClientChosenNamesAreBounded) {
  UsageLedger ledger;
  ledger.reset(1);
  const TokenUsage one{.prompt = 1, .completion = 1, .total = 2, .answers = 1};
  for (size_t i = 0; i < UsageLedger::kMaxEntries + 50; ++i) ledger.add(0, "model-" + std::to_string(i), "none", one);
  EXPECT_EQ(ledger.models().size(), UsageLedger::kMaxEntries + 1);
  EXPECT_EQ(ledger.models().at("(other)").answers, 50u);
  EXPECT_EQ(ledger.backend(0).total, 2u * (UsageLedger::kMaxEntries + 50));
  EXPECT_EQ(ledger.backend(7).total, 0u) << "an index past the list reads as none";
}

nlohmann::json status_of(RouterHarness& h) { return nlohmann::json::parse(h.router.status_json(h.now)); }

TEST(UsageStatus, DeliveredAnswersCountPerBackendModelAndKey) {
  RouterHarness h;
  h.configure({"BACKEND_0"}, "", {fake_hash('a'), fake_hash('b')});
  h.describe({{"b0", {"m", "n"}}});
  const auto ask = [&](std::string_view model, char key, bool stream, std::string_view usage, std::string tail) {
    auto [e, call] = h.post(chat_body(model, stream), testing::kChatPath, fake_hash(key));
    ASSERT_EQ(kind(call), ActionKind::Call);
    Exchange& x = h.exchange(e);
    x.outcome(AttemptOutcome::Answered, 200, stream ? AnswerBody::Stream : AnswerBody::Json, "", "", h.now, "", usage);
    // The client did not ask for the stream's usage: the router did, and takes the event out.
    if (stream) x.take_usage_event(tail.substr(0, tail.find("data: [DONE]")));
    h.end(e, EndHow::Completed, tail);
  };
  ask("m", 'a', false, "10 5 15", "");
  ask("m", 'b', false, "1 1 2", "");
  ask("n", 'a', true, "", "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n");
  ask("n", 'a', true, "", "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n");  // no usage asked
  auto status = status_of(h);
  EXPECT_EQ(status["backends"][0]["tokens"], (nlohmann::json{{"prompt", 18}, {"completion", 9}, {"total", 27}, {"answers", 3}}));
  EXPECT_EQ(status["usage"]["models"]["m"]["total"], 17);
  EXPECT_EQ(status["usage"]["models"]["n"]["total"], 10);
  EXPECT_EQ(status["usage"]["keys"]["key-aaaaaaaaaaaa"]["total"], 25);
  EXPECT_EQ(status["usage"]["keys"]["key-bbbbbbbbbbbb"]["total"], 2);
}

TEST(UsageStatus, FailedAndUndeliveredAnswersAreNotCounted) {
  RouterHarness h;
  h.backends(2);
  auto [e, call] = h.post(chat_body());
  Exchange& x = h.exchange(e);
  ASSERT_EQ(kind(x.outcome(AttemptOutcome::Answered, 503, AnswerBody::Json, "", "", h.now, "", "5 5 10")), ActionKind::Call);
  x.outcome(AttemptOutcome::Answered, 200, AnswerBody::Json, "", "", h.now, "", "1 2 3");
  h.end(e, EndHow::ClientGone);
  auto [s, call2] = h.post(chat_body("m", true));
  h.exchange(s).outcome(AttemptOutcome::Answered, 200, AnswerBody::Stream, "", "", h.now);
  h.end(s, EndHow::StreamFailed, "data: {\"usage\":{\"prompt_tokens\":7}}\n\n");
  auto status = status_of(h);
  EXPECT_EQ(status["usage"]["models"].size(), 0u) << status["usage"].dump();
  EXPECT_EQ(status["backends"][0]["tokens"]["answers"], 0);
  EXPECT_EQ(status["backends"][1]["tokens"]["answers"], 0);
}

}  // namespace
}  // namespace router
