// FallbackChain: the models one request may go on with when its model cannot serve it (every
// attempt failed, no backend available, or a 400 context_length_exceeded). The client's own
// `models` when it sent some, else ROUTER_CONFIG.fallbacks of the requested model. Chains are not
// followed transitively: the requested model's list is the whole chain (no loop can form).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "config/router_config.hpp"

namespace router {

class FallbackChain {
 public:
  FallbackChain() = default;
  FallbackChain(const std::string& model, std::vector<std::string> request_models, const RouterConfig& config);

  bool empty() const { return rest_.empty(); }
  bool has_next() const { return next_ < rest_.size(); }
  // The next model (only when has_next()).
  const std::string& take_next() { return rest_[next_++]; }

 private:
  std::vector<std::string> rest_;  // the models after the requested one, in order
  std::size_t next_ = 0;
};

}  // namespace router
