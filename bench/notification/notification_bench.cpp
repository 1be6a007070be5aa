// Notification throughput and lag. A local SMTP sink that timestamps every accepted message; three
// senders measured against it in the same run:
//   1. raw SMTP      — a trivial client, one persistent connection per worker, no MIME work, no
//                      database (the ceiling of this sink on this machine);
//   2. curl mailer   — the service's libcurl mailer alone, same worker count (what SMTP costs us);
//   3. service       — the whole notification service: N `reservation.confirmed` events appended
//                      to the event stream (in-process, or Redis with --redis-url), consumed into
//                      the delivery log (SQLite, or PostgreSQL with --database-url), rendered and
//                      sent with `workers` concurrent SMTP transfers.
// Then the lag: M events published at a steady rate below capacity, and the time from the event
// being published to the SMTP server accepting its email (p50/p95/p99/max).
//
// usage: tiketi_notification_bench [--emails N] [--lag-emails M] [--rate R] [--workers W]
//                                  [--replicas R] [--database-url URL] [--redis-url URL] [--json FILE]
// --replicas R: R notification services (each its own database pool and Redis connection, one
// consumer each in the same group) sharing the stream and the delivery log, as R processes would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "app/service.hpp"
#include "coord/coordinator.hpp"
#include "coord/outbox.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "services/notification/service.hpp"
#include "services/notification/smtp/mailer.hpp"
#include "services/notification/state.hpp"
#include "store/database.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace tiketi;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- the sink -------------------------------------------------------------------------------------
// Real SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), one thread per connection, records the
// recipient and the time the 250 for DATA was sent.
class TimedSink {
 public:
  struct Accepted {
    std::string rcpt;
    std::int64_t at_us;
  };

