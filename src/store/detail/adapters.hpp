#pragma once
// The adapter factories open() dispatches to, and helpers the tests reach directly.
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace tiketi::store::detail {

// Opens (creating if missing) the SQLite file `file` for the service opts.schema.
Task<DatabasePtr> open_sqlite(Executor ex, const OpenOptions& opts, std::string file);

// Opens a pool for opts.url; the first connection is made before returning so that an unreachable
// server is reported at start-up.
Task<DatabasePtr> open_postgres(Executor ex, const OpenOptions& opts);

// `$1` -> `?1` outside quoted text ('…', "…") and comments, so one SQL text runs on both engines.
std::string rewrite_placeholders(std::string_view sql);

}  // namespace tiketi::store::detail
