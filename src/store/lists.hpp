#pragma once
// Lists of texts bound as ONE statement parameter, for set-based statements that work the same on
// both engines: PostgreSQL reads an array literal (`$1::text[]`, `unnest($1::text[], $2::text[])`),
// SQLite a JSON array (`json_each($1)`, `json_extract(value, '$[0]')` for rows).
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace tiketi::store {

// PostgreSQL: {"a","b",NULL} (every element quoted, '"' and '\' escaped; nullopt = NULL).
// SQLite: ["a","b",null] (JSON strings, control characters escaped).
std::string text_list(Engine engine, const std::vector<std::string>& items);
std::string text_list(Engine engine, const std::vector<std::optional<std::string>>& items);

// Rows of texts as a JSON array of arrays, [["a","b"],["c",null]] (SQLite only).
std::string json_rows(const std::vector<std::vector<std::optional<std::string>>>& rows);

}  // namespace tiketi::store