  void start() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 256) != 0) {
      throw std::runtime_error("sink: bind/listen failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) {
          return;  // listener shut down
        }
        int nd = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
        std::lock_guard lock(mu_);
        clients_.push_back(c);
        threads_.emplace_back([this, c] { session(c); });
      }
    });
  }

  void stop() {
    if (fd_ < 0) {
      return;
    }
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
    acceptor_.join();
    std::vector<std::thread> ts;
    {
      std::lock_guard lock(mu_);
      for (int c : clients_) {
        ::shutdown(c, SHUT_RDWR);
      }
      ts.swap(threads_);
    }
    for (auto& t : ts) {
      t.join();
    }
  }

  int port() const { return port_; }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return accepted_.size();
  }
  std::vector<Accepted> take() {
    std::lock_guard lock(mu_);
    std::vector<Accepted> out;
    out.swap(accepted_);
    return out;
  }
  std::size_t connections() const {
    std::lock_guard lock(mu_);
    return clients_.size();
  }

 private:
  static void say(int c, const char* s) { (void)!::send(c, s, std::strlen(s), MSG_NOSIGNAL); }

  void session(int c) {
    say(c, "220 bench-sink ESMTP\r\n");
    std::string buf;
    std::string rcpt;
    bool in_data = false;
    char tmp[65536];
    while (true) {
      const ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) {
        break;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
      std::size_t pos = 0;
      while (true) {
        if (in_data) {
          // The body ends with CRLF.CRLF (or starts with ".\r\n" for an empty body).
          std::size_t end = std::string::npos;
          if (buf.compare(pos, 3, ".\r\n") == 0) {
            end = pos;
          } else {
            const auto e = buf.find("\r\n.\r\n", pos);
            if (e != std::string::npos) {
              end = e + 2;
            }
          }
          if (end == std::string::npos) {
            break;
          }
          pos = end + 3;
          in_data = false;
          {
            std::lock_guard lock(mu_);
            accepted_.push_back({rcpt, now_us()});
          }
          say(c, "250 2.0.0 Ok: queued\r\n");
          continue;
        }
        const auto eol = buf.find("\r\n", pos);
        if (eol == std::string::npos) {
          break;
        }
        const std::string line = buf.substr(pos, eol - pos);
        pos = eol + 2;
        std::string verb = line.substr(0, 4);
        for (auto& ch : verb) {
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        if (verb == "EHLO" || verb == "HELO") {
          say(c, "250-bench-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        } else if (verb == "MAIL") {
          rcpt.clear();
          say(c, "250 2.1.0 Ok\r\n");
        } else if (verb == "RCPT") {
          const auto a = line.find('<');
          const auto b = line.find('>');
          rcpt = a != std::string::npos && b != std::string::npos ? line.substr(a + 1, b - a - 1) : line;
          say(c, "250 2.1.5 Ok\r\n");
        } else if (verb == "DATA") {
          in_data = true;
          say(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
        } else if (verb == "QUIT") {
          say(c, "221 2.0.0 Bye\r\n");
          ::close(c);
          return;
        } else {
          say(c, "250 2.0.0 Ok\r\n");
        }
      }
      buf.erase(0, pos);
    }
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<int> clients_;
  std::vector<std::thread> threads_;
  std::vector<Accepted> accepted_;
};

// ---- baselines --------------------------------------------------------------------------------------

std::string sample_message() {
  notification::OutgoingEmail m;
  m.from = "Tiketi <no-reply@tiketi.local>";
  m.from_addr = "no-reply@tiketi.local";
  m.to = "fan@bench.example";
  m.subject = "[Tiketi] 예매 확정: IU 콘서트";
  m.text = std::string(900, 'x');
  m.html = std::string(1600, 'y');
  m.message_id = "bench@tiketi.local";
  return notification::build_mime(m);
}

// Reads one (possibly multi-line) reply; returns its code.
int read_reply(int fd, std::string& buf) {
  while (true) {
    std::size_t pos = 0;
    while (true) {
      const auto eol = buf.find("\r\n", pos);
      if (eol == std::string::npos) {
        break;
      }
      if (eol - pos >= 4 && buf[pos + 3] == ' ') {
        const int code = std::atoi(buf.substr(pos, 3).c_str());
        buf.erase(0, eol + 2);
        return code;
      }
      pos = eol + 2;
    }
    char tmp[4096];
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      return 0;
    }
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      throw std::runtime_error("raw client: send failed");
    }
    off += static_cast<std::size_t>(n);
  }
}

double raw_smtp(int port, int workers, int total) {
  const std::string body = sample_message() + "\r\n.\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int w = 0; w < workers; ++w) {
    ts.emplace_back([&, w] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int nd = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ++failures;
        ::close(fd);
        return;
      }
      std::string buf;
      read_reply(fd, buf);
      send_all(fd, "EHLO raw\r\n");
      read_reply(fd, buf);
      for (int i = w; i < total; i += workers) {
        send_all(fd, "MAIL FROM:<no-reply@tiketi.local>\r\n");
        const int a1 = read_reply(fd, buf);
        send_all(fd, "RCPT TO:<raw" + std::to_string(i) + "@bench.example>\r\n");
        const int a2 = read_reply(fd, buf);
        send_all(fd, "DATA\r\n");
        const int a3 = read_reply(fd, buf);
        send_all(fd, body);
        const int a4 = read_reply(fd, buf);
        if (a1 != 250 || a2 != 250 || a3 != 354 || a4 != 250) {
          ++failures;
        }
      }
      send_all(fd, "QUIT\r\n");
      read_reply(fd, buf);
      ::close(fd);
    });
  }
  for (auto& t : ts) {
    t.join();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (failures > 0) {
    throw std::runtime_error("raw SMTP baseline: " + std::to_string(failures.load()) + " failures");
  }
  return total / secs;
}

