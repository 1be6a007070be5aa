// Open-loop load client for bench/reservation/run.sh: POST /api/v1/reservations at a fixed rate.
// One process, one thread, epoll, no Beast.
//
//   tiketi_reservation_load --port P --event E --dir DIR [--mode seats|ga] [--ticket-type T]
//                           [--rate R] [--duration S] [--connections C] [--streams K]
//                           [--drain S] [--seed N] [--host 127.0.0.1]
//
// Keeps C keep-alive connections open and schedules request i at t0 + i / R (a constant arrival
// rate, whatever the answers do). A due request goes out on the next idle connection; when all C
// are busy it waits for one. Latency is measured from the request's *scheduled* time, not from
// when it could be sent, so a server that falls behind shows its queueing delay in the figures
// (no coordinated omission, as wrk2 does). Requests scheduled during the run that are still not
// answered `--drain` seconds after it are counted as `late` and enter the percentiles at the
// drain deadline.
//
// Seats (mode seats): each request holds 1-4 seats taken in turn from one of K random
// permutations of DIR/seats.txt (request i uses permutation i % K). K = 1 models fans picking
// from a live map: a seat is offered once until every seat was offered. K = 2 is what the wrk
// script does (one permutation per wrk thread): picks collide more and more as the map fills.
// Tokens: a random line of DIR/tokens.txt per request (pre-minted fans; the per-user limit never
// decides). GA (mode ga): one ticket of --ticket-type per order.
//
// Prints one line: RESULT ok=… conflict=… other=… errors=… late=… held=… scheduled=… sent=…
// dur_us=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=… svc_p50_us=… svc_p99_us=… span_us=…
// (span: from the first scheduled send to the last answer, at least the duration: the achieved rate
// is ok / span — a server that falls behind finishes the scheduled work late).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "hold_load: %s\n", why.c_str());
  std::exit(2);
}

double mono() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Opts {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string event, dir, mode = "seats", ticket_type;
  double rate = 3000;
  double duration = 5;
  int connections = 2000;
  int streams = 1;
  double drain = 10;
  unsigned seed = 0;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    die("cannot read " + path);
  }
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  if (out.empty()) {
    die(path + " is empty");
  }
  return out;
}

struct Conn {
  int fd = -1;
  bool connected = false;
  bool busy = false;
  std::string out;
  std::size_t out_off = 0;
  std::string in;
  double scheduled = 0;
  double sent = 0;
};

