#pragma once
#include <cstddef>
#include <string>

namespace tiketi::ids {

// Random identifiers from libsodium's CSPRNG.
std::string random_hex(std::size_t bytes);           // 2*bytes hex chars
std::string random_token(std::size_t bytes = 32);    // base64url, no padding
std::string uuid_v4();
// Time-ordered id (UUIDv7 text form): sorts by creation time, good for primary keys and cursors.
std::string uuid_v7(std::int64_t now_ms);
// W3C trace context pieces.
std::string new_trace_id();  // 32 hex
std::string new_span_id();   // 16 hex

}  // namespace tiketi::ids
