#include "services/auth/domain/oidc.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "services/auth/domain/base64url.hpp"

namespace tiketi::auth::oidc {
namespace {

using json = nlohmann::json;

std::string sha256_raw(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// JWK members are unpadded base64url; tolerate trailing '=' some providers emit.
std::optional<std::string> decode_b64url_lenient(std::string_view s) {
  while (!s.empty() && s.back() == '=') {
    s.remove_suffix(1);
  }
  return base64url_decode(s);
}

std::optional<std::string> string_claim(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<std::int64_t> time_claim(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number()) {
    return std::nullopt;
  }
  if (it->is_number_float()) {
    return static_cast<std::int64_t>(it->get<double>());
  }
  return it->get<std::int64_t>();
}

}  // namespace

std::string random_token() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  auto out = base64url_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  sodium_memzero(raw, sizeof raw);
  return out;
}

std::string pkce_challenge(std::string_view verifier) { return base64url_encode(sha256_raw(verifier)); }

std::string sha256_hex(std::string_view data) {
  const auto raw = sha256_raw(data);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

// ---- RSA -----------------------------------------------------------------------------------------

struct RsaPublicKey::Impl {
  EVP_PKEY* pkey = nullptr;
  ~Impl() { EVP_PKEY_free(pkey); }
};

RsaPublicKey::~RsaPublicKey() = default;

std::shared_ptr<const RsaPublicKey> RsaPublicKey::from_jwk(std::string_view n_b64url, std::string_view e_b64url) {
  auto n = decode_b64url_lenient(n_b64url);
  auto e = decode_b64url_lenient(e_b64url);
  if (!n || !e || n->empty() || e->empty() || n->size() > 2048 || e->size() > 8) {
    return nullptr;
  }
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  EVP_PKEY* pkey = nullptr;
  const bool sane = bn_n != nullptr && bn_e != nullptr && BN_num_bits(bn_n) >= 2048 && BN_is_odd(bn_e) &&
                    BN_num_bits(bn_e) >= 2 && BN_num_bits(bn_e) <= 33;
  if (sane && bld != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      EVP_PKEY_free(pkey);
      pkey = nullptr;
    }
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  if (pkey == nullptr) {
    return nullptr;
  }
  std::shared_ptr<RsaPublicKey> key(new RsaPublicKey());
  key->impl_ = std::make_unique<Impl>();
  key->impl_->pkey = pkey;
  return key;
}

bool RsaPublicKey::verify_rs256(std::string_view data, std::string_view signature) const {
  if (signature.empty() || signature.size() > 1024) {
    return false;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) {
    return false;
  }
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  bool ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, impl_->pkey) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

int RsaPublicKey::bits() const { return EVP_PKEY_get_bits(impl_->pkey); }

std::optional<std::map<std::string, RsaPublicKeyPtr>> parse_jwks(std::string_view json_text) {
  auto doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return std::nullopt;
  }
  std::map<std::string, RsaPublicKeyPtr> out;
  for (const auto& k : doc["keys"]) {
    if (!k.is_object()) {
      continue;
    }
    auto kty = string_claim(k, "kty");
    auto kid = string_claim(k, "kid");
    auto n = string_claim(k, "n");
    auto e = string_claim(k, "e");
    auto use = string_claim(k, "use");
    auto alg = string_claim(k, "alg");
    if (!kty || *kty != "RSA" || !kid || kid->empty() || kid->size() > 256 || !n || !e) {
      continue;
    }
    if ((use && *use != "sig") || (alg && *alg != "RS256")) {
      continue;
    }
    if (auto key = RsaPublicKey::from_jwk(*n, *e)) {
      out[*kid] = std::move(key);
    }
  }
  return out;
}

std::optional<ParsedJws> parse_jws(std::string_view token) {
  if (token.size() > 16 * 1024) {
    return std::nullopt;
  }
  const auto d1 = token.find('.');
  const auto d2 = token.rfind('.');
  if (d1 == std::string_view::npos || d1 == d2 || token.find('.', d1 + 1) != d2) {
    return std::nullopt;
  }
  auto header_raw = base64url_decode(token.substr(0, d1));
  auto payload_raw = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!header_raw || !payload_raw || !sig) {
    return std::nullopt;
  }
  auto header = json::parse(*header_raw, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return std::nullopt;
  }
  ParsedJws out;
  out.alg = string_claim(header, "alg").value_or("");
  out.kid = string_claim(header, "kid").value_or("");
  out.signing_input = std::string(token.substr(0, d2));
  out.signature = std::move(*sig);
  out.payload_json = std::move(*payload_raw);
  return out;
}

