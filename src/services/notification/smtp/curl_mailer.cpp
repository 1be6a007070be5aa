// SMTP through libcurl's easy interface. Each mailer keeps a small pool of easy handles (one per
// concurrent sender), so the connection to the server — and its TLS session and AUTH — is reused
// between messages instead of being set up again for every email.
#include <curl/curl.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

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

struct EasyDeleter {
  void operator()(CURL* h) const {
    if (h != nullptr) {
      curl_easy_cleanup(h);
    }
  }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions o) : options_(std::move(o)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (starts_with(options_.url, "smtps://")) {
      if (options_.tls == SmtpTls::none || options_.tls == SmtpTls::starttls) {
        throw std::invalid_argument(std::string("an smtps:// URL always uses TLS; smtp_tls=") +
                                    to_string(options_.tls) + " contradicts it");
      }
      options_.tls = SmtpTls::tls;
    } else if (options_.tls == SmtpTls::tls && starts_with(options_.url, "smtp://")) {
      options_.url = "smtps://" + options_.url.substr(7);
    }
    if (!options_.auth_mech.empty()) {
      login_options_ = "AUTH=" + options_.auth_mech;
    }
  }

  SendResult send(const OutgoingEmail& email) override {
    SendResult r;
    Easy easy = acquire();
    CURL* h = easy.get();
    if (h == nullptr) {
      r.reply = "curl_easy_init failed";
      return r;
    }
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
    switch (options_.tls) {
      case SmtpTls::automatic:
        curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
        break;
      case SmtpTls::none:
        curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_NONE));
        break;
      case SmtpTls::starttls:
      case SmtpTls::tls:
        curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
        break;
    }
    // The peer is always verified (certificate chain and host name); only the trust anchors change.
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    if (!options_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
      if (!login_options_.empty()) {
        curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, login_options_.c_str());
      }
    }
    const CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_reset(h);  // drops per-message options; the connection stays in the handle's cache
    release(std::move(easy));
    r.code = static_cast<int>(code);
    if (rc == CURLE_OK) {
      r.ok = true;
      r.reply = replies.last;
      return r;
    }
    // Only a 4xx/5xx reply classifies a failure; anything else (no connection, timeout, TLS
    // handshake or certificate failure after "220 Ready to start TLS") is "no reply": code 0.
    if (r.code < 400) {
      r.code = 0;
    }
    r.reply = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    if (!replies.first_error.empty()) {
      r.reply += " (server: " + replies.first_error + ")";
    }
    return r;
  }

  std::string describe() const override {
    std::string d = options_.url + " tls=" + to_string(options_.tls);
    if (!options_.username.empty()) {
      d += " auth=" + (options_.auth_mech.empty() ? std::string("auto") : options_.auth_mech);
    }
    return d;
  }

 private:
  Easy acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        Easy e = std::move(idle_.back());
        idle_.pop_back();
        return e;
      }
    }
    return Easy(curl_easy_init());
  }

  void release(Easy e) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(e));
  }

  SmtpOptions options_;
  std::string login_options_;
  std::mutex mu_;
  std::vector<Easy> idle_;  // at most one per concurrent send() (the worker count)
};

}  // namespace

std::optional<SmtpTls> parse_smtp_tls(std::string_view s) {
  if (s == "auto") return SmtpTls::automatic;
  if (s == "none") return SmtpTls::none;
  if (s == "starttls") return SmtpTls::starttls;
  if (s == "tls") return SmtpTls::tls;
  return std::nullopt;
}

const char* to_string(SmtpTls t) {
  switch (t) {
    case SmtpTls::automatic:
      return "auto";
    case SmtpTls::none:
      return "none";
    case SmtpTls::starttls:
      return "starttls";
    case SmtpTls::tls:
      return "tls";
  }
  return "auto";
}

MailerPtr make_smtp_mailer(SmtpOptions options) { return std::make_shared<SmtpMailer>(std::move(options)); }

}  // namespace tiketi::notification
