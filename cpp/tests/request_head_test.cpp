// parse_request_head: the shim's "method\npathname\ncontent-type\ncontent-length\nx-request-id\n
// authorization-sha256-hex\nclient-ip\nauth-scheme", eight fields split on '\n', missing trailing ones absent.
#include "api/request_head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace router {
namespace {

const std::string kHash(64, 'a');

TEST(RequestHead, AllSevenFieldsLandInTheirPlace) {
  const RequestHead h = parse_request_head("POST\n/v1/chat/completions\napplication/json\n42\nreq-1\n" + kHash +
                                           "\n203.0.113.7");
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.path, "/v1/chat/completions");
  EXPECT_EQ(h.content_type, "application/json");
  EXPECT_EQ(h.content_length, "42");
  EXPECT_EQ(h.request_id, "req-1");
  EXPECT_EQ(h.auth_hash, kHash);
  EXPECT_EQ(h.client_ip, "203.0.113.7");
}

TEST(RequestHead, TheEighthFieldSaysTheHashCameFromBasicCredentials) {
  const std::string base = "GET\n/dashboard\n\n\n\n" + kHash + "\n\n";
  EXPECT_TRUE(parse_request_head(base + "basic").basic_auth);
  EXPECT_FALSE(parse_request_head(base).basic_auth);
  EXPECT_FALSE(parse_request_head(base + "Basic").basic_auth) << "only the shim's exact word";
  EXPECT_FALSE(parse_request_head("GET\n/status\n\n\n\n" + kHash).basic_auth) << "absent: Bearer (the whole value)";
}

TEST(RequestHead, MissingTrailingFieldsAreAbsent) {
  const RequestHead h = parse_request_head("GET\n/healthz");
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/healthz");
  EXPECT_EQ(h.content_type, "");
  EXPECT_EQ(h.content_length, "");
  EXPECT_EQ(h.request_id, "");
  EXPECT_EQ(h.auth_hash, "");
  EXPECT_EQ(h.client_ip, "");
}

TEST(RequestHead, EmptyTextGivesAnAllAbsentHead) {
  const RequestHead h = parse_request_head("");
  EXPECT_EQ(h.method, "");
  EXPECT_EQ(h.path, "");
  EXPECT_EQ(h.client_ip, "");
}

TEST(RequestHead, OnlyAMethodIsAMethodWithNoPath) {
  const RequestHead h = parse_request_head("DELETE");
  EXPECT_EQ(h.method, "DELETE");
  EXPECT_EQ(h.path, "");
}

TEST(RequestHead, EmptyMiddleFieldsStayEmptyAndDoNotShiftTheOthers) {
  // No content-type, no content-length, no x-request-id, but an Authorization hash and an address.
  const RequestHead h = parse_request_head("GET\n/v1/models\n\n\n\n" + kHash + "\n2001:db8::1");
  EXPECT_EQ(h.path, "/v1/models");
  EXPECT_EQ(h.content_type, "");
  EXPECT_EQ(h.content_length, "");
  EXPECT_EQ(h.request_id, "");
  EXPECT_EQ(h.auth_hash, kHash);
  EXPECT_EQ(h.client_ip, "2001:db8::1");
}

TEST(RequestHead, ATrailingNewlineLeavesTheNextFieldEmpty) {
  const RequestHead h = parse_request_head("GET\n/status\n");
  EXPECT_EQ(h.path, "/status");
  EXPECT_EQ(h.content_type, "");
}

TEST(RequestHead, TextAfterTheSeventhFieldBelongsToNoField) {
  // Anything past client-ip is not appended to it: the shim never sends more, and extra lines must
  // not smuggle a different address into the rate limiting key.
  const RequestHead h = parse_request_head("GET\n/\n\n\n\n\n198.51.100.1\nextra\nmore");
  EXPECT_EQ(h.client_ip, "198.51.100.1");
}

TEST(RequestHead, FieldsKeepTheirBytesUnchanged) {
  // No trimming, no case folding, no decoding: the core judges these values itself.
  const RequestHead h = parse_request_head(" post \n/v1/chat/completions?x=%20\nApplication/JSON; charset=utf-8\n"
                                           "0x10\nid with spaces\r\n\n");
  EXPECT_EQ(h.method, " post ");
  EXPECT_EQ(h.path, "/v1/chat/completions?x=%20");
  EXPECT_EQ(h.content_type, "Application/JSON; charset=utf-8");
  EXPECT_EQ(h.content_length, "0x10");
  EXPECT_EQ(h.request_id, "id with spaces\r") << "only '\\n' separates fields";
  EXPECT_EQ(h.auth_hash, "");
}

TEST(RequestHead, EmbeddedNulBytesAreKept) {
  const std::string text = std::string("GET\n/a\0b\nx", 10);
  const RequestHead h = parse_request_head(text);
  EXPECT_EQ(h.path, std::string("/a\0b", 4));
  EXPECT_EQ(h.content_type, "x");
}

}  // namespace
}  // namespace router
