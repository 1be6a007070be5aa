// Waiting-room load client for bench/queue/run.sh: one process, one thread, epoll, no Beast.
//
//   queue_load mint --secret S --kid K --sub USER [--role user|admin] [--ttl-s 3600]
//       prints an HS256 access token the way the auth service signs them (bench only).
//   queue_load run --ports P1,P2,… --event E --secret S --kid K [options]
//       joins --count users (ids <prefix><first+i>) over --join-conns keep-alive HTTP connections,
//       then opens one WebSocket per user on GET /api/v1/events/E/queue/ws, spreading sockets over
//       the ports and over source addresses 127.0.0.<src-lo..src-hi> (bound before connect, with
//       IP_BIND_ADDRESS_NO_PORT, so one process is never short of ephemeral ports);
//       writes --ready-file when every socket has its first status, waits for --go-file, records
//       for --hold-s seconds the delivery lag of every tick (receive time − the tick's "ts"),
//       then waits up to --admit-wait-s for every user's "admitted" message;
//       writes a JSON summary to --out and one line per user to --records:
//       "user seq sessionExpiresAt admitted_count" (seq from the join answer, 0 = none).
//
// Everything it measures comes from what the server sent; nothing is assumed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "queue_load: %s\n", why.c_str());
  std::exit(2);
}

// --- tokens ------------------------------------------------------------------------------------

std::string b64url(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
  }
  return out;
}

std::string mint(const std::string& secret, const std::string& kid, const std::string& sub, const std::string& role,
                 std::int64_t ttl_s) {
  const std::int64_t now = now_ms() / 1000;
  const std::string header = b64url(R"({"alg":"HS256","typ":"JWT","kid":")" + kid + "\"}");
  const std::string payload = b64url("{\"sub\":\"" + sub + "\",\"role\":\"" + role + "\",\"iat\":" +
                                     std::to_string(now) + ",\"exp\":" + std::to_string(now + ttl_s) +
                                     ",\"jti\":\"bench-" + sub + "\"}");
  const std::string signing = header + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &len);
  return signing + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

// --- tiny JSON field readers (the server's JSON is compact: "key":value) -------------------------

bool find_int(std::string_view s, std::string_view key, std::int64_t& out) {
  std::string pat = "\"" + std::string(key) + "\":";
  auto p = s.find(pat);
  if (p == std::string_view::npos) {
    return false;
  }
  p += pat.size();
  bool neg = false;
  if (p < s.size() && s[p] == '-') {
    neg = true;
    ++p;
  }
  if (p >= s.size() || s[p] < '0' || s[p] > '9') {
    return false;
  }
  std::int64_t v = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
    v = v * 10 + (s[p] - '0');
    ++p;
  }
  out = neg ? -v : v;
  return true;
}

std::string_view msg_type(std::string_view s) {
  static constexpr std::string_view pat = "\"type\":\"";
  auto p = s.find(pat);
  if (p == std::string_view::npos) {
    return {};
  }
  p += pat.size();
  auto e = s.find('"', p);
  return e == std::string_view::npos ? std::string_view{} : s.substr(p, e - p);
}

// --- options -----------------------------------------------------------------------------------

struct Options {
  std::vector<int> ports;
  std::string event;
  std::string secret;
  std::string kid;
  std::string prefix = "bench-u";
  long first = 0;
  long count = 100;
  int src_lo = 2;
  int src_hi = 9;
  int join_conns = 0;
  bool ws = true;
  int batch = 400;  // connects + handshakes in flight
  double hold_s = 5;
  double admit_wait_s = 0;
  double heartbeat_s = 20;
  double connect_timeout_s = 120;
  std::string joined_file;  // written after the joins; the WebSockets wait for ws_go_file
  std::string ws_go_file;
  std::string ready_file;
  std::string go_file;
  std::string out;
  std::string records;
};

// --- connections -------------------------------------------------------------------------------

enum class Kind : std::uint8_t { http_join, ws };
enum class Phase : std::uint8_t { connecting, handshake, open, closed };

struct Conn {
  int fd = -1;
  Kind kind = Kind::ws;
  Phase phase = Phase::connecting;
  long user = -1;  // index into users (ws: fixed; http: the one being joined)
  int port = 0;
  std::string in;   // unparsed bytes
  std::string out;  // unsent bytes
  std::string frag; // fragmented message being assembled
  std::int64_t next_heartbeat = 0;
};