class Load {
 public:
  explicit Load(Opts o) : o_(std::move(o)), rng_(o_.seed ? o_.seed : std::random_device{}()) {
    tokens_ = read_lines(o_.dir + "/tokens.txt");
    if (o_.mode == "seats") {
      const auto seats = read_lines(o_.dir + "/seats.txt");
      for (int k = 0; k < o_.streams; ++k) {
        perms_.push_back(seats);
        std::shuffle(perms_.back().begin(), perms_.back().end(), rng_);
      }
      pos_.assign(static_cast<std::size_t>(o_.streams), 0);
    } else if (o_.mode != "ga" || o_.ticket_type.empty()) {
      die("--mode seats, or --mode ga with --ticket-type");
    }
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.host.c_str(), &addr_.sin_addr) != 1) {
      die("bad --host");
    }
    ep_ = epoll_create1(0);
  }

  int run() {
    conns_.resize(static_cast<std::size_t>(o_.connections));
    open_all();
    started_ = true;
    const double t0 = mono() + 0.05;
    t0_ = t0;
    const double end = t0 + o_.duration;
    const double deadline = end + o_.drain;
    std::uint64_t next_i = 0;
    std::vector<epoll_event> evs(1024);
    for (;;) {
      double now = mono();
      while (now < deadline) {
        const double at = t0 + static_cast<double>(next_i) / o_.rate;
        if (at > now || at >= end) {
          break;
        }
        pending_.push_back(at);
        ++next_i;
      }
      dispatch(now);
      if (now >= end && inflight_ == 0 && pending_.empty()) {
        break;
      }
      if (now >= deadline) {
        break;
      }
      double wait_s = 0.001;
      const double at = t0 + static_cast<double>(next_i) / o_.rate;
      if (at < end) {
        wait_s = std::min(wait_s, std::max(0.0, at - now));
      } else {
        wait_s = std::min(0.01, deadline - now);
      }
      const int ms = static_cast<int>(wait_s * 1000.0 + 0.999);
      const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), ms);
      if (n < 0 && errno != EINTR) {
        die(std::string("epoll_wait: ") + std::strerror(errno));
      }
      now = mono();
      for (int i = 0; i < n; ++i) {
        on_event(static_cast<std::size_t>(evs[static_cast<std::size_t>(i)].data.u64),
                 evs[static_cast<std::size_t>(i)].events, now);
      }
    }
    // What is still queued or in flight at the drain deadline: late, counted at the deadline.
    const double now = mono();
    for (double at : pending_) {
      late_ += 1;
      lat_.push_back(now - at);
      at_.push_back(at);
    }
    for (auto& c : conns_) {
      if (c.busy) {
        late_ += 1;
        lat_.push_back(now - c.scheduled);
        at_.push_back(c.scheduled);
      }
    }
    report(next_i);
    return 0;
  }

 private:
  void open_one(std::size_t i) {
    Conn& c = conns_[i];
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
    }
    c = Conn{};
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      die(std::string("socket: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
    if (rc != 0 && errno != EINPROGRESS) {
      die(std::string("connect: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  // Opens every connection (in batches, so the listen backlog never overflows) before the clock starts.
  void open_all() {
    std::vector<epoll_event> evs(1024);
    const std::size_t batch = 256;
    for (std::size_t first = 0; first < conns_.size(); first += batch) {
      const std::size_t last = std::min(conns_.size(), first + batch);
      for (std::size_t i = first; i < last; ++i) {
        open_one(i);
      }
      const double until = mono() + 10;
      while (mono() < until) {
        std::size_t up = 0;
        for (std::size_t i = first; i < last; ++i) {
          up += conns_[i].connected ? 1 : 0;
        }
        if (up == last - first) {
          break;
        }
        const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 10);
        for (int k = 0; k < n; ++k) {
          on_event(static_cast<std::size_t>(evs[static_cast<std::size_t>(k)].data.u64),
                   evs[static_cast<std::size_t>(k)].events, mono());
        }
      }
    }
    std::size_t up = 0;
    for (auto& c : conns_) {
      up += c.connected ? 1 : 0;
    }
    if (up < conns_.size()) {
      die("only " + std::to_string(up) + " of " + std::to_string(conns_.size()) + " connections opened");
    }
    idle_.clear();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      idle_.push_back(i);
    }
  }

  std::string body() {
    if (o_.mode == "ga") {
      return R"({"eventId":")" + o_.event + R"(","ticketTypeId":")" + o_.ticket_type + R"(","quantity":1})";
    }
    const std::size_t k = static_cast<std::size_t>(req_no_ % static_cast<std::uint64_t>(o_.streams));
    auto& perm = perms_[k];
    std::uniform_int_distribution<int> count(1, 4);
    const int n = count(rng_);
    std::string b = R"({"eventId":")" + o_.event + R"(","seatIds":[)";
    for (int i = 0; i < n; ++i) {
      if (pos_[k] >= perm.size()) {
        pos_[k] = 0;
      }
      b += (i > 0 ? ",\"" : "\"") + perm[pos_[k]++] + "\"";
    }
    b += "]}";
    return b;
  }

  void dispatch(double now) {
    while (!pending_.empty() && !idle_.empty()) {
      const std::size_t i = idle_.back();
      idle_.pop_back();
      Conn& c = conns_[i];
      if (!c.connected) {
        continue;  // reconnecting; it comes back to idle_ when up
      }
      const double at = pending_.front();
      pending_.pop_front();
      ++req_no_;
      std::uniform_int_distribution<std::size_t> tok(0, tokens_.size() - 1);
      const std::string b = body();
      c.out = "POST /api/v1/reservations HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
              "\r\nContent-Type: application/json\r\nAuthorization: Bearer " + tokens_[tok(rng_)] +
              "\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
      c.out_off = 0;
      c.in.clear();
      c.busy = true;
      c.scheduled = at;
      c.sent = now;
      ++inflight_;
      ++sent_;
      flush(i);
    }
  }

  void flush(std::size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      const ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w > 0) {
        c.out_off += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;  // EPOLLOUT resumes it
      }
      fail(i);
      return;
    }
  }

  // A connection broke: its request (if any) is an error; reopen it.
  void fail(std::size_t i) {
    Conn& c = conns_[i];
    if (c.busy) {
      ++errors_;
      --inflight_;
    }
    open_one(i);
  }

  void on_event(std::size_t i, std::uint32_t events, double now) {
    Conn& c = conns_[i];
    if (!c.connected) {
      if (events & (EPOLLERR | EPOLLHUP)) {
        if (started_) {
          open_one(i);
        } else {
          die("connect failed");
        }
        return;
      }
      if (events & EPOLLOUT) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          die(std::string("connect: ") + std::strerror(err));
        }
        c.connected = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
        ev.data.u64 = i;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        if (started_) {
          idle_.push_back(i);
        }
      }
      return;
    }
    if (events & EPOLLOUT) {
      flush(i);
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      char buf[16384];
      for (;;) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r > 0) {
          c.in.append(buf, static_cast<std::size_t>(r));
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
          break;
        }
        fail(i);  // closed by the server
        return;
      }
      parse(i, now);
    }
  }

  void parse(std::size_t i, double now) {
    Conn& c = conns_[i];
    if (!c.busy) {
      return;
    }
    const std::size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      return;
    }
    const std::string_view head(c.in.data(), head_end);
    int status = 0;
    if (head.size() > 12) {
      status = std::atoi(std::string(head.substr(9, 3)).c_str());
    }
    std::size_t length = 0;
    bool close_after = false;
    std::size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
      at += 2;
      const std::size_t eol = std::min(head.find("\r\n", at), head.size());
      std::string line(head.substr(at, eol - at));
      std::transform(line.begin(), line.end(), line.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (line.rfind("content-length:", 0) == 0) {
        length = static_cast<std::size_t>(std::strtoull(line.c_str() + 15, nullptr, 10));
      } else if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) {
        close_after = true;
      } else if (line.rfind("transfer-encoding:", 0) == 0) {
        die("chunked answers are not supported");
      }
    }
    if (c.in.size() < head_end + 4 + length) {
      return;
    }
    const std::string_view resp_body(c.in.data() + head_end + 4, length);
    lat_.push_back(now - c.scheduled);
    at_.push_back(c.scheduled);
    svc_.push_back(now - c.sent);
    last_done_ = std::max(last_done_, now);
    if (status == 201) {
      ++ok_;
      if (o_.mode == "seats") {
        std::size_t k = 0;
        while ((k = resp_body.find("\"seatId\"", k)) != std::string_view::npos) {
          ++held_;
          k += 8;
        }
      } else {
        ++held_;
      }
    } else if (status == 409) {
      ++conflict_;
    } else {
      ++other_;
      if (other_ <= 3) {
        std::fprintf(stderr, "hold_load: unexpected %d: %.200s\n", status, std::string(resp_body).c_str());
      }
    }
    c.busy = false;
    c.in.erase(0, head_end + 4 + length);
    --inflight_;
    if (close_after) {
      open_one(i);
      return;
    }
    idle_.push_back(i);
  }

  static double pct(std::vector<double>& v, double p) {
    if (v.empty()) {
      return 0;
    }
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }

  // p99 and max per half second of scheduled send time, on stderr: shows whether a tail is a
  // start-up effect, a stall (a checkpoint, autovacuum, another process) or spread over the run.
  void timeline() {
    std::map<long, std::vector<double>> by_window;
    for (std::size_t i = 0; i < at_.size() && i < lat_.size(); ++i) {
      by_window[static_cast<long>((at_[i] - t0_) / 0.5)].push_back(lat_[i]);
    }
    std::string line = "hold_load: timeline (p99/max ms per 0.5 s):";
    for (auto& [w, v] : by_window) {
      const double mx = *std::max_element(v.begin(), v.end());
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.1fs %.0f/%.0f", static_cast<double>(w) * 0.5, pct(v, 0.99) * 1e3,
                    mx * 1e3);
      line += buf;
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  void report(std::uint64_t scheduled) {
    timeline();  // before pct() reorders lat_
    auto us = [](double s) { return static_cast<long long>(s * 1e6); };
    const double mx = lat_.empty() ? 0 : *std::max_element(lat_.begin(), lat_.end());
    std::printf(
        "RESULT ok=%llu conflict=%llu other=%llu errors=%llu late=%llu held=%llu scheduled=%llu sent=%llu "
        "dur_us=%lld rate=%.0f p50_us=%lld p90_us=%lld p99_us=%lld p999_us=%lld max_us=%lld svc_p50_us=%lld "
        "svc_p99_us=%lld span_us=%lld\n",
        static_cast<unsigned long long>(ok_), static_cast<unsigned long long>(conflict_),
        static_cast<unsigned long long>(other_), static_cast<unsigned long long>(errors_),
        static_cast<unsigned long long>(late_), static_cast<unsigned long long>(held_),
        static_cast<unsigned long long>(scheduled), static_cast<unsigned long long>(sent_), us(o_.duration),
        o_.rate, us(pct(lat_, 0.50)), us(pct(lat_, 0.90)), us(pct(lat_, 0.99)), us(pct(lat_, 0.999)), us(mx),
        us(pct(svc_, 0.50)), us(pct(svc_, 0.99)), us(std::max(o_.duration, last_done_ - t0_)));
    std::fflush(stdout);
  }

  Opts o_;
  std::mt19937_64 rng_;
  std::vector<std::string> tokens_;
  std::vector<std::vector<std::string>> perms_;
  std::vector<std::size_t> pos_;
  sockaddr_in addr_{};
  int ep_ = -1;
  bool started_ = false;
  std::vector<Conn> conns_;
  std::vector<std::size_t> idle_;
  std::deque<double> pending_;
  std::vector<double> at_;  // scheduled send time of each lat_ entry
  std::uint64_t inflight_ = 0, sent_ = 0, req_no_ = 0;
  std::uint64_t ok_ = 0, conflict_ = 0, other_ = 0, errors_ = 0, late_ = 0, held_ = 0;
  std::vector<double> lat_, svc_;
  double t0_ = 0, last_done_ = 0;
};

