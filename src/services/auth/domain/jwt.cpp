#include "services/auth/domain/jwt.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "services/auth/domain/base64url.hpp"

namespace tiketi::auth {
namespace {

using json = nlohmann::json;

constexpr std::size_t kSigBytes = 32;

// One keyed HMAC-SHA256 context, initialised once; each signature works on a cheap copy so the
// key schedule and the digest lookup are not repeated per token (the verification hot path).
class HmacKey {
 public:
  explicit HmacKey(const std::string& secret) {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac_ == nullptr) {
      throw std::runtime_error("jwt: HMAC unavailable");
    }
    ctx_ = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx_ == nullptr || EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(secret.data()),
                                        secret.size(), params) != 1) {
      cleanup();
      throw std::runtime_error("jwt: HMAC init failed");
    }
  }
  ~HmacKey() { cleanup(); }
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;

  std::string mac(std::string_view data) const {
    // Each thread keeps its own keyed context per key and re-initialises it with the same key
    // (cheap: OpenSSL keeps the padded key state), instead of duplicating one per call.
    EVP_MAC_CTX* c = thread_context();
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    const bool ok =
        EVP_MAC_init(c, nullptr, 0, nullptr) == 1 &&
        EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
        EVP_MAC_final(c, out, &len, sizeof out) == 1;
    if (!ok || len != kSigBytes) {
      throw std::runtime_error("jwt: HMAC failed");
    }
    return std::string(reinterpret_cast<const char*>(out), len);
  }

 private:
  struct ThreadCache {
    struct Entry {
      std::uint64_t id;
      EVP_MAC_CTX* ctx;
    };
    std::vector<Entry> entries;
    ~ThreadCache() {
      for (auto& e : entries) {
        EVP_MAC_CTX_free(e.ctx);
      }
    }
  };

  EVP_MAC_CTX* thread_context() const {
    thread_local ThreadCache cache;
    for (auto& e : cache.entries) {
      if (e.id == id_) {
        return e.ctx;
      }
    }
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(ctx_);
    if (c == nullptr) {
      throw std::runtime_error("jwt: HMAC dup failed");
    }
    // Bounded: keys come and go only on rotation, so a handful of stale entries at most.
    if (cache.entries.size() >= 8) {
      EVP_MAC_CTX_free(cache.entries.front().ctx);
      cache.entries.erase(cache.entries.begin());
    }
    cache.entries.push_back({id_, c});
    return c;
  }

  // Unique per key object for the thread caches (never reused, unlike an address).
  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
  }
  const std::uint64_t id_ = next_id();

  void cleanup() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
    ctx_ = nullptr;
    mac_ = nullptr;
  }
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

std::optional<json> decode_object(std::string_view part) {
  auto raw = base64url_decode(part);
  if (!raw) {
    return std::nullopt;
  }
  // No exceptions on bad input; also rejects invalid UTF-8 inside strings.
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  return j;
}

bool get_int(const json& j, const char* key, std::int64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return false;
  }
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return false;
  }
  out = it->get<std::int64_t>();
  return true;
}

bool get_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return false;
  }
  out = it->get<std::string>();
  return !out.empty();
}

}  // namespace

std::string_view jwt_error_code(JwtError e) {
  switch (e) {
    case JwtError::none:
      return "ok";
    case JwtError::malformed:
      return "token_malformed";
    case JwtError::unsupported_alg:
      return "token_unsupported_alg";
    case JwtError::unknown_kid:
      return "token_unknown_kid";
    case JwtError::bad_signature:
      return "token_bad_signature";
    case JwtError::expired:
      return "token_expired";
    case JwtError::not_yet_valid:
      return "token_not_yet_valid";
    case JwtError::invalid_claims:
      return "token_invalid";
  }
  return "token_invalid";
}

std::string_view jwt_error_message(JwtError e) {
  switch (e) {
    case JwtError::none:
      return "";
    case JwtError::malformed:
      return "The access token is malformed.";
    case JwtError::unsupported_alg:
      return "The access token uses an unsupported signing algorithm.";
    case JwtError::unknown_kid:
      return "The access token was signed with an unknown key.";
    case JwtError::bad_signature:
      return "The access token signature is invalid.";
    case JwtError::expired:
      return "The access token has expired.";
    case JwtError::not_yet_valid:
      return "The access token is not valid yet.";
    case JwtError::invalid_claims:
      return "The access token claims are invalid.";
  }
  return "The access token is invalid.";
}

struct JwtCodec::Impl {
  JwtKey current;
  std::optional<JwtKey> previous;
  HmacKey current_mac;
  std::unique_ptr<HmacKey> previous_mac;
  // The header we emit never changes per key: encode it once. A token carrying exactly this
  // header skips JSON parsing of the header (the verification hot path).
  std::string header_b64;
  std::string previous_header_b64;

