// Static files for the web UI (embedded shape). In the scaled shape nginx serves them instead.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "net/server.hpp"

namespace tiketi::net {

namespace {

namespace fs = std::filesystem;

std::string_view content_type_for(std::string_view ext) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
      {".wasm", "application/wasm"},
  };
  for (const auto& [e, t] : kTypes) {
    if (e == ext) {
      return t;
    }
  }
  return "application/octet-stream";
}

// Rejects anything that could step outside the root before touching the filesystem.
bool safe_relative(std::string_view path) {
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) {
    return false;
  }
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    std::string_view seg = path.substr(i, j - i);
    if (seg == ".." || seg == ".") {
      return false;
    }
    i = j + 1;
  }
  return true;
}

std::optional<Response> file_response(const fs::path& file, const Request& req, bool spa_entry) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) {
    return std::nullopt;
  }
  auto mtime = fs::last_write_time(file, ec);
  if (ec) {
    return std::nullopt;
  }
  std::string etag =
      fmt::format("\"{:x}-{:x}\"", size, static_cast<std::uint64_t>(mtime.time_since_epoch().count()));
  std::string ext = file.extension().string();
  std::string cache;
  if (spa_entry || ext == ".html") {
    cache = "no-cache";  // the entry point must be revalidated so new releases are picked up
  } else if (req.path.rfind("/assets/", 0) == 0) {
    cache = "public, max-age=31536000, immutable";  // content-hashed build output
  } else {
    cache = "public, max-age=300";
  }
  if (auto inm = req.header("If-None-Match"); inm && *inm == etag) {
    Response r;
    r.status = 304;
    r.headers.emplace_back("ETag", std::move(etag));
    r.headers.emplace_back("Cache-Control", std::move(cache));
    return r;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string body(size, '\0');
  in.read(body.data(), static_cast<std::streamsize>(size));
  body.resize(static_cast<std::size_t>(in.gcount()));
  Response r = Response::text(200, std::move(body), std::string(content_type_for(ext)));
  r.headers.emplace_back("ETag", std::move(etag));
  r.headers.emplace_back("Cache-Control", std::move(cache));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

std::optional<Response> serve_static(const std::string& web_root, const Request& req) {
  if (web_root.empty() || (req.method != "GET" && req.method != "HEAD")) {
    return std::nullopt;
  }
  std::string_view rel = req.path;
  while (!rel.empty() && rel.front() == '/') {
    rel.remove_prefix(1);
  }
  if (!safe_relative(rel)) {
    return std::nullopt;
  }
  std::error_code ec;
  fs::path root = fs::weakly_canonical(web_root, ec);
  if (ec) {
    return std::nullopt;
  }
  fs::path candidate = rel.empty() ? root / "index.html" : root / fs::path(rel);
  if (fs::is_directory(candidate, ec)) {
    candidate /= "index.html";
  }
  if (fs::is_regular_file(candidate, ec)) {
    // Symlinks inside the root could still point outside it.
    fs::path real = fs::weakly_canonical(candidate, ec);
    auto [r_end, c_it] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (!ec && r_end == root.end()) {
      return file_response(real, req, false);
    }
    return std::nullopt;
  }
  // SPA fallback: client-side routes ("/events/42") have no extension; missing assets do.
  if (fs::path(rel).has_extension()) {
    return std::nullopt;
  }
  return file_response(root / "index.html", req, true);
}

}  // namespace tiketi::net
