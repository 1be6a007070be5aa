#pragma once
// Test helpers for the net module: a raw-socket HTTP/WebSocket client (so tests control every
// byte, including malformed ones) and a way to run a coroutine to completion.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "net/http.hpp"

namespace tiketi::net::test {

// Runs a coroutine on a private io_context and returns its result (rethrows its exception).
template <class T>
T run_sync(Task<T> task) {
  boost::asio::io_context ctx;
  std::optional<T> out;
  std::exception_ptr err;
  boost::asio::co_spawn(ctx, std::move(task), [&](std::exception_ptr e, T v) {
    err = e;
    if (!e) {
      out.emplace(std::move(v));
    }
  });
  ctx.run();
  if (err) {
    std::rethrow_exception(err);
  }
  return std::move(*out);
}

inline void run_sync(Task<void> task) {
  boost::asio::io_context ctx;
  std::exception_ptr err;
  boost::asio::co_spawn(ctx, std::move(task), [&](std::exception_ptr e) { err = e; });
  ctx.run();
  if (err) {
    std::rethrow_exception(err);
  }
}

// A blocking TCP client with a receive timeout so a broken server fails the test, not hangs it.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    connect_errno_ = connected_ ? 0 : errno;
  }
  ~RawClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int connect_errno() const { return connect_errno_; }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  int fd() const { return fd_; }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  // True once the peer has closed (EOF or reset) within the timeout.
  bool wait_closed() {
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) {
        return true;
      }
      if (n < 0) {
        return errno == ECONNRESET;
      }
    }
  }

  struct HttpResponse {
    int status = 0;
    Headers headers;
    std::string body;
    std::vector<std::string> chunks;
    std::optional<std::string_view> header(std::string_view n) const { return find_header(headers, n); }
  };

  // Parses one response (Content-Length or chunked). status 0 when the connection ended first.
  HttpResponse read_response(bool head_request = false) {
    HttpResponse r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return r;
      }
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    auto line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    r.status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto e = head.find("\r\n", pos);
      if (e == std::string::npos) {
        e = head.size();
      }
      std::string line = head.substr(pos, e - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') {
          v.erase(0, 1);
        }
        r.headers.emplace_back(line.substr(0, colon), v);
      }
      pos = e + 2;
    }
    if (head_request || r.status == 204 || r.status == 304 || r.status == 101) {
      return r;
    }
    if (auto te = r.header("Transfer-Encoding"); te && *te == "chunked") {
      for (;;) {
        std::size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) {
            return r;
          }
        }
        std::size_t size = std::stoul(buf_.substr(0, le), nullptr, 16);
        while (buf_.size() < le + 2 + size + 2) {
          if (!fill()) {
            return r;
          }
        }
        std::string chunk = buf_.substr(le + 2, size);
        buf_.erase(0, le + 2 + size + 2);
        if (size == 0) {
          return r;
        }
        r.body += chunk;
        r.chunks.push_back(std::move(chunk));
      }
    }
    std::size_t len = 0;
    if (auto cl = r.header("Content-Length")) {
      len = std::stoul(std::string(*cl));
    }
    while (buf_.size() < len) {
      if (!fill()) {
        return r;
      }
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::vector<std::string>& extra_headers = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
    for (const auto& h : extra_headers) {
      req += h + "\r\n";
    }
    if (!body.empty() || method == "POST" || method == "PUT") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!send_all(req)) {
      return {};
    }
    return read_response(method == "HEAD");
  }

  // ---- WebSocket (client side: frames are masked) ----

  bool ws_handshake(const std::string& target) {
    std::string req = "GET " + target +
                      " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (!send_all(req)) {
      return false;
    }
    auto r = read_response();
    return r.status == 101;
  }

  static std::string ws_frame(std::uint8_t opcode, std::string_view payload, bool mask = true) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    std::uint8_t mbit = mask ? 0x80 : 0;
    if (payload.size() < 126) {
      f.push_back(static_cast<char>(mbit | payload.size()));
    } else if (payload.size() < 65536) {
      f.push_back(static_cast<char>(mbit | 126));
      f.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
      f.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
      f.push_back(static_cast<char>(mbit | 127));
      for (int i = 7; i >= 0; --i) {
        f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xff));
      }
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) {
      f.append(key, 4);
    }
    for (std::size_t i = 0; i < payload.size(); ++i) {
      f.push_back(mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
    }
    return f;
  }

  bool ws_send_text(std::string_view text) { return send_all(ws_frame(0x1, text)); }

  struct Frame {
    std::uint8_t opcode = 0;
    std::string payload;
  };
  // Next frame from the server (unmasked); nullopt on EOF/timeout.
  std::optional<Frame> ws_read_frame() {
    while (buf_.size() < 2) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    std::uint8_t b0 = static_cast<std::uint8_t>(buf_[0]);
    std::uint8_t b1 = static_cast<std::uint8_t>(buf_[1]);
    std::size_t hdr = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len == 126) {
      hdr = 4;
    } else if (len == 127) {
      hdr = 10;
    }
    while (buf_.size() < hdr) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    if (len == 126) {
      len = (static_cast<std::uint8_t>(buf_[2]) << 8) | static_cast<std::uint8_t>(buf_[3]);
    } else if (len == 127) {
      len = 0;
      for (int i = 0; i < 8; ++i) {
        len = (len << 8) | static_cast<std::uint8_t>(buf_[2 + i]);
      }
    }
    while (buf_.size() < hdr + len) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    Frame f{static_cast<std::uint8_t>(b0 & 0x0f), buf_.substr(hdr, len)};
    buf_.erase(0, hdr + len);
    return f;
  }

  // Next data frame, answering pings on the way.
  std::optional<std::string> ws_read_text() {
    for (;;) {
      auto f = ws_read_frame();
      if (!f) {
        return std::nullopt;
      }
      if (f->opcode == 0x9) {
        send_all(ws_frame(0xA, f->payload));
        continue;
      }
      if (f->opcode == 0x8) {
        close_code_ = f->payload.size() >= 2 ? (static_cast<std::uint8_t>(f->payload[0]) << 8) |
                                                   static_cast<std::uint8_t>(f->payload[1])
                                             : 0;
        return std::nullopt;
      }
      return f->payload;
    }
  }
  int close_code() const { return close_code_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  int close_code_ = -1;
  std::string buf_;
};

}  // namespace tiketi::net::test
