#pragma once
// Where rendered emails go. send() blocks (libcurl's SMTP transfer or a file write), so callers run it
// on the notification worker pool, never on an I/O thread.
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace tiketi::notification {

struct OutgoingEmail {
  std::string from;       // "Tiketi <no-reply@tiketi.example>"
  std::string from_addr;  // envelope sender: no-reply@tiketi.example
  std::string to;         // envelope recipient
  std::string to_name;
  std::string subject;
  std::string text;
  std::string html;
  std::string
      message_id;  // stable per (event, recipient): a resend after a crash is recognisably the same mail
  Millis date_ms = 0;
};

struct SendResult {
  bool ok = false;
  int code = 0;       // last SMTP reply code; 0 when the server never answered (connection error)
  std::string reply;  // the server's last reply line, or the transport error
  std::string where;  // file path for the file mailer
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  virtual SendResult send(const OutgoingEmail& email) = 0;  // blocking; thread-safe
  virtual std::string describe() const = 0;                 // for logs: "smtp://host:port", "outbox:/dir"
};
using MailerPtr = std::shared_ptr<Mailer>;

// RFC 5322 message: multipart/alternative (text + HTML), UTF-8, base64 bodies, encoded-word subject.
std::string build_mime(const OutgoingEmail& email);

// How the connection to the SMTP server is protected (notification.smtp_tls).
enum class SmtpTls {
  automatic,  // "auto": STARTTLS when the server offers it (smtp://), implicit TLS for smtps://
  none,       // never TLS, even when offered (a local relay on loopback)
  starttls,   // STARTTLS required: a server that does not offer it gets nothing (SES on 587)
  tls,        // implicit TLS from the first byte (smtps://, SES on 465)
};

struct SmtpOptions {
  std::string url;       // smtp://host:port or smtps://host:port
  std::string username;  // AUTH when set (SES SMTP credentials)
  std::string password;
  SmtpTls tls = SmtpTls::automatic;
  std::string ca_file;    // PEM bundle the server certificate must chain to; "" = the system store
  std::string auth_mech;  // "" = the best one both sides support, or "PLAIN" / "LOGIN"
  long timeout_ms = 15'000;
};
MailerPtr make_smtp_mailer(SmtpOptions options);

// Parses notification.smtp_tls ("auto", "none", "starttls", "tls"); nullopt for anything else.
std::optional<SmtpTls> parse_smtp_tls(std::string_view s);
const char* to_string(SmtpTls t);

// Writes <dir>/<date>-<id>.eml (the embedded default: no mail server needed).
MailerPtr make_file_mailer(std::string dir);

std::string base64_encode(std::string_view in);

}  // namespace tiketi::notification
