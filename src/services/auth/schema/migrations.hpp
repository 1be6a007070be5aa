#pragma once
#include <vector>

#include "store/database.hpp"

namespace tiketi::auth {

// Schema `auth` (PostgreSQL) / auth.db (SQLite). One statement per migration so the same runner
// works on both engines.
std::vector<store::Migration> migrations();

}  // namespace tiketi::auth
