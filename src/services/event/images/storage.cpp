#include "services/event/images/storage.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/common/outbound_http.hpp"
#include "services/common/worker_pool.hpp"
#include "services/event/images/image_type.hpp"

namespace tiketi::event {
namespace {

ApiError storage_failed(std::string why) { return ApiError(502, "image_storage_failed", std::move(why)); }
ApiError storage_unavailable(std::string why) {
  return ApiError(503, "image_storage_unavailable", std::move(why)).with_retry_after(5);
}

std::string content_type_of_key(const std::string& key) {
  const auto dot = key.rfind('.');
  auto ct = content_type_for_extension(dot == std::string::npos ? "" : std::string_view(key).substr(dot + 1));
  return std::string(ct.value_or("application/octet-stream"));
}

// ---- local disk ----

class LocalImageStorage final : public ImageStorage {
 public:
  explicit LocalImageStorage(std::string dir) : dir_(std::move(dir)), pool_(1, 256) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
      throw std::invalid_argument("setting event.image_dir: cannot create " + dir_ + ": " + ec.message());
    }
  }

  std::string kind() const override { return "local"; }

  Task<void> put(std::string key, std::string, std::shared_ptr<const std::string> data) override {
    const std::string final_path = dir_ + "/" + key;
    const std::string tmp_path = dir_ + "/." + key + ".tmp-" + ids::random_hex(6);
    std::string error;
    std::function<void()> work = [&]() {
      // Write to a temporary name, fsync, then rename: a reader never sees half an image.
      int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) {
        error = std::string("open: ") + std::strerror(errno);
        return;
      }
      const char* p = data->data();
      std::size_t left = data->size();
      while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          error = std::string("write: ") + std::strerror(errno);
          break;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
      }
      if (error.empty() && ::fsync(fd) != 0) {
        error = std::string("fsync: ") + std::strerror(errno);
      }
      ::close(fd);
      if (error.empty() && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
        error = std::string("rename: ") + std::strerror(errno);
      }
      if (!error.empty()) {
        ::unlink(tmp_path.c_str());
      }
    };
    co_await pool_.run(std::move(work));
    if (!error.empty()) {
      throw storage_unavailable("Could not store the image on disk (" + error + ").");
    }
  }

  Task<std::optional<StoredImage>> get(std::string key) override {
    const std::string path = dir_ + "/" + key;
    auto out = std::make_shared<std::string>();
    bool found = false;
    std::string error;
    std::function<void()> work = [&]() {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT) {
          error = std::string("open: ") + std::strerror(errno);
        }
        return;
      }
      char buf[64 * 1024];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          error = std::string("read: ") + std::strerror(errno);
          break;
        }
        if (n == 0) {
          found = true;
          break;
        }
        out->append(buf, static_cast<std::size_t>(n));
      }
      ::close(fd);
    };
    co_await pool_.run(std::move(work));
    if (!error.empty()) {
      throw storage_unavailable("Could not read the image from disk (" + error + ").");
    }
    if (!found) {
      co_return std::nullopt;
    }
    co_return StoredImage{std::move(out), content_type_of_key(key)};
  }

  Task<void> remove(std::string key) override {
    const std::string path = dir_ + "/" + key;
    std::function<void()> work = [path]() { ::unlink(path.c_str()); };
    co_await pool_.run(std::move(work));
  }

 private:
  std::string dir_;
  common::WorkerPool pool_;  // disk I/O never runs on an I/O thread
};

// ---- S3-compatible ----

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// <Code>SignatureDoesNotMatch</Code> from an S3 error document, for the log and the message.
std::string s3_error_code(const std::string& body) {
  const auto a = body.find("<Code>");
  const auto b = body.find("</Code>");
  if (a == std::string::npos || b == std::string::npos || b <= a + 6 || b - a > 80) {
    return {};
  }
  return body.substr(a + 6, b - a - 6);
}

class S3ImageStorage final : public ImageStorage {
 public:
  explicit S3ImageStorage(S3Settings s) : s_(std::move(s)), http_(make_options(s_)) {
    while (!s_.endpoint.empty() && s_.endpoint.back() == '/') {
      s_.endpoint.pop_back();
    }
  }

  std::string kind() const override { return "s3"; }

  Task<void> put(std::string key, std::string content_type, std::shared_ptr<const std::string> data) override {
    auto req = request("PUT", key, *data);
    req.headers.emplace_back("Content-Type", content_type);
    req.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    auto res = co_await http_.send(std::move(req));
    check(res, "store");
  }

  Task<std::optional<StoredImage>> get(std::string key) override {
    auto req = request("GET", key, {});
    auto res = co_await http_.send(std::move(req));
    if (res.ok() && res.status == 404) {
      co_return std::nullopt;
    }
    check(res, "read");
    co_return StoredImage{std::make_shared<const std::string>(std::move(res.body)), content_type_of_key(key)};
  }

  Task<void> remove(std::string key) override {
    auto req = request("DELETE", key, {});
    co_await http_.send(std::move(req));  // best effort
  }

