#include "services/queue/live.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/error.hpp"
#include "net/http.hpp"
#include "services/queue/admission.hpp"
#include "services/queue/handlers/handlers.hpp"

namespace tiketi::queue {

namespace asio = boost::asio;
using nlohmann::json;
using Message = net::WebSocket::Message;

namespace {

constexpr std::size_t kSseQueueLimit = 32;    // a slow SSE reader loses old ticks, never grows memory
constexpr Millis kMinHeartbeatGapMs = 5'000;  // heartbeats faster than this are not sent to Redis
constexpr int kMaxBadFrames = 20;             // then the socket is closed (policy violation)
constexpr auto kSseHeartbeat = std::chrono::seconds(20);

// Sockets handed the shared tick per step of a fan-out (see Fanout).
constexpr std::size_t kFanoutSlice = 512;

Message text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// One shared tick to every socket of a room, a slice at a time. Every send starts a write in the
// HTTP layer (a coroutine and a Beast write operation, ~1 KB while it runs): handing 16,000
// sockets their message in one loop puts all of those in memory at once, and that high-water mark
// stays in the process's RSS (the heap does not shrink back). Posting the next slice after the
// previous one keeps about one slice of writes in flight; the total work and the order are the
// same, and other work (reads, Redis replies) runs between slices.
struct Fanout : std::enable_shared_from_this<Fanout> {
  std::vector<std::weak_ptr<net::WebSocket>> targets;
  Message message;
  Executor executor;
  std::size_t next = 0;

  void step() {
    const std::size_t end = std::min(next + kFanoutSlice, targets.size());
    for (; next < end; ++next) {
      if (auto ws = targets[next].lock()) {
        ws->send(message);
      }
    }
    if (next < targets.size()) {
      asio::post(executor, [self = shared_from_this()] { self->step(); });
    }
  }
};

std::string error_json(std::string_view code, std::string_view message) {
  return json{{"type", "error"}, {"code", code}, {"message", message}}.dump();
}

// An SSE client: messages queue here and the stream coroutine is woken through its timer.
struct SseListener : std::enable_shared_from_this<SseListener> {
  std::mutex mutex;
  std::deque<Message> queue;
  asio::steady_timer timer;
  explicit SseListener(Executor ex) : timer(std::move(ex)) {}

  void push(Message m) {
    {
      std::lock_guard lock(mutex);
      if (queue.size() >= kSseQueueLimit) {
        queue.pop_front();
      }
      queue.push_back(std::move(m));
    }
    // The cancel runs on the stream's own executor, between its steps: no lost wake-up.
    asio::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
  }
};

}  // namespace

struct Live::Impl : std::enable_shared_from_this<Live::Impl> {
  struct Room {
    std::string event;
    std::string topic;
    coord::SubscriptionPtr subscription;
    std::mutex mutex;
    std::unordered_multimap<std::string, std::weak_ptr<net::WebSocket>> sockets;  // user -> socket
    // Sockets of users this replica told they are admitted: they get no more position broadcasts
    // (an admitted fan has nothing to wait for; while admission runs, this removes a growing share
    // of every tick's sends). A heartbeat that finds the user waiting again moves the socket back.
    std::unordered_multimap<std::string, std::weak_ptr<net::WebSocket>> admitted;
    std::unordered_multimap<std::string, std::weak_ptr<SseListener>> streams;     // user -> SSE
    // Coalescing (queue.broadcast_ms): admissions counted since the last shared broadcast.
    Millis last_broadcast = std::numeric_limits<Millis>::min() / 2;  // the first tick always goes out
    std::int64_t pending_count = 0;
    bool pending_reshuffled = false;
  };

  explicit Impl(State& s) : state(s) {}

  struct Socket;
  Task<std::unique_ptr<Socket>> open_socket(net::Request& req, net::WebSocketPtr ws);

  State& state;
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<Room>> rooms;
  bool stopped = false;

