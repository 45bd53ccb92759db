// The status page, GET /dashboard: a static page and its script and style sheet, which render
// /status in the browser. Their bytes are files of the orchestrator Worker
// (orchestrator-worker/src/dashboard/) the shim hands over at configure; which path serves which
// file, with what content type and security headers, is decided here.
#pragma once

#include <string>
#include <string_view>

namespace router {

struct DashboardFiles {
  std::string page, script, style;
  // Without its page (a Worker that does not ship one) /dashboard is an unknown path.
  bool present() const { return !page.empty(); }
};

// One file as served: its content type and bytes; `body` is null when `path` is none of them.
struct DashboardFile {
  std::string_view content_type;
  const std::string* body = nullptr;
};

DashboardFile dashboard_file(const DashboardFiles& files, std::string_view path);

// The response headers of every dashboard file (one a line): a strict Content-Security-Policy
// (scripts, styles and fetches from this origin only, never inline, never framed), no caching,
// no MIME sniffing, no referrer.
std::string_view dashboard_security_headers();

// The challenge that makes a browser ask for the admin key (as the password of any user name).
inline constexpr std::string_view kBasicChallenge = "www-authenticate: Basic realm=\"ai-router\", charset=\"UTF-8\"";

}  // namespace router
