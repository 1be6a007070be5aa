#pragma once
// OpenID Connect pieces that need no I/O: PKCE (S256), random state/nonce values, RSA public keys
// from JWKs, RS256 signature checks and the ID-token claim rules. OpenSSL stays in oidc.cpp.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace tiketi::auth::oidc {

// 256 random bits as base64url (43 characters): state, nonce, PKCE verifier, one-time codes.
std::string random_token();
// base64url(SHA-256(verifier)) — the PKCE S256 code challenge (RFC 7636 §4.2).
std::string pkce_challenge(std::string_view verifier);
// Hex SHA-256, for keys derived from secrets (nothing secret is stored as a key name).
std::string sha256_hex(std::string_view data);

// An RSA public key usable for RS256 verification; immutable and safe to share across threads.
class RsaPublicKey {
 public:
  ~RsaPublicKey();
  RsaPublicKey(const RsaPublicKey&) = delete;
  RsaPublicKey& operator=(const RsaPublicKey&) = delete;

  // From the base64url big-endian modulus and exponent of a JWK; nullopt when malformed, when the
  // modulus is shorter than 2048 bits or the exponent is not a small odd number.
  static std::shared_ptr<const RsaPublicKey> from_jwk(std::string_view n_b64url, std::string_view e_b64url);
  // RSASSA-PKCS1-v1_5 with SHA-256 over `data`.
  bool verify_rs256(std::string_view data, std::string_view signature) const;
  int bits() const;

 private:
  RsaPublicKey() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
using RsaPublicKeyPtr = std::shared_ptr<const RsaPublicKey>;

// kid -> key from a JWKS document ({"keys":[…]}); keys that are not RSA signature keys for RS256
// (or are malformed) are skipped. nullopt when the document itself is not a JWKS.
std::optional<std::map<std::string, RsaPublicKeyPtr>> parse_jwks(std::string_view json_text);

// A compact JWS split into its parts (no signature check).
struct ParsedJws {
  std::string alg;
  std::string kid;
  std::string signing_input;  // header.payload as sent
  std::string signature;      // raw bytes
  std::string payload_json;   // decoded payload
};
// nullopt when not three base64url parts, or the header is not a JSON object.
std::optional<ParsedJws> parse_jws(std::string_view token);

struct IdTokenExpectations {
  std::vector<std::string> issuers;  // any of these (Google issues both spellings)
  std::string client_id;             // aud must contain it; with several audiences azp must equal it
  std::string nonce;
  Millis now_ms = 0;
  std::int64_t leeway_seconds = 60;
  std::int64_t max_age_seconds = 600;  // iat may not be older than this (a code is minutes-lived)
  bool require_verified_email = true;
};

struct IdTokenClaims {
  std::string sub;
  std::string email;  // as given by the provider (normalise before use)
  bool email_verified = false;
  std::string name;
  std::string picture;
};

enum class IdTokenError {
  none,
  malformed,         // not a JWS of JSON objects
  unsupported_alg,   // anything but RS256
  unknown_kid,       // no key with that kid in the JWKS (after a refetch)
  bad_signature,     // signature does not verify with the key of that kid
  wrong_issuer,
  wrong_audience,
  expired,
  issued_in_future,  // iat after now (+ leeway)
  too_old,           // iat older than max_age
  wrong_nonce,
  missing_claims,    // sub / email / exp / iat missing or of the wrong type
  email_not_verified,
};
std::string_view id_token_error_code(IdTokenError e);     // "id_token_wrong_audience", …
std::string_view id_token_error_message(IdTokenError e);  // for logs and the API message

// Claim rules only (the signature is checked by the caller, who owns the key cache).
IdTokenError check_claims(std::string_view payload_json, const IdTokenExpectations& want, IdTokenClaims& out);

}  // namespace tiketi::auth::oidc
