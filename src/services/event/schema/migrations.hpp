#pragma once
#include <vector>

#include "store/database.hpp"

namespace tiketi::event {
// The event service's schema (PostgreSQL schema "event", SQLite file event.db), outbox included.
std::vector<store::Migration> migrations();
}  // namespace tiketi::event