  // The room of an event, subscribing to its channel the first time.
  Task<std::shared_ptr<Room>> room(std::string event) {
    std::shared_ptr<Room> r;
    {
      std::lock_guard lock(mutex);
      auto& slot = rooms[event];
      if (slot) {
        co_return slot;
      }
      slot = std::make_shared<Room>();
      slot->event = event;
      slot->topic = channel_for(event);
      r = slot;
    }
    std::weak_ptr<Impl> weak = shared_from_this();
    // Named, not a temporary in the co_await operand: g++ 12 may destroy such a temporary twice.
    std::function<void(const std::string&)> on_message = [weak, event](const std::string& m) {
      if (auto self = weak.lock()) {
        self->on_tick(event, m);
      }
    };
    std::string channel = channel_for(event);
    auto sub = co_await state.ctx.coord->subscribe(std::move(channel), std::move(on_message));
    std::lock_guard lock(r->mutex);
    r->subscription = std::move(sub);
    co_return r;
  }

  std::shared_ptr<Room> find_room(const std::string& event) {
    std::lock_guard lock(mutex);
    auto it = rooms.find(event);
    return it == rooms.end() ? nullptr : it->second;
  }

  void on_tick(const std::string& event, const std::string& message) {
    auto r = find_room(event);
    if (!r) {
      return;
    }
    auto j = json::parse(message, nullptr, false);
    if (!j.is_object() || j.value("type", "") != "tick") {
      return;
    }
    const Millis now = state.ctx.clock->now_ms();
    const Millis ts = j.value("ts", Millis{0});
    if (ts > 0 && state.metrics.broadcast_lag != nullptr) {
      state.metrics.broadcast_lag->observe(static_cast<double>(std::max<Millis>(0, now - ts)) / 1000.0);
    }
    // One shared buffer for every local socket: the tick without the admitted list.
    json shared = j;
    shared.erase("admitted");
    shared.erase("exp");
    // At most one shared broadcast per queue.broadcast_ms per room: a tick in between only adds
    // its count (and reshuffle flag) to the next one, so every socket costs one write per period
    // however fast the leader ticks. Personal "admitted" messages below are never delayed.
    bool send_shared = true;
    if (const Millis every = state.settings.broadcast_ms; every > 0) {
      std::lock_guard lock(r->mutex);
      const bool reshuffled = shared.value("reshuffled", false);
      r->pending_count += shared.value("count", std::int64_t{0});
      r->pending_reshuffled = r->pending_reshuffled || reshuffled;
      // A tenth of the period early still counts: ticks arrive with jitter, and a tick 2 ms short
      // of the period must not hold the push back for a whole extra period.
      if (now - r->last_broadcast >= every - every / 10 || reshuffled) {
        shared["count"] = r->pending_count;
        shared["reshuffled"] = r->pending_reshuffled;
        r->pending_count = 0;
        r->pending_reshuffled = false;
        r->last_broadcast = now;
      } else {
        send_shared = false;
      }
    }
    Message broadcast;
    if (send_shared) {
      broadcast = text(shared.dump());
      // The room's own registry is the fan-out list (no second per-socket entry in net::Hub).
      auto fan = std::make_shared<Fanout>();
      fan->message = broadcast;
      {
        std::lock_guard lock(r->mutex);
        fan->targets.reserve(r->sockets.size());
        for (const auto& [user, weak] : r->sockets) {
          fan->targets.push_back(weak);
        }
      }
      for (const auto& weak : fan->targets) {
        if (auto ws = weak.lock()) {
          fan->executor = ws->executor();
          break;
        }
      }
      if (fan->executor) {
        fan->step();
      }
    }
    std::vector<std::pair<std::string, std::vector<std::shared_ptr<net::WebSocket>>>> admitted_ws;
    std::vector<std::pair<std::string, std::vector<std::shared_ptr<SseListener>>>> admitted_sse;
    std::vector<std::shared_ptr<SseListener>> all_sse;
    {
      std::lock_guard lock(r->mutex);
      for (auto& [user, weak] : r->streams) {
        if (auto l = weak.lock()) {
          all_sse.push_back(std::move(l));
        }
      }
      if (auto it = j.find("admitted"); it != j.end() && it->is_array()) {
        for (const auto& pair : *it) {
          if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string()) {
            continue;
          }
          const auto user = pair[0].get<std::string>();
          std::vector<std::shared_ptr<net::WebSocket>> socks;
          auto [b, e] = r->sockets.equal_range(user);
          for (auto i = b; i != e; ++i) {
            if (auto ws = i->second.lock()) {
              socks.push_back(std::move(ws));
              r->admitted.emplace(user, i->second);
            }
          }
          r->sockets.erase(b, e);
          // Sockets already moved (a repeated admission) still get the personal message.
          for (auto [ab, ae] = r->admitted.equal_range(user); ab != ae && socks.empty(); ++ab) {
            if (auto ws = ab->second.lock()) {
              socks.push_back(std::move(ws));
            }
          }
          if (!socks.empty()) {
            admitted_ws.emplace_back(user, std::move(socks));
          }
          std::vector<std::shared_ptr<SseListener>> ls;
          for (auto [b, e] = r->streams.equal_range(user); b != e; ++b) {
            if (auto l = b->second.lock()) {
              ls.push_back(std::move(l));
            }
          }
          if (!ls.empty()) {
            admitted_sse.emplace_back(user, std::move(ls));
          }
        }
      }
    }
    if (send_shared) {
      for (auto& l : all_sse) {
        l->push(broadcast);
      }
    }
    if (admitted_ws.empty() && admitted_sse.empty()) {
      return;
    }
    // Personal messages only for the users this tick admitted who are connected here.
    auto qs = QueueSettings{};
    qs.event_id = event;
    Standing st;
    st.place = Place::admitted;
    st.session_expires_at = j.value("exp", now + qs.session_ms);
    for (auto& [user, socks] : admitted_ws) {
      auto body = handlers::standing_json(state, qs, user, st, now);
      body["type"] = "admitted";
      auto m = text(body.dump());
      for (auto& ws : socks) {
        ws->send(m);
      }
    }
    for (auto& [user, ls] : admitted_sse) {
      auto body = handlers::standing_json(state, qs, user, st, now);
      body["type"] = "admitted";
      auto m = text(body.dump());
      for (auto& l : ls) {
        l->push(m);
      }
    }
  }