struct User {
  std::int64_t seq = 0;
  std::int64_t status_at = 0;  // first status/admitted message on the socket
  std::int64_t admitted_exp = 0;
  std::uint16_t admitted = 0;
  std::uint32_t ticks_in_window = 0;
  bool join_ok = false;
};

struct Stats {
  long join_ok = 0, join_new = 0, join_err = 0, join_status_other = 0;
  std::int64_t join_start = 0, join_end = 0;
  long ws_101 = 0, ws_fail = 0, ws_closed = 0, ws_errors_msg = 0, reconnects = 0;
  std::int64_t ws_start = 0, ws_ready = 0;
  std::int64_t hold_start = 0, hold_end = 0;
  long ticks = 0;
  std::vector<std::uint32_t> lag_hist = std::vector<std::uint32_t>(60'001, 0);  // 1 ms buckets, hold window
  std::vector<std::uint32_t> lag_hist2 = std::vector<std::uint32_t>(60'001, 0);  // while waiting for admission
  std::map<std::string, long> close_reasons;
  long bad_frames = 0;
};

class Client {
 public:
  explicit Client(Options o) : o_(std::move(o)) {
    ep_ = epoll_create1(0);
    if (ep_ < 0) {
      die("epoll_create1");
    }
    users_.resize(static_cast<std::size_t>(o_.count));
    tokens_.reserve(static_cast<std::size_t>(o_.count));
    for (long i = 0; i < o_.count; ++i) {
      tokens_.push_back(mint(o_.secret, o_.kid, user_id(i), "user", 6 * 3600));
    }
  }

  int run() {
    if (o_.join_conns > 0) {
      join_phase();
    }
    if (o_.ws) {
      ws_phase();
    }
    write_results();
    return 0;
  }

 private:
  std::string user_id(long i) const { return o_.prefix + std::to_string(o_.first + i); }

  // A non-blocking socket bound to the next source address, connecting to 127.0.0.1:port.
  int open_socket(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    const int span = o_.src_hi - o_.src_lo + 1;
    src.sin_addr.s_addr = htonl((127u << 24) | static_cast<unsigned>(o_.src_lo + (next_src_++ % span)));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      close(fd);
      return -1;
    }
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<std::uint16_t>(port));
    dst.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
      close(fd);
      return -1;
    }
    return fd;
  }

  Conn* add_conn(Kind kind, long user, int port) {
    int fd = open_socket(port);
    if (fd < 0) {
      return nullptr;
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->kind = kind;
    c->user = user;
    c->port = port;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.ptr = c.get();
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    Conn* raw = c.get();
    if (static_cast<std::size_t>(fd) >= by_fd_.size()) {
      by_fd_.resize(static_cast<std::size_t>(fd) + 1024);
    }
    by_fd_[static_cast<std::size_t>(fd)] = std::move(c);
    return raw;
  }

  void drop(Conn* c) {
    if (c->fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
      close(c->fd);
      const auto fd = static_cast<std::size_t>(c->fd);
      c->fd = -1;
      c->phase = Phase::closed;
      dead_.push_back(std::move(by_fd_[fd]));
    }
  }

  void want_write(Conn* c, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  bool flush(Conn* c) {
    while (!c->out.empty()) {
      ssize_t n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          want_write(c, true);
          return true;
        }
        return false;
      }
      c->out.erase(0, static_cast<std::size_t>(n));
    }
    want_write(c, false);
    return true;
  }

  // --- join phase: POST /api/v1/events/E/queue over keep-alive connections ---------------------

  void send_join(Conn* c) {
    if (!retry_.empty()) {
      c->user = retry_.back();
      retry_.pop_back();
    } else {
      c->user = next_join_++;
    }
    c->out = "POST /api/v1/events/" + o_.event + "/queue HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
             tokens_[static_cast<std::size_t>(c->user)] + "\r\nContent-Length: 0\r\n\r\n";
    c->phase = Phase::open;
  }

  // Parses complete responses in c->in; true to keep the connection.
  bool on_http(Conn* c) {
    while (true) {
      auto he = c->in.find("\r\n\r\n");
      if (he == std::string::npos) {
        return true;
      }
      std::int64_t status = 0;
      if (c->in.size() > 12) {
        status = std::atoll(c->in.c_str() + 9);
      }
      std::size_t clen = 0;
      {
        std::string head = c->in.substr(0, he);
        std::transform(head.begin(), head.end(), head.begin(), [](unsigned char ch) { return std::tolower(ch); });
        auto p = head.find("content-length:");
        if (p != std::string::npos) {
          clen = static_cast<std::size_t>(std::atoll(head.c_str() + p + 15));
        }
      }
      if (c->in.size() < he + 4 + clen) {
        return true;
      }
      std::string_view body(c->in.data() + he + 4, clen);
      User& u = users_[static_cast<std::size_t>(c->user)];
      if (status == 200 || status == 201) {
        ++stats_.join_ok;
        if (status == 201) {
          ++stats_.join_new;
        }
        std::int64_t seq = 0;
        if (find_int(body, "seq", seq)) {
          u.seq = seq;
        }
        u.join_ok = true;
      } else {
        ++stats_.join_status_other;
        if (stats_.join_status_other <= 5) {
          std::fprintf(stderr, "queue_load: join answered %lld: %.*s\n", static_cast<long long>(status),
                       static_cast<int>(std::min<std::size_t>(body.size(), 300)), body.data());
        }
      }
      ++joins_done_;
      c->in.erase(0, he + 4 + clen);
      c->user = -1;
      if (next_join_ < o_.count || !retry_.empty()) {
        send_join(c);
        if (!flush(c)) {
          return false;
        }
      } else {
        return false;  // this connection is done
      }
    }
  }

  void join_phase() {
    stats_.join_start = now_ms();
    const int conns = static_cast<int>(std::min<long>(o_.join_conns, o_.count));
    for (int i = 0; i < conns; ++i) {
      Conn* c = add_conn(Kind::http_join, -1, o_.ports[static_cast<std::size_t>(i) % o_.ports.size()]);
      if (c == nullptr) {
        die("cannot open a join connection");
      }
      send_join(c);
      c->phase = Phase::connecting;
    }
    const std::int64_t deadline = now_ms() + static_cast<std::int64_t>(o_.connect_timeout_s * 1000) + o_.count;
    while (joins_done_ < o_.count && now_ms() < deadline) {
      poll(50);
      if (open_http_ == 0 && (next_join_ < o_.count || !retry_.empty())) {
        // Every connection died (server closed them): open new ones for the rest.
        for (int i = 0; i < conns && (next_join_ < o_.count || !retry_.empty()); ++i) {
          Conn* c = add_conn(Kind::http_join, -1, o_.ports[static_cast<std::size_t>(i) % o_.ports.size()]);
          if (c != nullptr) {
            send_join(c);
            c->phase = Phase::connecting;
            ++stats_.reconnects;
          }
        }
      }
    }
    stats_.join_end = now_ms();
    stats_.join_err = o_.count - stats_.join_ok;
    for (auto& c : by_fd_) {
      if (c && c->kind == Kind::http_join) {
        drop(c.get());
      }
    }
    dead_.clear();
  }

  // --- WebSocket phase -------------------------------------------------------------------------

  void start_ws(long user) {
    Conn* c = add_conn(Kind::ws, user, o_.ports[static_cast<std::size_t>(user) % o_.ports.size()]);
    if (c == nullptr) {
      ++stats_.ws_fail;
      return;
    }
    c->out = "GET /api/v1/events/" + o_.event + "/queue/ws?access_token=" + tokens_[static_cast<std::size_t>(user)] +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    ++in_flight_;
  }

  void send_frame(Conn* c, std::uint8_t opcode, std::string_view payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>((payload.size() >> 8) & 0xff);
      f += static_cast<char>(payload.size() & 0xff);
    }
    f.append(4, '\0');  // mask key 0: XOR leaves the payload as is (the mask bit is what RFC 6455 requires)
    f.append(payload);
    c->out += f;
    if (!flush(c)) {
      close_ws(c, "send failed");
    }
  }

  void close_ws(Conn* c, const std::string& why) {
    if (c->phase == Phase::closed) {
      return;
    }
    if (c->phase != Phase::open) {
      ++stats_.ws_fail;
      --in_flight_;
    } else {
      ++stats_.ws_closed;
    }
    ++stats_.close_reasons[why];
    drop(c);
  }

  void on_message(Conn* c, std::string_view m) {
    User& u = users_[static_cast<std::size_t>(c->user)];
    const std::int64_t now = now_ms();
    auto type = msg_type(m);
    if (type == "tick") {
      ++stats_.ticks;
      std::int64_t ts = 0;
      if (recording_ != 0 && find_int(m, "ts", ts)) {
        const std::int64_t lag = std::clamp<std::int64_t>(now - ts, 0, 60'000);
        if (recording_ == 1) {
          ++stats_.lag_hist[static_cast<std::size_t>(lag)];
          ++u.ticks_in_window;
        } else {
          ++stats_.lag_hist2[static_cast<std::size_t>(lag)];
        }
      }
    } else if (type == "status" || type == "admitted") {
      if (u.status_at == 0) {
        u.status_at = now;
        ++ready_;
      }
      std::int64_t seq = 0;
      if (u.seq == 0 && find_int(m, "seq", seq)) {
        u.seq = seq;
      }
      if (type == "admitted") {
        std::int64_t exp = 0;
        find_int(m, "sessionExpiresAt", exp);
        if (u.admitted == 0 || u.admitted_exp != exp) {
          // A status answer to a heartbeat repeats "admitted" with the same session: not a new admission.
          ++u.admitted;
          if (u.admitted == 1) {
            ++admitted_;
          }
          u.admitted_exp = exp;
        }
      }
    } else if (type == "error") {
      ++stats_.ws_errors_msg;
      if (stats_.ws_errors_msg <= 5) {
        std::fprintf(stderr, "queue_load: error message: %.*s\n", static_cast<int>(std::min<std::size_t>(m.size(), 300)),
                     m.data());
      }
    }
  }

  // Parses frames in c->in.
  void on_ws_bytes(Conn* c) {
    std::size_t p = 0;
    const std::string& b = c->in;
    while (c->phase == Phase::open) {
      if (b.size() - p < 2) {
        break;
      }
      const auto b0 = static_cast<std::uint8_t>(b[p]);
      const auto b1 = static_cast<std::uint8_t>(b[p + 1]);
      std::size_t hl = 2;
      std::uint64_t len = b1 & 0x7f;
      if (len == 126) {
        if (b.size() - p < 4) {
          break;
        }
        len = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(b[p + 2])) << 8) | static_cast<std::uint8_t>(b[p + 3]);
        hl = 4;
      } else if (len == 127) {
        if (b.size() - p < 10) {
          break;
        }
        len = 0;
        for (int i = 0; i < 8; ++i) {
          len = (len << 8) | static_cast<std::uint8_t>(b[p + 2 + static_cast<std::size_t>(i)]);
        }
        hl = 10;
      }
      if (b1 & 0x80) {
        ++stats_.bad_frames;  // a server must not mask
        close_ws(c, "masked frame from server");
        return;
      }
      if (b.size() - p < hl + len) {
        break;
      }
      std::string_view payload(b.data() + p + hl, static_cast<std::size_t>(len));
      const std::uint8_t op = b0 & 0x0f;
      const bool fin = (b0 & 0x80) != 0;
      if (op == 0x9) {
        send_frame(c, 0xA, payload);  // pong
      } else if (op == 0x8) {
        std::string why = "server close";
        if (payload.size() >= 2) {
          why += " " + std::to_string((static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]));
        }
        close_ws(c, why);
        return;
      } else if (op == 0x1 || op == 0x2 || op == 0x0) {
        if (!fin || !c->frag.empty()) {
          c->frag.append(payload);
          if (fin) {
            std::string whole;
            whole.swap(c->frag);
            on_message(c, whole);
          }
        } else {
          on_message(c, payload);
        }
      }
      p += hl + static_cast<std::size_t>(len);
    }
    if (c->phase == Phase::open) {
      c->in.erase(0, p);
      if (c->in.capacity() > 4096 && c->in.size() < 1024) {
        c->in.shrink_to_fit();  // keep idle connections small
      }
    }
  }

  void on_ws_readable(Conn* c) {
    if (c->phase == Phase::handshake || c->phase == Phase::connecting) {
      auto he = c->in.find("\r\n\r\n");
      if (he == std::string::npos) {
        return;
      }
      if (c->in.compare(0, 12, "HTTP/1.1 101") != 0) {
        if (stats_.ws_fail < 5) {
          std::fprintf(stderr, "queue_load: upgrade refused: %.200s\n", c->in.c_str());
        }
        close_ws(c, "upgrade refused");
        return;
      }
      ++stats_.ws_101;
      --in_flight_;
      c->phase = Phase::open;
      c->in.erase(0, he + 4);
      c->next_heartbeat = now_ms() + static_cast<std::int64_t>(o_.heartbeat_s * 1000 * (0.2 + 0.8 * (c->user % 997) / 997.0));
    }
    on_ws_bytes(c);
  }

  void poll(int timeout_ms) {
    epoll_event evs[512];
    int n = epoll_wait(ep_, evs, 512, timeout_ms);
    static char buf[65536];
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(evs[i].data.ptr);
      if (c->phase == Phase::closed) {
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        if (c->phase == Phase::connecting) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            if (c->kind == Kind::ws) {
              close_ws(c, std::string("connect: ") + std::strerror(err));
            } else {
              if (c->user >= 0) {
                retry_.push_back(c->user);
              }
              drop(c);
            }
            continue;
          }
          c->phase = c->kind == Kind::ws ? Phase::handshake : Phase::open;
          if (c->kind == Kind::http_join) {
            ++open_http_;
          }
        }
        if (!flush(c)) {
          if (c->kind == Kind::ws) {
            close_ws(c, "write failed");
          } else {
            --open_http_;
            drop(c);
          }
          continue;
        }
      }
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        bool closed = false;
        while (true) {
          ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
          if (r > 0) {
            c->in.append(buf, static_cast<std::size_t>(r));
            if (r < static_cast<ssize_t>(sizeof buf)) {
              break;
            }
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            closed = true;
          }
          break;
        }
        if (c->kind == Kind::http_join) {
          if (!on_http(c) || closed) {
            if (c->phase != Phase::closed) {
              --open_http_;
              if (closed && c->user >= 0) {
                retry_.push_back(c->user);  // not answered: another connection sends it again
                ++stats_.reconnects;
              }
              drop(c);
            }
          }
        } else {
          if (!c->in.empty()) {
            on_ws_readable(c);
          }
          if (closed && c->phase != Phase::closed) {
            close_ws(c, "peer closed");
          }
        }
      }
    }
    dead_.clear();
  }

  void heartbeats() {
    const std::int64_t now = now_ms();
    if (o_.heartbeat_s <= 0 || now - last_hb_scan_ < 250) {
      return;
    }
    last_hb_scan_ = now;
    for (auto& c : by_fd_) {
      if (c && c->kind == Kind::ws && c->phase == Phase::open && c->next_heartbeat <= now) {
        c->next_heartbeat = now + static_cast<std::int64_t>(o_.heartbeat_s * 1000);
        send_frame(c.get(), 0x1, R"({"type":"heartbeat"})");
      }
    }
    dead_.clear();
  }

  static bool exists(const std::string& path) {
    struct stat st {};
    return !path.empty() && ::stat(path.c_str(), &st) == 0;
  }

  long open_ws() const {
    long n = 0;
    for (const auto& c : by_fd_) {
      n += (c && c->kind == Kind::ws && c->phase == Phase::open) ? 1 : 0;
    }
    return n;
  }

  void ws_phase() {
    if (!o_.joined_file.empty()) {
      std::ofstream(o_.joined_file) << stats_.join_ok << "\n";
    }
    if (!o_.ws_go_file.empty()) {
      const std::int64_t wait_until = now_ms() + 600'000;
      while (!exists(o_.ws_go_file) && now_ms() < wait_until) {
        usleep(20'000);
      }
    }
    stats_.ws_start = now_ms();
    long next = 0;
    const std::int64_t deadline = now_ms() + static_cast<std::int64_t>(o_.connect_timeout_s * 1000);
    while ((next < o_.count || in_flight_ > 0 || ready_ < stats_.ws_101) && now_ms() < deadline) {
      while (next < o_.count && in_flight_ < o_.batch) {
        start_ws(next++);
      }
      poll(20);
      heartbeats();
    }
    stats_.ws_ready = now_ms();
    std::fprintf(stderr, "queue_load: %ld/%ld WebSockets open with a status in %.1f s (%ld failed)\n", ready_,
                 o_.count, static_cast<double>(stats_.ws_ready - stats_.ws_start) / 1000.0, stats_.ws_fail);
    if (!o_.ready_file.empty()) {
      std::ofstream(o_.ready_file) << ready_ << "\n";
    }
    if (!o_.go_file.empty()) {
      const std::int64_t wait_until = now_ms() + 600'000;
      while (!exists(o_.go_file) && now_ms() < wait_until) {
        poll(20);
        heartbeats();
      }
    }
    recording_ = 1;
    stats_.hold_start = now_ms();
    const auto hold_until = stats_.hold_start + static_cast<std::int64_t>(o_.hold_s * 1000);
    while (now_ms() < hold_until) {
      poll(20);
      heartbeats();
    }
    stats_.hold_end = now_ms();
    recording_ = 2;
    if (o_.admit_wait_s > 0) {
      const auto until = now_ms() + static_cast<std::int64_t>(o_.admit_wait_s * 1000);
      while (admitted_ < ready_ && now_ms() < until) {
        poll(20);
        heartbeats();
      }
    }
    recording_ = 0;
    open_at_end_ = open_ws();
  }

  void write_results() {
    // Percentiles of the lag histogram.
    auto sum = [](const std::vector<std::uint32_t>& h) {
      std::uint64_t t = 0;
      for (auto v : h) {
        t += v;
      }
      return t;
    };
    const std::uint64_t total = sum(stats_.lag_hist);
    auto pct_of = [&](const std::vector<std::uint32_t>& h, double q) -> long {
      const std::uint64_t n = sum(h);
      if (n == 0) {
        return -1;
      }
      const auto want = std::min<std::uint64_t>(n - 1, static_cast<std::uint64_t>(q * static_cast<double>(n)));
      std::uint64_t acc = 0;
      for (std::size_t i = 0; i < h.size(); ++i) {
        acc += h[i];
        if (acc > want) {
          return static_cast<long>(i);
        }
      }
      return static_cast<long>(h.size() - 1);
    };
    auto pct = [&](double q) { return pct_of(stats_.lag_hist, q); };
    long no_tick = 0, dup_admitted = 0, with_status = 0;
    for (const auto& u : users_) {
      if (u.status_at != 0) {
        ++with_status;
        if (u.ticks_in_window == 0) {
          ++no_tick;
        }
      }
      if (u.admitted > 1) {
        ++dup_admitted;
      }
    }
    std::string j = "{";
    auto kv = [&](const std::string& k, long long v) { j += "\"" + k + "\":" + std::to_string(v) + ","; };
    kv("count", o_.count);
    kv("join_ok", stats_.join_ok);
    kv("join_new", stats_.join_new);
    kv("join_failed", stats_.join_err);
    kv("join_start_ms", stats_.join_start);
    kv("join_end_ms", stats_.join_end);
    kv("ws_upgraded", stats_.ws_101);
    kv("ws_failed", stats_.ws_fail);
    kv("ws_with_status", with_status);
    kv("ws_closed_during_run", stats_.ws_closed);
    kv("ws_open_at_end", open_at_end_);
    kv("ws_start_ms", stats_.ws_start);
    kv("ws_ready_ms", stats_.ws_ready);
    kv("hold_start_ms", stats_.hold_start);
    kv("hold_end_ms", stats_.hold_end);
    kv("ticks_received", stats_.ticks);
    kv("ticks_in_window", static_cast<long long>(total));
    kv("conns_without_tick_in_window", no_tick);
    kv("lag_p50_ms", pct(0.50));
    kv("lag_p99_ms", pct(0.99));
    kv("lag_max_ms", pct(1.0));
    kv("admission_ticks", static_cast<long long>(sum(stats_.lag_hist2)));
    kv("admission_lag_p99_ms", pct_of(stats_.lag_hist2, 0.99));
    kv("admitted", admitted_);
    kv("admitted_twice", dup_admitted);
    kv("error_messages", stats_.ws_errors_msg);
    kv("bad_frames", stats_.bad_frames);
    j += "\"lag_hist\":{";
    bool first = true;
    for (std::size_t i = 0; i < stats_.lag_hist.size(); ++i) {
      if (stats_.lag_hist[i] != 0) {
        j += (first ? "\"" : ",\"") + std::to_string(i) + "\":" + std::to_string(stats_.lag_hist[i]);
        first = false;
      }
    }
    j += "},\"lag_hist2\":{";
    first = true;
    for (std::size_t i = 0; i < stats_.lag_hist2.size(); ++i) {
      if (stats_.lag_hist2[i] != 0) {
        j += (first ? "\"" : ",\"") + std::to_string(i) + "\":" + std::to_string(stats_.lag_hist2[i]);
        first = false;
      }
    }
    j += "},\"close_reasons\":{";
    first = true;
    for (const auto& [k, v] : stats_.close_reasons) {
      j += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
      first = false;
    }
    j += "}}";
    if (o_.out.empty()) {
      std::printf("%s\n", j.c_str());
    } else {
      std::ofstream(o_.out) << j << "\n";
    }
    if (!o_.records.empty()) {
      std::ofstream r(o_.records);
      for (long i = 0; i < o_.count; ++i) {
        const auto& u = users_[static_cast<std::size_t>(i)];
        r << user_id(i) << ' ' << u.seq << ' ' << u.admitted_exp << ' ' << u.admitted << '\n';
      }
    }
  }

  Options o_;
  int ep_ = -1;
  std::vector<std::unique_ptr<Conn>> by_fd_;
  std::vector<std::unique_ptr<Conn>> dead_;
  std::vector<User> users_;
  std::vector<std::string> tokens_;
  Stats stats_;
  unsigned next_src_ = 0;
  long next_join_ = 0;
  long joins_done_ = 0;
  long open_http_ = 0;
  std::vector<long> retry_;
  long in_flight_ = 0;
  long ready_ = 0;
  long admitted_ = 0;
  long open_at_end_ = 0;
  int recording_ = 0;  // 1 hold window, 2 admission window
  std::int64_t last_hb_scan_ = 0;
};

