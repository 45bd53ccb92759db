# Sets ROUTER_JSON_INCLUDE: a folder in the build tree holding only a link to nlohmann/.
# nlohmann/json comes from Debian's nlohmann-json3-dev. Emscripten's toolchain hides the host's
# /usr/include (and must: its libc headers would clash), so no build ever adds /usr/include itself.
# Included by the root CMakeLists.txt and by cpp/fuzz/CMakeLists.txt.
find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
if(NOT NLOHMANN_JSON_INCLUDE_DIR)
  message(FATAL_ERROR "nlohmann/json.hpp not found: install nlohmann-json3-dev (apt-get install nlohmann-json3-dev)")
endif()
set(ROUTER_JSON_INCLUDE ${CMAKE_BINARY_DIR}/json-include)
if(NOT EXISTS ${ROUTER_JSON_INCLUDE}/nlohmann)
  file(MAKE_DIRECTORY ${ROUTER_JSON_INCLUDE})
  file(CREATE_LINK ${NLOHMANN_JSON_INCLUDE_DIR}/nlohmann ${ROUTER_JSON_INCLUDE}/nlohmann SYMBOLIC)
endif()