int run_load(Opts o) {
  Load load(std::move(o));
  return load.run();
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        die("missing value for " + a);
      }
      return argv[++i];
    };
    if (a == "--host") {
      o.host = next();
    } else if (a == "--port") {
      o.port = std::atoi(next().c_str());
    } else if (a == "--event") {
      o.event = next();
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--mode") {
      o.mode = next();
    } else if (a == "--ticket-type") {
      o.ticket_type = next();
    } else if (a == "--rate") {
      o.rate = std::atof(next().c_str());
    } else if (a == "--duration") {
      o.duration = std::atof(next().c_str());
    } else if (a == "--connections") {
      o.connections = std::atoi(next().c_str());
    } else if (a == "--streams") {
      o.streams = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--drain") {
      o.drain = std::atof(next().c_str());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::strtoul(next().c_str(), nullptr, 10));
    } else {
      die("unknown argument " + a);
    }
  }
  if (o.port <= 0 || o.event.empty() || o.dir.empty() || o.rate <= 0 || o.duration <= 0 || o.connections <= 0) {
    die("usage: --port P --event E --dir DIR [--mode seats|ga --ticket-type T] [--rate R] [--duration S]"
        " [--connections C] [--streams K] [--drain S]");
  }
  return run_load(std::move(o));
}
