#include "services/common/auth_verify.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/error.hpp"

namespace tiketi::common {
namespace {

constexpr std::size_t kMinSecretBytes = 32;

std::string derive_kid(const std::string& secret) {
  // A public, stable id for a secret: 8 bytes of its SHA-256 reveal nothing useful about it.
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, d, 8);
  return std::string(hex, 16);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Reads or creates <data_dir>/auth-jwt.key. O_EXCL makes concurrent first starts agree on one key.
std::string embedded_secret(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  const std::string path = (std::filesystem::path(data_dir) / "auth-jwt.key").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    const std::string text = std::string(hex, 64) + "\n";
    const bool ok =
        ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      throw std::runtime_error("cannot write " + path);
    }
    return std::string(hex, 64);
  }
  if (errno != EEXIST) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = trim(ss.str());
  if (secret.size() < kMinSecretBytes) {
    // Another process may be between open and write; the file is tiny, so a brief retry suffices.
    for (int i = 0; i < 50 && secret.size() < kMinSecretBytes; ++i) {
      ::usleep(2000);
      std::ifstream again(path);
      std::stringstream s2;
      s2 << again.rdbuf();
      secret = trim(s2.str());
    }
  }
  if (secret.size() < kMinSecretBytes) {
    throw std::runtime_error(path + " does not hold a valid key");
  }
  return secret;
}

}  // namespace

AuthKeys load_auth_keys(const Config& config) {
  AuthKeys keys;
  auto secret = config.get("auth.jwt_secret");
  if (!secret || secret->empty()) {
    if (!config.embedded_database()) {
      throw std::invalid_argument(
          "setting auth.jwt_secret: required when services run as separate processes (set "
          "TIKETI_AUTH__JWT_SECRET or TIKETI_AUTH__JWT_SECRET_FILE)");
    }
    secret = embedded_secret(config.data_dir);
  }
  if (secret->size() < kMinSecretBytes) {
    throw std::invalid_argument("setting auth.jwt_secret: must be at least 32 bytes");
  }
  keys.current.secret = *secret;
  keys.current.kid = config.get("auth.jwt_kid").value_or(derive_kid(*secret));
  if (auto prev = config.get("auth.jwt_secret_previous"); prev && !prev->empty()) {
    if (prev->size() < kMinSecretBytes) {
      throw std::invalid_argument("setting auth.jwt_secret_previous: must be at least 32 bytes");
    }
    keys.previous = auth::JwtKey{config.get("auth.jwt_kid_previous").value_or(derive_kid(*prev)), *prev};
    if (keys.previous->kid == keys.current.kid) {
      throw std::invalid_argument("setting auth.jwt_kid_previous: must differ from auth.jwt_kid");
    }
  }
  if (keys.current.kid.empty()) {
    throw std::invalid_argument("setting auth.jwt_kid: must not be empty");
  }
  return keys;
}

Authenticator::Authenticator(const AuthKeys& keys, ClockPtr clock)
    : codec_(keys.current, keys.previous), clock_(std::move(clock)) {}

std::shared_ptr<Authenticator> Authenticator::from_config(const Config& config, ClockPtr clock) {
  return std::make_shared<Authenticator>(load_auth_keys(config), std::move(clock));
}

std::variant<net::Principal, auth::JwtError> Authenticator::verify(std::string_view token) const {
  auto r = codec_.verify(token, clock_->now_ms());
  if (!r.ok()) {
    return r.error;
  }
  return net::Principal{std::move(r.claims.sub), std::move(r.claims.role), std::move(r.claims.jti)};
}

net::Principal Authenticator::authenticate(std::string_view token) const {
  auto v = verify(token);
  if (auto* e = std::get_if<auth::JwtError>(&v)) {
    throw errors::unauthorized(std::string(auth::jwt_error_code(*e)),
                               std::string(auth::jwt_error_message(*e)));
  }
  return std::get<net::Principal>(std::move(v));
}

std::optional<std::string> bearer_token(const net::Request& req) {
  if (auto h = req.header("authorization")) {
    std::string_view v = *h;
    constexpr std::string_view kScheme = "bearer ";
    if (v.size() > kScheme.size()) {
      bool match = true;
      for (std::size_t i = 0; i < kScheme.size(); ++i) {
        const char c = v[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != kScheme[i]) {
          match = false;
          break;
        }
      }
      if (match) {
        v.remove_prefix(kScheme.size());
        while (!v.empty() && v.front() == ' ') {
          v.remove_prefix(1);
        }
        while (!v.empty() && v.back() == ' ') {
          v.remove_suffix(1);
        }
        return std::string(v);
      }
    }
    return std::string();  // present but not a bearer token: treated as a malformed token
  }
  // Query tokens end up in URLs (and thus potentially in logs), so only the WebSocket handshake,
  // which cannot carry an Authorization header from a browser, may use one.
  if (auto up = req.header("upgrade")) {
    std::string u(*up);
    for (char& c : u) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (u == "websocket") {
      return req.query_param("access_token");
    }
  }
  return std::nullopt;
}

void authenticate_request(const Authenticator& authenticator, net::Request& req) {
  // Never trust a client-supplied copy of our internal header.
  std::erase_if(req.headers, [](const auto& kv) {
    if (kv.first.size() != kAuthErrorHeader.size()) {
      return false;
    }
    for (std::size_t i = 0; i < kv.first.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(kv.first[i])) != kAuthErrorHeader[i]) {
        return false;
      }
    }
    return true;
  });
  if (req.principal) {
    return;  // an outer layer already authenticated this request
  }
  auto token = bearer_token(req);
  if (!token) {
    return;
  }
  auto v = authenticator.verify(*token);
  if (auto* p = std::get_if<net::Principal>(&v)) {
    req.principal = std::move(*p);
  } else {
    net::set_header(req.headers, std::string(kAuthErrorHeader),
                    std::string(auth::jwt_error_code(std::get<auth::JwtError>(v))));
  }
}

net::Middleware bearer_middleware(AuthenticatorPtr authenticator) {
  return [authenticator](net::Request& req, const net::Next& next) -> Task<net::Response> {
    authenticate_request(*authenticator, req);
    co_return co_await next(req);
  };
}

const net::Principal& require_user(const net::Request& req) {
  if (req.principal) {
    return *req.principal;
  }
  if (auto code = req.header(kAuthErrorHeader)) {
    for (auto e : {auth::JwtError::malformed, auth::JwtError::unsupported_alg, auth::JwtError::unknown_kid,
                   auth::JwtError::bad_signature, auth::JwtError::expired, auth::JwtError::not_yet_valid,
                   auth::JwtError::invalid_claims}) {
      if (auth::jwt_error_code(e) == *code) {
        throw errors::unauthorized(std::string(*code), std::string(auth::jwt_error_message(e)));
      }
    }
  }
  throw errors::unauthorized("unauthorized", "Sign in to continue.");
}

const net::Principal& require_role(const net::Request& req, std::string_view role) {
  const auto& p = require_user(req);
  if (p.role != role) {
    throw errors::forbidden("This action needs the " + std::string(role) + " role.");
  }
  return p;
}

}  // namespace tiketi::common