  static std::string encode_header(const std::string& kid) {
    const json header = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}};
    return base64url_encode(header.dump());
  }

  Impl(JwtKey c, std::optional<JwtKey> p)
      : current(std::move(c)), previous(std::move(p)), current_mac(current.secret) {
    header_b64 = encode_header(current.kid);
    if (previous) {
      previous_mac = std::make_unique<HmacKey>(previous->secret);
      previous_header_b64 = encode_header(previous->kid);
    }
  }

  // Generic path: any header we did not produce ourselves is parsed and checked strictly.
  const HmacKey* key_for_header(std::string_view header_part, JwtError& err) const {
    if (header_part == header_b64) {
      return &current_mac;
    }
    if (previous && header_part == previous_header_b64) {
      return previous_mac.get();
    }
    auto header = decode_object(header_part);
    if (!header) {
      err = JwtError::malformed;
      return nullptr;
    }
    // The algorithm is fixed by us, never chosen by the token: anything but HS256 is refused
    // before a key is even looked at (this is what stops "alg":"none" and RS/HS confusion).
    auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
      err = JwtError::unsupported_alg;
      return nullptr;
    }
    std::string kid;
    if (!get_string(*header, "kid", kid)) {
      err = JwtError::unknown_kid;
      return nullptr;
    }
    if (kid == current.kid) {
      return &current_mac;
    }
    if (previous && kid == previous->kid) {
      return previous_mac.get();
    }
    err = JwtError::unknown_kid;
    return nullptr;
  }
};

JwtCodec::JwtCodec(JwtKey current, std::optional<JwtKey> previous) {
  if (current.kid.empty() || current.secret.empty()) {
    throw std::invalid_argument("jwt: current key needs a kid and a secret");
  }
  if (previous && (previous->kid.empty() || previous->secret.empty() || previous->kid == current.kid)) {
    throw std::invalid_argument("jwt: previous key needs its own kid and a secret");
  }
  impl_ = std::make_unique<Impl>(std::move(current), std::move(previous));
}

JwtCodec::~JwtCodec() = default;

const std::string& JwtCodec::current_kid() const { return impl_->current.kid; }

std::string JwtCodec::sign(const AccessClaims& c) const {
  json payload = {{"sub", c.sub}, {"role", c.role}, {"iat", c.iat}, {"exp", c.exp}, {"jti", c.jti}};
  if (c.nbf) {
    payload["nbf"] = *c.nbf;
  }
  std::string out = impl_->header_b64;
  out += '.';
  out += base64url_encode(payload.dump());
  const std::string sig = impl_->current_mac.mac(out);
  out += '.';
  out += base64url_encode(sig);
  return out;
}

AccessClaims JwtCodec::claims_for(std::string user_id, std::string role, const Clock& clock) const {
  AccessClaims c;
  c.sub = std::move(user_id);
  c.role = std::move(role);
  c.iat = clock.now_ms() / 1000;
  c.exp = c.iat + kAccessTokenLifetimeSeconds;
  unsigned char id[16];
  randombytes_buf(id, sizeof id);
  c.jti = base64url_encode(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
  return c;
}

VerifyResult JwtCodec::verify(std::string_view token, Millis now_ms) const {
  VerifyResult r;
  auto fail = [&r](JwtError e) {
    r.error = e;
    return r;
  };
  if (token.empty() || token.size() > kMaxTokenLength) {
    return fail(JwtError::malformed);
  }
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos) {
    return fail(JwtError::malformed);
  }
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return fail(JwtError::malformed);
  }
  JwtError header_error = JwtError::none;
  const HmacKey* key = impl_->key_for_header(token.substr(0, d1), header_error);
  if (key == nullptr) {
    return fail(header_error);
  }
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig) {
    return fail(JwtError::malformed);
  }
  const std::string expected = key->mac(token.substr(0, d2));
  if (sig->size() != expected.size() || CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0) {
    return fail(JwtError::bad_signature);
  }
  // Only a signed payload is parsed: unauthenticated JSON never reaches the claim checks.
  auto payload = decode_object(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) {
    return fail(JwtError::malformed);
  }
  AccessClaims& c = r.claims;
  if (!get_string(*payload, "sub", c.sub) || !get_string(*payload, "role", c.role) ||
      !get_string(*payload, "jti", c.jti) || !get_int(*payload, "exp", c.exp) ||
      !get_int(*payload, "iat", c.iat)) {
    return fail(JwtError::invalid_claims);
  }
  if (payload->contains("nbf")) {
    std::int64_t nbf = 0;
    if (!get_int(*payload, "nbf", nbf)) {
      return fail(JwtError::invalid_claims);
    }
    c.nbf = nbf;
  }
  const std::int64_t now_s = now_ms / 1000;
  if (now_s >= c.exp) {
    return fail(JwtError::expired);
  }
  if (c.nbf && now_s < *c.nbf) {
    return fail(JwtError::not_yet_valid);
  }
  return r;
}

}  // namespace tiketi::auth
