#pragma once
// Running the selected services in one process: `tiketi serve` and `tiketi migrate`.
#include "core/config.hpp"

namespace tiketi::app {

// Blocks until SIGTERM/SIGINT has drained the server; returns the exit code.
int serve(const Config& config);
// Applies every selected service's migrations; returns the exit code.
int migrate(const Config& config);

}  // namespace tiketi::app
