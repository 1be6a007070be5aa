#pragma once
// Running the selected services in one process: `tiketi serve` and `tiketi migrate`.
#include <string>

#include "core/config.hpp"

namespace tiketi::app {

// Blocks until SIGTERM/SIGINT has drained the server; returns the exit code.
int serve(const Config& config);
// Applies every selected service's migrations; returns the exit code.
int migrate(const Config& config);
// `tiketi admin create`: migrates the auth schema, then creates (or promotes) an admin account.
int admin_create(const Config& config, const std::string& email, const std::string& name,
                 const std::string& password);
// `tiketi routes`: every HTTP/WebSocket route of the selected services, as a Markdown table.
int print_routes(const Config& config);
// `tiketi seed --demo`: migrates the event schema and adds the demo catalogue (idempotent).
int seed_demo(const Config& config);

}  // namespace tiketi::app
