#pragma once
#include <vector>

#include "store/database.hpp"

namespace tiketi::payment {

// Numbered migrations of the payment schema (PostgreSQL schema `payment`, SQLite payment.db).
std::vector<store::Migration> migrations();

}  // namespace tiketi::payment
