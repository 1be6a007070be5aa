#include "services/event/images/image_type.hpp"

#include <cctype>

namespace tiketi::event {

std::optional<ImageType> sniff_image(std::string_view d) {
  static constexpr std::string_view kPng("\x89PNG\r\n\x1a\n", 8);
  if (d.size() >= 24 && d.starts_with(kPng) && d.substr(12, 4) == "IHDR") {
    return ImageType{"image/png", "png"};
  }
  // JPEG: SOI (FF D8) followed by the start of a marker segment (FF xx, xx not 00 / FF).
  if (d.size() >= 4 && static_cast<unsigned char>(d[0]) == 0xFF && static_cast<unsigned char>(d[1]) == 0xD8 &&
      static_cast<unsigned char>(d[2]) == 0xFF && static_cast<unsigned char>(d[3]) != 0x00 &&
      static_cast<unsigned char>(d[3]) != 0xFF) {
    return ImageType{"image/jpeg", "jpg"};
  }
  if (d.size() >= 16 && d.substr(0, 4) == "RIFF" && d.substr(8, 4) == "WEBP" &&
      (d.substr(12, 4) == "VP8 " || d.substr(12, 4) == "VP8L" || d.substr(12, 4) == "VP8X")) {
    return ImageType{"image/webp", "webp"};
  }
  return std::nullopt;
}

std::optional<std::string_view> content_type_for_extension(std::string_view ext) {
  if (ext == "png") {
    return "image/png";
  }
  if (ext == "jpg") {
    return "image/jpeg";
  }
  if (ext == "webp") {
    return "image/webp";
  }
  return std::nullopt;
}

std::optional<std::string> file_name_problem(std::string_view name) {
  if (name.empty()) {
    return std::nullopt;  // browsers send filename="" when the field is empty; the data decides
  }
  if (name.size() > 255) {
    return "the file name is longer than 255 bytes";
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) {
      return "the file name contains control characters";
    }
    if (c == '/' || c == '\\') {
      return "the file name contains a path separator";
    }
  }
  // ".." anywhere, and percent-encoded separators or dots that a later decoder could turn into one.
  std::string lower;
  for (unsigned char c : name) {
    lower.push_back(static_cast<char>(std::tolower(c)));
  }
  if (lower.find("..") != std::string::npos || lower.find("%2f") != std::string::npos ||
      lower.find("%5c") != std::string::npos || lower.find("%2e") != std::string::npos ||
      lower.find("%00") != std::string::npos) {
    return "the file name looks like a path traversal";
  }
  if (name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) && name[1] == ':') {
    return "the file name looks like a drive path";
  }
  return std::nullopt;
}

bool valid_storage_key(std::string_view key) {
  const auto dot = key.find('.');
  if (dot != 32 || !content_type_for_extension(key.substr(dot + 1))) {
    return false;
  }
  for (std::size_t i = 0; i < dot; ++i) {
    const char c = key[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace tiketi::event
