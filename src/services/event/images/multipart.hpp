#pragma once
// A small, strict multipart/form-data parser (RFC 7578 / RFC 2046) for image uploads.
//
// Neither Boost.Beast nor Asio parse multipart bodies, and the only multipart we accept is one
// upload of at most a few MiB already held in memory, so this is deliberately small: no streaming,
// no nested multipart, no transfer encodings, bounded header sizes and part counts. Anything that
// does not follow the grammar is refused (MultipartError) rather than guessed at.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tiketi::event {

class MultipartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MultipartPart {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // Content-Disposition filename (raw, never used as a path)
  std::string content_type;             // as sent; informational only (types come from magic bytes)
  std::string_view data;                // points into the parsed body
};

struct MultipartLimits {
  std::size_t max_parts = 8;
  std::size_t max_header_bytes = 4 * 1024;  // per part
};

// The boundary of a `multipart/form-data; boundary=...` Content-Type. Throws MultipartError when
// the type is not multipart/form-data or the boundary is missing or malformed (RFC 2046: 1..70
// characters of bchars, not ending in a space).
std::string multipart_boundary(std::string_view content_type);

// Splits `body` into parts. Throws MultipartError on a missing opening delimiter, a part without a
// Content-Disposition: form-data header, a truncated body (no closing delimiter), too many parts,
// or oversized part headers. The returned views point into `body`.
std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           MultipartLimits limits = {});

}  // namespace tiketi::event
