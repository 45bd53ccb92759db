// ApiKeys: hashes only, every configured key accepted (rotation), malformed input never matches,
// and the comparison has no early exit.
#include "api/api_keys.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace router {
namespace {

// Two well-formed SHA-256 hex digests (the shim computes them from "Bearer <key>"; any 64 hex digits do here).
const std::string kFirst = "0d0ff4b7b1e4f0ec5f3d2a5fd4ce1f3c8e52b7b1b7f0e5a5e3c1c0a9d2f4e6a8";
const std::string kSecond = "7a1e3c5b9d2f4e6a8c0b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f2a4c6e8b0d1f3a";

TEST(ApiKeys, NoHashesMeansNotRequired) {
  ApiKeys keys;
  keys.set({});
  EXPECT_FALSE(keys.required());
  EXPECT_FALSE(keys.matches(kFirst)) << "nothing matches an empty set; the caller decides what open means";
}

TEST(ApiKeys, EveryConfiguredKeyMatchesForRotation) {
  ApiKeys keys;
  keys.set({kFirst, kSecond});
  EXPECT_TRUE(keys.required());
  EXPECT_TRUE(keys.matches(kFirst));
  EXPECT_TRUE(keys.matches(kSecond));
  std::string upper = kSecond;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(keys.matches(upper)) << "hex case does not matter";
}

TEST(ApiKeys, AnythingElseNeverMatches) {
  ApiKeys keys;
  keys.set({kFirst});
  std::string one_off = kFirst;
  one_off[63] = one_off[63] == '0' ? '1' : '0';
  std::string first_off = kFirst;
  first_off[0] = first_off[0] == '0' ? '1' : '0';
  for (const std::string& candidate :
       {one_off, first_off, kFirst.substr(0, 63), kFirst + "0", std::string(), std::string(64, 'g'),
        std::string("Bearer sk-test"), kFirst.substr(0, 32) + std::string(32, '\0')}) {
    EXPECT_FALSE(keys.matches(candidate)) << candidate;
  }
}

TEST(ApiKeys, MalformedConfiguredHashesStillRequireAKey) {
  // A shim bug that sends garbage must close the door, not open it.
  ApiKeys keys;
  keys.set({"not-a-hash"});
  EXPECT_TRUE(keys.required());
  EXPECT_FALSE(keys.matches("not-a-hash"));
  EXPECT_FALSE(keys.matches(std::string(64, '0')));
}

TEST(ApiKeys, NormalizeAcceptsOnlySha256Hex) {
  EXPECT_EQ(normalize_sha256_hex(std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_EQ(normalize_sha256_hex(kFirst), kFirst);
  EXPECT_EQ(normalize_sha256_hex(std::string(63, 'a')), "");
  EXPECT_EQ(normalize_sha256_hex(std::string(65, 'a')), "");
  EXPECT_EQ(normalize_sha256_hex(std::string(63, 'a') + "z"), "");
  EXPECT_EQ(normalize_sha256_hex(std::string(63, 'a') + " "), "");
}

TEST(ApiKeys, ConstantTimeEqualComparesEveryByte) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal(kFirst, kFirst));
  EXPECT_FALSE(constant_time_equal(kFirst, kSecond));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  // A difference in the last byte only is found: the loop does not stop at the first equal prefix...
  EXPECT_FALSE(constant_time_equal(std::string(64, 'a'), std::string(63, 'a') + "b"));
  // ...and a difference in the first byte only does not hide equal bytes after it.
  EXPECT_FALSE(constant_time_equal(std::string(64, 'a'), "b" + std::string(63, 'a')));
  // Bytes that differ in a single bit, and bytes whose XORs could cancel in a sum, are all found.
  EXPECT_FALSE(constant_time_equal(std::string("\x01\x02", 2), std::string("\x02\x01", 2)));
  EXPECT_FALSE(constant_time_equal(std::string(1, '\x80'), std::string(1, '\x00')));
}

}  // namespace
}  // namespace router