  // The exact standing as a message; also a heartbeat for a waiting user.
  // `admitted` (optional) is set to whether the user is admitted now.
  Task<std::string> status_message(std::string event, std::string user, bool* admitted = nullptr) {
    const Millis now = state.ctx.clock->now_ms();
    auto qs = co_await state.line->settings(event);
    if (!qs) {
      co_return error_json("not_found", "Event not found.");
    }
    auto st = co_await state.line->status(event, user, now);
    json body;
    if (st.place == Place::absent) {
      body = qs->closed(now) ? handlers::closed_json(event) : json{{"eventId", event}, {"state", "none"}};
    } else {
      body = handlers::standing_json(state, *qs, user, st, now);
    }
    body["type"] = st.place == Place::admitted ? "admitted" : "status";
    if (admitted != nullptr) {
      *admitted = st.place == Place::admitted;
    }
    co_return body.dump();
  }
};

Live::Live(State& state) : impl_(std::make_shared<Impl>(state)) {}
Live::~Live() { stop(); }

void Live::stop() {
  std::lock_guard lock(impl_->mutex);
  impl_->stopped = true;
  for (auto& [event, r] : impl_->rooms) {
    std::lock_guard rl(r->mutex);
    r->subscription.reset();
  }
}

void Live::on_tick_message(const std::string& event, const std::string& message) {
  impl_->on_tick(event, message);
}

// What one live socket keeps while it waits, in one small allocation: the per-socket state that
// used to live in serve_websocket's coroutine frame (g++ keeps every local and every co_await
// temporary of a coroutine for its whole life, ~1.1 KB per idle socket). No per-socket timer: the
// client heartbeats, and abandoned places are swept once per replica by the admission loop.
// The destructor leaves the room however the socket ends (also when a Redis error throws).
struct Live::Impl::Socket {
  std::shared_ptr<Impl> impl;
  std::shared_ptr<Room> room;
  net::WebSocket* ws = nullptr;  // the socket outlives this (the handler's frame holds it)
  std::string user;
  Millis last_heartbeat = 0;
  int bad_frames = 0;

