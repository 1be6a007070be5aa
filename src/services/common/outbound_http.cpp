#include "services/common/outbound_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <strings.h>

#include <cctype>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace tiketi::common {

namespace asio = boost::asio;

std::optional<std::string> OutboundResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

namespace {

// curl_global_init is not thread-safe; do it once before any handle exists.
void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  OutboundRequest req;
  OutboundResponse resp;
  std::function<void(OutboundResponse)> done;  // posts to the awaiting coroutine's executor
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string userpwd;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (headers != nullptr) {
      curl_slist_free_all(headers);
    }
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
  }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->resp.body.append(data, size * n);
  return size * n;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->resp.headers.clear();  // a new response (after 100 Continue or a proxy CONNECT)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    return size * n;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->resp.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return size * n;
}

// Errors where no byte of the request can have reached the server: safe to report "not sent".
bool before_send(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct OutboundHttp::Impl {
  OutboundOptions opts;
  CURLM* multi = nullptr;
  std::mutex mu;
  std::deque<std::unique_ptr<Transfer>> incoming;  // guarded by mu
  bool stopping = false;                           // guarded by mu
  std::atomic<std::size_t> in_flight{0};
  std::thread thread;

  explicit Impl(OutboundOptions o) : opts(std::move(o)) {
    global_init_once();
    multi = curl_multi_init();
    if (multi == nullptr) {
      throw std::runtime_error("curl_multi_init failed");
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(opts.max_connections_per_host));
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(opts.max_total_connections));
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(opts.max_total_connections));
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    thread.join();
    curl_multi_cleanup(multi);
  }

  void submit(std::unique_ptr<Transfer> t) {
    {
      std::lock_guard lock(mu);
      if (!stopping) {
        in_flight.fetch_add(1, std::memory_order_relaxed);
        incoming.push_back(std::move(t));
        t = nullptr;
      }
    }
    if (t) {
      t->resp.error = "cancelled";
      t->done(std::move(t->resp));
      return;
    }
    curl_multi_wakeup(multi);
  }

  // Returns false (and completes the transfer with an error) when curl refuses the options.
  bool setup(Transfer& t) {
    t.easy = curl_easy_init();
    if (t.easy == nullptr) {
      t.resp.error = "curl_easy_init failed";
      return false;
    }
    CURL* e = t.easy;
    const auto& r = t.req;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    if (!opts.ca_file.empty()) {
      curl_easy_setopt(e, CURLOPT_CAINFO, opts.ca_file.c_str());
    }
    if (r.method == "GET" && r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      // POSTFIELDS does not copy: the body lives in the Transfer until it completes.
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      if (r.method != "POST") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      }
    }
    // No "Expect: 100-continue" round trip; no default Content-Type a caller did not ask for.
    t.headers = curl_slist_append(t.headers, "Expect:");
    bool has_content_type = false;
    for (const auto& [k, v] : r.headers) {
      if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
        t.resp.error = "invalid header";
        return false;
      }
      has_content_type = has_content_type || (k.size() == 12 && strncasecmp(k.c_str(), "content-type", 12) == 0);
      t.headers = curl_slist_append(t.headers, (k + ": " + v).c_str());
    }
    if (!has_content_type && r.method != "GET" && r.method != "HEAD") {
      t.headers = curl_slist_append(t.headers, "Content-Type:");
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    if (r.basic_auth) {
      if (!r.aws_sigv4.empty()) {
        t.userpwd = r.basic_auth->first + ":" + r.basic_auth->second;
        curl_easy_setopt(e, CURLOPT_USERPWD, t.userpwd.c_str());
        if (curl_easy_setopt(e, CURLOPT_AWS_SIGV4, r.aws_sigv4.c_str()) != CURLE_OK) {
          t.resp.error = "libcurl without AWS SigV4 support";
          return false;
        }
      } else {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(e, CURLOPT_USERNAME, r.basic_auth->first.c_str());
        curl_easy_setopt(e, CURLOPT_PASSWORD, r.basic_auth->second.c_str());
      }
    }
    return true;
  }

  void finish(Transfer* t, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    long request_size = 0;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
    t->resp.sent = request_size > 0 || (rc != CURLE_OK && !before_send(rc));
    if (rc == CURLE_OK) {
      t->resp.status = static_cast<int>(status);
    } else {
      t->resp.status = 0;
      t->resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      t->resp.error = t->errbuf[0] != '\0' ? std::string(t->errbuf) : std::string(curl_easy_strerror(rc));
    }
  }

  void complete(std::unique_ptr<Transfer> t) {
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    auto done = std::move(t->done);
    auto resp = std::move(t->resp);
    t.reset();  // frees the easy handle on this thread, before the caller resumes
    done(std::move(resp));
  }

  void run() {
    std::vector<std::unique_ptr<Transfer>> active;  // owned here while attached to the multi
    for (;;) {
      std::deque<std::unique_ptr<Transfer>> batch;
      bool stop = false;
      {
        std::lock_guard lock(mu);
        batch.swap(incoming);
        stop = stopping;
      }
      for (auto& t : batch) {
        if (stop || !setup(*t)) {
          if (t->resp.error.empty()) {
            t->resp.error = "cancelled";
          }
          complete(std::move(t));
          continue;
        }
        curl_multi_add_handle(multi, t->easy);
        active.push_back(std::move(t));
      }
      if (stop) {
        for (auto& t : active) {
          curl_multi_remove_handle(multi, t->easy);
          t->resp.error = "cancelled";
          complete(std::move(t));
        }
        return;
      }
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) {
          continue;
        }
        CURL* easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        auto it = std::find_if(active.begin(), active.end(), [easy](const auto& t) { return t->easy == easy; });
        curl_multi_remove_handle(multi, easy);
        if (it == active.end()) {
          continue;
        }
        std::unique_ptr<Transfer> t = std::move(*it);
        *it = std::move(active.back());
        active.pop_back();
        finish(t.get(), rc);
        complete(std::move(t));
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  }
};

OutboundHttp::OutboundHttp(OutboundOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

OutboundHttp::~OutboundHttp() = default;

std::size_t OutboundHttp::in_flight() const { return impl_->in_flight.load(std::memory_order_relaxed); }

Task<OutboundResponse> OutboundHttp::send(OutboundRequest request) {
  auto t = std::make_unique<Transfer>();
  t->req = std::move(request);
  auto impl = impl_;
  auto initiation = [impl](auto handler, std::unique_ptr<Transfer> transfer) {
    auto ex = asio::get_associated_executor(handler);
    // The awaitable handler is move-only; std::function needs a copyable target.
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    transfer->done = [h, ex](OutboundResponse r) {
      asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
    };
    impl->submit(std::move(transfer));
  };
  auto resp = co_await asio::async_initiate<decltype(asio::use_awaitable), void(OutboundResponse)>(
      initiation, asio::use_awaitable, std::move(t));
  co_return resp;
}

}  // namespace tiketi::common
