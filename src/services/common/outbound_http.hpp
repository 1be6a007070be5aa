#pragma once
// Outbound HTTP(S) to third parties (payment gateway, OIDC provider, S3-compatible storage), on
// libcurl. Service-to-service calls inside Tiketi use net::HttpClient (in-process dispatch, breaker);
// this client is for the outside world, where TLS, HTTP/1.1 keep-alive to one host, redirects off
// and hard timeouts are what matter.
//
// One background thread drives a curl multi handle (curl_multi_poll), so thousands of requests can
// be in flight without a thread each; the awaiting coroutine resumes on its own executor. curl stays
// out of this header.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/task.hpp"

namespace tiketi::common {

struct OutboundRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};         // whole transfer, connect included
  std::chrono::milliseconds connect_timeout{3'000};
  std::optional<std::pair<std::string, std::string>> basic_auth;  // user, password
  // AWS Signature V4 (libcurl CURLOPT_AWS_SIGV4), e.g. "aws:amz:us-east-1:s3"; uses basic_auth as
  // access key id / secret key.
  std::string aws_sigv4;
};

struct OutboundResponse {
  int status = 0;  // 0 when no HTTP answer arrived (see error)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string error;       // empty when an HTTP answer arrived (any status)
  bool timed_out = false;  // the outcome is unknown: the request may have been processed
  bool sent = false;       // true once the request was (at least partly) written to the peer

  bool ok() const { return error.empty(); }
  std::optional<std::string> header(std::string_view name) const;
};

struct OutboundOptions {
  std::string ca_file;  // extra CA bundle (PEM), e.g. a test's self-signed CA; empty = system store
  std::size_t max_connections_per_host = 256;
  std::size_t max_total_connections = 1024;
};

class OutboundHttp {
 public:
  explicit OutboundHttp(OutboundOptions options = {});
  ~OutboundHttp();  // cancels transfers still in flight (they complete with error "cancelled")
  OutboundHttp(const OutboundHttp&) = delete;
  OutboundHttp& operator=(const OutboundHttp&) = delete;

  // Never throws for transport failures: they come back in OutboundResponse::error / timed_out.
  Task<OutboundResponse> send(OutboundRequest request);

  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tiketi::common
