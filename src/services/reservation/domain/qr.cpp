#include "services/reservation/domain/qr.hpp"

#include <fmt/format.h>
#include <qrencode.h>

#include <memory>
#include <stdexcept>

namespace tiketi::reservation {

std::string qr_svg(std::string_view text, int module_px) {
  const std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!code) {
    throw std::runtime_error("QR encoding failed");
  }
  constexpr int kQuiet = 4;
  const int width = code->width;
  const int size = (width + 2 * kQuiet) * module_px;
  std::string path;
  path.reserve(static_cast<std::size_t>(width) * static_cast<std::size_t>(width) * 4);
  for (int y = 0; y < width; ++y) {
    int x = 0;
    while (x < width) {
      // Bit 0 of each byte is the module colour (1 = dark).
      if ((code->data[y * width + x] & 1) == 0) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < width && (code->data[y * width + x + run] & 1) != 0) {
        ++run;
      }
      path += fmt::format("M{} {}h{}v1h-{}z", x + kQuiet, y + kQuiet, run, run);
      x += run;
    }
  }
  const int view = width + 2 * kQuiet;
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" "
      "height=\"{0}\" viewBox=\"0 0 {1} {1}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" "
      "height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"{2}\"/></svg>\n",
      size, view, path);
}

}  // namespace tiketi::reservation
