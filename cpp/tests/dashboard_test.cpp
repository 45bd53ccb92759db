// The status page at the door: which path serves which file with what headers, who may read it
// (the admin key as Bearer or as a Basic password; /v1 never takes Basic), the Basic challenge a
// browser needs, and no /dashboard at all when the shim hands over no page.
#include <gtest/gtest.h>

#include <string>

#include "router_harness.hpp"

namespace router::testing {
namespace {

constexpr const char* kPage = "<!doctype html><title>ai-router</title>";
constexpr const char* kScript = "document.title = 'x';";
constexpr const char* kStyle = "body { margin: 0 }";

// Configures one backend with the three dashboard files, API key 'a' and, when given, admin key `admin`.
void configure_with_page(RouterHarness& h, std::string_view admin_json, std::string_view keys_json = R"(["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])") {
  std::string input = R"({"routerConfig":null,"envNames":["BACKEND_A"],"apiKeyHashes":)" + std::string(keys_json) +
                      R"(,"adminKeyHash":)" + std::string(admin_json) + R"(,"dashboardPage":")" + kPage +
                      R"(","dashboardScript":")" + kScript + R"(","dashboardStyle":")" + kStyle + R"("})";
  std::string output;
  ASSERT_EQ(h.router.configure(input, h.now, output), 0) << output;
}

Action get(RouterHarness& h, std::string path, std::string auth_hash = "", bool basic = false) {
  RequestHead head{"GET", std::move(path), "", "", "req-1", std::move(auth_hash), "", basic};
  static uint32_t handle = 1;
  return h.router.begin(handle++, head, h.now, 7, 7);
}

const std::string kAdmin = fake_hash('d');
const std::string kAdminJson = "\"" + kAdmin + "\"";

TEST(Dashboard, EachPathServesItsFileWithItsTypeAndTheSecurityHeaders) {
  RouterHarness h;
  configure_with_page(h, kAdminJson);
  const struct { const char* path; const char* type; const char* body; } files[] = {
      {"/dashboard", "text/html; charset=utf-8", kPage},
      {"/dashboard/app.js", "text/javascript; charset=utf-8", kScript},
      {"/dashboard/app.css", "text/css; charset=utf-8", kStyle}};
  for (const auto& f : files) {
    const Action a = get(h, f.path, kAdmin, true);
    ASSERT_EQ(http_status(a), 200u) << f.path;
    EXPECT_EQ(reply_body(a), f.body);
    EXPECT_EQ(header(a, "content-type"), f.type);
    const std::string csp = header(a, "content-security-policy").value_or("");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(header(a, "cache-control"), "no-store");
    EXPECT_EQ(header(a, "x-content-type-options"), "nosniff");
    EXPECT_EQ(header(a, "x-request-id"), "req-1");
    EXPECT_TRUE(header(a, "server-timing").has_value());
  }
  EXPECT_EQ(http_status(get(h, "/dashboard/", kAdmin, true)), 404u) << "only the three exact paths";
  EXPECT_EQ(http_status(get(h, "/dashboard/other.js", kAdmin, true)), 404u);
}

TEST(Dashboard, WithoutCredentialsABrowserIsAskedForThemByBasic) {
  RouterHarness h;
  configure_with_page(h, kAdminJson);
  for (const std::string& hash : {std::string(), fake_hash('e'), fake_hash('a')}) {
    const Action a = get(h, "/dashboard", hash, true);
    EXPECT_EQ(http_status(a), 401u) << "hash " << hash << ": only the admin key opens it, not a client key";
    EXPECT_EQ(header(a, "www-authenticate"), "Basic realm=\"ai-router\", charset=\"UTF-8\"");
  }
  EXPECT_EQ(http_status(get(h, "/dashboard/app.js")), 401u);
  const Action status = get(h, "/status");
  EXPECT_EQ(http_status(status), 401u);
  EXPECT_EQ(header(status, "www-authenticate"), "Bearer") << "/status keeps its Bearer challenge";
}

TEST(Dashboard, TheAdminKeyWorksAsBearerOrBasicOnTheAdminRoutesOnly) {
  RouterHarness h;
  configure_with_page(h, kAdminJson);
  EXPECT_EQ(http_status(get(h, "/dashboard", kAdmin, false)), 200u) << "Bearer";
  EXPECT_EQ(http_status(get(h, "/status", kAdmin, true)), 200u) << "Basic on /status: the page's fetch";
  EXPECT_EQ(http_status(get(h, "/status", kAdmin, false)), 200u);

  RouterHarness keys;
  configure_with_page(keys, "null");  // API key 'a' only: it guards /status and /dashboard too
  keys.router.describe(R"([{"name":"a","models":["m"]}])", keys.now);
  EXPECT_EQ(http_status(get(keys, "/dashboard", fake_hash('a'), true)), 200u);
  RequestHead basic_chat{"POST", kChatPath, "application/json", "", "", fake_hash('a'), "", true};
  const Action refused = keys.router.begin(900, basic_chat, keys.now, 1, 1);
  EXPECT_EQ(http_status(refused), 401u) << "/v1 takes Bearer keys only";
  EXPECT_EQ(header(refused, "www-authenticate"), "Bearer");
  RequestHead bearer_chat = basic_chat;
  bearer_chat.basic_auth = false;
  EXPECT_EQ(kind(keys.router.begin(901, bearer_chat, keys.now, 1, 1)), ActionKind::ReadBody);
}

TEST(Dashboard, OpenWhenTheRouterHasNoKeys) {
  RouterHarness h;
  configure_with_page(h, "null", "[]");
  const Action a = get(h, "/dashboard");
  EXPECT_EQ(http_status(a), 200u) << "no admin key, no API keys: /status is open, so is its page";
  EXPECT_EQ(reply_body(a), kPage);
}

TEST(Dashboard, NoPageHandedOverMeansNoDashboard) {
  RouterHarness h;
  h.configure({"BACKEND_A"});
  const Action a = get(h, "/dashboard");
  EXPECT_EQ(http_status(a), 404u);
  EXPECT_EQ(header(a, "content-type"), "application/json");
}

TEST(Dashboard, AFileThatIsNotAStringIsABadConfigureInput) {
  Router r;
  std::string output;
  EXPECT_EQ(r.configure(R"({"envNames":[],"dashboardPage":42})", kT0, output), -1);
  EXPECT_EQ(r.configure(R"({"envNames":[],"dashboardPage":null})", kT0, output), 0) << "null is absent";
}

}  // namespace
}  // namespace router::testing