std::string_view id_token_error_code(IdTokenError e) {
  switch (e) {
    case IdTokenError::none:
      return "ok";
    case IdTokenError::malformed:
      return "id_token_malformed";
    case IdTokenError::unsupported_alg:
      return "id_token_unsupported_alg";
    case IdTokenError::unknown_kid:
      return "id_token_unknown_kid";
    case IdTokenError::bad_signature:
      return "id_token_bad_signature";
    case IdTokenError::wrong_issuer:
      return "id_token_wrong_issuer";
    case IdTokenError::wrong_audience:
      return "id_token_wrong_audience";
    case IdTokenError::expired:
      return "id_token_expired";
    case IdTokenError::issued_in_future:
      return "id_token_not_yet_valid";
    case IdTokenError::too_old:
      return "id_token_too_old";
    case IdTokenError::wrong_nonce:
      return "id_token_wrong_nonce";
    case IdTokenError::missing_claims:
      return "id_token_invalid";
    case IdTokenError::email_not_verified:
      return "email_not_verified";
  }
  return "id_token_invalid";
}

std::string_view id_token_error_message(IdTokenError e) {
  switch (e) {
    case IdTokenError::none:
      return "ok";
    case IdTokenError::malformed:
      return "The identity provider returned a malformed ID token.";
    case IdTokenError::unsupported_alg:
      return "The ID token is not signed with RS256.";
    case IdTokenError::unknown_kid:
      return "The ID token is signed with a key the identity provider does not publish.";
    case IdTokenError::bad_signature:
      return "The ID token signature is not valid.";
    case IdTokenError::wrong_issuer:
      return "The ID token was issued by an unexpected issuer.";
    case IdTokenError::wrong_audience:
      return "The ID token was issued for another client.";
    case IdTokenError::expired:
      return "The ID token has expired.";
    case IdTokenError::issued_in_future:
      return "The ID token is not valid yet.";
    case IdTokenError::too_old:
      return "The ID token is too old.";
    case IdTokenError::wrong_nonce:
      return "The ID token does not belong to this sign-in attempt.";
    case IdTokenError::missing_claims:
      return "The ID token lacks required claims.";
    case IdTokenError::email_not_verified:
      return "The Google account's email address is not verified.";
  }
  return "The ID token is not valid.";
}

IdTokenError check_claims(std::string_view payload_json, const IdTokenExpectations& want, IdTokenClaims& out) {
  auto c = json::parse(payload_json, nullptr, false);
  if (c.is_discarded() || !c.is_object()) {
    return IdTokenError::malformed;
  }
  auto iss = string_claim(c, "iss");
  if (!iss || std::find(want.issuers.begin(), want.issuers.end(), *iss) == want.issuers.end()) {
    return IdTokenError::wrong_issuer;
  }
  // aud: a string or an array; with several audiences the authorized party must be us.
  bool aud_ok = false;
  if (auto it = c.find("aud"); it != c.end()) {
    if (it->is_string()) {
      aud_ok = it->get<std::string>() == want.client_id;
    } else if (it->is_array()) {
      for (const auto& a : *it) {
        aud_ok = aud_ok || (a.is_string() && a.get<std::string>() == want.client_id);
      }
      if (aud_ok && it->size() > 1) {
        auto azp = string_claim(c, "azp");
        aud_ok = azp && *azp == want.client_id;
      }
    }
  }
  if (!aud_ok) {
    return IdTokenError::wrong_audience;
  }
  if (auto azp = string_claim(c, "azp"); azp && *azp != want.client_id) {
    return IdTokenError::wrong_audience;
  }
  auto exp = time_claim(c, "exp");
  auto iat = time_claim(c, "iat");
  auto sub = string_claim(c, "sub");
  if (!exp || !iat || !sub || sub->empty() || sub->size() > 255) {
    return IdTokenError::missing_claims;
  }
  const std::int64_t now = want.now_ms / 1000;
  if (*exp + want.leeway_seconds <= now) {
    return IdTokenError::expired;
  }
  if (*iat > now + want.leeway_seconds) {
    return IdTokenError::issued_in_future;
  }
  if (*iat < now - want.max_age_seconds - want.leeway_seconds) {
    return IdTokenError::too_old;
  }
  auto nonce = string_claim(c, "nonce");
  if (!nonce || nonce->size() != want.nonce.size() || want.nonce.empty() ||
      sodium_memcmp(nonce->data(), want.nonce.data(), want.nonce.size()) != 0) {
    return IdTokenError::wrong_nonce;
  }
  auto email = string_claim(c, "email");
  if (!email || email->empty()) {
    return IdTokenError::missing_claims;
  }
  bool verified = false;
  if (auto it = c.find("email_verified"); it != c.end()) {
    // Google sends a boolean; some providers send the string "true".
    verified = (it->is_boolean() && it->get<bool>()) || (it->is_string() && it->get<std::string>() == "true");
  }
  if (want.require_verified_email && !verified) {
    return IdTokenError::email_not_verified;
  }
  out.sub = std::move(*sub);
  out.email = std::move(*email);
  out.email_verified = verified;
  out.name = string_claim(c, "name").value_or("");
  out.picture = string_claim(c, "picture").value_or("");
  return IdTokenError::none;
}

}  // namespace tiketi::auth::oidc