 private:
  static common::OutboundOptions make_options(const S3Settings& s) {
    common::OutboundOptions o;
    o.ca_file = s.ca_file;
    o.max_connections_per_host = 64;
    return o;
  }

  common::OutboundRequest request(std::string method, const std::string& key, std::string body) {
    common::OutboundRequest r;
    r.method = std::move(method);
    // Path-style addressing works with every S3-compatible server (and AWS for dotless buckets).
    r.url = s_.endpoint + "/" + s_.bucket + "/" + s_.prefix + key;
    r.headers.emplace_back("x-amz-content-sha256", sha256_hex(body));
    r.body = std::move(body);
    r.timeout = std::chrono::milliseconds(s_.timeout_ms);
    r.connect_timeout = std::chrono::milliseconds(std::min(s_.timeout_ms, 3'000));
    r.basic_auth = std::make_pair(s_.access_key, s_.secret_key);
    r.aws_sigv4 = "aws:amz:" + s_.region + ":s3";
    return r;
  }

  static void check(const common::OutboundResponse& res, const char* what) {
    if (!res.ok()) {
      throw storage_unavailable(std::string("The image store could not be reached to ") + what +
                                " the image" + (res.timed_out ? " (timed out)." : "."));
    }
    if (res.status >= 200 && res.status < 300) {
      return;
    }
    const std::string code = s3_error_code(res.body);
    const std::string detail =
        " (HTTP " + std::to_string(res.status) + (code.empty() ? "" : ", " + code) + ").";
    if (res.status >= 500) {
      throw storage_unavailable(std::string("The image store failed to ") + what + " the image" + detail);
    }
    throw storage_failed(std::string("The image store refused to ") + what + " the image" + detail);
  }

  S3Settings s_;
  common::OutboundHttp http_;
};

std::string setting(const Config* c, const std::string& key, std::string def = {}) {
  if (c == nullptr) {
    return def;
  }
  auto v = c->get(key);
  return v && !v->empty() ? *v : def;
}

}  // namespace

ImageSettings image_settings_from(const Config* c) {
  ImageSettings out;
  if (c != nullptr) {
    out.max_bytes = static_cast<std::size_t>(c->get_int("event.image_max_bytes", 5 * 1024 * 1024, 1024,
                                                              static_cast<std::int64_t>(kMaxImageBytesCeiling)));
    out.s3.timeout_ms = static_cast<int>(c->get_int("event.s3_timeout_ms", 10'000, 100, 300'000));
  }
  out.dir = setting(c, "event.image_dir", (c != nullptr ? c->data_dir : std::string("./data")) + "/images");
  out.s3.endpoint = setting(c, "event.s3_endpoint");
  out.s3.bucket = setting(c, "event.s3_bucket");
  out.s3.region = setting(c, "event.s3_region", "us-east-1");
  out.s3.access_key = setting(c, "event.s3_access_key");
  out.s3.secret_key = setting(c, "event.s3_secret_key");
  out.s3.prefix = setting(c, "event.s3_prefix");
  out.s3.ca_file = setting(c, "event.s3_ca_file");
  out.public_base_url = setting(c, "event.image_base_url", "/api/v1/images/");
  out.backend = setting(c, "event.image_storage", out.s3.endpoint.empty() ? "local" : "s3");
  if (out.backend != "local" && out.backend != "s3") {
    throw std::invalid_argument("setting event.image_storage: must be local or s3");
  }
  if (out.backend == "s3") {
    if (out.s3.endpoint.rfind("http://", 0) != 0 && out.s3.endpoint.rfind("https://", 0) != 0) {
      throw std::invalid_argument("setting event.s3_endpoint: must be an http:// or https:// URL");
    }
    if (out.s3.bucket.empty() || out.s3.bucket.find('/') != std::string::npos) {
      throw std::invalid_argument("setting event.s3_bucket: must name a bucket");
    }
    if (out.s3.access_key.empty() || out.s3.secret_key.empty()) {
      throw std::invalid_argument("setting event.s3_access_key / event.s3_secret_key: required for S3 storage");
    }
    if (out.s3.region.find(':') != std::string::npos) {
      throw std::invalid_argument("setting event.s3_region: must not contain ':'");
    }
  }
  if (out.public_base_url.empty() || out.public_base_url.back() != '/') {
    out.public_base_url += '/';
  }
  return out;
}

std::shared_ptr<ImageStorage> make_local_image_storage(std::string dir) {
  return std::make_shared<LocalImageStorage>(std::move(dir));
}

std::shared_ptr<ImageStorage> make_s3_image_storage(S3Settings settings) {
  return std::make_shared<S3ImageStorage>(std::move(settings));
}

std::shared_ptr<ImageStorage> make_image_storage(const ImageSettings& s) {
  if (s.backend == "s3") {
    return make_s3_image_storage(s.s3);
  }
  return make_local_image_storage(s.dir);
}

}  // namespace tiketi::event