std::vector<int> parse_ports(const std::string& s) {
  std::vector<int> out;
  std::size_t p = 0;
  while (p < s.size()) {
    auto e = s.find(',', p);
    if (e == std::string::npos) {
      e = s.size();
    }
    out.push_back(std::atoi(s.substr(p, e - p).c_str()));
    p = e + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: queue_load mint|run [options] (see the comment at the top of queue_load.cpp)\n");
    return 2;
  }
  const std::string cmd = argv[1];
  std::map<std::string, std::string> a;
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) {
      die("unexpected argument " + k);
    }
    k = k.substr(2);
    if (k == "no-ws") {
      a[k] = "1";
      continue;
    }
    if (i + 1 >= argc) {
      die("--" + k + " needs a value");
    }
    a[k] = argv[++i];
  }
  auto get = [&](const std::string& k, const std::string& d = {}) {
    auto it = a.find(k);
    return it == a.end() ? d : it->second;
  };
  if (cmd == "mint") {
    std::printf("%s\n", mint(get("secret"), get("kid"), get("sub"), get("role", "user"),
                             std::atoll(get("ttl-s", "3600").c_str()))
                            .c_str());
    return 0;
  }
  if (cmd != "run") {
    die("unknown command " + cmd);
  }
  Options o;
  o.ports = parse_ports(get("ports"));
  o.event = get("event");
  o.secret = get("secret");
  o.kid = get("kid");
  o.prefix = get("prefix", o.prefix);
  o.first = std::atol(get("first", "0").c_str());
  o.count = std::atol(get("count", "100").c_str());
  o.src_lo = std::atoi(get("src-lo", "2").c_str());
  o.src_hi = std::atoi(get("src-hi", "9").c_str());
  o.join_conns = std::atoi(get("join-conns", "0").c_str());
  o.ws = a.count("no-ws") == 0;
  o.batch = std::atoi(get("batch", "400").c_str());
  o.hold_s = std::atof(get("hold-s", "5").c_str());
  o.admit_wait_s = std::atof(get("admit-wait-s", "0").c_str());
  o.heartbeat_s = std::atof(get("heartbeat-s", "20").c_str());
  o.connect_timeout_s = std::atof(get("connect-timeout-s", "120").c_str());
  o.joined_file = get("joined-file");
  o.ws_go_file = get("ws-go-file");
  o.ready_file = get("ready-file");
  o.go_file = get("go-file");
  o.out = get("out");
  o.records = get("records");
  if (o.ports.empty() || o.event.empty() || o.secret.empty() || o.kid.empty() || o.count <= 0) {
    die("run needs --ports, --event, --secret, --kid and --count > 0");
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (static_cast<rlim_t>(o.count + o.join_conns + 64) > rl.rlim_cur) {
    die("--count " + std::to_string(o.count) + " needs more open files than the limit " + std::to_string(rl.rlim_cur) +
        "; run several processes");
  }
  Client c(std::move(o));
  return c.run();
}
