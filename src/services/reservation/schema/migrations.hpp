#pragma once
#include <vector>

#include "store/database.hpp"

namespace tiketi::reservation {

// Schema `reservation` (PostgreSQL) / reservation.db (SQLite). The same text runs on both engines.
std::vector<store::Migration> migrations();

}  // namespace tiketi::reservation