double curl_mailer(int port, int workers, int total) {
  notification::SmtpOptions o;
  o.url = "smtp://127.0.0.1:" + std::to_string(port);
  o.tls = notification::SmtpTls::none;
  auto mailer = notification::make_smtp_mailer(o);
  notification::OutgoingEmail m;
  m.from = "Tiketi <no-reply@tiketi.local>";
  m.from_addr = "no-reply@tiketi.local";
  m.subject = "[Tiketi] 예매 확정: IU 콘서트";
  m.text = std::string(900, 'x');
  m.html = std::string(1600, 'y');
  std::atomic<int> failures{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w) {
    ts.emplace_back([&, w, m]() mutable {
      for (int i = w; i < total; i += workers) {
        m.to = "curl" + std::to_string(i) + "@bench.example";
        m.message_id = std::to_string(i) + "@tiketi.local";
        if (!mailer->send(m).ok) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : ts) {
    t.join();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (failures > 0) {
    throw std::runtime_error("curl mailer baseline: " + std::to_string(failures.load()) + " failures");
  }
  return total / secs;
}

// ---- the service ------------------------------------------------------------------------------------

json reservation_confirmed(const std::string& user, const std::string& rid) {
  return json{{"schema_version", 1},
              {"reservation_id", rid},
              {"user_id", user},
              {"event_id", "e-bench"},
              {"amount", 330000},
              {"quantity", 2},
              {"kind", "seated"},
              {"at", 1750000000000},
              {"payment_id", "p-" + rid},
              {"items", json::array({json{{"label", "A구역 1열 12번"}, {"unit_price", 165000}, {"quantity", 1}},
                                     json{{"label", "A구역 1열 13번"}, {"unit_price", 165000}, {"quantity", 1}}})},
              {"tickets", json::array({json{{"code", "TK-" + rid + "-1"}, {"label", "A구역 1열 12번"}},
                                       json{{"code", "TK-" + rid + "-2"}, {"label", "A구역 1열 13번"}}})}};
}

struct Options {
  int emails = 2000;
  int lag_emails = 500;
  double rate = 100;  // events/s in the lag phase
  int workers = 4;   // per replica
  int replicas = 1;  // notification processes sharing the database and the stream (scaled shape)
  std::string database_url;  // "" -> SQLite in a temporary directory
  std::string redis_url;     // "" -> in-process stream
  std::string json_out;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(std::min<double>(v.size() - 1, p / 100.0 * (v.size() - 1) + 0.5));
  return v[idx];
}

class ServiceRun {
 public:
  ServiceRun(const Options& o, int sink_port) : o_(o) {
    if (o.replicas > 1 && o.database_url.empty()) {
      throw std::invalid_argument("--replicas > 1 needs --database-url and --redis-url (scaled shape)");
    }
    dir_ = fs::temp_directory_path() / ("tiketi-notification-bench-" + ids::random_hex(6));
    fs::create_directories(dir_);
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    config_.data_dir = dir_.string();
    config_.extra["notification.smtp_url"] = "smtp://127.0.0.1:" + std::to_string(sink_port);
    config_.extra["notification.smtp_tls"] = "none";
    config_.extra["notification.workers"] = std::to_string(o.workers);
    config_.extra["notification.public_url"] = "https://tiketi.example";
    const std::string schema =
        o.database_url.empty() ? "notification" : "notification_bench_" + ids::random_hex(4);
    for (int r = 0; r < o.replicas; ++r) {
      auto rep = std::make_unique<Replica>();
      run([&]() -> Task<void> {
        store::OpenOptions so;
        so.url = o.database_url.empty() ? "sqlite:" + dir_.string() : o.database_url;
        so.schema = schema;
        so.pool_size = 4;
        rep->db = co_await store::open(ioc_.get_executor(), so);
        if (r == 0) {
          co_await store::migrate(*rep->db, rep->service->migrations());
        }
        if (o.redis_url.empty()) {
          rep->coord = coord::make_memory_coordinator(ioc_.get_executor());
        } else {
          rep->coord = co_await coord::open(ioc_.get_executor(), o.redis_url);
          if (r == 0) {
            // A fresh stream per run: nothing left over from an earlier run is replayed.
            coord::Script del;
            del.name = "notification_bench_reset";
            del.lua = "redis.call('DEL', KEYS[1]) redis.call('DEL', KEYS[2]) return 1";
            std::vector<std::string> keys{coord::stream_for_topic("reservation.confirmed"),
                                          coord::stream_for_topic("event.published")};
            std::vector<std::string> args;
            co_await rep->coord->eval(del, keys, args);
          }
        }
      });
      rep->ctx.config = &config_;
      rep->ctx.db = rep->db;
      rep->ctx.coord = rep->coord;
      rep->ctx.clock = std::make_shared<SystemClock>();
      rep->ctx.metrics = &rep->metrics;
      rep->ctx.executor = ioc_.get_executor();
      rep->ctx.log = LogContext{"notification", {}, {}, {}};
      rep->ctx.instance_id = "bench-" + std::to_string(r) + "-" + ids::random_hex(3);
      Replica* raw = rep.get();
      run([&]() -> Task<void> { co_await raw->service->start(raw->ctx); });
      auto* state = notification::state_of(*rep->service);
      // Recipients: the auth lookup replaced by a map in memory (this measures the notification
      // path; in production the HTTP lookup is cached per user).
      state->recipients->set_lookup([](const std::string& id) -> Task<std::optional<notification::Recipient>> {
        const bool ko = (id.back() - '0') % 2 == 0;
        co_return notification::Recipient{id, id + "@bench.example", ko ? "김지은" : "Sam", ko ? "ko" : "en"};
      });
      replicas_.push_back(std::move(rep));
    }
    publish("event.published", json{{"schema_version", 1},
                                    {"event_id", "e-bench"},
                                    {"title", "IU 콘서트"},
                                    {"status", "on_sale"},
                                    {"performance_start", 1754042400000},
                                    {"ticket_types", json::array()},
                                    {"seats", json::array()}});
    auto* state = notification::state_of(*replicas_.front()->service);
    for (int i = 0; i < 500; ++i) {
      std::optional<notification::EventInfo> found;
      run([&]() -> Task<void> { found = co_await state->store->find_event("e-bench"); });
      if (found) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("event.published was not consumed within 5 s");
  }

  ~ServiceRun() {
    try {
      for (auto& rep : replicas_) {
        Replica* raw = rep.get();
        run([&]() -> Task<void> { co_await raw->service->stop(); });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // blocking reads end (block = 1 s)
      for (auto& rep : replicas_) {
        rep->db->close();
        rep->coord->close();
      }
    } catch (const std::exception& e) {
      std::cerr << "bench: shutdown: " << e.what() << "\n";
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  template <class F>
  void run(F f) {
    asio::co_spawn(ioc_, f(), asio::use_future).get();
  }

  // Appends one event to its stream the way the outbox relay does; returns the publish time (µs).
  std::int64_t publish(const std::string& topic, const json& payload) {
    const std::int64_t t = now_us();
    std::vector<std::pair<std::string, std::string>> fields{{"id", ids::uuid_v7(t / 1000)},
                                                            {"topic", topic},
                                                            {"key", payload.value("reservation_id", "k")},
                                                            {"payload", payload.dump()},
                                                            {"created_at", std::to_string(t / 1000)},
                                                            {"trace_id", ""}};
    auto coord = replicas_.front()->coord;
    run([&]() -> Task<void> { co_await coord->xadd(coord::stream_for_topic(topic), fields); });
    return t;
  }

 private:
  // One notification process of the scaled shape: its own database pool and Redis connection.
  struct Replica {
    store::DatabasePtr db;
    coord::CoordinatorPtr coord;
    metrics::Registry metrics;
    app::ServicePtr service = app::make_notification_service();
    app::ServiceContext ctx;
  };

  const Options& o_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::vector<std::thread> threads_;
  fs::path dir_;
  Config config_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

bool wait_for(TimedSink& sink, std::size_t n, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (sink.count() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

int main_impl(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        throw std::invalid_argument(a + " needs a value");
      }
      return argv[++i];
    };
    if (a == "--emails") o.emails = std::stoi(next());
    else if (a == "--lag-emails") o.lag_emails = std::stoi(next());
    else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--workers") o.workers = std::stoi(next());
    else if (a == "--replicas") o.replicas = std::stoi(next());
    else if (a == "--database-url") o.database_url = next();
    else if (a == "--redis-url") o.redis_url = next();
    else if (a == "--json") o.json_out = next();
    else throw std::invalid_argument("unknown argument " + a);
  }
  TimedSink sink;
  sink.start();
  json out;
  out["workers"] = o.workers;
  out["replicas"] = o.replicas;
  out["emails"] = o.emails;
  out["shape"] = std::string(o.database_url.empty() ? "sqlite" : "postgres") + "+" +
                 (o.redis_url.empty() ? "in-process stream" : "redis stream");

  // Baselines with the same number of concurrent SMTP senders as the service run.
  const int senders = o.workers * o.replicas;
  const double raw = raw_smtp(sink.port(), senders, o.emails);
  sink.take();
  const double curl = curl_mailer(sink.port(), senders, o.emails);
  sink.take();
  out["raw_smtp_per_s"] = raw;
  out["curl_mailer_per_s"] = curl;
  std::cerr << "raw SMTP client:   " << static_cast<long>(raw) << " emails/s\n";
  std::cerr << "libcurl mailer:    " << static_cast<long>(curl) << " emails/s\n";

  int bad = 0;
  {
    ServiceRun svc(o, sink.port());
    const std::size_t conns_before = sink.connections();
    // Throughput: a burst of N events.
    const std::int64_t t0 = svc.publish("reservation.confirmed", reservation_confirmed("u0", "r0"));
    for (int i = 1; i < o.emails; ++i) {
      svc.publish("reservation.confirmed", reservation_confirmed("u" + std::to_string(i), "r" + std::to_string(i)));
    }
    const std::int64_t published = now_us();
    if (!wait_for(sink, static_cast<std::size_t>(o.emails), 120)) {
      std::cerr << "bench: only " << sink.count() << " of " << o.emails << " emails arrived\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // any duplicate would show now
    auto got = sink.take();
    std::map<std::string, int> seen;
    std::int64_t last = 0;
    for (const auto& a : got) {
      ++seen[a.rcpt];
      last = std::max(last, a.at_us);
    }
    for (const auto& [rcpt, n] : seen) {
      bad += n != 1 ? 1 : 0;
    }
    bad += static_cast<int>(static_cast<int>(seen.size()) != o.emails);
    const double svc_rate = o.emails / ((last - t0) / 1e6);
    out["service_per_s"] = svc_rate;
    out["publish_ms"] = (published - t0) / 1000.0;
    out["smtp_connections"] = sink.connections() - conns_before;
    std::cerr << "service (" << out["shape"].get<std::string>() << "): " << static_cast<long>(svc_rate)
              << " emails/s (" << o.emails << " events published in " << (published - t0) / 1000 << " ms; "
              << sink.connections() - conns_before << " SMTP connections)\n";

    // Lag: M events at a steady rate.
    std::map<std::string, std::int64_t> sent_at;
    const auto period = std::chrono::duration<double>(1.0 / o.rate);
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; i < o.lag_emails; ++i) {
      const std::string user = "lag" + std::to_string(i);
      sent_at[user + "@bench.example"] = svc.publish("reservation.confirmed", reservation_confirmed(user, "l" + std::to_string(i)));
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
      std::this_thread::sleep_until(next);
    }
    if (!wait_for(sink, static_cast<std::size_t>(o.lag_emails), 60)) {
      std::cerr << "bench: only " << sink.count() << " of " << o.lag_emails << " paced emails arrived\n";
      return 1;
    }
    std::vector<double> lags;
    for (const auto& a : sink.take()) {
      auto it = sent_at.find(a.rcpt);
      if (it != sent_at.end()) {
        lags.push_back((a.at_us - it->second) / 1000.0);
      }
    }
    bad += static_cast<int>(lags.size() != static_cast<std::size_t>(o.lag_emails));
    out["lag_rate_per_s"] = o.rate;
    out["lag_emails"] = o.lag_emails;
    out["lag_ms"] = {{"p50", percentile(lags, 50)},
                     {"p95", percentile(lags, 95)},
                     {"p99", percentile(lags, 99)},
                     {"max", percentile(lags, 100)}};
    std::cerr << "lag at " << o.rate << " events/s: p50 " << percentile(lags, 50) << " ms, p99 "
              << percentile(lags, 99) << " ms, max " << percentile(lags, 100) << " ms\n";
  }
  sink.stop();
  out["duplicates_or_missing"] = bad;
  out["ratio_service_vs_raw"] = out["service_per_s"].get<double>() / raw;
  const std::string text = out.dump();
  std::cout << text << "\n";
  if (!o.json_out.empty()) {
    std::ofstream(o.json_out) << text << "\n";
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n";
    return 2;
  }
}
