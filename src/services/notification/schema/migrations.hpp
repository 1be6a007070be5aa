#pragma once
#include <vector>

#include "store/database.hpp"

namespace tiketi::notification {
std::vector<store::Migration> migrations();
}  // namespace tiketi::notification
