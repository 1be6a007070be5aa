#include <ctime>

#include "core/ids.hpp"
#include "services/notification/smtp/mailer.hpp"

namespace tiketi::notification {
namespace {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80 || c < 0x20) {
      return false;
    }
  }
  return true;
}

// RFC 2047 encoded word for non-ASCII header text.
std::string header_text(std::string_view s) {
  if (is_ascii(s)) {
    return std::string(s);
  }
  std::string out = "=?UTF-8?B?";
  out += base64_encode(s);
  out += "?=";
  return out;
}

std::string wrapped_base64(std::string_view body) {
  const std::string b = base64_encode(body);
  std::string out;
  out.reserve(b.size() + b.size() / 76 * 2 + 2);
  for (std::size_t i = 0; i < b.size(); i += 76) {
    out.append(b, i, 76);
    out.append("\r\n");
  }
  return out;
}

std::string rfc5322_date(Millis ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) {
      v |= static_cast<unsigned char>(in[i + 1]) << 8;
    }
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string build_mime(const OutgoingEmail& e) {
  const std::string boundary = "=_tiketi_" + ids::random_hex(12);
  std::string m;
  m.reserve(e.text.size() * 2 + e.html.size() * 2 + 1024);
  m += "From: " + header_text(e.from) + "\r\n";
  m += "To: ";
  if (!e.to_name.empty()) {
    m += header_text(e.to_name) + " ";
  }
  m += "<" + e.to + ">\r\n";
  m += "Subject: " + header_text(e.subject) + "\r\n";
  m += "Date: " + rfc5322_date(e.date_ms) + "\r\n";
  m += "Message-ID: <" + e.message_id + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += wrapped_base64(e.text);
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += wrapped_base64(e.html);
  m += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace tiketi::notification
