#pragma once
// A small SMTP server for tests that speaks real SMTP over TCP on 127.0.0.1 (EHLO, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT), records every accepted message, can refuse chosen recipients (a 550 by default,
// or any reply, e.g. a 451 greylisting), and can be stopped and restarted on the same port to play
// "the mail server is down".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tiketi::notification::testing {

struct SinkMessage {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string data;
};

class SmtpSink {
 public:
  SmtpSink() = default;
  ~SmtpSink() { stop(); }

  // Binds 127.0.0.1:port (0 = any free port) and serves until stop().
  void start(int port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0) {
      throw std::runtime_error(std::string("smtp sink bind: ") + std::strerror(errno));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    stopping_ = false;
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  // Closes the listener and every open session: clients see connection refused / resets.
  void stop() {
    if (!acceptor_.joinable()) {
      return;
    }
    stopping_ = true;
    acceptor_.join();
    ::close(fd_);
    std::vector<std::thread> sessions;
    {
      std::lock_guard lock(mu_);
      sessions.swap(sessions_);
    }
    for (auto& t : sessions) {
      t.join();
    }
  }

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // RCPT TO:<addr> gets `reply` (the whole reply line) until reset_rejections().
  void reject_recipient(const std::string& addr, std::string reply = {}) {
    if (reply.empty()) {
      reply = "550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown";
    }
    std::lock_guard lock(mu_);
    rejected_[addr] = std::move(reply);
  }
  void reset_rejections() {
    std::lock_guard lock(mu_);
    rejected_.clear();
  }
  std::vector<SinkMessage> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        continue;
      }
      std::lock_guard lock(mu_);
      sessions_.emplace_back([this, c] { session(c); });
    }
  }

  static void say(int c, const std::string& line) {
    const std::string out = line + "\r\n";
    (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  // Returns false when the peer is gone or the sink is stopping.
  bool read_line(int c, std::string& buf, std::string& line) {
    while (true) {
      auto pos = buf.find("\r\n");
      if (pos != std::string::npos) {
        line = buf.substr(0, pos);
        buf.erase(0, pos + 2);
        return true;
      }
      pollfd p{c, POLLIN, 0};
      const int r = ::poll(&p, 1, 20);
      if (stopping_) {
        return false;
      }
      if (r <= 0) {
        continue;
      }
      char tmp[4096];
      const ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) {
        return false;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }

  static std::string angle(const std::string& s) {
    auto a = s.find('<');
    auto b = s.find('>');
    return a != std::string::npos && b != std::string::npos && b > a ? s.substr(a + 1, b - a - 1) : s;
  }

  void session(int c) {
    std::string buf, line;
    SinkMessage msg;
    say(c, "220 tiketi-test-sink ESMTP");
    while (read_line(c, buf, line)) {
      std::string verb = line.substr(0, 4);
      for (auto& ch : verb) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      if (verb == "EHLO" || verb == "HELO") {
        say(c, "250-tiketi-test-sink");
        say(c, "250 8BITMIME");
      } else if (verb == "MAIL") {
        msg = SinkMessage{};
        msg.mail_from = angle(line);
        say(c, "250 2.1.0 Ok");
      } else if (verb == "RCPT") {
        const std::string to = angle(line);
        std::string reject;
        {
          std::lock_guard lock(mu_);
          if (auto it = rejected_.find(to); it != rejected_.end()) {
            reject = it->second;
          }
        }
        if (!reject.empty()) {
          say(c, reject);
        } else {
          msg.rcpt_to.push_back(to);
          say(c, "250 2.1.5 Ok");
        }
      } else if (verb == "DATA") {
        say(c, "354 End data with <CR><LF>.<CR><LF>");
        std::string data;
        bool ended = false;
        while (read_line(c, buf, line)) {
          if (line == ".") {
            ended = true;
            break;
          }
          data += (line.rfind("..", 0) == 0 ? line.substr(1) : line) + "\r\n";  // undo dot-stuffing
        }
        if (!ended) {
          break;
        }
        msg.data = std::move(data);
        {
          std::lock_guard lock(mu_);
          messages_.push_back(msg);
        }
        say(c, "250 2.0.0 Ok: queued");
      } else if (verb == "RSET" || verb == "NOOP") {
        say(c, "250 2.0.0 Ok");
      } else if (verb == "QUIT") {
        say(c, "221 2.0.0 Bye");
        break;
      } else {
        say(c, "502 5.5.2 Error: command not recognized");
      }
    }
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> sessions_;
  std::map<std::string, std::string> rejected_;  // recipient -> reply line
  std::vector<SinkMessage> messages_;
};

// Decodes base64 (ignores CR/LF).
inline std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  unsigned acc = 0;
  for (char c : in) {
    const int v = val(c);
    if (v < 0) {
      continue;
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The decoded parts of a message built by build_mime: subject, text and HTML bodies.
struct DecodedMail {
  std::string subject, text, html, message_id;
};
inline DecodedMail decode_mail(const std::string& data) {
  DecodedMail d;
  auto header = [&](const std::string& name) -> std::string {
    auto p = data.find("\r\n" + name + ": ");
    if (p == std::string::npos && data.rfind(name + ": ", 0) == 0) {
      p = 0;
    } else if (p != std::string::npos) {
      p += 2;
    } else {
      return "";
    }
    p += name.size() + 2;
    return data.substr(p, data.find("\r\n", p) - p);
  };
  d.subject = header("Subject");
  if (d.subject.rfind("=?UTF-8?B?", 0) == 0) {
    d.subject = base64_decode(d.subject.substr(10, d.subject.size() - 12));
  }
  d.message_id = header("Message-ID");
  auto part = [&](const std::string& type) {
    auto p = data.find("Content-Type: " + type);
    if (p == std::string::npos) {
      return std::string();
    }
    p = data.find("\r\n\r\n", p) + 4;
    auto e = data.find("\r\n--", p);
    return base64_decode(data.substr(p, e - p));
  };
  d.text = part("text/plain");
  d.html = part("text/html");
  return d;
}

}  // namespace tiketi::notification::testing
