#pragma once
#include <string>
#include <string_view>

namespace tiketi::reservation {

// An SVG QR code for `text` (libqrencode, error correction M, 4-module quiet zone). One <path>
// draws every dark module, so the document stays small. Throws std::runtime_error when the text
// cannot be encoded.
std::string qr_svg(std::string_view text, int module_px = 8);

}  // namespace tiketi::reservation
