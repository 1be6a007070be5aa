// SMTP through libcurl's easy interface. Each worker thread keeps its own easy handle so the
// connection to the server (and its TLS session) is reused between messages.
#include <curl/curl.h>

#include <cstring>
#include <mutex>

#include "services/notification/smtp/mailer.hpp"

namespace tiketi::notification {
namespace {

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t read_cb(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t room = size * nitems;
  const std::size_t left = up->data->size() - up->offset;
  const std::size_t n = std::min(room, left);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

struct Replies {
  std::string last;
  std::string first_error;  // the 4xx/5xx that failed the transfer (QUIT's 221 follows it)
};

// Server replies arrive as "header in" data.
int debug_cb(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN) {
    auto* r = static_cast<Replies*>(user);
    r->last.assign(data, size);
    while (!r->last.empty() && (r->last.back() == '\n' || r->last.back() == '\r')) {
      r->last.pop_back();
    }
    if (r->first_error.empty() && !r->last.empty() && (r->last[0] == '4' || r->last[0] == '5')) {
      r->first_error = r->last;
    }
  }
  return 0;
}

struct EasyHandle {
  CURL* h = curl_easy_init();
  ~EasyHandle() {
    if (h != nullptr) {
      curl_easy_cleanup(h);
    }
  }
};

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions o) : options_(std::move(o)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  SendResult send(const OutgoingEmail& email) override {
    thread_local EasyHandle easy;
    SendResult r;
    CURL* h = easy.h;
    if (h == nullptr) {
      r.reply = "curl_easy_init failed";
      return r;
    }
    curl_easy_reset(h);  // keeps the connection cache
    const std::string message = build_mime(email);
    Upload up{&message};
    Replies replies;
    char errbuf[CURL_ERROR_SIZE] = {0};
    const std::string from = "<" + email.from_addr + ">";
    const std::string to = "<" + email.to + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
    curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(options_.timeout_ms, 5'000L));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // needed for the debug callback; it writes nothing itself
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &replies);
    // STARTTLS: always try; require it when configured (production with SES).
    curl_easy_setopt(h, CURLOPT_USE_SSL, options_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
    if (!options_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
    }
    const CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    r.code = static_cast<int>(code);
    if (rc == CURLE_OK) {
      r.ok = true;
      r.reply = replies.last;
      return r;
    }
    // A transfer that failed before the server answered anything is not an SMTP reply.
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_GOT_NOTHING || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR) {
      if (r.code < 400) {
        r.code = 0;
      }
    }
    r.reply = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    if (!replies.first_error.empty()) {
      r.reply += " (server: " + replies.first_error + ")";
    }
    return r;
  }

  std::string describe() const override { return options_.url; }

 private:
  SmtpOptions options_;
};

}  // namespace

MailerPtr make_smtp_mailer(SmtpOptions options) { return std::make_shared<SmtpMailer>(std::move(options)); }

}  // namespace tiketi::notification