  Socket() = default;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (!room) {
      return;
    }
    State& s = impl->state;
    if (s.metrics.live_ws != nullptr) {
      s.metrics.live_ws->add(-1);
    }
    std::lock_guard lock(room->mutex);
    erase_from(room->sockets) || erase_from(room->admitted);
  }

  // Removes this socket's entry from one of the room's maps; true when it was there.
  bool erase_from(std::unordered_multimap<std::string, std::weak_ptr<net::WebSocket>>& map) const {
    for (auto [b, e] = map.equal_range(user); b != e; ++b) {
      if (b->second.lock().get() == ws) {
        map.erase(b);
        return true;
      }
    }
    return false;
  }

  // After a status answer: a socket of a user who waits (again) belongs in the broadcast list, one
  // of an admitted user does not. Called on the socket's own coroutine, under the room's lock.
  void place_in_room(bool admitted_now) {
    if (!room) {
      return;
    }
    std::lock_guard lock(room->mutex);
    auto& from = admitted_now ? room->sockets : room->admitted;
    auto& to = admitted_now ? room->admitted : room->sockets;
    for (auto [b, e] = from.equal_range(user); b != e; ++b) {
      if (b->second.lock().get() == ws) {
        to.emplace(user, b->second);
        from.erase(b);
        return;
      }
    }
  }

  enum class Reply { none, status };
  // One client message (not a coroutine: nothing of it stays in a frame).
  Reply on_message(const std::string& msg) {
    auto j = json::parse(msg, nullptr, false);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      // Garbage from one client costs it an error message, never the service.
      if (++bad_frames > kMaxBadFrames) {
        ws->close(1008, "too many malformed messages");
        return Reply::none;
      }
      ws->send_text(error_json("bad_message", "Messages are JSON objects with a \"type\"."));
      return Reply::none;
    }
    const auto& type = j["type"].get_ref<const std::string&>();
    if (type == "heartbeat" || type == "status") {
      const Millis now = impl->state.ctx.clock->now_ms();
      if (now - last_heartbeat < kMinHeartbeatGapMs && type == "heartbeat") {
        return Reply::none;  // the place is fresh enough; spare Redis a round trip
      }
      last_heartbeat = now;
      return Reply::status;
    }
    if (type != "auth") {
      ws->send_text(error_json("bad_message", "Unknown message type."));
    }
    return Reply::none;
  }

  Task<void> send_status() {
    auto impl_ref = impl;  // the frame keeps what it uses
    const std::string& event = room->event;
    bool admitted = false;
    auto message = co_await impl_ref->status_message(event, user, &admitted);
    place_in_room(admitted);
    ws->send_text(std::move(message));
  }
};

// Authenticates, checks the event, joins the room and sends the first status. Its own coroutine,
// so its frame (token, parsed JSON, principal, …) is freed before the socket starts waiting.
Task<std::unique_ptr<Live::Impl::Socket>> Live::Impl::open_socket(net::Request& req, net::WebSocketPtr ws) {
  auto self = shared_from_this();
  State& s = state;
  std::string event = req.param("id");
  // Browsers cannot set headers on a WebSocket: the token comes as ?access_token= (the middleware
  // reads it) or as the first message.
  common::authenticate_request(*s.authenticator, req);
  std::string user;
  if (auto refused = req.header(common::kAuthErrorHeader); refused && !req.principal) {
    // A token came with the upgrade (?access_token=) and was refused: say why, at once (waiting
    // for a first-message token instead would leave the client guessing).
    const std::string code(*refused);
    ws->send_text(error_json(code, "The access token was refused."));
    ws->close(4401, code);
    co_return nullptr;
  }
  if (req.principal) {
    user = req.principal->user_id;
  } else {
    auto first = co_await ws->read();
    if (!first) {
      co_return nullptr;
    }
    auto j = json::parse(*first, nullptr, false);
    std::string token;
    if (j.is_object() && j.value("type", "") == "auth" && j.contains("token") && j["token"].is_string()) {
      token = j["token"].get<std::string>();
    }
    auto verified = s.authenticator->verify(token);
    if (!std::holds_alternative<net::Principal>(verified)) {
      // The token's own code (token_expired, bad_signature, …); "unauthorized" when none was sent.
      const std::string code = token.empty() ? std::string("unauthorized")
                                             : std::string(auth::jwt_error_code(std::get<auth::JwtError>(verified)));
      ws->send_text(error_json(code, token.empty() ? "Authentication is required." : "The access token was refused."));
      ws->close(4401, code);
      co_return nullptr;
    }
    user = std::get<net::Principal>(verified).user_id;
  }
  auto qs = co_await s.line->settings(event);
  if (!qs) {
    ws->send_text(error_json("not_found", "Event not found."));
    ws->close(4404, "not found");
    co_return nullptr;
  }
  auto r = co_await room(event);
  auto sock = std::make_unique<Socket>();
  sock->impl = self;
  sock->ws = ws.get();
  sock->user = std::move(user);
  sock->user.shrink_to_fit();
  {
    std::lock_guard lock(r->mutex);
    r->sockets.emplace(sock->user, ws);
  }
  sock->room = std::move(r);  // from here on the destructor leaves the room
  if (s.metrics.live_ws != nullptr) {
    s.metrics.live_ws->add(1);
  }
  sock->last_heartbeat = s.ctx.clock->now_ms();
  bool admitted = false;
  auto status = co_await status_message(event, sock->user, &admitted);
  sock->place_in_room(admitted);
  ws->send_text(std::move(status));
  co_return sock;
}

