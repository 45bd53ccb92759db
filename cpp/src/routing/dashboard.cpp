#include "routing/dashboard.hpp"

namespace router {

DashboardFile dashboard_file(const DashboardFiles& files, std::string_view path) {
  if (!files.present()) return {};
  if (path == "/dashboard") return {"text/html; charset=utf-8", &files.page};
  if (path == "/dashboard/app.js") return {"text/javascript; charset=utf-8", &files.script};
  if (path == "/dashboard/app.css") return {"text/css; charset=utf-8", &files.style};
  return {};
}

std::string_view dashboard_security_headers() {
  return "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
         "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\n"
         "cache-control: no-store\n"
         "x-content-type-options: nosniff\n"
         "x-frame-options: DENY\n"
         "referrer-policy: no-referrer";
}

}  // namespace router
