// Image upload (admin) and serving. The type comes from the file's first bytes, the storage key
// from a random id plus the detected extension; the client's file name is only checked, never used.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/event/handlers/handlers.hpp"
#include "services/event/images/image_type.hpp"
#include "services/event/images/multipart.hpp"

namespace tiketi::event::handlers {
namespace {

ApiError bad_multipart(const std::string& why) {
  return ApiError(400, "invalid_multipart", "The upload is not valid multipart/form-data: " + why + ".");
}

bool etag_listed(std::string_view header, std::string_view etag) {
  return header.find(etag) != std::string_view::npos || header == "*";
}

}  // namespace

Task<net::Response> admin_image_upload(EventState& s, net::Request& req) {
  auto ct = req.header("content-type");
  if (!ct) {
    throw ApiError(415, "unsupported_media_type", "Send the image as multipart/form-data.");
  }
  std::string boundary;
  std::vector<MultipartPart> parts;
  try {
    boundary = multipart_boundary(*ct);
    parts = parse_multipart(req.body, boundary);
  } catch (const MultipartError& e) {
    // A body that is not multipart at all is the wrong media type; a broken one is a bad request.
    if (std::string_view(e.what()).starts_with("Content-Type must be")) {
      throw ApiError(415, "unsupported_media_type", "Send the image as multipart/form-data.");
    }
    throw bad_multipart(e.what());
  }
  const MultipartPart* file = nullptr;
  for (const auto& p : parts) {
    if (p.filename || p.name == "file") {
      if (file != nullptr) {
        throw bad_multipart("send exactly one file per request");
      }
      file = &p;
    }
  }
  if (file == nullptr) {
    throw bad_multipart("no file part (a part with a filename, or named \"file\")");
  }
  if (file->filename) {
    if (auto why = file_name_problem(*file->filename)) {
      throw ApiError(400, "invalid_file_name", "The file name is not acceptable: " + *why + ".",
                     {{"filename", *why}});
    }
  }
  const auto& settings = s.image_settings;
  if (file->data.size() > settings.max_bytes) {
    throw errors::payload_too_large(settings.max_bytes);
  }
  if (file->data.empty()) {
    throw ApiError(400, "empty_file", "The uploaded file is empty.");
  }
  auto type = sniff_image(file->data);
  if (!type) {
    throw ApiError(415, "unsupported_image_type",
                   "Only PNG, JPEG and WebP images are accepted (the file's content is none of them).");
  }
  const Millis now = s.ctx.clock->now_ms();
  ImageMeta meta;
  meta.id = ids::random_hex(16);
  meta.storage_key = meta.id + "." + std::string(type->extension);
  meta.content_type = std::string(type->content_type);
  meta.size = static_cast<std::int64_t>(file->data.size());
  meta.created_at = now;
  auto data = std::make_shared<const std::string>(file->data);
  const std::string key = meta.storage_key;
  const std::string content_type = meta.content_type;
  co_await s.images->put(key, content_type, data);
  bool recorded = false;
  std::exception_ptr failure;
  try {
    co_await s.store->insert_image(meta);
    recorded = true;
  } catch (...) {
    failure = std::current_exception();
  }
  if (!recorded) {
    // No row, no image: an object nobody can reference would only cost storage.
    try {
      co_await s.images->remove(key);
    } catch (const std::exception&) {
    }
    std::rethrow_exception(failure);
  }
  nlohmann::json body{{"id", meta.id},
                      {"url", settings.public_base_url + meta.storage_key},
                      {"contentType", meta.content_type},
                      {"size", meta.size}};
  auto r = net::Response::json(201, body.dump());
  r.header("Location", settings.public_base_url + meta.storage_key);
  co_return r;
}

Task<net::Response> image_get(EventState& s, net::Request& req) {
  const std::string key = req.param("key");
  if (!valid_storage_key(key)) {
    throw errors::not_found("image");
  }
  // Keys are never reused (random ids), so the key itself is a strong validator.
  const std::string etag = "\"" + key + "\"";
  if (auto inm = req.header("if-none-match"); inm && etag_listed(*inm, etag)) {
    net::Response r;
    r.status = 304;
    r.header("ETag", etag);
    r.header("Cache-Control", "public, max-age=31536000, immutable");
    co_return r;
  }
  auto img = co_await s.images->get(key);
  if (!img) {
    throw errors::not_found("image");
  }
  net::Response r;
  r.status = 200;
  r.body = *img->data;
  r.header("Content-Type", img->content_type);
  r.header("Cache-Control", "public, max-age=31536000, immutable");
  r.header("ETag", etag);
  r.header("X-Content-Type-Options", "nosniff");
  r.header("Content-Security-Policy", "default-src 'none'; sandbox");
  co_return r;
}

}  // namespace tiketi::event::handlers