namespace {

// The upgrade request stays alive (in the server's frame) as long as the socket: once the handler
// has what it needs, its bulky parts — the target and query with the access token, the headers —
// are released. Only the log context (used if the handler throws) and the route stay.
void release_request(net::Request& req) {
  std::string().swap(req.target);
  std::string().swap(req.path);
  std::string().swap(req.body);
  decltype(req.query)().swap(req.query);
  net::Headers().swap(req.headers);
  decltype(req.params)().swap(req.params);
  req.principal.reset();
}

}  // namespace

// The long-lived frame: only the socket, the Socket pointer and the message being read.
Task<void> Live::serve_websocket(net::Request& req, net::WebSocketPtr ws) {
  auto opening = impl_->open_socket(req, ws);
  auto sock = co_await std::move(opening);
  if (!sock) {
    co_return;
  }
  release_request(req);
  while (true) {
    auto msg = co_await ws->read();
    if (!msg) {
      break;
    }
    if (sock->on_message(*msg) == Impl::Socket::Reply::status) {
      co_await sock->send_status();
    }
  }
}

Task<void> Live::serve_stream(net::ResponseStream& out, std::string event, std::string user) {
  auto impl = impl_;
  auto room = co_await impl->room(event);
  auto listener = std::make_shared<SseListener>(out.executor());
  {
    std::lock_guard lock(room->mutex);
    room->streams.emplace(user, listener);
  }
  auto* live_sse = impl->state.metrics.live_sse;
  if (live_sse != nullptr) {
    live_sse->add(1);
  }
  auto frame = [](std::string_view name, const std::string& data) {
    std::string f;
    f.reserve(data.size() + name.size() + 16);
    f.append("event: ").append(name).append("\ndata: ").append(data).append("\n\n");
    return f;
  };
  bool open = co_await out.write(frame("status", co_await impl->status_message(event, user)));
  while (open && out.open()) {
    bool empty = false;
    {
      std::lock_guard lock(listener->mutex);
      empty = listener->queue.empty();
    }
    if (empty) {
      listener->timer.expires_after(kSseHeartbeat);
      auto [ec] = co_await listener->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!ec) {
        // Quiet for a while: SSE is one-way, so the server keeps the place alive and re-syncs.
        open = co_await out.write(frame("status", co_await impl->status_message(event, user)));
        continue;
      }
    }
    std::deque<Message> batch;
    {
      std::lock_guard lock(listener->mutex);
      batch.swap(listener->queue);
    }
    for (auto& m : batch) {
      const bool admitted = m->find("\"type\":\"admitted\"") != std::string::npos;
      open = co_await out.write(frame(admitted ? "admitted" : "tick", *m));
      if (!open) {
        break;
      }
    }
  }
  if (live_sse != nullptr) {
    live_sse->add(-1);
  }
  std::lock_guard lock(room->mutex);
  for (auto [b, e] = room->streams.equal_range(user); b != e; ++b) {
    if (b->second.lock() == listener) {
      room->streams.erase(b);
      break;
    }
  }
}

}  // namespace tiketi::queue
