#pragma once
// What an uploaded file is, decided by its first bytes only: never by the client's file name or
// Content-Type, which the client controls.
#include <optional>
#include <string>
#include <string_view>

namespace tiketi::event {

struct ImageType {
  std::string_view content_type;  // "image/png"
  std::string_view extension;     // "png" (no dot); used for the storage key
};

// PNG (signature + IHDR), JPEG (SOI + marker), WebP (RIFF....WEBPVP8[ LX]); nullopt otherwise.
std::optional<ImageType> sniff_image(std::string_view data);

// The content type for a storage key's extension ("png" -> image/png), nullopt when unknown.
std::optional<std::string_view> content_type_for_extension(std::string_view ext);

// A client file name is metadata only — storage keys never derive from it — but a name that tries
// path traversal or carries control characters is refused outright (400 invalid_file_name) instead
// of being silently "cleaned": such an upload is a bug or an attack either way. Returns the reason,
// or nullopt when the name is acceptable.
std::optional<std::string> file_name_problem(std::string_view name);

// Storage keys are generated ("<32 hex>.<ext>"); this checks one from a URL before it reaches the
// disk or S3, so nothing else (../, %2F, absolute paths) can ever be looked up.
bool valid_storage_key(std::string_view key);

}  // namespace tiketi::event
