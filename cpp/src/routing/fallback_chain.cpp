#include "routing/fallback_chain.hpp"

#include <utility>

namespace router {

FallbackChain::FallbackChain(const std::string& model, std::vector<std::string> request_models,
                             const RouterConfig& config)
    : rest_(std::move(request_models)) {
  if (!rest_.empty()) return;
  auto it = config.fallbacks.find(model);
  if (it != config.fallbacks.end()) rest_ = it->second;
}

}  // namespace router
