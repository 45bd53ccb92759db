#include "routing/front_door.hpp"

#include "api/openai_error.hpp"
#include "routing/dashboard.hpp"
#include "routing/router.hpp"

namespace router {

namespace {

Admission route_of(std::string_view path, const Router& router) {
  Admission door;
  if (const std::optional<Endpoint> endpoint = endpoint_of_path(path)) {
    door.route = Route::Inference;
    door.endpoint = *endpoint;
  } else if (path == "/v1/models") {
    door.route = Route::Models;
  } else if (path == "/healthz") {
    door.route = Route::Healthz;
  } else if (path == "/status") {
    door.route = Route::Status;
  } else if (dashboard_file(router.dashboard(), path).body) {
    door.route = Route::Dashboard;
  }
  return door;
}

void answer(Admission& door, uint32_t status, std::string body, std::string extra_headers = {}) {
  door.status = status;
  door.body = std::move(body);
  door.extra_headers = std::move(extra_headers);
}

void refuse(Admission& door, uint32_t status, std::string_view message, std::string_view type, std::string_view code,
            std::string extra_headers = {}) {
  answer(door, status, openai_error_body(message, type, {}, code), std::move(extra_headers));
  door.error_code = code;
}

// The admin routes take the admin key (or, without one, what /v1 takes), as Bearer or as a Basic
// password (a browser cannot send Bearer on a navigation); /v1 takes Bearer API keys only.
bool authorized(Route route, const RequestHead& head, const Router& router) {
  if (route == Route::Status || route == Route::Dashboard) return router.admin_ok(head.auth_hash);
  return router.api_key_ok(head.basic_auth ? std::string_view() : std::string_view(head.auth_hash));
}

// 401: the dashboard's challenge makes a browser ask for the key; the API's says Bearer.
void refuse_credentials(Admission& door, const RequestHead& head) {
  const bool page = door.route == Route::Dashboard;
  std::string_view missing = page ? "Missing credentials: sign in with the admin key as the password"
                                  : "Missing API key: send Authorization: Bearer <key>";
  refuse(door, 401, head.auth_hash.empty() ? missing : std::string_view(page ? "Invalid admin key" : "Invalid API key"),
         "authentication_error", "invalid_api_key",
         page ? std::string(kBasicChallenge) : std::string("www-authenticate: Bearer"));
}

// Answers `door` when the request stops at the door; leaves it unanswered otherwise.
void admit(Admission& door, const RequestHead& head, const Router& router, double now) {
  if (!router.configured())
    return refuse(door, 500, "The router has not been configured", "server_error", "router_not_configured");
  if (!router.config_error_body().empty()) return answer(door, 500, router.config_error_body());
  if (door.route == Route::Unknown)
    return refuse(door, 404,
                  "Unknown path: the router serves /v1/chat/completions, /v1/completions, /v1/embeddings, "
                  "/v1/responses, /v1/models, /healthz, /status and /dashboard",
                  "not_found", "unknown_path");
  const char* allow = door.route == Route::Inference ? "POST" : "GET";
  if (head.method != allow)
    return refuse(door, 405, "Method " + head.method.substr(0, 16) + " is not allowed here; use " + allow,
                  "invalid_request_error", "method_not_allowed", std::string("allow: ") + allow);
  if (door.route == Route::Healthz) return answer(door, 200, "{\"status\":\"ok\"}");

  if (!authorized(door.route, head, router)) return refuse_credentials(door, head);
  if (door.route == Route::Status) return answer(door, 200, router.status_json(now));
  if (door.route == Route::Dashboard) {
    const DashboardFile file = dashboard_file(router.dashboard(), head.path);
    answer(door, 200, *file.body, std::string(dashboard_security_headers()));
    door.content_type = file.content_type;
  }
}

}  // namespace

Admission front_door(const RequestHead& head, const Router& router, double now) {
  Admission door = route_of(head.path, router);
  admit(door, head, router, now);
  return door;
}

}  // namespace router
